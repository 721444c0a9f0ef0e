/*
 * vamana.c — building the Vamana graph (DiskANN paper, Algorithm 3) and
 * growing it afterwards (FreshDiskANN's insert).
 *
 * The entry point is the medoid (the point nearest the centroid). Points
 * are linked in a random order fixed by the seed, on all threads at once:
 * GreedySearch for the point from the medoid, RobustPrune of the expanded
 * set to at most R out-neighbours, then a back-edge from each neighbour,
 * which is re-pruned with alpha when it overflows R. Each neighbour list
 * is guarded by its own spinlock; the re-prune runs on a copy outside the
 * lock, as DiskANN does, so a rare concurrent append to the same list can
 * be lost (the list stays valid). With one thread the graph depends only
 * on the data, the parameters and the seed.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"
#include "vam_file.h"
#include "vam_impl.h"


#define VAM_PROGRESS_STEP 4096u /* points between progress calls */

void vam_params_default(struct vam_params *p)
{
	memset(p, 0, sizeof *p);
	p->R = 64;
	p->L = 100;
	p->alpha = 1.2f;
	p->seed = 1;
	p->passes = 1;
}

int vam_params_check(const struct vam_params *p)
{
	if (p->R == 0 || p->R > VAM_MAX_R)
		return dann_fail(DANN_EINVAL, "vamana: max degree R = %u, expected 1..%u", p->R, VAM_MAX_R);
	if (p->L == 0 || p->L > VAM_MAX_L)
		return dann_fail(DANN_EINVAL, "vamana: list size L = %u, expected 1..%u", p->L, VAM_MAX_L);
	if (!isfinite(p->alpha) || p->alpha < 1.0f)
		return dann_fail(DANN_EINVAL, "vamana: alpha = %g, expected a finite value >= 1",
				 (double)p->alpha);
	if (p->passes != 1 && p->passes != 2)
		return dann_fail(DANN_EINVAL, "vamana: passes = %u, expected 1 or 2", p->passes);
	return 0;
}

int vam_threads(const struct vam *v)
{
	return v->p.threads ? (int)v->p.threads : omp_get_num_procs();
}

static int alloc_arrays(struct vam *v, uint64_t cap)
{
	size_t R = v->p.R;
	void *a;

	if (cap == 0)
		cap = 1;
#define GROW(field, per)                                                          \
	do {                                                                      \
		if (!(a = vam_big_realloc((void *)v->field, v->cap * (per), cap * (per)))) \
			goto nomem;                                               \
		v->field = a;                                                     \
	} while (0)
	GROW(vecs, v->row_bytes);
	GROW(slots, R * sizeof(uint32_t));
	GROW(deg, sizeof(uint32_t));
	GROW(lock, sizeof(atomic_uchar));
	GROW(del, sizeof(atomic_uchar));
	if (v->metric == DANN_METRIC_IP)
		GROW(ext, sizeof(float));
#undef GROW
	/* New pages come zeroed: degrees 0, locks free, nothing deleted. */
	for (uint64_t i = v->cap; i < cap; i++) {
		atomic_init(&v->lock[i], 0);
		atomic_init(&v->del[i], 0);
	}
	v->cap = cap;
	return 0;
nomem:
	return dann_fail(DANN_ENOMEM, "vamana: no memory for %llu points of %zu bytes (R = %zu)",
			 (unsigned long long)cap, v->row_bytes, R);
}

