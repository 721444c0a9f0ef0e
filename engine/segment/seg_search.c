/*
 * seg_search.c — searching a collection: every segment of one version
 * (growing and sealed ones in RAM, flushed ones on disk), each for its k
 * best live rows, merged by exact distance into the global top k. A key
 * appears once (an upsert racing the search could show both rows).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../error.h"
#include "expr.h"
#include "seg_impl.h"

#define SEARCH_MAX_K 16384u

void dann_coll_search_params_default(struct dann_coll_search_params *p)
{
	memset(p, 0, sizeof *p);
	p->k = 10;
	p->L = 100;
	p->W = 4;
	p->threads = 1;
	p->inflight = 16;
}

struct hit {
	int64_t key;
	float dist;
};

static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return (x->key > y->key) - (x->key < y->key);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int check(struct dann_coll *c, const float *q, const struct dann_coll_search_params *p)
{
	size_t bad;

	if (atomic_load(&c->dropped))
		return dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	if (!q)
		return dann_fail(DANN_EINVAL, "%s: no query", c->schema.name);
	if (p->k == 0 || p->k > SEARCH_MAX_K)
		return dann_fail(DANN_EINVAL, "%s: k = %u, expected 1..%u", c->schema.name, p->k,
				 SEARCH_MAX_K);
	if (p->L == 0 || p->L > 10000)
		return dann_fail(DANN_EINVAL, "%s: L = %u, expected 1..10000", c->schema.name, p->L);
	if (p->W > 64)
		return dann_fail(DANN_EINVAL, "%s: W = %u, expected 0..64", c->schema.name, p->W);
	if (!seg_finite(q, c->schema.dim, &bad))
		return dann_fail(DANN_EINVAL, "%s: query has NaN or Inf at element %zu", c->schema.name, bad);
	return 0;
}

static int stop_now(const struct dann_coll *c, const struct dann_coll_search_params *p)
{
	if (p->cancel && *p->cancel)
		return dann_fail(DANN_ECANCELED, "%s: search canceled", c->schema.name);
	if (p->deadline_ns && now_ns() > p->deadline_ns)
		return dann_fail(DANN_ETIMEDOUT, "%s: search passed its deadline", c->schema.name);
	return 0;
}

static uint32_t merge(struct hit *h, size_t n, uint32_t k, int64_t *keys, float *dists)
{
	uint32_t out = 0;

	qsort(h, n, sizeof *h, cmp_hit);
	for (size_t i = 0; i < n && out < k; i++) {
		bool seen = false;
		for (uint32_t j = 0; j < out && !seen; j++)
			seen = keys[j] == h[i].key;
		if (seen)
			continue;
		keys[out] = h[i].key;
		dists[out++] = h[i].dist;
	}
	return out;
}

static int search_ver(struct dann_coll *c, struct seg_ver *v, const float *q,
		      const struct dann_coll_search_params *p, const struct expr *filter,
		      struct hit *h, size_t *nh, struct dann_coll_search_stats *st)
{
	int64_t *k = malloc(p->k * sizeof *k);
	float *d = malloc(p->k * sizeof *d);
	size_t *order = malloc((v->n + 1) * sizeof *order), front = 0, back = v->n;
	int rc = 0;

	if (!k || !d || !order) {
		rc = dann_fail(DANN_ENOMEM, "search: %u results", p->k);
		goto out;
	}
	/* segments whose files are local first, then those the tier cache
	 * must fetch: a scan in one fixed order would make an LRU cache
	 * smaller than the collection miss on every segment of every query.
	 * Each segment is asked once, so each is searched exactly once. */
	for (size_t i = 0; i < v->n; i++)
		if (!v->s[i]->disk || seg_disk_local(v->s[i]))
			order[front++] = i;
		else
			order[--back] = i;
	for (size_t n = 0; n < v->n && rc == 0; n++) {
		struct seg *s = v->s[order[n]];
		uint32_t found = 0;
		uint64_t *allowed = NULL, nallowed = 0;
		if ((rc = stop_now(c, p)) < 0)
			break;
		if (!s->disk && !s->mem->n)
			continue;
		if (filter && (rc = seg_filter_mask(c, s, filter, &allowed, &nallowed)) < 0)
			break;
		if (s->disk)
			rc = seg_disk_search(c, s, q, p, allowed, k, d, &found, &st->reads);
		else
			rc = seg_mem_search(c, s->mem, q, p->k, p->L, allowed, nallowed, k, d, &found);
		free(allowed);
		st->segments++;
		for (uint32_t j = 0; j < found; j++)
			h[(*nh)++] = (struct hit){ k[j], d[j] };
	}
