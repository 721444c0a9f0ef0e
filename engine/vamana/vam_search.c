/*
 * vam_search.c — the two primitives of Vamana (DiskANN paper, Algorithms 1
 * and 2): GreedySearch from the entry point with a list of size L, and
 * RobustPrune with parameter alpha; plus the per-thread scratch they use
 * and the public in-memory search.
 *
 * The visited set is a generation-stamped array per scratch (one uint32 per
 * point): starting a search bumps the generation instead of clearing, so a
 * search allocates nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "vam_impl.h"

static int grow_array(void **p, size_t elem, uint32_t *cap, uint32_t need)
{
	uint32_t nc = *cap ? *cap : 64;
	void *q;

	while (nc < need)
		nc *= 2;
	if (nc == *cap)
		return 0;
	if (!(q = realloc(*p, elem * nc)))
		return dann_fail(DANN_ENOMEM, "vamana: no memory for %u scratch entries", nc);
	*p = q;
	*cap = nc;
	return 0;
}

static void scratch_free(struct vam_scratch *s)
{
	if (!s)
		return;
	vam_big_free(s->stamp, s->stamp_cap * sizeof *s->stamp);
	cand_destroy(&s->cl);
	free(s->exp);
	free(s->nbr);
	free(s->pool);
	free(s->occl);
	free(s->out);
	free(s->qbuf);
	topk_destroy(&s->tk);
	free(s);
}

void vam_scratch_pool_free(struct vam *v)
{
	while (v->spool) {
		struct vam_scratch *s = v->spool;
		v->spool = s->next;
		scratch_free(s);
	}
}

static int scratch_new(struct vam *v, struct vam_scratch **out)
{
	struct vam_scratch *s = calloc(1, sizeof *s);

	if (!s)
		goto nomem;
	s->nbr = malloc(sizeof *s->nbr * (v->p.R + 1));
	s->out = malloc(sizeof *s->out * v->p.R);
	s->qbuf = malloc(sizeof *s->qbuf * v->dim);
	if (!s->nbr || !s->out || !s->qbuf)
		goto nomem;
	*out = s;
	return 0;
nomem:
	scratch_free(s);
	return dann_fail(DANN_ENOMEM, "vamana: no memory for search scratch");
}

int vam_scratch_get(struct vam *v, uint32_t L, struct vam_scratch **out)
{
	struct vam_scratch *s;
	int rc;

	pthread_mutex_lock(&v->pool_mu);
	s = v->spool;
	if (s)
		v->spool = s->next;
	pthread_mutex_unlock(&v->pool_mu);
	if (!s && (rc = scratch_new(v, &s)) < 0)
		return rc;
	if (s->stamp_cap < v->cap) {
		uint32_t *st = vam_big_realloc(s->stamp, sizeof *st * s->stamp_cap, sizeof *st * v->cap);
		if (!st) {
			rc = dann_fail(DANN_ENOMEM, "vamana: no memory for a visited set of %llu",
				       (unsigned long long)v->cap);
			goto fail;
		}
		s->stamp = st;
		s->stamp_cap = v->cap;
	}
	if (s->cl.cap < L) {
		cand_destroy(&s->cl);
		if ((rc = cand_init(&s->cl, L)) < 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	scratch_free(s);
	return rc;
}

void vam_scratch_put(struct vam *v, struct vam_scratch *s)
{
	pthread_mutex_lock(&v->pool_mu);
	s->next = v->spool;
	v->spool = s;
	pthread_mutex_unlock(&v->pool_mu);
}

uint32_t vam_copy_nbrs(struct vam *v, uint32_t i, uint32_t *buf)
{
	uint32_t d;

	vam_lock(v, i);
	d = v->deg[i];
	memcpy(buf, v->slots + (size_t)i * v->p.R, sizeof *buf * d);
	vam_unlock(v, i);
	return d;
}

static void next_generation(struct vam_scratch *s)
{
	if (++s->gen == 0) {
		memset(s->stamp, 0, sizeof *s->stamp * s->stamp_cap);
		s->gen = 1;
	}
}

/* Cache lines of a row worth prefetching: enough to cover the first
 * stretch the kernel reads while the rest streams in. */
