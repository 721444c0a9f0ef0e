/*
 * kmeans.c — k-means++ seeding, Lloyd iterations, nearest-centroid
 * assignment (see kmeans.h).
 *
 * Distances from a block of points to all centroids come from one sgemm
 * (-2 X C^T) plus the centroid norms; the point norms are only added where
 * a distance is reported, since they do not change which centroid is
 * nearest. sgemm runs on the calling thread with OpenBLAS's own threads;
 * the row scans around it are OpenMP loops. Per-thread partial sums are
 * combined in thread order so that a run is reproducible.
 */
#include "kmeans.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pq_kernels.h"
#include "rng.h"

/* Distance block: rows per sgemm, so that a block's distances (rows x k
 * floats, KM_BLOCK_FLOATS = 256 KiB) stay in the core's L2 cache while its
 * row scan reads them back. */
#define KM_BLOCK_FLOATS (1u << 16)
#define KM_MIN_BLOCK_ROWS 64u
#define KM_MAX_BLOCK_ROWS 4096u

void km_params_default(struct km_params *p, uint32_t k)
{
	p->k = k;
	p->iters = 25;
	p->max_sample = 0;
	p->tol = 1e-5;
	p->seed = 1234;
	p->threads = 0;
	p->stop = NULL;
	p->warm = 0;
}

int km_threads(uint32_t threads)
{
	return threads ? (int)threads : omp_get_num_procs();
}

/* Uniform in [0, n), n >= 1 (the modulo bias is below 2^-32 for n < 2^32). */
static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_splitmix64(s) % n;
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int km_sample_rows(uint64_t n, uint64_t count, uint64_t seed, uint64_t *rows)
{
	uint64_t s = seed, have = 0;

	if (count > n)
		return dann_fail(DANN_EINVAL, "km_sample_rows: %llu rows asked out of %llu",
				 (unsigned long long)count, (unsigned long long)n);
	if (count * 2 >= n) {
		/* Selection sampling (Knuth's algorithm S): one pass, exact count. */
		for (uint64_t i = 0; i < n && have < count; i++)
			if (rng_below(&s, n - i) < count - have)
				rows[have++] = i;
		return 0;
	}
	/* Sparse case: draw, sort, drop duplicates, draw again for the gap. */
	while (have < count) {
		for (uint64_t i = have; i < count; i++)
			rows[i] = rng_below(&s, n);
		qsort(rows, count, sizeof *rows, cmp_u64);
		have = 0;
		for (uint64_t i = 0; i < count; i++)
			if (have == 0 || rows[i] != rows[have - 1])
				rows[have++] = rows[i];
	}
	return 0;
}

static float norm2(const float *a, uint32_t dim)
{
	float s = 0;
	for (uint32_t j = 0; j < dim; j++)
		s += a[j] * a[j];
	return s;
}

static size_t block_rows(uint32_t k, uint64_t n)
{
	size_t b = KM_BLOCK_FLOATS / k;

	if (b < KM_MIN_BLOCK_ROWS)
		b = KM_MIN_BLOCK_ROWS;
	if (b > KM_MAX_BLOCK_ROWS)
		b = KM_MAX_BLOCK_ROWS;
	return b < n ? b : (size_t)n;
}

/* The nearest centroid of each of nb rows (rows ld floats apart) into
 * assign; with xnorm, returns the sum of the squared distances; with dists,
 * writes each row's distance. best is nb floats of scratch. */
static double rows_nearest(const struct pq_kernels *kern, const float *dots, const float *x,
			   size_t ld, size_t nb, uint32_t dim, uint32_t k, const float *cnorm,
			   const float *xnorm, uint32_t *assign, float *dists, float *best)
{
	double obj = 0;

	kern->argmin_rows(dots, nb, k, cnorm, assign, best);
	for (size_t i = 0; i < nb; i++) {
		float d = best[i] + (xnorm ? xnorm[i] : norm2(x + i * ld, dim));
		d = d > 0 ? d : 0;
		obj += d;
		if (dists)
			dists[i] = d;
	}
	return obj;
}

