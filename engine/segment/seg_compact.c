/*
 * seg_compact.c — rewriting flushed segments without their deleted rows.
 *
 * A pass picks flushed segments whose deleted fraction passes
 * SEG_COMPACT_DELETED (any deletes at all when forced) and runs of small
 * ones (see small(): in the background at least SEG_COMPACT_MIN_RUN of
 * them, forced two), smallest first, as many as fit in one segment of at
 * most SEG_COMPACT_GROWTH seal thresholds; their live rows at the start
 * are written as one new segment (seg_segfile.c) without the collection
 * lock. The swap, under c->mu, carries over deletes
 * made meanwhile (a row deleted since the start is deleted in the new
 * segment too), points the PK index at the new rows, records the new
 * segment and drops the old ones in one catalog step, and publishes the
 * version. The old files go when the last search holding them finishes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "seg_files.h"
#include "seg_tier.h"

#define COMPACT_MAX_INPUTS 64

struct pick {
	struct seg *in[COMPACT_MAX_INPUTS];
	size_t n;
};

static uint64_t live_rows(const struct seg *s)
{
	return s->nrows - s->ndel;
}

/* Rows one compacted segment may hold: SEG_COMPACT_GROWTH growing
 * segments' worth (the seal threshold in rows or in bytes, whichever
 * comes first). Sealing is kept small so inserts never wait on a large
 * build; merging up to this size is what keeps a search's segment count
 * low, as each segment costs a search a whole graph walk. */
static uint64_t max_rows(const struct dann_coll *c)
{
	uint64_t seal = c->seal_rows, by_bytes = c->seal_bytes / (c->row_bytes ? c->row_bytes : 1);

	if (by_bytes && by_bytes < seal)
		seal = by_bytes;
	return SEG_COMPACT_GROWTH * (seal ? seal : 1);
}

/* Small: room left to merge into. In the background, below half the
 * most a segment may hold, so one row is rewritten a few times at most;
 * a forced compaction merges anything not yet full. */
static bool small(const struct dann_coll *c, const struct seg *s, int force)
{
	return live_rows(s) < (force ? max_rows(c) : max_rows(c) / 2);
}

static int cmp_live(const void *a, const void *b)
{
	uint64_t x = live_rows(*(struct seg *const *)a), y = live_rows(*(struct seg *const *)b);

	return (x > y) - (x < y);
}

static void choose(struct dann_coll *c, int force, struct pick *pk)
{
	struct seg *cand[COMPACT_MAX_INPUTS];
	size_t ncand = 0, nsmall = 0, ndel = 0;
	uint64_t live = 0, cap = max_rows(c);

	pk->n = 0;
	for (size_t i = 0; i < c->ver->n; i++) {
		struct seg *s = c->ver->s[i];
		if (!s->disk || atomic_load(&s->state) != DANN_SEG_FLUSHED)
			continue;
		nsmall += small(c, s, force);
	}
	for (size_t i = 0; i < c->ver->n && ncand < COMPACT_MAX_INPUTS; i++) {
		struct seg *s = c->ver->s[i];
		bool many_del;
		if (!s->disk || atomic_load(&s->state) != DANN_SEG_FLUSHED)
			continue;
		many_del = force ? s->ndel > 0 : s->ndel >= SEG_COMPACT_DELETED * (double)s->nrows;
		if (many_del || (nsmall >= (force ? 2u : SEG_COMPACT_MIN_RUN) && small(c, s, force)))
			cand[ncand++] = s;
	}
	/* smallest first, so one output takes as many inputs as fit */
	qsort(cand, ncand, sizeof *cand, cmp_live);
	for (size_t i = 0; i < ncand; i++) {
		struct seg *s = cand[i];
		bool many_del = force ? s->ndel > 0 : s->ndel >= SEG_COMPACT_DELETED * (double)s->nrows;
		if (pk->n && live + live_rows(s) > cap)
			continue;
		pk->in[pk->n++] = s;
		live += live_rows(s);
		ndel += many_del;
	}
	/* a lone segment without deletes gains nothing from a rewrite */
	if (pk->n == 1 && !ndel)
		pk->n = 0;
}

bool seg_compact_wanted(struct dann_coll *c)
{
	struct pick pk;

	choose(c, 0, &pk);
	return pk.n > 0;
}

/* Row references and keys of the inputs' live rows (c->mu held). */
static int gather(struct dann_coll *c, const struct pick *pk, struct seg_rowref **refs,
		  int64_t **keys, uint64_t *n)
{
	uint64_t total = 0, k = 0;

	for (size_t i = 0; i < pk->n; i++)
		total += pk->in[i]->nrows;
	*refs = malloc((total ? total : 1) * sizeof **refs);
	*keys = malloc((total ? total : 1) * sizeof **keys);
	if (!*refs || !*keys)
		return dann_fail(DANN_ENOMEM, "%s: compaction of %llu rows", c->schema.name,
				 (unsigned long long)total);
	for (size_t i = 0; i < pk->n; i++) {
		struct seg *s = pk->in[i];
		for (uint64_t r = 0; r < s->nrows; r++) {
			if (seg_disk_deleted(s->disk, r))
				continue;
			(*refs)[k] = (struct seg_rowref){ s, r };
			(*keys)[k++] = s->disk->keys[r];
		}
	}
	*n = k;
	return 0;
}

