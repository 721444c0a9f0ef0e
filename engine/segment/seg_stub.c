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
#include "../vamana/dix.h"
#include "../vamana/dix_manifest.h"
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

/* Writes s's stub with del (del_len bytes of a delete-bitmap file). */
static int write_stub(struct seg *s, const uint8_t *del, size_t del_len)
{
	struct seg_disk *d = s->disk;
	struct stub_hdr h = { STUB_MAGIC, STUB_VERSION, d->manifest_crc, (uint32_t)d->metric, s->nrows,
			      d->disk_bytes, del_len };
	char path[PATH_MAX];
	uint8_t *buf, *p;
	size_t len;
	uint32_t crc;
	int rc;

	if ((rc = stub_path(s, path)) < 0)
		return rc;
	len = sizeof h + s->nrows * sizeof *d->keys + del_len + sizeof crc;
	if (!(p = buf = malloc(len)))
		return dann_fail(DANN_ENOMEM, "%s: %zu bytes", path, len);
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
	free(buf);
	return rc;
}

int seg_stub_write(struct seg *s)
{
	char path[PATH_MAX];
	uint8_t *del = NULL;
	size_t del_len = 0;
	int rc;

	if (!s->disk->keys)
		return dann_fail(DANN_EINVAL, "%s: no stub while its keys are not loaded", s->dir);
	if ((rc = seg_join(path, s->dir, SEG_DELETES_FILE)) < 0)
		return rc;
	if ((rc = fsu_read_file(path, (void **)&del, &del_len)) == DANN_ENOTFOUND) {
		dann_clear_error();
		rc = 0;
	}
	if (rc == 0)
		rc = write_stub(s, del, del_len);
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
	dann_log(DANN_LOG_WARN, "tier", "%s; made again from the object store", dann_errmsg());
	dann_clear_error();
	return 0;
}

/* The object key of file name of s (prefix obj_key). */
static int obj_key_of(const struct seg *s, const char *name, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/%s", s->disk->obj_key, name) >= cap)
		return dann_fail(DANN_EINVAL, "%s: object key too long", s->disk->obj_key);
	return 0;
}

/* Downloads MANIFEST (checked against the catalog's CRC) and keys.bin
 * (against the MANIFEST) into stage; reads the keys. */
static int fetch_keys(struct seg *s, struct obj_store *store, const char *stage, struct dix_manifest *m)
{
	struct seg_disk *d = s->disk;
	const struct dix_manifest_entry *ke;
	char key[OBJ_KEY_MAX + 1], path[PATH_MAX];
	uint32_t crc;
	int rc;

	if ((rc = obj_key_of(s, DIX_MANIFEST_FILE, key, sizeof key)) < 0 || (rc = seg_join(path, stage, DIX_MANIFEST_FILE)) < 0 ||
	    (rc = obj_get_file(store, key, path, &d->manifest_crc)) < 0 || (rc = dix_manifest_read(stage, m)) < 0)
		return rc;
	if (!(ke = dix_manifest_find(m, SEG_KEYS_FILE)) || ke->size % sizeof *d->keys)
		return dann_fail(DANN_ECORRUPT, "%s: its MANIFEST lists no %s of whole keys", d->obj_key,
				 SEG_KEYS_FILE);
	crc = ke->crc;
	if ((rc = obj_key_of(s, SEG_KEYS_FILE, key, sizeof key)) < 0 || (rc = seg_join(path, stage, SEG_KEYS_FILE)) < 0 ||
	    (rc = obj_get_file(store, key, path, &crc)) < 0 ||
	    (rc = dix_read_small_file(stage, SEG_KEYS_FILE, ke->size, (void **)&d->keys)) < 0)
		return rc;
	s->nrows = ke->size / sizeof *d->keys;
	for (uint32_t i = 0; i < m->n; i++)
		d->disk_bytes += m->e[i].size;
	return 0;
}

/* The metric, from a ranged read of the disk index's header (checked). */
static int fetch_metric(struct seg *s, struct obj_store *store, const struct dix_manifest *m)
{
	const struct dix_manifest_entry *ie = dix_manifest_find(m, DIX_DATA_FILE);
	char key[OBJ_KEY_MAX + 1];
	struct dix_header h;
	size_t got;
	int rc;

	if (!ie)
		return dann_fail(DANN_ECORRUPT, "%s: its MANIFEST lists no %s", s->disk->obj_key, DIX_DATA_FILE);
	if ((rc = obj_key_of(s, DIX_DATA_FILE, key, sizeof key)) < 0 ||
	    (rc = obj_get(store, key, 0, sizeof h, &h, &got)) < 0)
		return rc;
	if (got != sizeof h)
		return dann_fail(DANN_ECORRUPT, "%s: %zu bytes of header", key, got);
	if ((rc = dix_header_check(key, &h, ie->size)) < 0)
		return rc;
	if (h.n != s->nrows)
		return dann_fail(DANN_ECORRUPT, "%s: %llu points, %s holds %llu keys", key,
				 (unsigned long long)h.n, SEG_KEYS_FILE, (unsigned long long)s->nrows);
	s->disk->metric = (enum dann_metric)h.metric;
	return 0;
}

int seg_stub_fetch(struct seg *s, struct obj_store *store)
{
	struct seg_disk *d = s->disk;
	struct dix_manifest *m = calloc(1, sizeof *m);
	char stage[PATH_MAX], key[OBJ_KEY_MAX + 1];
	uint8_t *del = NULL;
	size_t del_len = 0;
	int rc;

	if (!m)
		return dann_fail(DANN_ENOMEM, "%s: manifest", s->dir);
	/* the name tier_cache_add sweeps as a download cut short */
	if ((size_t)snprintf(stage, sizeof stage, "%s.obj-tmp-XXXXXX", s->dir) >= sizeof stage) {
		free(m);
		return dann_fail(DANN_EINVAL, "%s: path too long", s->dir);
	}
	if (!mkdtemp(stage)) {
		free(m);
		return dann_fail_errno(DANN_EIO, errno, "cannot create %s", stage);
	}
	if ((rc = fetch_keys(s, store, stage, m)) < 0 || (rc = fetch_metric(s, store, m)) < 0 ||
	    (rc = obj_key_of(s, SEG_DELETES_FILE, key, sizeof key)) < 0)
		goto out;
	/* the delete bitmap carries its own checksum (the MANIFEST predates it) */
	rc = obj_get_all(store, key, SEG_STUB_DELETES_MAX, (void **)&del, &del_len);
	if (rc == DANN_ENOTFOUND) {
		dann_clear_error();
		del_len = 0;
		rc = (d->del = roaring_bitmap_create()) ? 0 : dann_fail(DANN_ENOMEM, "%s", key);
	} else if (rc == 0) {
		rc = seg_disk_parse_deletes(s, del, del_len, key);
	}
	if (rc < 0 || (rc = seg_disk_del_mask(s)) < 0 || (rc = write_stub(s, del, del_len)) < 0)
		goto out;
	d->del_synced = d->del_gen; /* the store's bitmap */
out:
	if (rc < 0)
		unload(s);
	fsu_rmtree(stage);
	free(del);
	free(m);
	return rc;
}

void seg_stub_remove(struct seg *s)
{
	char path[PATH_MAX];

	if (stub_path(s, path) == 0 && unlink(path) != 0 && errno != ENOENT)
		dann_log(DANN_LOG_WARN, "tier", "cannot remove %s: %s", path, strerror(errno));
}