/* The nn nearest of each row, by insertion into a short sorted list. */
static void rows_topn(const float *dots, const float *x, size_t ld, size_t nb, uint32_t dim,
		      uint32_t k, const float *cnorm, uint32_t nn, uint32_t *ids, float *dists,
		      float *dl)
{
	for (size_t i = 0; i < nb; i++) {
		const float *row = dots + i * k;
		uint32_t *id = ids + i * nn;
		uint32_t held = 0;

		for (uint32_t j = 0; j < k; j++) {
			float d = row[j] + cnorm[j];
			uint32_t p;
			if (held == nn && !(d < dl[nn - 1]))
				continue;
			p = held < nn ? held++ : nn - 1;
			while (p > 0 && d < dl[p - 1]) {
				dl[p] = dl[p - 1];
				id[p] = id[p - 1];
				p--;
			}
			dl[p] = d;
			id[p] = j;
		}
		if (dists) {
			float xn = norm2(x + i * ld, dim);
			for (uint32_t t = 0; t < nn; t++) {
				float d = dl[t] + xn;
				dists[i * nn + t] = d > 0 ? d : 0;
			}
		}
	}
}

static void centroid_norms(const float *c, uint32_t k, uint32_t dim, float *cnorm)
{
	for (uint32_t j = 0; j < k; j++)
		cnorm[j] = norm2(c + (size_t)j * dim, dim);
}

/*
 * OpenBLAS's thread count is process-wide: passes running at once in
 * several threads share one "single-threaded" period, the first to enter
 * saving the count and the last to leave restoring it.
 */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int blas_users, blas_saved;

static void blas_single_enter(void)
{
	pthread_mutex_lock(&blas_lock);
	if (blas_users++ == 0) {
		blas_saved = openblas_get_num_threads();
		openblas_set_num_threads(1);
	}
	pthread_mutex_unlock(&blas_lock);
}

static void blas_single_leave(void)
{
	pthread_mutex_lock(&blas_lock);
	if (--blas_users == 0)
		openblas_set_num_threads(blas_saved);
	pthread_mutex_unlock(&blas_lock);
}

/*
 * One pass of distances from n points (rows ld floats apart) to k
 * centroids, block by block: each OpenMP thread runs sgemm on its own
 * L2-sized block and scans the result while it is hot. OpenBLAS is held to
 * one thread meanwhile (its pthread pool would otherwise fight OpenMP's
 * threads for the same cores) and restored after.
 * nn <= 1: the nearest centroid to ids[i] (and its distance to dists[i] if
 * asked), through the SIMD argmin; the objective to *obj, using xnorm if
 * given. nn >= 2: the nn nearest to ids/dists, nearest first.
 */
struct pass {
	const float *x;
	size_t ld;
	uint64_t n;
	uint32_t dim;
	const float *c;
	uint32_t k;
	const float *xnorm;
	uint32_t nn;
	uint32_t *ids;
	float *dists;
	int nt;          /* OpenMP threads */
};

static int run_pass(const struct pass *ps, double *obj)
{
	const struct pq_kernels *kern = pq_kernels_best();
	uint32_t k = ps->k, lists = ps->nn ? ps->nn : 1;
	size_t nb = block_rows(k, ps->n);
	uint64_t nblocks = (ps->n + nb - 1) / nb;
	int nt = ps->nt;
	float *dots = malloc((size_t)nt * nb * k * sizeof *dots);
	float *cnorm = malloc(k * sizeof *cnorm);
	size_t scratch = lists > nb ? lists : nb;
	float *dl = malloc((size_t)nt * scratch * sizeof *dl);
	double *bobj = calloc(nblocks, sizeof *bobj);

	if (!dots || !cnorm || !dl || !bobj) {
		free(dots);
		free(cnorm);
		free(dl);
		free(bobj);
		return dann_fail(DANN_ENOMEM, "kmeans: %d x %zu x %u distance blocks", nt, nb, k);
	}
	centroid_norms(ps->c, k, ps->dim, cnorm);
	blas_single_enter();
#pragma omp parallel num_threads(nt)
	{
		int t = omp_get_thread_num();
		float *db = dots + (size_t)t * nb * k;
		/* dynamic: on a shared machine one thread may be descheduled for a
		 * while; the other takes its blocks instead of waiting. */
#pragma omp for schedule(dynamic, 1)
		for (uint64_t b = 0; b < nblocks; b++) {
			uint64_t i0 = b * nb;
			size_t m = ps->n - i0 < nb ? (size_t)(ps->n - i0) : nb;
			const float *xb = ps->x + i0 * ps->ld;

			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k,
				    (int)ps->dim, -2.0f, xb, (int)ps->ld, ps->c, (int)ps->dim, 0.0f,
				    db, (int)k);
			if (ps->nn <= 1)
				bobj[b] = rows_nearest(kern, db, xb, ps->ld, m, ps->dim, k, cnorm,
						       ps->xnorm ? ps->xnorm + i0 : NULL, ps->ids + i0,
						       ps->dists ? ps->dists + i0 : NULL,
						       dl + (size_t)t * scratch);
			else
				rows_topn(db, xb, ps->ld, m, ps->dim, k, cnorm, ps->nn,
					  ps->ids + i0 * ps->nn,
					  ps->dists ? ps->dists + i0 * ps->nn : NULL,
					  dl + (size_t)t * scratch);
		}
	}
	blas_single_leave();
	if (obj) {
		*obj = 0;
		for (uint64_t b = 0; b < nblocks; b++)
			*obj += bobj[b];
	}
	free(dots);
	free(cnorm);
	free(dl);
	free(bobj);
	return 0;
}

