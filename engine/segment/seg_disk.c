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
#include <sys/stat.h>
#include <unistd.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "../vamana/dix_format.h"
#include "../vamana/dix_manifest.h"
#include "seg_impl.h"
#include "seg_files.h"
#include "seg_stub.h"
#include "seg_tier.h"

#define DEL_MAGIC 0x4c454453u /* "SDEL" */

int seg_disk_parse_deletes(struct seg *s, const uint8_t *buf, size_t len, const char *what)
{
	struct seg_disk *d = s->disk;
	uint32_t hdr[2];

	d->del_gen = 1; /* whether the store has this version is not known yet */
	if (len < sizeof hdr)
		return dann_fail(DANN_ECORRUPT, "%s: %zu bytes, too short", what, len);
	memcpy(hdr, buf, sizeof hdr);
	if (hdr[0] != DEL_MAGIC || crc32c(0, buf + sizeof hdr, len - sizeof hdr) != hdr[1])
		return dann_fail(DANN_ECORRUPT, "%s: bad magic or checksum", what);
	d->del = roaring_bitmap_portable_deserialize_safe((const char *)buf + sizeof hdr, len - sizeof hdr);
	if (!d->del)
		return dann_fail(DANN_ECORRUPT, "%s: not a roaring bitmap", what);
	if (roaring_bitmap_get_cardinality(d->del) && roaring_bitmap_maximum(d->del) >= s->nrows)
		return dann_fail(DANN_ECORRUPT, "%s: row %u deleted, the segment has %llu", what,
				 roaring_bitmap_maximum(d->del), (unsigned long long)s->nrows);
	return 0;
}

static int read_deletes(struct seg *s)
{
	struct seg_disk *d = s->disk;
	char path[PATH_MAX];
	uint8_t *buf = NULL;
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
	rc = seg_disk_parse_deletes(s, buf, len, path);
	free(buf);
	return rc;
}

static bool set_word(uint32_t row, void *arg)
{
	_Atomic uint64_t *w = arg;
	atomic_fetch_or(&w[row / 64], 1ull << (row % 64));
	return true;
}

/* The segment's MANIFEST against the expected checksum (0: unchecked). */
static int check_manifest(struct seg *s, uint32_t expect_crc, uint32_t *crc)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = seg_join(path, s->dir, DIX_MANIFEST_FILE)) < 0 ||
	    (rc = crc32c_file(path, 0, UINT64_MAX, crc)) < 0)
		return rc;
	if (expect_crc && *crc != expect_crc)
		return dann_fail(DANN_ECORRUPT, "%s: checksum %08x, the catalog says %08x", path,
				 *crc, expect_crc);
	return 0;
}

/* fmu held, or the segment not visible to any other thread. */
static void close_files(struct seg_disk *d)
{
	seg_cols_close(d);
	dann_index_close(d->ix);
	d->ix = NULL;
	if (d->vfd >= 0)
		close(d->vfd);
	d->vfd = -1;
	d->files_open = false;
}

/* The files reads go to: the disk index, the vector file, the columns
 * (fmu held, or the segment not yet visible). */