out:
	free(k);
	free(d);
	free(order);
	return rc;
}

static int search_once(struct dann_coll *c, const float *query, const struct dann_coll_search_params *p,
		       int64_t *keys, float *dists, uint32_t *found, struct dann_coll_search_stats *stats)
{
	struct dann_coll_search_params def;
	struct dann_coll_search_stats st = { 0 };
	uint64_t t0 = now_ns();
	struct expr *filter = NULL;
	struct seg_ver *v;
	struct hit *h;
	size_t nh = 0;
	int rc;

	if (!c || !keys || !dists || !found)
		return dann_fail(DANN_EINVAL, "search: no collection or output");
	if (!p) {
		dann_coll_search_params_default(&def);
		p = &def;
	}
	*found = 0;
	if ((rc = check(c, query, p)) < 0)
		return rc;
	if (p->filter && (rc = expr_compile(p->filter, &c->schema, &filter)) < 0)
		return dann_fail_wrap(rc, "%s", c->schema.name);
	v = seg_ver_get(c);
	if (!(h = malloc((v->n + 1) * p->k * sizeof *h))) {
		seg_ver_unref(v);
		expr_free(filter);
		return dann_fail(DANN_ENOMEM, "search: %zu segments", v->n);
	}
	rc = search_ver(c, v, query, p, filter, h, &nh, &st);
	seg_ver_unref(v);
	expr_free(filter);
	if (rc == 0)
		*found = merge(h, nh, p->k, keys, dists);
	free(h);
	st.latency_ns = now_ns() - t0;
	if (stats)
		*stats = st;
	return rc;
}

int dann_coll_search(struct dann_coll *c, const float *query, const struct dann_coll_search_params *p,
		     int64_t *keys, float *dists, uint32_t *found, struct dann_coll_search_stats *stats)
{
	uint32_t epoch;
	int rc;

	if (!c)
		return dann_fail(DANN_EINVAL, "search: no collection or output");
	/* A metric change flipped during the search could have it merge
	 * distances of two metrics: then it runs again (flips are rare). */
	for (int tries = 0;; tries++) {
		epoch = atomic_load(&c->metric_epoch);
		rc = search_once(c, query, p, keys, dists, found, stats);
		if (rc < 0 || atomic_load(&c->metric_epoch) == epoch || tries == SEG_SEARCH_RETRIES)
			return rc;
	}
}

/* What the batch search (seg_batch.c) shares with the single one, so both
 * accept and order the same. */
int seg_search_check(struct dann_coll *c, const float *q, const struct dann_coll_search_params *p)
{
	return check(c, q, p);
}

int seg_search_stop(const struct dann_coll *c, const struct dann_coll_search_params *p)
{
	return stop_now(c, p);
}

int seg_search_merge(const int64_t *hkeys, const float *hdists, size_t n, uint32_t k, int64_t *keys,
		     float *dists, uint32_t *found)
{
	struct hit *h = malloc((n ? n : 1) * sizeof *h);

	if (!h)
		return dann_fail(DANN_ENOMEM, "search: merging %zu results", n);
	for (size_t i = 0; i < n; i++)
		h[i] = (struct hit){ hkeys[i], hdists[i] };
	*found = merge(h, n, k, keys, dists);
	free(h);
	return 0;
}