static int swap_in(struct dann_coll *c, const struct pick *pk, struct seg *f,
		   const struct seg_rowref *refs, const int64_t *keys, uint64_t n)
{
	struct dann_cat_segment recs[COMPACT_MAX_INPUTS + 1];
	size_t nrec = 0;
	int rc;

	if (f) {
		f->first_lsn = UINT64_MAX;
		for (size_t i = 0; i < pk->n; i++) {
			if (pk->in[i]->first_lsn < f->first_lsn)
				f->first_lsn = pk->in[i]->first_lsn;
			if (pk->in[i]->last_lsn > f->last_lsn)
				f->last_lsn = pk->in[i]->last_lsn;
		}
		for (uint64_t j = 0; j < n; j++)
			if (seg_disk_deleted(refs[j].s->disk, refs[j].row)) {
				seg_disk_delete(f, j);
				f->ndel++;
			}
		if ((rc = seg_disk_persist_del(f)) < 0 || (rc = seg_tier_register(f)) < 0)
			return rc;
		seg_cat_record(f, &recs[nrec]);
		recs[nrec++].state = DANN_SEG_FLUSHED;
	}
	/* With no output segment the WAL checkpoint may no longer follow
	 * from the flushed segments' LSNs: record it first. */
	if (!f && (rc = seg_prop_set_locked(c, SEG_PROP_CKPT, c->ckpt_lsn)) < 0)
		return rc;
	for (size_t i = 0; i < pk->n; i++) {
		seg_cat_record(pk->in[i], &recs[nrec]);
		recs[nrec++].state = DANN_SEG_DROPPED;
	}
	if ((rc = c->db->cat->seg_apply(c->db->cat_ctx, recs, nrec)) < 0)
		return rc;
	seg_failpoint(c->db, "compacted");
	if (f) {
		atomic_store(&f->state, DANN_SEG_FLUSHED);
		for (uint64_t j = 0; j < n; j++)
			if (!seg_disk_deleted(f->disk, j))
				seg_pk_put(&c->pk, keys[j], f->id, j); /* replaces: no growth */
	}
	if ((rc = seg_ver_swap(c, pk->in, pk->n, &f, f ? 1 : 0)) < 0) {
		c->failed = rc;
		return rc;
	}
	for (size_t i = 0; i < pk->n; i++) {
		atomic_store(&pk->in[i]->state, DANN_SEG_DROPPED);
		atomic_store(&pk->in[i]->dropped, true);
	}
	return 0;
}

static void done_inputs(struct dann_coll *c, const struct pick *pk, size_t n)
{
	for (size_t i = 0; i < n; i++)
		seg_disk_done(c, pk->in[i]);
}

static int use_inputs(struct dann_coll *c, const struct pick *pk)
{
	for (size_t i = 0; i < pk->n; i++) {
		int rc = seg_disk_use(c, pk->in[i]);

		if (rc < 0) {
			done_inputs(c, pk, i);
			return rc;
		}
	}
	return 0;
}

static int rewrite(struct dann_coll *c, struct pick *pk)
{
	struct seg_rowref *refs = NULL;
	int64_t *keys = NULL;
	struct seg *f = NULL;
	char dir[PATH_MAX];
	uint64_t n = 0, id = 0;
	int rc;

	pthread_mutex_lock(&c->mu);
	rc = gather(c, pk, &refs, &keys, &n);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0)
		goto out;
	if (n) {
		if ((rc = c->db->cat->alloc(c->db->cat_ctx, DANN_CAT_SEGMENT_ID, 1, &id)) < 0 ||
		    (rc = seg_segment_dir(c, id, dir)) < 0 || (rc = use_inputs(c, pk)) < 0)
			goto out;
		/* the inputs stay local while their rows are copied */
		rc = seg_write_segment(c, dir, refs, keys, n, "compact");
		done_inputs(c, pk, pk->n);
		if (rc < 0)
			goto out;
		if (!(f = seg_new(c, id, DANN_SEG_SEALED))) {
			rc = DANN_ENOMEM;
			fsu_rmtree(dir);
			goto out;
		}
		if ((rc = seg_disk_open(c, f, dir, 0)) < 0) {
			atomic_store(&f->dropped, true);
			snprintf(f->dir, sizeof f->dir, "%s", dir);
			goto out;
		}
	}
	pthread_mutex_lock(&c->mu);
	rc = atomic_load(&c->dropped) ? dann_fail(DANN_ECANCELED, "collection %s was dropped",
						  c->schema.name)
				      : swap_in(c, pk, f, refs, keys, n);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0 && f && atomic_load(&f->state) != DANN_SEG_FLUSHED)
		atomic_store(&f->dropped, true);
	if (rc == 0)
		seg_tier_kick(c->db); /* upload the output, delete the inputs' objects */
out:
	seg_unref(f);
	free(refs);
	free(keys);
	return rc;
}

int seg_compact_once(struct dann_coll *c, int force)
{
	struct pick pk;
	int rc;

	pthread_mutex_lock(&c->mu);
	choose(c, force, &pk);
	for (size_t i = 0; i < pk.n; i++)
		seg_ref(pk.in[i]);
	pthread_mutex_unlock(&c->mu);
	if (!pk.n)
		return 1;
	rc = rewrite(c, &pk);
	if (rc < 0)
		dann_log(rc == DANN_ECANCELED ? DANN_LOG_DEBUG : DANN_LOG_ERROR, "segment", "%s: compaction of %zu segments failed: %s",
			 c->schema.name, pk.n, dann_errmsg());
	for (size_t i = 0; i < pk.n; i++)
		seg_unref(pk.in[i]);
	return rc;
}