#define VAM_PREFETCH_LINES 4u

static inline void prefetch_row(const struct vam *v, uint32_t id)
{
	const char *r = vam_row(v, id);
	size_t lines = v->row_bytes / 64 + 1;

	if (lines > VAM_PREFETCH_LINES)
		lines = VAM_PREFETCH_LINES;
	for (size_t i = 0; i < lines; i++)
		__builtin_prefetch(r + 64 * i);
}

static bool allowed(const struct vam *v, const struct vam_filter *f, uint32_t id)
{
	if (vam_deleted(v, id))
		return false;
	if (!f)
		return true;
	if (f->bits && (id >= f->nbits || !(f->bits[id / 64] >> (id % 64) & 1)))
		return false;
	return !f->fn || f->fn(f->arg, id);
}

/* GreedySearch(entry, target, L). With collect, the expanded nodes and
 * their distances are kept in s->exp (the "visited set" V the build
 * prunes); with res, allowed points are offered to s->tk. The list's
 * capacity is taken from L (s->cl has room for it). */
static int greedy(struct vam *v, struct vam_scratch *s, const struct vam_target *t, uint32_t L,
		  bool collect, const struct vam_filter *res, struct vam_search_stats *st)
{
	struct cand_list *cl = &s->cl;
	uint32_t entry = v->medoid, hops = 0, ndist = 1;
	uint32_t cap_saved = cl->cap;
	float d;
	int i, rc;

	next_generation(s);
	cl->cap = L;
	cand_reset(cl);
	s->nexp = 0;
	d = vam_tdist(v, t, entry);
	s->stamp[entry] = s->gen;
	cand_insert(cl, entry, d);
	if (res && allowed(v, res, entry))
		topk_push(&s->tk, entry, d);
	while ((i = cand_next_unvisited(cl)) >= 0) {
		uint32_t id = cl->c[i].id, deg;

		cand_mark(cl, i);
		hops++;
		if (collect) {
			if (s->nexp == s->exp_cap &&
			    (rc = grow_array((void **)&s->exp, sizeof *s->exp, &s->exp_cap, s->nexp + 1)) < 0)
				goto out;
			s->exp[s->nexp++] = cl->c[i];
		}
		deg = vam_copy_nbrs(v, id, s->nbr);
		/* Start the unvisited neighbours' vectors on their way from
		 * memory before the distance loop needs them. */
		for (uint32_t j = 0; j < deg; j++)
			if (s->stamp[s->nbr[j]] != s->gen)
				prefetch_row(v, s->nbr[j]);
		for (uint32_t j = 0; j < deg; j++) {
			uint32_t nb = s->nbr[j];
			if (s->stamp[nb] == s->gen)
				continue;
			s->stamp[nb] = s->gen;
			d = vam_tdist(v, t, nb);
			ndist++;
			if (res && allowed(v, res, nb))
				topk_push(&s->tk, nb, d);
			cand_insert(cl, nb, d);
		}
	}
	rc = 0;
out:
	cl->cap = cap_saved;
	if (st) {
		st->hops = hops;
		st->ndist = ndist;
	}
	return rc;
}

int vam_greedy_collect(struct vam *v, struct vam_scratch *s, uint32_t p)
{
	struct vam_target t = vam_point_target(v, p);

	return greedy(v, s, &t, v->p.L, true, NULL, NULL);
}

