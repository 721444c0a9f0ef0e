/*
 * seg_reindex.c — changing a collection's metric: every flushed segment is
 * rebuilt with the new index parameters in the background while searches
 * go on over the old segments, then one step swaps all of them in and
 * switches the collection to the new metric.
 *
 * Distances of two metrics cannot be merged, so nothing switches segment
 * by segment: until the flip, searches, seal builds and RAM segments keep
 * the old metric (c->schema.index); the target waits in c->reindex and in
 * the property "dann.reindex", so a reopen resumes the work. The flip,
 * under c->mu: deletes made during the rebuild are carried over, one
 * catalog step records the new segments FLUSHED and the old ones DROPPED
 * (compaction's step), then one coll_update writes the new schema and
 * removes the property. A crash between the two leaves only new-metric
 * flushed segments, and the open finishes the flip (seg_reindex_load).
 * In RAM, the collection's distance changes under every RAM segment's
 * lock and the metric epoch moves: RAM graphs built under the old one are
 * no longer searched (the graph thread regrows the growing one; a sealed
 * one is scanned until its build), and a search that read segments on
 * both sides of the flip runs again (seg_search.c, seg_batch.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "seg_files.h"

struct job {
	size_t n;                /* flushed segments at the start */
	struct seg **old;        /* referenced */
	struct seg **out;        /* their rebuilds (NULL: no live rows) */
	struct seg_rowref **refs;
	int64_t **keys;
	uint64_t *nrows;
};

/* "metric R L alpha pq_bytes build_ram_gib opq"; a property written
 * before OPQ lacks the last word and reads as plain PQ. */
static void encode(const struct dann_index_params *ip, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s %u %u %a %u %a %d", dann_metric_name(ip->metric), ip->R, ip->L,
		 (double)ip->alpha, ip->pq_bytes, ip->build_ram_gib, ip->opq);
}

static int decode(const struct dann_coll *c, const char *s, struct dann_index_params *ip)
{
	char m[32];
	double alpha;
	int n;

	memset(ip, 0, sizeof *ip);
	n = sscanf(s, "%31s %u %u %la %u %la %d", m, &ip->R, &ip->L, &alpha, &ip->pq_bytes,
		   &ip->build_ram_gib, &ip->opq);
	if ((n != 6 && n != 7) || (ip->opq != 0 && ip->opq != 1) || dann_metric_parse(m, &ip->metric) < 0)
		return dann_fail(DANN_ECORRUPT, "%s: property %s = \"%s\" is not index parameters",
				 c->schema.name, SEG_PROP_REINDEX, s);
	ip->alpha = (float)alpha;
	return 0;
}

static bool same_params(const struct dann_index_params *a, const struct dann_index_params *b)
{
	return a->metric == b->metric && a->R == b->R && a->L == b->L && a->alpha == b->alpha &&
	       a->pq_bytes == b->pq_bytes && a->build_ram_gib == b->build_ram_gib && a->opq == b->opq;
}

int seg_reindex_request(struct dann_coll *c, const struct dann_index_params *ip)
{
	char buf[160];
	int rc;

	encode(ip, buf, sizeof buf);
	if ((rc = seg_prop_set_str_locked(c, SEG_PROP_REINDEX, buf)) < 0)
		return rc;
	c->reindex = *ip;
	c->reindex_pending = true;
	return 0;
}

int seg_reindex_cancel(struct dann_coll *c)
{
	int rc;

	if (!c->reindex_pending)
		return 0;
	if ((rc = seg_prop_set_str_locked(c, SEG_PROP_REINDEX, NULL)) < 0)
		return rc;
	c->reindex_pending = false;
	return 0;
}

/* The schema takes the target and the property goes, in one catalog step
 * (c->mu held). */
static int flip_schema(struct dann_coll *c)
{
	struct dann_index_params old = c->schema.index;
	int rc;

	c->schema.index = c->reindex;
	if ((rc = seg_prop_set_str_locked(c, SEG_PROP_REINDEX, NULL)) < 0) {
		c->schema.index = old;
		return rc;
	}
	c->reindex_pending = false;
	return 0;
}

/* The RAM side of the flip (c->mu held): the distance changes while no
 * RAM segment is being read, and the epoch tells searches and the graph
 * thread that what they read before is of the old metric. */
static void flip_ram(struct dann_coll *c)
{
	struct seg_ver *v = c->ver;

	for (size_t i = 0; i < v->n; i++)
		if (v->s[i]->mem)
			pthread_rwlock_wrlock(&v->s[i]->mem->rw);
	c->dist = dist_kernel(c->schema.index.metric, DANN_DTYPE_F32, c->schema.dtype);
	atomic_fetch_add(&c->metric_epoch, 1);
	for (size_t i = v->n; i-- > 0;)
		if (v->s[i]->mem)
			pthread_rwlock_unlock(&v->s[i]->mem->rw);
}