int km_assign_strided(const float *centroids, uint32_t k, uint32_t dim, const float *x, size_t ld,
		      uint64_t n, uint32_t nn, uint32_t *ids, float *dists, uint32_t threads)
{
	struct pass ps = { x, ld, n, dim, centroids, k, NULL, nn, ids, dists, km_threads(threads) };

	if (k == 0 || dim == 0 || ld < dim)
		return dann_fail(DANN_EINVAL, "km_assign: k=%u dim=%u ld=%zu: need k >= 1, dim >= 1, ld >= dim",
				 k, dim, ld);
	if (nn == 0 || nn > k)
		return dann_fail(DANN_EINVAL, "km_assign: %u nearest asked of %u centroids: expected 1..%u",
				 nn, k, k);
	if (n == 0)
		return 0;
	return run_pass(&ps, NULL);
}

int km_assign(const float *centroids, uint32_t k, uint32_t dim, const float *x, uint64_t n,
	      uint32_t nn, uint32_t *ids, float *dists, uint32_t threads)
{
	return km_assign_strided(centroids, k, dim, x, dim, n, nn, ids, dists, threads);
}

/* k-means++ (D^2 sampling) over the ns rows of x (a random sample). The
 * distances from every row to each new centre come from one sgemv
 * (||x||^2 - 2 x.c + ||c||^2), the rest is a cheap pass over ns floats. */
static void seed_plusplus(const float *x, uint64_t ns, uint32_t dim, uint32_t k, uint64_t *rng,
			  float *c, float *mind, float *xnorm, float *dots, int nt)
{
	uint64_t pick = rng_below(rng, ns);

#pragma omp parallel for schedule(static) num_threads(nt)
	for (uint64_t i = 0; i < ns; i++) {
		xnorm[i] = norm2(x + i * dim, dim);
		mind[i] = INFINITY;
	}
	for (uint32_t j = 0; j < k; j++) {
		float *cj = c + (size_t)j * dim, cn;
		double total = 0, r, acc = 0;

		memcpy(cj, x + pick * dim, dim * sizeof *cj);
		if (j + 1 == k)
			break;
		cn = norm2(cj, dim);
		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)ns, (int)dim, 1.0f, x, (int)dim, cj, 1,
			    0.0f, dots, 1);
		for (uint64_t i = 0; i < ns; i++) {
			float d = xnorm[i] - 2 * dots[i] + cn;
			d = d > 0 ? d : 0;
			if (d < mind[i])
				mind[i] = d;
			total += mind[i];
		}
		pick = ns - 1;
		if (!(total > 0)) {
			/* Every point already sits on a centre: any point will do. */
			pick = rng_below(rng, ns);
			continue;
		}
		r = rng_unit(rng) * total;
		for (uint64_t i = 0; i < ns; i++) {
			acc += mind[i];
			if (acc > r) {
				pick = i;
				break;
			}
		}
	}
}

/* New centroids = means of their points. Points are summed (in double)
 * in KM_UPDATE_GROUPS fixed groups, handed to threads dynamically, and the
 * groups combined in order: balanced on a busy machine, and the same result
 * whatever thread ran which group. Returns the clusters' sizes in count. */
#define KM_UPDATE_GROUPS 8