int vam_pool_push(struct vam_scratch *s, uint32_t id, float dist)
{
	int rc;

	if (s->npool == s->pool_cap) {
		uint32_t cap = s->pool_cap;
		if ((rc = grow_array((void **)&s->pool, sizeof *s->pool, &s->pool_cap, s->npool + 1)) < 0)
			return rc;
		if ((rc = grow_array((void **)&s->occl, sizeof *s->occl, &cap, s->pool_cap)) < 0)
			return rc;
	}
	s->pool[s->npool++] = (struct cand){ .id = id, .dist = dist };
	return 0;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

uint32_t vam_robust_prune(struct vam *v, struct vam_scratch *s, uint32_t p, float alpha)
{
	struct cand *pool = s->pool;
	uint32_t n = 0, nout = 0, R = v->p.R;

	qsort(pool, s->npool, sizeof *pool, cand_cmp);
	for (uint32_t i = 0; i < s->npool; i++)
		if (pool[i].id != p && (n == 0 || pool[n - 1].id != pool[i].id))
			pool[n++] = pool[i];
	if (n > VAM_MAX_POOL)
		n = VAM_MAX_POOL;
	for (uint32_t i = 0; i < n; i++)
		s->occl[i] = 0;
	/* DiskANN's schedule: occlusion factors are gathered once; the pool
	 * is swept at alpha 1, then at growing alpha up to the target, so
	 * the closest diverse neighbours are chosen first. */
	for (float cur = 1.0f; cur <= alpha * 1.0001f && nout < R; cur *= 1.2f) {
		for (uint32_t i = 0; i < n && nout < R; i++) {
			struct vam_target t;
			if (s->occl[i] > cur)
				continue;
			s->occl[i] = INFINITY;
			s->out[nout++] = pool[i].id;
			t = vam_point_target(v, pool[i].id);
			for (uint32_t j = i + 1; j < n; j++) {
				float djk;
				if (s->occl[j] > alpha)
					continue;
				djk = vam_tdist(v, &t, pool[j].id);
				/* A duplicate of a chosen neighbour adds nothing (as in
				 * DiskANN); it also keeps lists of identical points
				 * short, leaving slots to reconnect them. */
				s->occl[j] = djk > 0 ? fmaxf(s->occl[j], pool[j].dist / djk) : INFINITY;
			}
		}
		if (alpha <= 1.0f)
			break;
	}
	s->npool = 0;
	return nout;
}

static void query_target(struct vam *v, struct vam_scratch *s, const float *q, struct vam_target *t)
{
	t->fn = v->qd;
	t->aug = false;
	t->ext = 0;
	t->vec = q;
	if (v->normalise) {
		float n2 = 0;
		for (uint32_t i = 0; i < v->dim; i++)
			n2 += q[i] * q[i];
		float inv = n2 > 0 ? 1.0f / sqrtf(n2) : 0;
		for (uint32_t i = 0; i < v->dim; i++)
			s->qbuf[i] = q[i] * inv;
		t->vec = s->qbuf;
	}
}

int vam_search(struct vam *v, const float *query, uint32_t k, uint32_t L,
	       const struct vam_filter *filter, uint32_t *ids, float *dists, uint32_t *found,
	       struct vam_search_stats *stats)
{
	static const struct vam_filter none = { 0 };
	struct vam_scratch *s = NULL;
	struct vam_target t;
	uint32_t m;
	int rc;

	*found = 0;
	if (k == 0)
		return dann_fail(DANN_EINVAL, "vamana search: k must be at least 1");
	if (L < k || L > VAM_MAX_L)
		return dann_fail(DANN_EINVAL, "vamana search: list size L = %u, expected k (%u) .. %u",
				 L, k, VAM_MAX_L);
	if ((rc = dist_check_queries("vam_search", query, 1, v->dim)) < 0)
		return rc;
	pthread_rwlock_rdlock(&v->grow);
	if (atomic_load(&v->n) == 0) {
		rc = 0;
		goto out;
	}
	if ((rc = vam_scratch_get(v, L, &s)) < 0)
		goto out;
	if (s->tk.k != k) {
		topk_destroy(&s->tk);
		if ((rc = topk_init(&s->tk, k)) < 0)
			goto out;
	}
	topk_reset(&s->tk);
	query_target(v, s, query, &t);
	if ((rc = greedy(v, s, &t, L, false, filter ? filter : &none, stats)) < 0)
		goto out;
	m = topk_sort(&s->tk);
	memcpy(ids, s->tk.id, sizeof *ids * m);
	memcpy(dists, s->tk.dist, sizeof *dists * m);
	*found = m;
out:
	if (s)
		vam_scratch_put(v, s);
	pthread_rwlock_unlock(&v->grow);
	return rc;
}
