/*
 * dix_api.c — the public disk index entry points of dann.h over dix_open
 * and dix_search: parameter defaults and checks, the id map, and a pool of
 * searchers so that dann_search on any thread reuses a ring instead of
 * setting one up per query.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dann.h"
#include "../dist.h"
#include "../error.h"
#include "../pq/pq.h"
#include "dix.h"
#include "dix_entry.h"
#include "dix_filter.h"
#include "dix_manifest.h"
#include "dix_search.h"

#define POOL_MAX 64 /* idle searchers kept per index */

struct dann_index {
	struct dix_index *ix;
	pthread_mutex_t lock;
	struct dix_searcher *pool[POOL_MAX];
	enum dio_backend pool_backend[POOL_MAX];
	uint32_t npool;
	struct dix_exact *xpool[POOL_MAX];    /* exact-plan searchers (filtered search) */
	enum dio_backend xpool_backend[POOL_MAX];
	uint32_t nxpool;
	char io[128];
};

void dann_search_params_default(struct dann_search_params *p)
{
	memset(p, 0, sizeof *p);
	p->k = 10;
	p->L = 100;
	p->W = 4;
	p->threads = 1;
	p->inflight = 16;
	p->sector_expand = -1;
	p->entry_seeds = -1;
}

static int to_dix(const struct dann_search_params *p, struct dix_search_params *d)
{
	int rc;

	if (p->io_backend < DIO_BACKEND_AUTO || p->io_backend > DIO_BACKEND_PREAD)
		return dann_fail(DANN_EINVAL, "search: I/O backend %d, expected 0..3", p->io_backend);
	*d = (struct dix_search_params){ .k = p->k, .L = p->L, .W = p->W, .allowed = p->allowed,
					 .allowed_bits = p->allowed_bits, .deleted = p->deleted,
					 .deleted_bits = p->deleted_bits,
					 .sector_expand = p->sector_expand, .cancel = p->cancel,
					 .deadline_ns = p->deadline_ns, .entry_seeds = p->entry_seeds };
	if ((rc = dix_filter_plan_check(p->filter_plan)) < 0)
		return rc;
	return dix_search_params_check(d);
}

int dann_index_open(const char *dir, const struct dann_open_params *p, struct dann_index **out)
{
	struct dix_open_params op = { 0 };
	struct dann_index *di;
	int rc;

	*out = NULL;
	if (p)
		op = (struct dix_open_params){ .cache_nodes = p->cache_nodes,
					       .cache_bytes = p->cache_bytes,
					       .cache_frac = p->cache_frac,
					       .buffered = p->buffered != 0,
					       .verify_all = p->verify_all != 0,
					       .cache_policy = p->cache_policy == DANN_CACHE_VISITS
								       ? DIX_CACHE_VISITS
								       : DIX_CACHE_BFS };
	if (p && p->cache_policy != DANN_CACHE_BFS && p->cache_policy != DANN_CACHE_VISITS)
		return dann_fail(DANN_EINVAL, "%s: cache policy %d, expected 0 (bfs) or 1 (visits)", dir,
				 p->cache_policy);
	if (!(di = calloc(1, sizeof *di)))
		return dann_fail(DANN_ENOMEM, "%s: no memory", dir);
	if ((rc = dix_open(dir, &op, &di->ix)) < 0) {
		free(di);
		return rc;
	}
	pthread_mutex_init(&di->lock, NULL);
	*out = di;
	return 0;
}

void dann_index_close(struct dann_index *di)
{
	if (!di)
		return;
	for (uint32_t i = 0; i < di->npool; i++)
		dix_searcher_free(di->pool[i]);
	for (uint32_t i = 0; i < di->nxpool; i++)
		dix_exact_free(di->xpool[i]);
	pthread_mutex_destroy(&di->lock);
	dix_close(di->ix);
	free(di);
}

