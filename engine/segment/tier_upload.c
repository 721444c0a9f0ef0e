/*
 * tier_upload.c — one segment directory to the object store, verified.
 *
 * Every file (large ones as parallel multipart uploads), the MANIFEST
 * last, then the stored MANIFEST read back and its CRC32C compared with the
 * local one. Only then may the caller record the segment as uploaded, so
 * the catalog never names a segment whose objects are not all there; an
 * upload cut short (a crash, a failure) leaves objects without a MANIFEST,
 * which no download accepts, and the segment is uploaded again by the next
 * sync, which finds its object_key still empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../crc.h"
#include "../error.h"
#include "../vamana/dix_manifest.h"
#include "tier.h"

#define MANIFEST_MAX_BYTES (1u << 20)

int tier_upload_dir(struct obj_store *store, const char *dir, const char *prefix)
{
	char path[4096], key[OBJ_KEY_MAX + 16];
	uint32_t local_crc;
	size_t len;
	void *buf;
	int rc;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, TIER_MANIFEST) >= sizeof path ||
	    (size_t)snprintf(key, sizeof key, "%s/%s", prefix, TIER_MANIFEST) >= sizeof key)
		return dann_fail(DANN_EINVAL, "tier_upload_dir: %s: path too long", dir);
	if ((rc = crc32c_file(path, 0, UINT64_MAX, &local_crc)) < 0)
		return rc;
	if ((rc = obj_put_dir(store, dir, prefix, TIER_MANIFEST)) < 0)
		return rc;
	if ((rc = obj_get_all(store, key, MANIFEST_MAX_BYTES, &buf, &len)) < 0)
		return rc;
	if (crc32c(0, buf, len) != local_crc)
		rc = dann_fail(DANN_EIO, "%s in %s: stored MANIFEST differs from %s", key, obj_uri(store), path);
	free(buf);
	return rc;
}