static int update_centroids(const float *x, uint64_t n, uint32_t dim, uint32_t k,
			    const uint32_t *assign, float *c, uint64_t *count, int nt)
{
	size_t kd = (size_t)k * dim;
	uint64_t per = (n + KM_UPDATE_GROUPS - 1) / KM_UPDATE_GROUPS;
	double *sums = calloc(KM_UPDATE_GROUPS * kd, sizeof *sums);
	uint64_t *counts = calloc((size_t)KM_UPDATE_GROUPS * k, sizeof *counts);

	if (!sums || !counts) {
		free(sums);
		free(counts);
		return dann_fail(DANN_ENOMEM, "kmeans: %d x %zu centroid sums", KM_UPDATE_GROUPS, kd);
	}
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
	for (int g = 0; g < KM_UPDATE_GROUPS; g++) {
		double *s = sums + (size_t)g * kd;
		uint64_t *cn = counts + (size_t)g * k;
		uint64_t end = (uint64_t)(g + 1) * per < n ? (uint64_t)(g + 1) * per : n;

		for (uint64_t i = (uint64_t)g * per; i < end; i++) {
			double *dst = s + (size_t)assign[i] * dim;
			const float *src = x + i * dim;
			cn[assign[i]]++;
			for (uint32_t d = 0; d < dim; d++)
				dst[d] += src[d];
		}
	}
	for (int g = 1; g < KM_UPDATE_GROUPS; g++) {
		for (size_t e = 0; e < kd; e++)
			sums[e] += sums[(size_t)g * kd + e];
		for (uint32_t j = 0; j < k; j++)
			counts[j] += counts[(size_t)g * k + j];
	}
	for (uint32_t j = 0; j < k; j++) {
		count[j] = counts[j];
		if (!counts[j])
			continue;
		for (uint32_t d = 0; d < dim; d++)
			c[(size_t)j * dim + d] = (float)(sums[(size_t)j * dim + d] / (double)counts[j]);
	}
	free(sums);
	free(counts);
	return 0;
}

/* Gives every empty cluster a point of a large one: a cluster of size s > 1
 * is picked with probability proportional to s - 1, and one of its points
 * (not the one nearest its centre, which it keeps) becomes the empty
 * cluster's centroid. Returns the number of clusters repaired. */
static uint32_t split_empty(const float *x, uint64_t n, uint32_t dim, uint32_t k,
			    uint32_t *assign, float *c, uint64_t *count, uint64_t *rng)
{
	uint32_t splits = 0;

	for (uint32_t e = 0; e < k; e++) {
		uint64_t spare = 0, r, start;
		uint32_t big = 0;

		if (count[e])
			continue;
		for (uint32_t j = 0; j < k; j++)
			spare += count[j] > 1 ? count[j] - 1 : 0;
		if (!spare)
			break; /* fewer distinct assignments than clusters: nothing to split */
		r = rng_below(rng, spare);
		for (uint32_t j = 0; j < k; j++) {
			uint64_t s = count[j] > 1 ? count[j] - 1 : 0;
			if (r < s) {
				big = j;
				break;
			}
			r -= s;
		}
		/* A random member of `big`, found from a random start. */
		start = rng_below(rng, n);
		for (uint64_t t = 0; t < n; t++) {
			uint64_t i = (start + t) % n;
			if (assign[i] != big)
				continue;
			memcpy(c + (size_t)e * dim, x + i * dim, dim * sizeof *c);
			assign[i] = e;
			count[e] = 1;
			count[big]--;
			break;
		}
		splits++;
	}
	return splits;
}

static int check_finite(const float *x, uint64_t n, uint32_t dim, int nt)
{
	uint64_t bad = UINT64_MAX;

#pragma omp parallel for schedule(static) reduction(min : bad) num_threads(nt)
	for (uint64_t i = 0; i < n; i++)
		for (uint32_t d = 0; d < dim; d++)
			if (!isfinite(x[i * dim + d]) && i < bad)
				bad = i;
	if (bad != UINT64_MAX)
		return dann_fail(DANN_EINVAL, "kmeans: row %llu holds a NaN or infinite value",
				 (unsigned long long)bad);
	return 0;
}

/* Copies a random sample of rows (in file order) into a new array. */
static int draw_sample(const float *x, uint64_t n, uint32_t dim, uint64_t want, uint64_t seed,
		       float **out)
{
	uint64_t *rows = malloc(want * sizeof *rows);
	float *s = malloc(want * dim * sizeof *s);
	int rc;

	if (!rows || !s) {
		free(rows);
		free(s);
		return dann_fail(DANN_ENOMEM, "kmeans: sample of %llu x %u",
				 (unsigned long long)want, dim);
	}
	rc = km_sample_rows(n, want, seed, rows);
	if (rc == 0)
		for (uint64_t i = 0; i < want; i++)
			memcpy(s + i * dim, x + rows[i] * dim, dim * sizeof *s);
	free(rows);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* A random permutation's prefix of ns rows, for seeding (so that seeding on
 * a prefix is seeding on a random subset). */