int seg_reindex_load(struct dann_coll *c)
{
	char buf[160];
	size_t nflushed = 0, nnew = 0;
	int rc;

	if (seg_prop_find(c->props, SEG_PROP_REINDEX, buf, sizeof buf) < 0)
		return 0;
	if ((rc = decode(c, buf, &c->reindex)) < 0)
		return rc;
	for (size_t i = 0; i < c->ver->n; i++)
		if (c->ver->s[i]->disk) {
			nflushed++;
			nnew += c->ver->s[i]->disk->metric == c->reindex.metric;
		}
	c->reindex_pending = true;
	if (nnew && nnew < nflushed)
		return dann_fail(DANN_ECORRUPT, "%s: %zu of %zu flushed segments are of metric %s, the "
				 "rest of %s", c->schema.name, nnew, nflushed,
				 dann_metric_name(c->reindex.metric), dann_metric_name(c->schema.index.metric));
	if (nnew < nflushed)
		return 0; /* the worker rebuilds them */
	/* every segment is rebuilt (or there is none): the flip was cut
	 * between its two catalog steps, or has nothing to wait for */
	pthread_mutex_lock(&c->mu);
	if ((rc = flip_schema(c)) == 0)
		flip_ram(c);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void job_free(struct job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		if (j->out && j->out[i]) {
			if (atomic_load(&j->out[i]->state) != DANN_SEG_FLUSHED)
				atomic_store(&j->out[i]->dropped, true); /* never committed */
			seg_unref(j->out[i]);
		}
		if (j->refs)
			free(j->refs[i]);
		if (j->keys)
			free(j->keys[i]);
		seg_unref(j->old[i]);
	}
	free(j->old);
	free(j->out);
	free(j->refs);
	free(j->keys);
	free(j->nrows);
}

/* The flushed segments of the current version, referenced (c->mu held). */
static int job_start(struct dann_coll *c, struct job *j)
{
	size_t n = 0;

	for (size_t i = 0; i < c->ver->n; i++)
		n += c->ver->s[i]->disk && atomic_load(&c->ver->s[i]->state) == DANN_SEG_FLUSHED;
	j->old = calloc(n + 1, sizeof *j->old);
	j->out = calloc(n + 1, sizeof *j->out);
	j->refs = calloc(n + 1, sizeof *j->refs);
	j->keys = calloc(n + 1, sizeof *j->keys);
	j->nrows = calloc(n + 1, sizeof *j->nrows);
	if (!j->old || !j->out || !j->refs || !j->keys || !j->nrows)
		return dann_fail(DANN_ENOMEM, "%s: rebuilding %zu segments", c->schema.name, n);
	for (size_t i = 0; i < c->ver->n; i++) {
		struct seg *s = c->ver->s[i];
		if (s->disk && atomic_load(&s->state) == DANN_SEG_FLUSHED) {
			seg_ref(s);
			j->old[j->n++] = s;
		}
	}
	return 0;
}

/* Live rows of segment i at this moment (c->mu held). */
static int gather(struct dann_coll *c, struct job *j, size_t i)
{
	struct seg *s = j->old[i];
	uint64_t k = 0;

	j->refs[i] = malloc((s->nrows ? s->nrows : 1) * sizeof *j->refs[i]);
	j->keys[i] = malloc((s->nrows ? s->nrows : 1) * sizeof *j->keys[i]);
	if (!j->refs[i] || !j->keys[i])
		return dann_fail(DANN_ENOMEM, "%s: rebuild of %llu rows", c->schema.name,
				 (unsigned long long)s->nrows);
	for (uint64_t r = 0; r < s->nrows; r++) {
		if (seg_disk_deleted(s->disk, r))
			continue;
		j->refs[i][k] = (struct seg_rowref){ s, r };
		j->keys[i][k++] = s->disk->keys[r];
	}
	j->nrows[i] = k;
	return 0;
}

static int rebuild(struct dann_coll *c, struct job *j, size_t i, const struct dann_index_params *ip)
{
	char dir[PATH_MAX];
	uint64_t id;
	struct seg *f;
	int rc;

	pthread_mutex_lock(&c->mu);
	rc = gather(c, j, i);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0 || j->nrows[i] == 0)
		return rc;
	if ((rc = c->db->cat->alloc(c->db->cat_ctx, DANN_CAT_SEGMENT_ID, 1, &id)) < 0 ||
	    (rc = seg_segment_dir(c, id, dir)) < 0 ||
	    (rc = seg_write_segment_ip(c, dir, j->refs[i], j->keys[i], j->nrows[i], "reindex", ip)) < 0)
		return rc;
	if (!(f = seg_new(c, id, DANN_SEG_SEALED))) {
		fsu_rmtree(dir);
		return DANN_ENOMEM;
	}
	j->out[i] = f;
	if ((rc = seg_disk_open(c, f, dir, 0)) < 0) {
		snprintf(f->dir, sizeof f->dir, "%s", dir); /* removed with it */
		return rc;
	}
	return 0;
}

