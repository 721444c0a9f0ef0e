/*
 * seg_stub.c — the stub of an evicted segment (see seg_stub.h).
 *
 * Layout, little-endian: magic "STUB", version, MANIFEST CRC32C, metric
 * (u32 each); row count, total file bytes, delete-bitmap bytes (u64 each);
 * row count × int64 keys; the delete-bitmap file's bytes as they are in
 * the segment directory (none if it has no such file); CRC32C of all of
 * the above.
 */
#include <errno.h>
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "seg_files.h"
#include "seg_stub.h"

#define STUB_MAGIC 0x42555453u /* "STUB" */
#define STUB_VERSION 1u

struct stub_hdr {
	uint32_t magic, version, manifest_crc, metric;
	uint64_t nrows, disk_bytes, del_len;
};

static int stub_path(const struct seg *s, char *out)
{
	if (snprintf(out, PATH_MAX, "%s%s", s->dir, SEG_STUB_SUFFIX) >= PATH_MAX)
		return dann_fail(DANN_EINVAL, "%s: path too long", s->dir);
	return 0;
}

int seg_stub_write(struct seg *s)
{
	struct seg_disk *d = s->disk;
	struct stub_hdr h = { STUB_MAGIC, STUB_VERSION, d->manifest_crc, (uint32_t)d->metric, s->nrows,
			      d->disk_bytes, 0 };
	char path[PATH_MAX];
	uint8_t *del = NULL, *buf = NULL, *p;
	size_t del_len = 0, len;
	uint32_t crc;
	int rc;

	if (!d->keys)
		return dann_fail(DANN_EINVAL, "%s: no stub while its keys are not loaded", s->dir);
	if ((rc = seg_join(path, s->dir, SEG_DELETES_FILE)) < 0)
		return rc;
	if ((rc = fsu_read_file(path, (void **)&del, &del_len)) == DANN_ENOTFOUND) {
		dann_clear_error();
		rc = 0;
	}
	if (rc < 0 || (rc = stub_path(s, path)) < 0)
		goto out;
	h.del_len = del_len;
	len = sizeof h + s->nrows * sizeof *d->keys + del_len + sizeof crc;
	if (!(p = buf = malloc(len))) {
		rc = dann_fail(DANN_ENOMEM, "%s: %zu bytes", path, len);
		goto out;
	}
	memcpy(p, &h, sizeof h);
	p += sizeof h;
	memcpy(p, d->keys, s->nrows * sizeof *d->keys);
	p += s->nrows * sizeof *d->keys;
	if (del_len)
		memcpy(p, del, del_len);
	p += del_len;
	crc = crc32c(0, buf, (size_t)(p - buf));
	memcpy(p, &crc, sizeof crc);
	rc = fsu_write_file_atomic(path, buf, len);
out:
	free(buf);
	free(del);
	return rc;
}

/* Checks the stub's framing; DANN_ECORRUPT naming what is wrong. */
static int check(const char *path, const uint8_t *buf, size_t len, uint32_t manifest_crc, struct stub_hdr *h)
{
	uint32_t crc;

	if (len < sizeof *h + sizeof crc)
		return dann_fail(DANN_ECORRUPT, "%s: %zu bytes, too short", path, len);
	memcpy(h, buf, sizeof *h);
	memcpy(&crc, buf + len - sizeof crc, sizeof crc);
	if (h->magic != STUB_MAGIC || h->version != STUB_VERSION)
		return dann_fail(DANN_ECORRUPT, "%s: not a segment stub of version %u", path, STUB_VERSION);
	if (crc32c(0, buf, len - sizeof crc) != crc)
		return dann_fail(DANN_ECORRUPT, "%s: checksum mismatch", path);
	if (h->nrows > (len - sizeof *h) / sizeof(int64_t) ||
	    sizeof *h + h->nrows * sizeof(int64_t) + h->del_len + sizeof crc != len)
		return dann_fail(DANN_ECORRUPT, "%s: %llu rows and %llu bitmap bytes do not make %zu bytes",
				 path, (unsigned long long)h->nrows, (unsigned long long)h->del_len, len);
	if (h->manifest_crc != manifest_crc)
		return dann_fail(DANN_ECORRUPT, "%s: of MANIFEST %08x, the catalog says %08x", path,
				 h->manifest_crc, manifest_crc);
	if (h->metric > DANN_METRIC_COSINE)
		return dann_fail(DANN_ECORRUPT, "%s: metric %u", path, h->metric);
	return 0;
}

/* Undoes a partial load. */
static void unload(struct seg *s)
{
	struct seg_disk *d = s->disk;

	free(d->keys);
	d->keys = NULL;
	free((void *)d->delw);
	d->delw = NULL;
	if (d->del)
		roaring_bitmap_free(d->del);
	d->del = NULL;
	d->del_gen = d->del_synced = 0;
	s->nrows = s->ndel = 0;
	d->disk_bytes = 0;
}

int seg_stub_load(struct seg *s)
{
	struct seg_disk *d = s->disk;
	struct stub_hdr h;
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len, kbytes;
	int rc;

	if ((rc = stub_path(s, path)) < 0)
		return rc;
	if ((rc = fsu_read_file(path, (void **)&buf, &len)) == DANN_ENOTFOUND) {
		dann_clear_error();
		return 0;
	}
	if (rc < 0 || (rc = check(path, buf, len, d->manifest_crc, &h)) < 0)
		goto unusable;
	s->nrows = h.nrows;
	d->metric = (enum dann_metric)h.metric;
	d->disk_bytes = h.disk_bytes;
	kbytes = h.nrows * sizeof *d->keys;
	if (!(d->keys = malloc(kbytes ? kbytes : 1))) {
		rc = dann_fail(DANN_ENOMEM, "%s: keys", path);
		goto fail;
	}
	memcpy(d->keys, buf + sizeof h, kbytes);
	if (h.del_len)
		rc = seg_disk_parse_deletes(s, buf + sizeof h + kbytes, h.del_len, path);
	else if (!(d->del = roaring_bitmap_create()))
		rc = dann_fail(DANN_ENOMEM, "%s: delete bitmap", path);
	if (rc < 0 || (rc = seg_disk_del_mask(s)) < 0)
		goto fail;
	d->del_synced = d->del_gen; /* the bitmap of the last eviction: the store's */
	free(buf);
	return 1;
fail:
	unload(s);
	if (rc == DANN_ENOMEM) {
		free(buf);
		return rc;
	}
unusable:
	free(buf);
	dann_log(DANN_LOG_WARN, "tier", "%s; the segment is downloaded instead", dann_errmsg());
	dann_clear_error();
	return 0;
}

void seg_stub_remove(struct seg *s)
{
	char path[PATH_MAX];

	if (stub_path(s, path) == 0 && unlink(path) != 0 && errno != ENOENT)
		dann_log(DANN_LOG_WARN, "tier", "cannot remove %s: %s", path, strerror(errno));
}