static int seed_subset(const float *x, uint64_t n, uint32_t dim, uint64_t ns, uint64_t *rng,
		       float **out)
{
	return draw_sample(x, n, dim, ns, rng_splitmix64(rng), out);
}

static int lloyd(const float *x, uint64_t n, uint32_t dim, const struct km_params *p, float *c,
		 uint64_t *rng, struct km_stats *st)
{
	uint32_t k = p->k;
	float *xnorm = malloc(n * sizeof *xnorm);
	uint32_t *assign = malloc(n * sizeof *assign);
	uint64_t *count = malloc(k * sizeof *count);
	int nt = km_threads(p->threads);
	struct pass ps = { x, dim, n, dim, c, k, xnorm, 0, assign, NULL, nt };
	double prev = INFINITY;
	int rc = 0;

	if (!xnorm || !assign || !count) {
		rc = dann_fail(DANN_ENOMEM, "kmeans: buffers for %llu points, k=%u",
			       (unsigned long long)n, k);
		goto out;
	}
#pragma omp parallel for schedule(static) num_threads(nt)
	for (uint64_t i = 0; i < n; i++)
		xnorm[i] = norm2(x + i * dim, dim);
	for (uint32_t it = 0; it < p->iters; it++) {
		double obj;

		if ((rc = stop_check(p->stop, "kmeans")) < 0 || (rc = run_pass(&ps, &obj)) < 0)
			goto out;
		st->iters = it + 1;
		st->objective = obj;
		if ((rc = update_centroids(x, n, dim, k, assign, c, count, nt)) < 0)
			goto out;
		st->splits += split_empty(x, n, dim, k, assign, c, count, rng);
		if (prev - obj < p->tol * prev)
			break;
		prev = obj;
	}
out:
	free(xnorm);
	free(assign);
	free(count);
	return rc;
}

int km_train(const float *x, uint64_t n, uint32_t dim, const struct km_params *p,
	     float *centroids, struct km_stats *stats)
{
	struct km_stats st = { 0 };
	uint64_t rng = p->seed ^ 0x6b6d65616e73ull, ns;
	float *sample = NULL, *seedx = NULL, *mind = NULL;
	const float *tx = x;
	int rc;

	if (p->k == 0 || dim == 0 || p->iters == 0)
		return dann_fail(DANN_EINVAL, "kmeans: k=%u dim=%u iters=%u: each must be >= 1",
				 p->k, dim, p->iters);
	if (n < p->k)
		return dann_fail(DANN_EINVAL, "kmeans: %llu points cannot make %u clusters",
				 (unsigned long long)n, p->k);
	if ((rc = check_finite(x, n, dim, km_threads(p->threads))) < 0)
		return rc;
	if (p->max_sample && p->max_sample < n) {
		if (p->max_sample < p->k)
			return dann_fail(DANN_EINVAL, "kmeans: sample of %llu points cannot make %u clusters",
					 (unsigned long long)p->max_sample, p->k);
		if ((rc = draw_sample(x, n, dim, p->max_sample, rng_splitmix64(&rng), &sample)) < 0)
			return rc;
		tx = sample;
		n = p->max_sample;
	}
	st.points = n;
	if (p->warm) {
		rc = lloyd(tx, n, dim, p, centroids, &rng, &st);
		goto out;
	}
	ns = (uint64_t)KM_SEED_POINTS_PER_CENTROID * p->k;
	if (ns >= n) {
		ns = n;
	} else if ((rc = seed_subset(tx, n, dim, ns, &rng, &seedx)) < 0) {
		goto out;
	}
	if (!(mind = malloc(3 * ns * sizeof *mind))) {
		rc = dann_fail(DANN_ENOMEM, "kmeans: seeding %llu points", (unsigned long long)ns);
		goto out;
	}
	seed_plusplus(seedx ? seedx : tx, ns, dim, p->k, &rng, centroids, mind, mind + ns,
		      mind + 2 * ns, km_threads(p->threads));
	rc = lloyd(tx, n, dim, p, centroids, &rng, &st);
out:
	free(mind);
	free(seedx);
	free(sample);
	if (rc == 0 && stats)
		*stats = st;
	return rc;
}
