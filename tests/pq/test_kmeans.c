/*
 * test_kmeans.c — k-means training and nearest-centroid assignment.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"
#include "error.h"
#include "pq/kmeans.h"

static float gauss(unsigned *seed)
{
	double u = (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);
	double v = (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);
	return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

/* n points around k centres placed far apart (centre j at 100*j on axis
 * j % dim, plus a shared offset), label[i] = the centre of point i. */
static float *separated_clusters(uint32_t k, uint32_t dim, uint64_t n, float *centres, uint32_t *label)
{
	float *x = malloc(n * dim * sizeof *x);
	unsigned seed = 11;

	for (uint32_t j = 0; j < k; j++)
		for (uint32_t d = 0; d < dim; d++)
			centres[j * dim + d] = (d == j % dim ? 100.0f * (float)(j + 1) : 0.0f) + 5.0f;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t j = (uint32_t)(i % k);
		label[i] = j;
		for (uint32_t d = 0; d < dim; d++)
			x[i * dim + d] = centres[j * dim + d] + gauss(&seed);
	}
	return x;
}

Test(kmeans, recovers_well_separated_clusters)
{
	enum { K = 12, DIM = 16, N = 6000 };
	float centres[K * DIM], c[K * DIM];
	uint32_t *label = malloc(N * sizeof *label), *got = malloc(N * sizeof *got);
	float *x = separated_clusters(K, DIM, N, centres, label);
	struct km_params p;
	struct km_stats st;
	int map[K];

	km_params_default(&p, K);
	cr_assert_eq(km_train(x, N, DIM, &p, c, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.points, N);
	/* Every true centre has exactly one trained centroid within 1.0. */
	for (int j = 0; j < K; j++) {
		int found = -1;
		for (int t = 0; t < K; t++) {
			float d = 0;
			for (int e = 0; e < DIM; e++)
				d += (c[t * DIM + e] - centres[j * DIM + e]) * (c[t * DIM + e] - centres[j * DIM + e]);
			if (d < 1.0f) {
				cr_assert_eq(found, -1, "centre %d matched twice", j);
				found = t;
			}
		}
		cr_assert_neq(found, -1, "centre %d not recovered", j);
		map[j] = found;
	}
	/* And assignment puts every point with its own cluster's centroid. */
	cr_assert_eq(km_assign(c, K, DIM, x, N, 1, got, NULL, 0), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(got[i], (uint32_t)map[label[i]], "point %d", i);
	/* Objective ~ N * DIM * unit variance. */
	cr_assert(st.objective < 1.2 * N * DIM, "objective %g", st.objective);
	free(x);
	free(label);
	free(got);
}

Test(kmeans, trains_on_a_sample_when_asked)
{
	enum { K = 5, DIM = 8, N = 20000 };
	float centres[K * DIM], c[K * DIM];
	uint32_t *label = malloc(N * sizeof *label);
	float *x = separated_clusters(K, DIM, N, centres, label);
	struct km_params p;
	struct km_stats st;

	km_params_default(&p, K);
	p.max_sample = 1000;
	cr_assert_eq(km_train(x, N, DIM, &p, c, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.points, 1000);
	for (int j = 0; j < K; j++) {
		float best = INFINITY;
		for (int t = 0; t < K; t++) {
			float d = 0;
			for (int e = 0; e < DIM; e++)
				d += (c[t * DIM + e] - centres[j * DIM + e]) * (c[t * DIM + e] - centres[j * DIM + e]);
			best = fminf(best, d);
		}
		cr_assert(best < 1.0f, "centre %d at %g", j, best);
	}
	free(x);
	free(label);
}

Test(kmeans, assigns_the_two_nearest_centroids_like_brute_force)
{
	enum { K = 37, DIM = 9, N = 3001, NN = 2 };
	float *c = malloc(K * DIM * sizeof *c), *x = malloc(N * DIM * sizeof *x);
	float *dist = malloc(N * NN * sizeof *dist);
	uint32_t *ids = malloc(N * NN * sizeof *ids);
	unsigned seed = 5;

	for (int i = 0; i < K * DIM; i++)
		c[i] = gauss(&seed) * 3;
	for (int i = 0; i < N * DIM; i++)
		x[i] = gauss(&seed) * 3;
	cr_assert_eq(km_assign(c, K, DIM, x, N, NN, ids, dist, 0), 0, "%s", dann_errmsg());
	for (int i = 0; i < N; i++) {
		float d[K];
		int b0 = -1, b1 = -1;
		for (int j = 0; j < K; j++) {
			double s = 0;
			for (int e = 0; e < DIM; e++)
				s += (double)(x[i * DIM + e] - c[j * DIM + e]) * (x[i * DIM + e] - c[j * DIM + e]);
			d[j] = (float)s;
			if (b0 < 0 || d[j] < d[b0]) {
				b1 = b0;
				b0 = j;
			} else if (b1 < 0 || d[j] < d[b1]) {
				b1 = j;
			}
		}
		/* sgemm rounding may swap near-ties; distances must still agree. */
		cr_assert_float_eq(dist[i * 2], d[b0], 1e-3f * (1 + d[b0]), "point %d", i);
		cr_assert_float_eq(dist[i * 2 + 1], d[b1], 1e-3f * (1 + d[b1]), "point %d", i);
		cr_assert_float_eq(d[ids[i * 2]], d[b0], 1e-3f * (1 + d[b0]));
		cr_assert_float_eq(d[ids[i * 2 + 1]], d[b1], 1e-3f * (1 + d[b1]));
		cr_assert_neq(ids[i * 2], ids[i * 2 + 1]);
	}
	/* The single-nearest path (SIMD argmin) agrees with the first of two. */
	{
		uint32_t *one = malloc(N * sizeof *one);
		float *d1 = malloc(N * sizeof *d1);
		cr_assert_eq(km_assign(c, K, DIM, x, N, 1, one, d1, 0), 0, "%s", dann_errmsg());
		for (int i = 0; i < N; i++)
			cr_assert_float_eq(d1[i], dist[i * 2], 1e-3f * (1 + dist[i * 2]), "point %d", i);
		free(one);
		free(d1);
	}
	free(c);
	free(x);
	free(dist);
	free(ids);
}

Test(kmeans, repairs_empty_clusters_when_points_are_duplicated)
{
	/* 400 points on only 3 distinct positions, plus 40 distinct ones: seeding
	 * and Lloyd leave clusters empty, which must be repaired, not NaN. */
	enum { K = 32, DIM = 4, N = 440 };
	float *x = calloc(N * DIM, sizeof *x), c[K * DIM];
	struct km_params p;
	struct km_stats st;

	for (int i = 0; i < 400; i++)
		x[i * DIM] = (float)(i % 3);
	for (int i = 400; i < N; i++)
		for (int d = 0; d < DIM; d++)
			x[i * DIM + d] = (float)(i * 7 % 13 + d);
	km_params_default(&p, K);
	cr_assert_eq(km_train(x, N, DIM, &p, c, &st), 0, "%s", dann_errmsg());
	for (int i = 0; i < K * DIM; i++)
		cr_assert(isfinite(c[i]));
	free(x);
}

Test(kmeans, rejects_bad_parameters_and_non_finite_input)
{
	float x[20 * 2] = { 0 }, c[64];
	uint32_t ids[40];
	struct km_params p;

	km_params_default(&p, 30);
	cr_assert_eq(km_train(x, 20, 2, &p, c, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "20 points cannot make 30 clusters"), "%s", dann_errmsg());
	km_params_default(&p, 0);
	cr_assert_eq(km_train(x, 20, 2, &p, c, NULL), DANN_EINVAL);
	km_params_default(&p, 2);
	cr_assert_eq(km_train(x, 20, 0, &p, c, NULL), DANN_EINVAL);
	x[7 * 2 + 1] = NAN;
	cr_assert_eq(km_train(x, 20, 2, &p, c, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "row 7"), "%s", dann_errmsg());
	cr_assert_eq(km_assign(c, 3, 2, x, 20, 4, ids, NULL, 0), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "4 nearest asked of 3 centroids"), "%s", dann_errmsg());
	cr_assert_eq(km_assign(c, 3, 2, x, 20, 0, ids, NULL, 0), DANN_EINVAL);
}

Test(kmeans, samples_distinct_sorted_rows)
{
	uint64_t rows[1000];

	for (int pass = 0; pass < 2; pass++) {
		uint64_t n = pass ? 1500 : 10000000, cnt = 1000;
		cr_assert_eq(km_sample_rows(n, cnt, 77, rows), 0);
		for (uint64_t i = 0; i < cnt; i++) {
			cr_assert_lt(rows[i], n);
			if (i)
				cr_assert_lt(rows[i - 1], rows[i]);
		}
	}
	cr_assert_eq(km_sample_rows(10, 11, 1, rows), DANN_EINVAL);
	cr_assert_eq(km_sample_rows(10, 10, 1, rows), 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(rows[i], (uint64_t)i);
}
