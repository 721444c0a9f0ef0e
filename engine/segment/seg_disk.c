/*
 * seg_disk.c — a flushed segment: its disk index (searched by beam search
 * with the delete bitmap as the deleted mask), its vector file (read by
 * get and compaction), its keys, and its delete bitmap.
 *
 * The segment's files never change after the rename that made it, except
 * the delete bitmap, "deletes.roar": a CRoaring portable bitmap of deleted
 * rows behind a magic and a CRC32C, rewritten whole (fsu_write_file_atomic)
 * before a catalog step or WAL checkpoint depends on it. In RAM the same
 * set is also kept as plain words, set atomically, which is what searches
 * read.
 */
#include <errno.h>
#include <fcntl.h>
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "../vamana/dix_format.h"
#include "../vamana/dix_manifest.h"
#include "seg_impl.h"
#include "seg_files.h"

#define DEL_MAGIC 0x4c454453u /* "SDEL" */

static int read_deletes(struct seg *s)
{
	struct seg_disk *d = s->disk;
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	uint32_t hdr[2];
	size_t len;
	int rc;

	if ((rc = seg_join(path, s->dir, SEG_DELETES_FILE)) < 0)
		return rc;
	rc = fsu_read_file(path, (void **)&buf, &len);
	if (rc == DANN_ENOTFOUND) {
		dann_clear_error();
		d->del = roaring_bitmap_create();
		return d->del ? 0 : dann_fail(DANN_ENOMEM, "%s", path);
	}
	if (rc < 0)
		return rc;
	rc = DANN_ECORRUPT;
	if (len < sizeof hdr) {
		dann_fail(rc, "%s: %zu bytes, too short", path, len);
		goto out;
	}
	memcpy(hdr, buf, sizeof hdr);
	if (hdr[0] != DEL_MAGIC || crc32c(0, buf + sizeof hdr, len - sizeof hdr) != hdr[1]) {
		dann_fail(rc, "%s: bad magic or checksum", path);
		goto out;
	}
	d->del = roaring_bitmap_portable_deserialize_safe((const char *)buf + sizeof hdr,
							  len - sizeof hdr);
	if (!d->del) {
		dann_fail(rc, "%s: not a roaring bitmap", path);
		goto out;
	}
	if (roaring_bitmap_get_cardinality(d->del) &&
	    roaring_bitmap_maximum(d->del) >= s->nrows) {
		dann_fail(rc, "%s: row %u deleted, the segment has %llu", path,
			  roaring_bitmap_maximum(d->del), (unsigned long long)s->nrows);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static bool set_word(uint32_t row, void *arg)
{
	_Atomic uint64_t *w = arg;
	atomic_fetch_or(&w[row / 64], 1ull << (row % 64));
	return true;
}

static int open_files(struct dann_coll *c, struct seg *s, uint32_t expect_crc)
{
	struct seg_disk *d = s->disk;
	struct dann_open_params op = { .cache_bytes = c->db->p.cache_bytes,
				       .buffered = c->db->p.buffered };
	struct dann_index_info info;
	struct dix_manifest m;
	char path[PATH_MAX];
	int rc;

	if ((rc = seg_join(path, s->dir, DIX_MANIFEST_FILE)) < 0 ||
	    (rc = crc32c_file(path, 0, UINT64_MAX, &d->manifest_crc)) < 0)
		return rc;
	if (expect_crc && d->manifest_crc != expect_crc)
		return dann_fail(DANN_ECORRUPT, "%s: checksum %08x, the catalog says %08x", path,
				 d->manifest_crc, expect_crc);
	if ((rc = dix_manifest_read(s->dir, &m)) < 0)
		return rc;
	for (uint32_t i = 0; i < m.n; i++)
		d->disk_bytes += m.e[i].size;
	if ((rc = dann_index_open(s->dir, &op, &d->ix)) < 0 || (rc = dann_index_info(d->ix, &info)) < 0)
		return rc;
	if (info.dim != c->schema.dim || info.dtype != c->schema.dtype)
		return dann_fail(DANN_ECORRUPT, "%s: index of %u x %s, collection %s is %u x %s", s->dir,
				 info.dim, dann_dtype_name(info.dtype), c->schema.name, c->schema.dim,
				 dann_dtype_name(c->schema.dtype));
	s->nrows = info.n;
	if ((rc = dix_read_small_file(s->dir, SEG_KEYS_FILE, s->nrows * 8, (void **)&d->keys)) < 0)
		return rc;
	if ((rc = seg_join(path, s->dir, seg_vectors_file(c->schema.dtype))) < 0)
		return rc;
	if ((d->vfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open", path);
	return seg_cols_open(c, s);
}

int seg_disk_open(struct dann_coll *c, struct seg *s, const char *dir, uint32_t expect_crc)
{
	int rc;

	if (!(s->disk = calloc(1, sizeof *s->disk)))
		return dann_fail(DANN_ENOMEM, "%s", dir);
	s->disk->vfd = -1;
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	if ((rc = open_files(c, s, expect_crc)) < 0 || (rc = read_deletes(s)) < 0)
		goto fail;
	s->disk->delw = calloc(s->nrows / 64 + 1, sizeof *s->disk->delw);
	if (!s->disk->delw) {
		rc = dann_fail(DANN_ENOMEM, "%s: delete mask", dir);
		goto fail;
	}
	roaring_iterate(s->disk->del, set_word, (void *)s->disk->delw);
	s->ndel = roaring_bitmap_get_cardinality(s->disk->del);
	return 0;
fail:
	seg_disk_close(s->disk);
	s->disk = NULL;
	return rc;
}

void seg_disk_close(struct seg_disk *d)
{
	if (!d)
		return;
	seg_cols_close(d);
	seg_fcols_free(atomic_load(&d->fcols));
	dann_index_close(d->ix);
	if (d->vfd >= 0)
		close(d->vfd);
	free(d->keys);
	free((void *)d->delw);
	if (d->del)
		roaring_bitmap_free(d->del);
	free(d);
}

void seg_disk_delete(struct seg *s, uint64_t row)
{
	atomic_fetch_or(&s->disk->delw[row / 64], 1ull << (row % 64));
	roaring_bitmap_add(s->disk->del, (uint32_t)row);
	s->disk->dirty = true;
}

bool seg_disk_deleted(const struct seg_disk *d, uint64_t row)
{
	return (atomic_load(&d->delw[row / 64]) >> (row % 64)) & 1;
}

int seg_disk_persist_del(struct seg *s)
{
	struct seg_disk *d = s->disk;
	char path[PATH_MAX];
	size_t len;
	uint8_t *buf;
	uint32_t hdr[2];
	int rc;

	if (!d->dirty)
		return 0;
	roaring_bitmap_run_optimize(d->del);
	len = roaring_bitmap_portable_size_in_bytes(d->del);
	if (!(buf = malloc(sizeof hdr + len)))
		return dann_fail(DANN_ENOMEM, "%s: delete bitmap", s->dir);
	roaring_bitmap_portable_serialize(d->del, (char *)buf + sizeof hdr);
	hdr[0] = DEL_MAGIC;
	hdr[1] = crc32c(0, buf + sizeof hdr, len);
	memcpy(buf, hdr, sizeof hdr);
	rc = seg_join(path, s->dir, SEG_DELETES_FILE);
	if (rc == 0)
		rc = fsu_write_file_atomic(path, buf, sizeof hdr + len);
	free(buf);
	if (rc == 0)
		d->dirty = false;
	return rc;
}

int seg_disk_vector(const struct dann_coll *c, struct seg *s, uint64_t row, void *out)
{
	return fsu_pread_all(s->disk->vfd, s->dir, out, c->row_bytes,
			     SEG_VF_HEADER + row * c->row_bytes);
}

int seg_disk_search(const struct dann_coll *c, struct seg *s, const float *q,
		    const struct dann_coll_search_params *p, const uint64_t *allowed,
		    int64_t *keys, float *dists, uint32_t *found, uint32_t *reads)
{
	struct dann_search_params sp;
	struct dann_search_stats st;
	uint32_t *ids = malloc(p->k * sizeof *ids);
	int rc;

	(void)c;
	if (!ids)
		return dann_fail(DANN_ENOMEM, "search: %u results", p->k);
	dann_search_params_default(&sp);
	sp.k = p->k;
	sp.L = p->L < p->k ? p->k : p->L;
	sp.W = p->W ? p->W : sp.W;
	sp.deleted = (const uint64_t *)s->disk->delw;
	sp.deleted_bits = s->nrows;
	sp.allowed = allowed; /* the filter's rows: dann_search plans by their fraction */
	sp.allowed_bits = allowed ? s->nrows : 0;
	rc = dann_search(s->disk->ix, q, &sp, ids, dists, found, &st);
	for (uint32_t i = 0; rc == 0 && i < *found; i++)
		keys[i] = s->disk->keys[ids[i]];
	if (rc == 0 && reads)
		*reads += st.reads;
	free(ids);
	return rc;
}