/* The segment and row of a live key, referenced; DANN_ENOTFOUND if none. */
int seg_locate(struct dann_coll *c, int64_t key, struct seg **s, uint64_t *row)
{
	uint64_t sid;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (atomic_load(&c->dropped))
		rc = dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	else if (!seg_pk_get(&c->pk, key, &sid, row) || !(*s = seg_find(c, sid)))
		rc = DANN_ENOTFOUND;
	else
		seg_ref(*s);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int dann_coll_get_vector(struct dann_coll *c, int64_t key, void *vec)
{
	struct seg *s = NULL;
	uint64_t row = 0;
	int rc;

	if (!c || !vec)
		return dann_fail(DANN_EINVAL, "get_vector: no collection or output");
	if ((rc = seg_locate(c, key, &s, &row)) < 0)
		return rc == DANN_ENOTFOUND && !atomic_load(&c->dropped)
			       ? dann_fail(rc, "%s: no key %lld", c->schema.name, (long long)key)
			       : rc;
	if (s->disk)
		rc = seg_disk_vector(c, s, row, vec);
	else
		seg_mem_vector(c, s->mem, row, vec);
	seg_unref(s);
	return rc;
}

int dann_coll_count(struct dann_coll *c, uint64_t *rows)
{
	if (!c || !rows)
		return dann_fail(DANN_EINVAL, "count: no collection or output");
	if (atomic_load(&c->dropped))
		return dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	pthread_mutex_lock(&c->mu);
	*rows = c->pk.n;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

int dann_coll_segments(struct dann_coll *c, struct dann_seg_info **out, size_t *n)
{
	struct dann_seg_info *a;
	struct seg_ver *v;

	if (!c || !out || !n)
		return dann_fail(DANN_EINVAL, "segments: no collection or output");
	if (atomic_load(&c->dropped))
		return dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	pthread_mutex_lock(&c->mu);
	v = c->ver;
	if (!(a = calloc(v->n + 1, sizeof *a))) {
		pthread_mutex_unlock(&c->mu);
		return dann_fail(DANN_ENOMEM, "segments");
	}
	for (size_t i = 0; i < v->n; i++) {
		struct seg *s = v->s[i];
		a[i].id = s->id;
		a[i].state = (enum dann_seg_state)atomic_load(&s->state);
		a[i].rows = s->disk ? s->nrows : s->mem->n;
		a[i].deleted = s->ndel;
		a[i].disk_bytes = s->disk ? s->disk->disk_bytes : 0;
	}
	*n = v->n;
	pthread_mutex_unlock(&c->mu);
	*out = a;
	return 0;
}

static bool any_sealed(struct dann_coll *c)
{
	for (size_t i = 0; i < c->ver->n; i++)
		if (atomic_load(&c->ver->s[i]->state) == DANN_SEG_SEALED)
			return true;
	return false;
}

int dann_coll_flush(struct dann_coll *c)
{
	int rc;

	if (!c)
		return dann_fail(DANN_EINVAL, "flush: no collection");
	pthread_mutex_lock(&c->mu);
	rc = atomic_load(&c->dropped) ? dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped",
						  c->schema.name)
				      : c->failed ? c->failed : seg_seal(c);
	c->bg_err = 0;
	pthread_mutex_unlock(&c->mu);
	if (rc < 0)
		return rc;
	if (c->db->worker_started) {
		seg_worker_kick(c->db);
		pthread_mutex_lock(&c->mu);
		while ((any_sealed(c) || c->reindex_pending) && !c->bg_err && !atomic_load(&c->dropped))
			pthread_cond_wait(&c->cv, &c->mu);
		rc = c->bg_err;
		pthread_mutex_unlock(&c->mu);
		return rc < 0 ? dann_fail_wrap(rc, "%s: flush", c->schema.name) : 0;
	}
	seg_busy_enter(c);
	while ((rc = seg_build_next(c)) == 0)
		;
	while (rc >= 0 && (rc = seg_reindex_run(c)) == 0)
		;
	seg_busy_leave(c);
	return rc < 0 ? rc : 0;
}

int dann_coll_compact(struct dann_coll *c)
{
	size_t passes;
	int rc;

	if (!c)
		return dann_fail(DANN_EINVAL, "compact: no collection");
	if (atomic_load(&c->dropped))
		return dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	seg_busy_enter(c);
	pthread_mutex_lock(&c->mu);
	passes = c->ver->n;
	pthread_mutex_unlock(&c->mu);
	/* Pass after pass until nothing is left to merge: each one merges at
	 * least two segments or drops deletes, so the segment count bounds
	 * the passes (deletes arriving meanwhile wait for the next call). */
	while ((rc = seg_compact_once(c, 1)) == 0 && passes-- > 1)
		;
	seg_busy_leave(c);
	return rc < 0 ? rc : 0;
}