static int open_index_files(const struct dann_coll *c, struct seg *s)
{
	struct seg_disk *d = s->disk;
	struct dann_open_params op = { .cache_policy = c->db->p.cache_policy,
				       .buffered = c->db->p.buffered };
	struct dann_index_info info;
	char path[PATH_MAX];
	int rc;

	if (c->db->p.cache_bytes == DANN_CACHE_AUTO)
		op.cache_frac = DANN_CACHE_DEFAULT_FRAC;
	else
		op.cache_bytes = c->db->p.cache_bytes;
	if ((rc = dann_index_open(s->dir, &op, &d->ix)) < 0 || (rc = dann_index_info(d->ix, &info)) < 0)
		goto fail;
	if (info.dim != c->schema.dim || info.dtype != c->schema.dtype) {
		rc = dann_fail(DANN_ECORRUPT, "%s: index of %u x %s, collection %s is %u x %s", s->dir,
			       info.dim, dann_dtype_name(info.dtype), c->schema.name, c->schema.dim,
			       dann_dtype_name(c->schema.dtype));
		goto fail;
	}
	if (d->keys && info.n != s->nrows) {
		rc = dann_fail(DANN_ECORRUPT, "%s: %llu rows, %llu when it was first opened", s->dir,
			       (unsigned long long)info.n, (unsigned long long)s->nrows);
		goto fail;
	}
	s->nrows = info.n;
	d->metric = info.metric;
	if ((rc = seg_join(path, s->dir, seg_vectors_file(c->schema.dtype))) < 0)
		goto fail;
	if ((d->vfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot open", path);
		goto fail;
	}
	if ((rc = seg_cols_open(c, s)) < 0)
		goto fail;
	d->files_open = true;
	return 0;
fail:
	close_files(d);
	return rc;
}

static int open_files(struct dann_coll *c, struct seg *s, uint32_t expect_crc)
{
	struct seg_disk *d = s->disk;
	struct dix_manifest m;
	int rc;

	if ((rc = check_manifest(s, expect_crc, &d->manifest_crc)) < 0)
		return rc;
	if ((rc = dix_manifest_read(s->dir, &m)) < 0)
		return rc;
	for (uint32_t i = 0; i < m.n; i++)
		d->disk_bytes += m.e[i].size;
	if ((rc = open_index_files(c, s)) < 0)
		return rc;
	return dix_read_small_file(s->dir, SEG_KEYS_FILE, s->nrows * 8, (void **)&d->keys);
}

static int disk_new(struct seg *s, const char *dir)
{
	if (!(s->disk = calloc(1, sizeof *s->disk)))
		return dann_fail(DANN_ENOMEM, "%s", dir);
	s->disk->vfd = -1;
	pthread_mutex_init(&s->disk->fmu, NULL);
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	return 0;
}

int seg_disk_del_mask(struct seg *s)
{
	s->disk->delw = calloc(s->nrows / 64 + 1, sizeof *s->disk->delw);
	if (!s->disk->delw)
		return dann_fail(DANN_ENOMEM, "%s: delete mask", s->dir);
	roaring_iterate(s->disk->del, set_word, (void *)s->disk->delw);
	s->ndel = roaring_bitmap_get_cardinality(s->disk->del);
	return 0;
}

/* Files, keys and delete bitmap of the (local) directory. */
static int disk_load(struct dann_coll *c, struct seg *s, uint32_t expect_crc)
{
	int rc;

	if ((rc = open_files(c, s, expect_crc)) < 0 || (rc = read_deletes(s)) < 0)
		return rc;
	return seg_disk_del_mask(s);
}

int seg_disk_open(struct dann_coll *c, struct seg *s, const char *dir, uint32_t expect_crc)
{
	int rc;

	if ((rc = disk_new(s, dir)) < 0)
		return rc;
	if ((rc = disk_load(c, s, expect_crc)) < 0) {
		seg_disk_close(s->disk);
		s->disk = NULL;
	}
	return rc;
}

int seg_disk_open_tiered(struct dann_coll *c, struct seg *s, const char *dir,
			 const struct dann_cat_segment *r)
{
	struct seg_disk *d;
	char path[PATH_MAX];
	struct stat st;
	int local, rc;

	if ((rc = seg_join(path, dir, SEG_DELETES_FILE)) < 0 || (rc = disk_new(s, dir)) < 0)
		return rc;
	d = s->disk;
	snprintf(d->obj_key, sizeof d->obj_key, "%s", r->object_key);
	local = stat(dir, &st) == 0;
	d->manifest_crc = r->manifest_crc;
	/* An evicted segment opens from its stub, or from the few small
	 * objects that make one (a data dir that lost its copy): its files
	 * are downloaded when a search or a write needs them. */
	if (!local && r->object_key[0]) {
		if ((rc = seg_stub_load(s)) == 0)
			rc = seg_stub_fetch(s, seg_tier_store(c->db));
		if (rc < 0 || (rc = seg_tier_register(s)) < 0)
			goto fail;
		return 0;
	}
	/* Registered before its files are read, so a segment only in the
	 * store is downloaded by the pin. A local delete bitmap the store may
	 * not have keeps the segment local until a sync stores it. */
	d->del_gen = local && stat(path, &st) == 0;
	if ((rc = seg_tier_register(s)) < 0)
		goto fail;
	if ((rc = seg_tier_pin(s)) < 0)
		goto fail;
	rc = disk_load(c, s, r->manifest_crc);
	if (rc == 0) {
		d->del_synced = local ? 0 : d->del_gen; /* downloaded: the store's */
		rc = seg_tier_register(s);
	}
	seg_tier_unpin(s);
	if (rc == 0)
		return 0;
fail:
	seg_tier_forget(s);
	seg_disk_close(s->disk);
	s->disk = NULL;
	return rc;
}

void seg_disk_close_files(struct seg_disk *d)
{
	pthread_mutex_lock(&d->fmu);
	if (d->files_open)
		close_files(d);
	pthread_mutex_unlock(&d->fmu);
}

void seg_disk_close(struct seg_disk *d)
{
	if (!d)
		return;
	seg_disk_close_files(d);
	seg_fcols_free(atomic_load(&d->fcols));
	free(d->keys);
	free((void *)d->delw);
	if (d->del)
		roaring_bitmap_free(d->del);
	pthread_mutex_destroy(&d->fmu);
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

/* Writes the bitmap into the segment's directory, downloading it first
 * if the cache evicted it (c->mu held). The new file is not in the store
 * yet, so the segment stays local until a sync stores it. */
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
	if ((rc = seg_tier_pin(s)) < 0)
		return rc;
	roaring_bitmap_run_optimize(d->del);
	len = roaring_bitmap_portable_size_in_bytes(d->del);
	if (!(buf = malloc(sizeof hdr + len))) {
		rc = dann_fail(DANN_ENOMEM, "%s: delete bitmap", s->dir);
		goto out;
	}
	roaring_bitmap_portable_serialize(d->del, (char *)buf + sizeof hdr);
	hdr[0] = DEL_MAGIC;
	hdr[1] = crc32c(0, buf + sizeof hdr, len);
	memcpy(buf, hdr, sizeof hdr);
	rc = seg_join(path, s->dir, SEG_DELETES_FILE);
	if (rc == 0)
		rc = fsu_write_file_atomic(path, buf, sizeof hdr + len);
	free(buf);
	if (rc == 0) {
		d->dirty = false;
		d->del_gen++;
		rc = seg_tier_register(s);
	}
out:
	seg_tier_unpin(s);
	return rc;
}

int seg_disk_use(const struct dann_coll *c, struct seg *s)
{
	struct seg_disk *d = s->disk;
	int rc;

	if (!d->tiered)
		return 0;
	if ((rc = seg_tier_pin(s)) < 0)
		return rc;
	pthread_mutex_lock(&d->fmu);
	rc = d->files_open ? 0 : open_index_files(c, s);
	pthread_mutex_unlock(&d->fmu);
	if (rc < 0)
		seg_tier_unpin(s);
	return rc;
}

bool seg_disk_local(struct seg *s)
{
	return !s->disk->tiered || seg_tier_is_local(s);
}

void seg_disk_done(const struct dann_coll *c, struct seg *s)
{
	(void)c;
	seg_tier_unpin(s);
}

int seg_disk_vector(const struct dann_coll *c, struct seg *s, uint64_t row, void *out)
{
	int rc;

	if ((rc = seg_disk_use(c, s)) < 0)
		return rc;
	rc = fsu_pread_all(s->disk->vfd, s->dir, out, c->row_bytes, SEG_VF_HEADER + row * c->row_bytes);
	seg_disk_done(c, s);
	return rc;
}

int seg_disk_search(const struct dann_coll *c, struct seg *s, const float *q,
		    const struct dann_coll_search_params *p, const uint64_t *allowed,
		    int64_t *keys, float *dists, uint32_t *found, uint32_t *reads)
{
	struct dann_search_params sp;
	struct dann_search_stats st;
	uint32_t *ids = malloc(p->k * sizeof *ids);
	int rc;

	if (!ids)
		return dann_fail(DANN_ENOMEM, "search: %u results", p->k);
	if ((rc = seg_disk_use(c, s)) < 0) {
		free(ids);
		return rc;
	}
	dann_search_params_default(&sp);
	sp.k = p->k;
	sp.L = p->L < p->k ? p->k : p->L;
	sp.W = p->W ? p->W : sp.W;
	sp.deleted = (const uint64_t *)s->disk->delw;
	sp.deleted_bits = s->nrows;
	sp.allowed = allowed; /* the filter's rows: dann_search plans by their fraction */
	sp.allowed_bits = allowed ? s->nrows : 0;
	rc = dann_search(s->disk->ix, q, &sp, ids, dists, found, &st);
	seg_disk_done(c, s);
	for (uint32_t i = 0; rc == 0 && i < *found; i++)
		keys[i] = s->disk->keys[ids[i]];
	if (rc == 0 && reads)
		*reads += st.reads;
	free(ids);
	return rc;
}