int dann_index_info(const struct dann_index *di, struct dann_index_info *out)
{
	const struct dix_index *ix = di->ix;
	struct dix_manifest m;
	int rc;

	memset(out, 0, sizeof *out);
	out->metric = (enum dann_metric)ix->h.metric;
	out->dtype = (enum dann_dtype)ix->h.dtype;
	out->dim = ix->h.dim;
	out->n = ix->h.n;
	out->R = ix->h.R;
	out->entry = ix->h.entry[0];
	out->node_bytes = ix->h.node_bytes;
	out->nodes_per_sector = ix->h.nodes_per_sector;
	out->sectors_per_node = ix->h.sectors_per_node;
	out->locality_order = ix->h.layout == DIX_LAYOUT_SHUFFLE    ? DANN_ORDER_SHUFFLE
			      : ix->h.layout == DIX_LAYOUT_LOCALITY ? DANN_ORDER_LOCALITY
								    : DANN_ORDER_PLAIN;
	out->pq_bytes = pq_bytes(ix->pq);
	out->opq = pq_rotation(ix->pq) != NULL;
	out->cache_nodes = ix->cache.count;
	out->ram_bytes = dix_ram_bytes(ix);
	out->direct = ix->direct;
	out->entry_points = dix_entry_count(ix->entry);
	if ((rc = dix_manifest_read(ix->dir, &m)) < 0)
		return rc;
	for (uint32_t i = 0; i < m.n; i++)
		out->disk_bytes += m.e[i].size;
	return 0;
}

uint64_t dann_index_key(const struct dann_index *di, uint32_t id)
{
	return id < di->ix->h.n ? di->ix->keys[id] : UINT64_MAX;
}

/* Searching threads rewrite di->io under the lock, so the caller gets a
 * copy made under it, in a per-thread buffer (like dann_errmsg). */
const char *dann_index_io(const struct dann_index *di)
{
	static _Thread_local char copy[sizeof di->io];
	pthread_mutex_t *lock = (pthread_mutex_t *)&di->lock;

	pthread_mutex_lock(lock);
	memcpy(copy, di->io, sizeof copy);
	pthread_mutex_unlock(lock);
	return copy;
}

static int borrow(struct dann_index *di, enum dio_backend b, struct dix_searcher **out)
{
	struct dix_searcher_params sp = { .inflight = 1, .backend = b };

	pthread_mutex_lock(&di->lock);
	for (uint32_t i = di->npool; i-- > 0;)
		if (di->pool_backend[i] == b) {
			*out = di->pool[i];
			di->pool[i] = di->pool[di->npool - 1];
			di->pool_backend[i] = di->pool_backend[di->npool - 1];
			di->npool--;
			pthread_mutex_unlock(&di->lock);
			return 0;
		}
	pthread_mutex_unlock(&di->lock);
	return dix_searcher_new(&sp, out);
}

static void give_back(struct dann_index *di, enum dio_backend b, struct dix_searcher *s)
{
	pthread_mutex_lock(&di->lock);
	snprintf(di->io, sizeof di->io, "%s", dix_searcher_io(s));
	if (di->npool < POOL_MAX) {
		di->pool[di->npool] = s;
		di->pool_backend[di->npool++] = b;
		s = NULL;
	}
	pthread_mutex_unlock(&di->lock);
	dix_searcher_free(s);
}

static int borrow_exact(struct dann_index *di, enum dio_backend b, struct dix_exact **out)
{
	pthread_mutex_lock(&di->lock);
	for (uint32_t i = di->nxpool; i-- > 0;)
		if (di->xpool_backend[i] == b) {
			*out = di->xpool[i];
			di->xpool[i] = di->xpool[di->nxpool - 1];
			di->xpool_backend[i] = di->xpool_backend[di->nxpool - 1];
			di->nxpool--;
			pthread_mutex_unlock(&di->lock);
			return 0;
		}
	pthread_mutex_unlock(&di->lock);
	return dix_exact_new(b, out);
}

static void give_back_exact(struct dann_index *di, enum dio_backend b, struct dix_exact *x)
{
	pthread_mutex_lock(&di->lock);
	snprintf(di->io, sizeof di->io, "%s", dix_exact_io(x));
	if (di->nxpool < POOL_MAX) {
		di->xpool[di->nxpool] = x;
		di->xpool_backend[di->nxpool++] = b;
		x = NULL;
	}
	pthread_mutex_unlock(&di->lock);
	dix_exact_free(x);
}

