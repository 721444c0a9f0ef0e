/*
 * seg_recover.c — opening a collection after a clean close or a crash.
 *
 *   1. Flushed segments come from the catalog (their MANIFEST checksum must
 *      match the catalog's); any other segment record (a sealed segment
 *      whose build never finished) is dropped in one catalog step: its rows
 *      are still in the WAL.
 *   2. Everything else in the collection's directory — stages of builds,
 *      segment directories (and stubs of evicted ones) the catalog never
 *      committed or already dropped, temporary files — is removed.
 *   3. The PK index is rebuilt from the flushed segments' keys and delete
 *      bitmaps.
 *   4. The WAL is replayed past the checkpoint (the largest last LSN of a
 *      flushed segment, or the recorded checkpoint) into a new growing
 *      segment, sealing it at its threshold as writes would have.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "seg_files.h"
#include "seg_stub.h"
#include "wal.h"

#define WAL_DIR "wal"

static int init(struct dann_db *db, const struct dann_cat_coll *cc, struct dann_coll *c)
{
	struct seg_ver *v;
	int rc;

	c->db = db;
	c->id = cc->id;
	c->schema = cc->schema;
	memcpy(c->props, cc->props, sizeof c->props);
	if (snprintf(c->dir, sizeof c->dir, "%s/c%llu", db->dir, (unsigned long long)c->id) >=
	    (int)sizeof c->dir)
		return dann_fail(DANN_EINVAL, "%s: path too long", db->dir);
	c->esz = dann_dtype_size(c->schema.dtype);
	c->row_bytes = c->esz * c->schema.dim;
	c->seal_rows = seg_eff_seal_rows(&c->schema);
	c->seal_bytes = seg_eff_seal_bytes(&c->schema);
	c->dist = dist_kernel(c->schema.index.metric, DANN_DTYPE_F32, c->schema.dtype);
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->vmu, NULL);
	pthread_cond_init(&c->cv, NULL);
	atomic_init(&c->dropped, false);
	atomic_init(&c->metric_epoch, 0);
	if (!(v = calloc(1, sizeof *v)))
		return dann_fail(DANN_ENOMEM, "collection %s", c->schema.name);
	atomic_init(&v->refs, 1);
	c->ver = v;
	if ((rc = seg_pk_init(&c->pk)) < 0 || (rc = seg_pk_init(&c->pending)) < 0)
		return rc;
	return fsu_mkdirs(c->dir);
}

static int open_flushed(struct dann_coll *c, const struct dann_cat_segment *r)
{
	char dir[PATH_MAX];
	struct seg *s;
	int rc;

	if (snprintf(dir, sizeof dir, "%s/%s", c->db->dir, r->files) >= (int)sizeof dir)
		return dann_fail(DANN_EINVAL, "%s: path too long", r->files);
	if (!(s = seg_new(c, r->id, DANN_SEG_FLUSHED)))
		return DANN_ENOMEM;
	s->first_lsn = r->first_lsn;
	s->last_lsn = r->last_lsn;
	rc = c->db->tier ? seg_disk_open_tiered(c, s, dir, r) : seg_disk_open(c, s, dir, r->manifest_crc);
	if (rc < 0 ||
	    (rc = seg_pk_reserve(&c->pk, s->nrows)) < 0 ||
	    (rc = seg_ver_swap(c, NULL, 0, &s, 1)) < 0) {
		seg_unref(s);
		return dann_fail_wrap(rc, "collection %s, segment %llu", c->schema.name,
				      (unsigned long long)r->id);
	}
	for (uint64_t row = 0; row < s->nrows; row++)
		if (!seg_disk_deleted(s->disk, row))
			seg_pk_put(&c->pk, s->disk->keys[row], s->id, row);
	if (s->last_lsn > c->ckpt_lsn)
		c->ckpt_lsn = s->last_lsn;
	seg_unref(s);
	return 0;
}

static int load_segments(struct dann_coll *c)
{
	struct dann_cat_segment *segs = NULL;
	size_t n = 0, ndrop = 0;
	int rc;

	if ((rc = c->db->cat->seg_list(c->db->cat_ctx, c->id, &segs, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (segs[i].state == DANN_SEG_FLUSHED)
			rc = open_flushed(c, &segs[i]);
		else if (segs[i].state != DANN_SEG_DROPPED) {
			segs[i].state = DANN_SEG_DROPPED;
			segs[ndrop++] = segs[i];
		}
	}
	if (rc == 0 && ndrop)
		rc = c->db->cat->seg_apply(c->db->cat_ctx, segs, ndrop);
	free(segs);
	return rc;
}

/* Removes what no committed segment owns from the collection directory. */
static int sweep(struct dann_coll *c)
{
	struct dirent *de;
	DIR *d = opendir(c->dir);
	char path[PATH_MAX];
	int rc = 0;

	if (!d)
		return dann_fail(DANN_EIO, "%s: cannot list", c->dir);
	while ((de = readdir(d)) && rc == 0) {
		bool keep = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			    !strcmp(de->d_name, WAL_DIR);
		unsigned long long id;
		char tail, stub[32];
		int nf = keep ? 0 : sscanf(de->d_name, "s%llu%c", &id, &tail);
		/* a segment's directory, or the stub of an evicted one (seg_stub.h) */
		if (nf == 1 || (nf == 2 && tail == '.' &&
				snprintf(stub, sizeof stub, "s%llu%s", id, SEG_STUB_SUFFIX) > 0 &&
				!strcmp(de->d_name, stub)))
			keep = seg_find(c, id) != NULL;
		if (keep)
			continue;
		dann_log(DANN_LOG_INFO, "segment", "%s: removing leftover %s", c->schema.name, de->d_name);
		if ((rc = seg_join(path, c->dir, de->d_name)) == 0)
			rc = fsu_rmtree(path);
	}
	closedir(d);
	return rc;
}