int vam_create(enum dann_metric metric, enum dann_dtype dtype, uint32_t dim, uint64_t cap,
	       const struct vam_params *p, struct vam **out)
{
	struct vam *v;
	pthread_rwlockattr_t ra;
	int rc;

	*out = NULL;
	if ((rc = vam_params_check(p)) < 0)
		return rc;
	if (dtype != DANN_DTYPE_F32 && dtype != DANN_DTYPE_U8 && dtype != DANN_DTYPE_I8)
		return dann_fail(DANN_EINVAL, "vamana: element type %s, expected float32, uint8 or int8",
				 dann_dtype_name(dtype));
	if (metric != DANN_METRIC_L2 && metric != DANN_METRIC_IP && metric != DANN_METRIC_COSINE)
		return dann_fail(DANN_EINVAL, "vamana: unknown metric %d", (int)metric);
	if (dim == 0 || dim > 65536)
		return dann_fail(DANN_EINVAL, "vamana: dimension %u, expected 1..65536", dim);
	if (cap > UINT32_MAX)
		return dann_fail(DANN_EINVAL, "vamana: %llu points, at most %u fit 32-bit ids",
				 (unsigned long long)cap, UINT32_MAX);
	if (!(v = calloc(1, sizeof *v)))
		return dann_fail(DANN_ENOMEM, "vamana: no memory");
	v->metric = metric;
	v->dtype = dtype;
	v->dim = dim;
	v->row_bytes = (size_t)dim * dann_dtype_size(dtype);
	v->p = *p;
	atomic_init(&v->n, 0);
	v->normalise = metric == DANN_METRIC_COSINE && dtype == DANN_DTYPE_F32;
	{
		enum dann_metric km = v->normalise ? DANN_METRIC_IP : metric;
		/* IP builds measure L2 between augmented points (see vamana.h). */
		enum dann_metric bm = metric == DANN_METRIC_IP ? DANN_METRIC_L2 : km;
		v->dd = dist_kernel(bm, dtype, dtype);
		v->qd = dist_kernel(km, DANN_DTYPE_F32, dtype);
		v->off = v->normalise ? 1.0f : 0.0f;
	}
	pthread_rwlockattr_init(&ra);
	/* Writer preference: growth must not starve under a stream of searches. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&v->grow, &ra);
	pthread_rwlock_init(&v->maint, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&v->alloc, NULL);
	pthread_mutex_init(&v->pool_mu, NULL);
	if ((rc = alloc_arrays(v, cap)) < 0) {
		vam_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void vam_free(struct vam *v)
{
	if (!v)
		return;
	vam_scratch_pool_free(v);
	pthread_rwlock_destroy(&v->grow);
	pthread_rwlock_destroy(&v->maint);
	pthread_mutex_destroy(&v->alloc);
	pthread_mutex_destroy(&v->pool_mu);
	vam_big_free(v->vecs, v->cap * v->row_bytes);
	vam_big_free(v->ext, v->cap * sizeof *v->ext);
	vam_big_free(v->slots, v->cap * v->p.R * sizeof *v->slots);
	vam_big_free(v->deg, v->cap * sizeof *v->deg);
	vam_big_free((void *)v->lock, v->cap * sizeof *v->lock);
	vam_big_free((void *)v->del, v->cap * sizeof *v->del);
	free(v);
}

static float row_norm2(const struct vam *v, const void *row)
{
	double s = 0;

	for (uint32_t i = 0; i < v->dim; i++) {
		double x = v->dtype == DANN_DTYPE_F32 ? ((const float *)row)[i]
			 : v->dtype == DANN_DTYPE_U8 ? ((const uint8_t *)row)[i]
						     : ((const int8_t *)row)[i];
		s += x * x;
	}
	return (float)s;
}

void vam_store_rows(struct vam *v, uint64_t first, const void *rows, uint64_t n)
{
	if (rows != vam_row(v, first))
		memcpy(v->vecs + first * v->row_bytes, rows, n * v->row_bytes);
	for (uint64_t i = first; i < first + n; i++) {
		if (v->normalise) {
			float *x = (float *)(v->vecs + i * v->row_bytes);
			float n2 = row_norm2(v, x);
			float inv = n2 > 0 ? 1.0f / sqrtf(n2) : 0;
			for (uint32_t j = 0; j < v->dim; j++)
				x[j] *= inv;
		} else if (v->ext) {
			float e2 = v->ip_M2 - row_norm2(v, vam_row(v, i));
			v->ext[i] = e2 > 0 ? sqrtf(e2) : 0;
		}
	}
}

/* The point nearest the centroid: DiskANN's entry point. */
static uint32_t find_medoid(struct vam *v, uint64_t n, float *centroid)
{
	dist_fn l2 = dist_kernel(DANN_METRIC_L2, DANN_DTYPE_F32, v->dtype);
	double *sum = calloc(v->dim, sizeof *sum);
	uint32_t best = 0;
	float bd = INFINITY;

	if (!sum)
		return 0; /* any point is a valid entry; the first is as good a guess */
	for (uint64_t i = 0; i < n; i++) {
		const void *r = vam_row(v, i);
		for (uint32_t j = 0; j < v->dim; j++)
			sum[j] += v->dtype == DANN_DTYPE_F32 ? ((const float *)r)[j]
				: v->dtype == DANN_DTYPE_U8 ? ((const uint8_t *)r)[j]
							    : ((const int8_t *)r)[j];
	}
	for (uint32_t j = 0; j < v->dim; j++)
		centroid[j] = (float)(sum[j] / (double)n);
	free(sum);
	for (uint64_t i = 0; i < n; i++) {
		float d = l2(centroid, vam_row(v, i), v->dim);
		if (d < bd) {
			bd = d;
			best = (uint32_t)i;
		}
	}
	return best;
}

/* Adds p to j's list; over R, re-prunes N(j) ∪ {p} with alpha. */
static int add_back_edge(struct vam *v, struct vam_scratch *s, uint32_t j, uint32_t p, float alpha)
{
	uint32_t R = v->p.R, d, m;
	uint32_t *list = v->slots + (size_t)j * R;
	struct vam_target t;
	int rc;

	vam_lock(v, j);
	d = v->deg[j];
	for (uint32_t i = 0; i < d; i++)
		if (list[i] == p) {
			vam_unlock(v, j);
			return 0;
		}
	if (d < R) {
		list[d] = p;
		v->deg[j] = d + 1;
		vam_unlock(v, j);
		return 0;
	}
	memcpy(s->nbr, list, sizeof *list * d);
	vam_unlock(v, j);
	s->nbr[d++] = p;
	t = vam_point_target(v, j);
	s->npool = 0;
	for (uint32_t i = 0; i < d; i++)
		if ((rc = vam_pool_push(s, s->nbr[i], vam_tdist(v, &t, s->nbr[i]))) < 0)
			return rc;
	m = vam_robust_prune(v, s, j, alpha);
	vam_lock(v, j);
	memcpy(list, s->out, sizeof *list * m);
	v->deg[j] = m;
	vam_unlock(v, j);
	return 0;
}

/* Links point p: search, prune, set N(p), add back-edges. With keep_old
 * (the second pass) the current N(p) joins the pool. */
static int vam_link(struct vam *v, struct vam_scratch *s, uint32_t p, float alpha, bool keep_old)
{
	uint32_t R = v->p.R, m;
	int rc;

	if ((rc = vam_greedy_collect(v, s, p)) < 0)
		return rc;
	s->npool = 0;
	for (uint32_t i = 0; i < s->nexp; i++)
		if ((rc = vam_pool_push(s, s->exp[i].id, s->exp[i].dist)) < 0)
			return rc;
	if (keep_old) {
		struct vam_target t = vam_point_target(v, p);
		uint32_t d = vam_copy_nbrs(v, p, s->nbr);
		for (uint32_t i = 0; i < d; i++)
			if ((rc = vam_pool_push(s, s->nbr[i], vam_tdist(v, &t, s->nbr[i]))) < 0)
				return rc;
	}
	m = vam_robust_prune(v, s, p, alpha);
	vam_lock(v, p);
	memcpy(v->slots + (size_t)p * R, s->out, sizeof *s->out * m);
	v->deg[p] = m;
	vam_unlock(v, p);
	/* s->out is reused by the re-prunes below: walk a copy. */
	{
		uint32_t outs[m ? m : 1];
		memcpy(outs, s->out, sizeof *s->out * m);
		for (uint32_t i = 0; i < m; i++)
			if ((rc = add_back_edge(v, s, outs[i], p, alpha)) < 0)
				return rc;
	}
	return 0;
}

/* Links ids order[0..n) on the index's threads, reporting progress. */
static int link_parallel(struct vam *v, const uint32_t *order, uint64_t n, float alpha,
			 bool keep_old, const char *phase)
{
	_Atomic uint64_t done = 0;
	struct dann_first_err err = { 0 };
	int rc0;

	if ((rc0 = stop_check(v->p.stop, phase)) < 0)
		return rc0;
	/* The calling thread holds the arrays in place for all workers: a
	 * worker blocking on the lock (behind a waiting writer) while others
	 * hold it and wait at the loop's barrier would deadlock. */
	pthread_rwlock_rdlock(&v->grow);
#pragma omp parallel num_threads(vam_threads(v))
	{
		struct vam_scratch *s = NULL;
		uint64_t last = 0;
		int rc;

		rc = dann_first_err_set(&err, vam_scratch_get(v, v->p.L, &s));
#pragma omp for schedule(dynamic, 64)
		for (uint64_t i = 0; i < n; i++) {
			if (rc == 0 && !dann_first_err_seen(&err))
				rc = dann_first_err_set(&err, vam_link(v, s, order[i], alpha, keep_old));
			uint64_t d = atomic_fetch_add(&done, 1) + 1;
			/* Thread 0 reports progress and checks for a stop; the
			 * others see a stop as a failure and skip their rest. */
			if (omp_get_thread_num() == 0 && d - last >= VAM_PROGRESS_STEP) {
				if (v->p.progress)
					v->p.progress(v->p.progress_arg, phase, d, n);
				if (rc == 0)
					rc = dann_first_err_set(&err, stop_check(v->p.stop, phase));
				last = d;
			}
		}
		if (s)
			vam_scratch_put(v, s);
	}
	pthread_rwlock_unlock(&v->grow);
	if (dann_first_err_seen(&err))
		return dann_first_err_raise(&err);
	if (v->p.progress)
		v->p.progress(v->p.progress_arg, phase, n, n);
	return 0;
}

/* Readies n raw rows in place for the metric (M for IP, unit vectors for
 * cosine) and makes them count. */
static void prepare_rows(struct vam *v, uint64_t n)
{
	if (v->ext) {
		float m2 = v->ip_M2; /* a partitioned build presets the global one */
		for (uint64_t i = 0; i < n; i++)
			m2 = fmaxf(m2, row_norm2(v, vam_row(v, i)));
		v->ip_M2 = m2;
	}
	vam_store_rows(v, 0, vam_row(v, 0), n);
	atomic_store(&v->n, n);
}

void vam_load_finish(struct vam *v, uint64_t n, uint32_t medoid)
{
	if (n)
		prepare_rows(v, n);
	v->medoid = medoid;
}

/* Rounds of connect_unreachable before giving up (each round makes
 * every node then unreachable reachable; a replaced edge can strand
 * another, which the next round picks up). */
#define VAM_CONNECT_ROUNDS 8

/* A one-pass build does not guarantee that every point stays reachable:
 * re-prunes can drop all in-edges of a point (near-duplicates, mostly).
 * For each such point u, a reachable node x gets an edge to u: the closest
 * node the search for u expanded that has a free slot, else the closest
 * reachable node anywhere with a free slot (a scan, but unreachable points
 * are rare), else the closest expanded node gives up its last slot. */
static uint32_t pick_parent(struct vam *v, struct vam_scratch *s, uint64_t n, const uint32_t *seen,
			    uint32_t u)
{
	struct vam_target t = vam_point_target(v, u);
	uint32_t R = v->p.R, x = UINT32_MAX;
	float bd = INFINITY;

	for (uint32_t i = 0; i < s->nexp; i++)
		if (s->exp[i].id != u && seen[s->exp[i].id] && v->deg[s->exp[i].id] < R)
			return s->exp[i].id;
	for (uint64_t i = 0; i < n; i++)
		if (seen[i] && v->deg[i] < R) {
			float d = vam_tdist(v, &t, (uint32_t)i);
			if (d < bd) {
				bd = d;
				x = (uint32_t)i;
			}
		}
	for (uint32_t i = 0; i < s->nexp && x == UINT32_MAX; i++)
		if (s->exp[i].id != u && seen[s->exp[i].id])
			x = s->exp[i].id;
	return x;
}

/* Marks everything newly reachable from u (seen[u] just set). */
static void spread(struct vam *v, uint32_t *seen, uint32_t *queue, uint32_t u)
{
	uint64_t head = 0, tail = 0;

	queue[tail++] = u;
	while (head < tail) {
		uint32_t a = queue[head++];
		for (uint32_t j = 0; j < v->deg[a]; j++) {
			uint32_t b = v->slots[(size_t)a * v->p.R + j];
			if (!seen[b]) {
				seen[b] = 1;
				queue[tail++] = b;
			}
		}
	}
}

int vam_connect_unreachable(struct vam *v, uint64_t n)
{
	uint32_t *seen = vam_big_realloc(NULL, 0, sizeof *seen * n);
	uint32_t *queue = vam_big_realloc(NULL, 0, sizeof *queue * n);
	struct vam_scratch *s = NULL;
	int rc = 0;

	if (!seen || !queue) {
		rc = dann_fail(DANN_ENOMEM, "vamana: no memory to check reachability");
		goto out;
	}
	if ((rc = vam_scratch_get(v, v->p.L, &s)) < 0)
		goto out;
	for (int round = 0; round < VAM_CONNECT_ROUNDS; round++) {
		uint64_t fixed = 0;
		vam_reach(v, n, seen, queue);
		for (uint64_t u = 0; u < n; u++) {
			uint32_t x, R = v->p.R;
			if (seen[u] || vam_deleted(v, (uint32_t)u))
				continue;
			if ((rc = vam_greedy_collect(v, s, (uint32_t)u)) < 0)
				goto out;
			if ((x = pick_parent(v, s, n, seen, (uint32_t)u)) == UINT32_MAX)
				continue;
			/* Searches may be reading x (consolidation runs beside them). */
			vam_lock(v, x);
			if (v->deg[x] < R)
				v->slots[(size_t)x * R + v->deg[x]++] = (uint32_t)u;
			else
				v->slots[(size_t)x * R + R - 1] = (uint32_t)u;
			vam_unlock(v, x);
			seen[u] = 1;
			spread(v, seen, queue, (uint32_t)u);
			fixed++;
		}
		if (!fixed)
			break;
	}
out:
	if (s)
		vam_scratch_put(v, s);
	vam_big_free(seen, sizeof *seen * n);
	vam_big_free(queue, sizeof *queue * n);
	return rc;
}

int vam_build_adopt(struct vam *v, uint64_t n)
{
	uint32_t *order = NULL;
	float *centroid = NULL;
	uint64_t rng = v->p.seed;
	int rc = 0;

	if (n == 0)
		return 0;
	prepare_rows(v, n);
	order = vam_big_realloc(NULL, 0, sizeof *order * n);
	centroid = malloc(sizeof *centroid * v->dim);
	if (!order || !centroid) {
		rc = dann_fail(DANN_ENOMEM, "vamana: no memory to order %llu points", (unsigned long long)n);
		goto out;
	}
	v->medoid = find_medoid(v, n, centroid);
	for (uint64_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = rng_splitmix64(&rng) % (i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	if (v->p.passes == 2) {
		if ((rc = link_parallel(v, order, n, 1.0f, false, "vamana pass 1 (alpha 1)")) < 0)
			goto out;
		rc = link_parallel(v, order, n, v->p.alpha, true, "vamana pass 2");
	} else {
		rc = link_parallel(v, order, n, v->p.alpha, false, "vamana");
	}
	if (rc == 0)
		rc = vam_connect_unreachable(v, n);
out:
	vam_big_free(order, sizeof *order * n);
	free(centroid);
	return rc;
}

int vam_build(enum dann_metric metric, enum dann_dtype dtype, uint32_t dim, const void *data,
	      uint64_t n, const struct vam_params *p, struct vam **out)
{
	struct vam *v;
	int rc;

	*out = NULL;
	if ((rc = vam_create(metric, dtype, dim, n, p, &v)) < 0)
		return rc;
	if (n)
		memcpy(v->vecs, data, n * v->row_bytes);
	if ((rc = vam_build_adopt(v, n)) < 0) {
		vam_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* Reserves ids [first, first+n), growing the arrays if needed. */
static int reserve_ids(struct vam *v, uint64_t n, uint32_t *first)
{
	uint64_t have;
	int rc = 0;

	pthread_mutex_lock(&v->alloc);
	have = atomic_load(&v->n);
	if (have + n > UINT32_MAX) {
		rc = dann_fail(DANN_EINVAL, "vamana: inserting %llu points would pass %u points",
			       (unsigned long long)n, UINT32_MAX);
		goto out;
	}
	if (have + n > v->cap) {
		uint64_t cap = v->cap * 2;
		if (cap < have + n)
			cap = have + n;
		if (cap > UINT32_MAX)
			cap = UINT32_MAX;
		pthread_rwlock_wrlock(&v->grow);
		rc = alloc_arrays(v, cap);
		pthread_rwlock_unlock(&v->grow);
		if (rc < 0)
			goto out;
	}
	*first = (uint32_t)have;
	atomic_store(&v->n, have + n);
out:
	pthread_mutex_unlock(&v->alloc);
	return rc;
}

/* When inserts bring a point longer than the MIPS reduction's bound M,
 * M grows to VAM_IP_HEADROOM times the new largest squared norm (so a
 * run of ever longer points costs a few rounds, not one per point), and
 * every stored point's extra coordinate sqrt(M^2 - |x|^2) is recomputed:
 * any M at least the largest norm keeps the reduction exact, but a point
 * beyond M would get no valid coordinate at all. Done under the grow lock
 * held for writing, which stops searches and inserts for the O(n) pass. */
#define VAM_IP_HEADROOM 1.25f

static void ip_bound_raise(struct vam *v, const void *rows, uint64_t n)
{
	float m2 = 0, cur;

	if (!v->ext)
		return;
	for (uint64_t i = 0; i < n; i++)
		m2 = fmaxf(m2, row_norm2(v, (const uint8_t *)rows + i * v->row_bytes));
	pthread_rwlock_rdlock(&v->grow);
	cur = v->ip_M2;
	pthread_rwlock_unlock(&v->grow);
	if (m2 <= cur)
		return;
	pthread_rwlock_wrlock(&v->grow);
	if (m2 > v->ip_M2) {
		uint64_t have = atomic_load(&v->n);
		v->ip_M2 = m2 * VAM_IP_HEADROOM;
		for (uint64_t i = 0; i < have; i++) {
			float e2 = v->ip_M2 - row_norm2(v, vam_row(v, i));
			v->ext[i] = e2 > 0 ? sqrtf(e2) : 0;
		}
	}
	pthread_rwlock_unlock(&v->grow);
}

static void store_and_seed(struct vam *v, uint32_t first, const void *vecs, uint64_t n)
{
	vam_store_rows(v, first, vecs, n);
	if (first == 0) {
		/* The index was empty: the first point is the entry point. */
		v->medoid = 0;
	}
}

int vam_insert_batch(struct vam *v, const void *vecs, uint64_t n, uint32_t *first_id)
{
	uint32_t first, *order = NULL;
	int rc;

	if (n == 0)
		return 0;
	pthread_rwlock_rdlock(&v->maint);
	ip_bound_raise(v, vecs, n);
	if ((rc = reserve_ids(v, n, &first)) < 0)
		goto out;
	pthread_rwlock_rdlock(&v->grow);
	store_and_seed(v, first, vecs, n);
	pthread_rwlock_unlock(&v->grow);
	if (!(order = malloc(sizeof *order * n))) {
		rc = dann_fail(DANN_ENOMEM, "vamana: no memory to insert %llu points", (unsigned long long)n);
		goto out;
	}
	for (uint64_t i = 0; i < n; i++)
		order[i] = first + (uint32_t)i;
	rc = link_parallel(v, order, n, v->p.alpha, false, "vamana insert");
	if (rc == 0 && first_id)
		*first_id = first;
out:
	free(order);
	pthread_rwlock_unlock(&v->maint);
	return rc;
}

int vam_insert(struct vam *v, const void *vec, uint32_t *id)
{
	struct vam_scratch *s = NULL;
	uint32_t first;
	int rc;

	pthread_rwlock_rdlock(&v->maint);
	ip_bound_raise(v, vec, 1);
	if ((rc = reserve_ids(v, 1, &first)) < 0)
		goto out_maint;
	pthread_rwlock_rdlock(&v->grow);
	store_and_seed(v, first, vec, 1);
	if ((rc = vam_scratch_get(v, v->p.L, &s)) < 0)
		goto out;
	rc = vam_link(v, s, first, v->p.alpha, false);
	if (rc == 0 && id)
		*id = first;
out:
	if (s)
		vam_scratch_put(v, s);
	pthread_rwlock_unlock(&v->grow);
out_maint:
	pthread_rwlock_unlock(&v->maint);
	return rc;
}

uint64_t vam_count(const struct vam *v) { return atomic_load(&((struct vam *)v)->n); }
uint32_t vam_dim(const struct vam *v) { return v->dim; }
uint32_t vam_R(const struct vam *v) { return v->p.R; }
uint32_t vam_medoid(const struct vam *v) { return v->medoid; }

void vam_graph(const struct vam *v, const uint32_t **slots, const uint32_t **degrees)
{
	*slots = v->slots;
	*degrees = v->deg;
}

bool vam_is_deleted(const struct vam *v, uint32_t id)
{
	return id < vam_count(v) && vam_deleted(v, id);
}