/* One query of the exact plan (dix_filter.h). */
static int search_exact(struct dann_index *di, const float *query, const struct dann_search_params *p,
			const struct dix_search_params *dp, uint32_t rerank, uint32_t *ids,
			float *dists, uint32_t *found, struct dann_search_stats *stats)
{
	struct dann_search_stats st;
	struct dix_exact *x;
	uint32_t *allowed;
	uint64_t nallowed;
	int rc;

	if ((rc = dix_filter_ids(di->ix, dp, &allowed, &nallowed)) < 0)
		return rc;
	if ((rc = borrow_exact(di, p->io_backend, &x)) < 0) {
		free(allowed);
		return rc;
	}
	rc = dix_exact_run(x, di->ix, query, 1, dp->k, allowed, nallowed, rerank, NULL, ids, dists,
			   found, &st);
	give_back_exact(di, p->io_backend, x);
	free(allowed);
	if (rc == 0 && stats)
		*stats = st;
	return rc;
}

int dann_search(struct dann_index *di, const float *query, const struct dann_search_params *p,
		uint32_t *ids, float *dists, uint32_t *found, struct dann_search_stats *stats)
{
	struct dix_filter_plan plan;
	struct dix_search_params dp;
	struct dix_searcher *s;
	int rc;

	if ((rc = to_dix(p, &dp)) < 0 ||
	    (rc = dist_check_queries("dann_search", query, 1, di->ix->h.dim)) < 0 ||
	    (rc = dix_filter_choose(di->ix, &dp, p->filter_plan, &plan)) < 0)
		return rc;
	if (plan.plan == DANN_PLAN_EXACT)
		return search_exact(di, query, p, &dp, plan.rerank, ids, dists, found, stats);
	dix_filter_apply(&plan, &dp);
	if ((rc = borrow(di, p->io_backend, &s)) < 0)
		return rc;
	rc = dix_search_run(s, di->ix, query, 1, &dp, NULL, ids, dists, found, stats);
	give_back(di, p->io_backend, s);
	if (rc == 0 && stats && (dp.allowed || dp.deleted))
		stats->plan = plan.plan;
	return rc;
}

int dix_task_of(struct dann_index *di, const struct dann_search_params *p, struct dix_task *t)
{
	struct dix_filter_plan plan;
	int rc;

	memset(t, 0, sizeof *t);
	if ((rc = to_dix(p, &t->p)) < 0 || (rc = dix_filter_choose(di->ix, &t->p, p->filter_plan, &plan)) < 0)
		return rc;
	if (plan.plan == DANN_PLAN_EXACT)
		return 0;
	dix_filter_apply(&plan, &t->p);
	t->ix = di->ix;
	return 1;
}

int dann_search_batch(struct dann_index *di, const float *queries, uint64_t nq,
		      const struct dann_search_params *p, uint32_t *ids, float *dists,
		      uint32_t *found, struct dann_search_stats *stats)
{
	struct dix_searcher_params sp = { .inflight = p->inflight, .backend = p->io_backend };
	struct dix_search_params dp;
	char io[sizeof di->io];
	int rc;

	if ((rc = to_dix(p, &dp)) < 0)
		return rc;
	if (p->inflight == 0 || p->inflight > DIX_MAX_INFLIGHT)
		return dann_fail(DANN_EINVAL, "search: inflight = %u, expected 1..%u", p->inflight,
				 DIX_MAX_INFLIGHT);
	if (p->threads == 0 || p->threads > 1024)
		return dann_fail(DANN_EINVAL, "search: threads = %u, expected 1..1024", p->threads);
	if ((rc = dix_searcher_depth_check(p->inflight, p->W)) < 0)
		return rc;
	if ((rc = dist_check_queries("dann_search_batch", queries, nq, di->ix->h.dim)) < 0)
		return rc;
	rc = dix_filter_batch(di->ix, queries, nq, &dp, &sp, p->threads, p->filter_plan, ids, dists,
			      found, stats, io, sizeof io, NULL);
	pthread_mutex_lock(&di->lock);
	snprintf(di->io, sizeof di->io, "%s", io);
	pthread_mutex_unlock(&di->lock);
	return rc;
}