/* Everything swapped in and the metric flipped (c->mu held). */
static int swap_all(struct dann_coll *c, struct job *j)
{
	struct dann_cat_segment *recs = calloc(2 * j->n + 1, sizeof *recs);
	struct seg **add = calloc(j->n + 1, sizeof *add);
	size_t nrec = 0, nadd = 0;
	bool empty = false;
	int rc = 0;

	if (!recs || !add) {
		rc = dann_fail(DANN_ENOMEM, "%s: swapping %zu rebuilt segments", c->schema.name, j->n);
		goto out;
	}
	for (size_t i = 0; i < j->n; i++) {
		struct seg *f = j->out[i];
		if (seg_find(c, j->old[i]->id) != j->old[i]) {
			rc = dann_fail(DANN_ECANCELED, "%s: segment %llu changed during the rebuild",
				       c->schema.name, (unsigned long long)j->old[i]->id);
			goto out;
		}
		if (!f) {
			empty = true;
			continue;
		}
		f->first_lsn = j->old[i]->first_lsn;
		f->last_lsn = j->old[i]->last_lsn;
		for (uint64_t r = 0; r < j->nrows[i]; r++)
			if (seg_disk_deleted(j->old[i]->disk, j->refs[i][r].row) && !seg_disk_deleted(f->disk, r)) {
				seg_disk_delete(f, r);
				f->ndel++;
			}
		if ((rc = seg_disk_persist_del(f)) < 0)
			goto out;
		seg_cat_record(f, &recs[nrec]);
		recs[nrec++].state = DANN_SEG_FLUSHED;
		add[nadd++] = f;
	}
	/* With a segment gone whole the WAL checkpoint may no longer follow
	 * from the flushed segments' LSNs: record it first (as compaction). */
	if (empty && (rc = seg_prop_set_locked(c, SEG_PROP_CKPT, c->ckpt_lsn)) < 0)
		goto out;
	for (size_t i = 0; i < j->n; i++) {
		seg_cat_record(j->old[i], &recs[nrec]);
		recs[nrec++].state = DANN_SEG_DROPPED;
	}
	if (nrec && (rc = c->db->cat->seg_apply(c->db->cat_ctx, recs, nrec)) < 0)
		goto out;
	seg_failpoint(c->db, "reindexed");
	/* The catalog has it: from here the flip must complete, or the
	 * collection stops until a reopen finishes it. */
	for (size_t i = 0; i < j->n; i++) {
		struct seg *f = j->out[i];
		if (!f)
			continue;
		atomic_store(&f->state, DANN_SEG_FLUSHED);
		for (uint64_t r = 0; r < j->nrows[i]; r++)
			if (!seg_disk_deleted(f->disk, r))
				seg_pk_put(&c->pk, j->keys[i][r], f->id, r);
	}
	if ((rc = seg_ver_swap(c, j->old, j->n, add, nadd)) < 0) {
		c->failed = rc;
		goto out;
	}
	for (size_t i = 0; i < j->n; i++) {
		atomic_store(&j->old[i]->state, DANN_SEG_DROPPED);
		atomic_store(&j->old[i]->dropped, true);
	}
	if ((rc = flip_schema(c)) < 0) {
		c->failed = rc;
		goto out;
	}
	flip_ram(c);
out:
	free(recs);
	free(add);
	return rc;
}

int seg_reindex_run(struct dann_coll *c)
{
	struct dann_index_params ip;
	struct job j = { 0 };
	int rc;

	pthread_mutex_lock(&c->mu);
	if (!c->reindex_pending || atomic_load(&c->dropped)) {
		pthread_mutex_unlock(&c->mu);
		return 1;
	}
	ip = c->reindex;
	rc = job_start(c, &j);
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < j.n && rc == 0; i++)
		rc = rebuild(c, &j, i, &ip);
	pthread_mutex_lock(&c->mu);
	if (rc == 0 && atomic_load(&c->dropped))
		rc = dann_fail(DANN_ECANCELED, "collection %s was dropped", c->schema.name);
	if (rc == 0 && (!c->reindex_pending || !same_params(&ip, &c->reindex)))
		rc = 0; /* the target changed meanwhile: this work is void; go again */
	else if (rc == 0)
		rc = swap_all(c, &j);
	pthread_cond_broadcast(&c->cv); /* flush waits for the metric change */
	pthread_mutex_unlock(&c->mu);
	if (rc < 0)
		dann_log(rc == DANN_ECANCELED ? DANN_LOG_DEBUG : DANN_LOG_ERROR, "segment",
			 "%s: rebuilding segments for metric %s failed: %s", c->schema.name,
			 dann_metric_name(ip.metric), dann_errmsg());
	job_free(&j);
	return rc;
}