static int replay_one(void *arg, uint64_t lsn, const void *payload, size_t len)
{
	struct dann_coll *c = arg;
	struct seg_rec *r = malloc(sizeof *r);
	int rc;

	if (!r)
		return dann_fail(DANN_ENOMEM, "%s: replay", c->schema.name);
	if ((rc = seg_rec_decode(c, payload, len, r)) == 0 &&
	    (rc = seg_mem_reserve(c, c->growing->mem, &r->b)) == 0 &&
	    (rc = seg_apply(c, lsn, r, NULL)) == 0 &&
	    (c->growing->mem->n >= c->seal_rows ||
	     c->growing->mem->n * c->row_bytes >= c->seal_bytes))
		rc = seg_seal(c);
	free(r);
	if (rc < 0)
		return dann_fail_wrap(rc, "replaying LSN %llu", (unsigned long long)lsn);
	return 0;
}

static int replay(struct dann_coll *c)
{
	char dir[PATH_MAX], v[32];
	struct stat st;
	bool fresh;
	int rc;

	if (seg_prop_find(c->props, SEG_PROP_CKPT, v, sizeof v) == 0) {
		uint64_t p = strtoull(v, NULL, 10);
		if (p > c->ckpt_lsn)
			c->ckpt_lsn = p;
	}
	if ((rc = seg_join(dir, c->dir, WAL_DIR)) < 0)
		return rc;
	fresh = stat(dir, &st) != 0;
	if ((rc = wal_open(dir, NULL, &c->wal)) < 0)
		return rc;
	/* A data dir that lost everything but its catalog (a node rebuilt
	 * from the object store and a shared catalog) has its flushed
	 * segments in the store and no log: the log starts after them. What
	 * was written after the last flush is not in the store. */
	if (fresh && c->db->tier && c->ckpt_lsn && wal_last_lsn(c->wal) == 0) {
		dann_log(DANN_LOG_WARN, "segment", "%s: no WAL in %s; flushed segments up to LSN %llu come "
			 "from the object store, rows written after them are not there", c->schema.name, c->dir,
			 (unsigned long long)c->ckpt_lsn);
		if ((rc = wal_start_after(c->wal, c->ckpt_lsn)) < 0)
			return rc;
	}
	if (wal_last_lsn(c->wal) < c->ckpt_lsn)
		return dann_fail(DANN_ECORRUPT, "%s: the WAL ends at LSN %llu, before the checkpoint %llu",
				 dir, (unsigned long long)wal_last_lsn(c->wal),
				 (unsigned long long)c->ckpt_lsn);
	c->applied_lsn = c->ckpt_lsn;
	if ((rc = wal_replay(c->wal, c->ckpt_lsn, replay_one, c)) < 0)
		return rc;
	c->applied_lsn = wal_last_lsn(c->wal);
	c->growing->first_lsn = c->growing->mem->n ? c->growing->first_lsn : 0;
	return 0;
}

int seg_coll_open(struct dann_db *db, const struct dann_cat_coll *cc, struct dann_coll **out)
{
	struct dann_coll *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return dann_fail(DANN_ENOMEM, "collection %s", cc->schema.name);
	if ((rc = init(db, cc, c)) < 0 || (rc = load_segments(c)) < 0 || (rc = sweep(c)) < 0 ||
	    (rc = seg_reindex_load(c)) < 0)
		goto fail;
	pthread_mutex_lock(&c->mu);
	rc = seg_growing_new(c);
	if (rc == 0)
		rc = replay(c);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	seg_coll_close(c);
	return dann_fail_wrap(rc, "opening collection %s", cc->schema.name);
}

void seg_coll_close(struct dann_coll *c)
{
	if (!c)
		return;
	wal_close(c->wal);
	c->wal = NULL;
	seg_ver_unref(c->ver);
	c->ver = NULL;
	seg_pk_destroy(&c->pk);
	seg_pk_destroy(&c->pending);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->vmu);
	pthread_cond_destroy(&c->cv);
	free(c);
}
