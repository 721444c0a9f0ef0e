/*
 * test_vamana_build.c — the Vamana build: graph invariants on random and
 * clustered data, degenerate inputs, determinism, metrics and element
 * types against a brute-force oracle, and parameter errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/error.h"
#include "../engine/vamana/vamana.h"
#include "helpers/knn.h"

static uint64_t rng_state;

static float frand(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((rng_state >> 40) / 16777216.0);
}

static float *random_f32(uint32_t n, uint32_t dim, uint64_t seed)
{
	float *x = malloc(sizeof *x * n * dim);
	rng_state = seed;
	for (size_t i = 0; i < (size_t)n * dim; i++)
		x[i] = frand() * 2 - 1;
	return x;
}

/* nc tight Gaussian-ish clusters far apart: the case where a graph can
 * fall apart into islands. */
static float *clustered_f32(uint32_t n, uint32_t dim, uint32_t nc, uint64_t seed)
{
	float *c = random_f32(nc, dim, seed), *x = malloc(sizeof *x * n * dim);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < dim; j++)
			x[(size_t)i * dim + j] = c[(i % nc) * dim + j] * 10 + (frand() - 0.5f) * 0.2f;
	free(c);
	return x;
}

static struct vam_params params(uint32_t R, uint32_t L, uint32_t threads)
{
	struct vam_params p;
	vam_params_default(&p);
	p.R = R;
	p.L = L;
	p.threads = threads;
	return p;
}

static void assert_invariants(struct vam *v, uint64_t n)
{
	struct vam_stats st;

	cr_assert_eq(vam_check(v, &st), 0, "%s", dann_errmsg());
	cr_expect_eq(st.n, n);
	cr_expect_leq(st.max_degree, st.R);
	cr_expect_eq(st.self_loops, 0);
	cr_expect_eq(st.duplicate_edges, 0);
	cr_expect_eq(st.bad_ids, 0);
	cr_expect_eq(st.unreachable, 0, "%llu of %llu unreachable", (unsigned long long)st.unreachable,
		     (unsigned long long)n);
	if (n > 1)
		cr_expect_geq(st.min_degree, 1);
}

/* Mean recall@k of nq queries taken near data points. */
static double measure_recall(struct vam *v, enum dann_metric m, enum dann_dtype t, uint32_t dim,
			     const void *base, uint32_t n, const float *q, uint32_t nq, uint32_t k,
			     uint32_t L)
{
	uint32_t *gt = malloc(sizeof *gt * nq * k), ids[64], found;
	float d[64];
	double sum = 0;

	cr_assert_eq(knn_exact(m, t, dim, base, n, q, nq, k, gt), 0);
	for (uint32_t i = 0; i < nq; i++) {
		cr_assert_eq(vam_search(v, q + (size_t)i * dim, k, L, NULL, ids, d, &found, NULL), 0, "%s",
			     dann_errmsg());
		for (uint32_t j = 1; j < found; j++)
			cr_assert_leq(d[j - 1], d[j], "distances must come sorted");
		sum += knn_recall(gt + (size_t)i * k, k, ids, found);
	}
	free(gt);
	return sum / nq;
}

Test(vamana_build, random_data_keeps_graph_invariants_and_finds_neighbours)
{
	uint32_t n = 3000, dim = 16;
	float *x = random_f32(n, dim, 1), *q = random_f32(100, dim, 2);
	struct vam_params p = params(24, 48, 2);
	struct vam *v;

	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, &p, &v), 0, "%s", dann_errmsg());
	assert_invariants(v, n);
	double r = measure_recall(v, DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, q, 100, 10, 64);
	/* Measured 0.99+ for 16-d uniform data; 0.95 leaves room for seeds. */
	cr_expect_geq(r, 0.95, "recall@10 %.3f", r);
	vam_free(v);
	free(x);
	free(q);
}

Test(vamana_build, clustered_data_stays_connected)
{
	uint32_t n = 4000, dim = 8;
	float *x = clustered_f32(n, dim, 20, 3);
	struct vam_params p = params(16, 32, 2);
	struct vam *v;

	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, &p, &v), 0, "%s", dann_errmsg());
	assert_invariants(v, n);
	double r = measure_recall(v, DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, x, 200, 10, 40);
	cr_expect_geq(r, 0.95, "recall@10 %.3f", r);
	vam_free(v);
	free(x);
}

Test(vamana_build, two_passes_keep_invariants)
{
	uint32_t n = 2000, dim = 12;
	float *x = random_f32(n, dim, 4);
	struct vam_params p = params(16, 40, 2);
	struct vam *v;

	p.passes = 2;
	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, &p, &v), 0, "%s", dann_errmsg());
	assert_invariants(v, n);
	vam_free(v);
	free(x);
}

Test(vamana_build, duplicate_points_do_not_hang)
{
	uint32_t n = 2000, dim = 8;
	float *x = random_f32(n, dim, 5);
	struct vam_params p = params(16, 32, 2);
	struct vam *v;
	uint32_t ids[10], found;
	float d[10];

	/* Each of 200 distinct points appears 10 times. */
	for (uint32_t i = 200; i < n; i++)
		memcpy(x + (size_t)i * dim, x + (size_t)(i % 200) * dim, sizeof *x * dim);
	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, &p, &v), 0, "%s", dann_errmsg());
	assert_invariants(v, n);
	cr_assert_eq(vam_search(v, x, 10, 32, NULL, ids, d, &found, NULL), 0);
	cr_expect_eq(found, 10);
	cr_expect_eq(d[0], 0);
	vam_free(v);
	free(x);
}

Test(vamana_build, all_identical_points_do_not_hang)
{
	uint32_t n = 500, dim = 4;
	float *x = calloc((size_t)n * dim, sizeof *x);
	struct vam_params p = params(8, 16, 2);
	struct vam_stats st;
	struct vam *v;
	uint32_t ids[5], found;
	float d[5];

	for (size_t i = 0; i < (size_t)n * dim; i++)
		x[i] = 3.0f;
	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, &p, &v), 0, "%s", dann_errmsg());
	cr_assert_eq(vam_check(v, &st), 0);
	cr_expect_eq(st.self_loops + st.duplicate_edges + st.bad_ids, 0);
	cr_expect_leq(st.max_degree, 8);
	cr_expect_eq(st.unreachable, 0);
	cr_assert_eq(vam_search(v, x, 5, 16, NULL, ids, d, &found, NULL), 0);
	cr_expect_eq(found, 5);
	for (uint32_t i = 0; i < found; i++)
		cr_expect_eq(d[i], 0);
	vam_free(v);
	free(x);
}

Test(vamana_build, one_and_two_points)
{
	float x[] = { 1, 2, 3, 4, 5, 6 }, q[] = { 4, 5, 6 };
	struct vam_params p = params(4, 8, 1);
	struct vam *v;
	uint32_t ids[2], found;
	float d[2];

	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 3, x, 1, &p, &v), 0, "%s", dann_errmsg());
	assert_invariants(v, 1);
	cr_assert_eq(vam_search(v, q, 2, 8, NULL, ids, d, &found, NULL), 0);
	cr_expect_eq(found, 1);
	cr_expect_eq(ids[0], 0);
	cr_expect_float_eq(d[0], 27.0f, 1e-6);
	vam_free(v);

	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 3, x, 2, &p, &v), 0, "%s", dann_errmsg());
	assert_invariants(v, 2);
	cr_assert_eq(vam_search(v, q, 2, 8, NULL, ids, d, &found, NULL), 0);
	cr_expect_eq(found, 2);
	cr_expect_eq(ids[0], 1);
	cr_expect_eq(ids[1], 0);
	vam_free(v);
}

Test(vamana_build, empty_index_searches_to_nothing)
{
	struct vam_params p = params(4, 8, 1);
	struct vam *v;
	float q[2] = { 0, 0 };
	uint32_t ids[1], found = 7;
	float d[1];

	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 2, NULL, 0, &p, &v), 0, "%s", dann_errmsg());
	cr_assert_eq(vam_search(v, q, 1, 8, NULL, ids, d, &found, NULL), 0);
	cr_expect_eq(found, 0);
	vam_free(v);
}

Test(vamana_build, same_seed_one_thread_gives_identical_graph)
{
	uint32_t n = 1500, dim = 10;
	float *x = random_f32(n, dim, 6);
	struct vam_params p = params(12, 30, 1);
	struct vam *a, *b;
	const uint32_t *sa, *da, *sb, *db;

	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, &p, &a), 0);
	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, &p, &b), 0);
	vam_graph(a, &sa, &da);
	vam_graph(b, &sb, &db);
	cr_assert_eq(vam_medoid(a), vam_medoid(b));
	cr_assert_arr_eq(da, db, sizeof *da * n);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_arr_eq(sa + (size_t)i * 12, sb + (size_t)i * 12, sizeof *sa * da[i], "node %u", i);
	vam_free(b);
	p.seed = 99;
	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, dim, x, n, &p, &b), 0);
	vam_graph(b, &sb, &db);
	cr_expect(memcmp(da, db, sizeof *da * n) != 0, "another seed should give another graph");
	vam_free(a);
	vam_free(b);
	free(x);
}

Test(vamana_build, inner_product_and_cosine_find_their_neighbours)
{
	uint32_t n = 2000, dim = 16;
	float *x = random_f32(n, dim, 7), *q = random_f32(100, dim, 8);
	struct vam_params p = params(24, 64, 2);
	enum dann_metric ms[] = { DANN_METRIC_IP, DANN_METRIC_COSINE };
	struct vam *v;

	/* Vary the norms so that IP and cosine disagree. */
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < dim; j++)
			x[(size_t)i * dim + j] *= 0.2f + (float)(i % 7);
	for (int m = 0; m < 2; m++) {
		cr_assert_eq(vam_build(ms[m], DANN_DTYPE_F32, dim, x, n, &p, &v), 0, "%s", dann_errmsg());
		assert_invariants(v, n);
		double r = measure_recall(v, ms[m], DANN_DTYPE_F32, dim, x, n, q, 100, 10, 100);
		/* Measured about 0.97 (IP) and 0.99 (cosine). */
		cr_expect_geq(r, 0.9, "%s recall@10 %.3f", dann_metric_name(ms[m]), r);
		vam_free(v);
	}
	free(x);
	free(q);
}

Test(vamana_build, uint8_and_int8_data_use_exact_distances)
{
	uint32_t n = 2000, dim = 24;
	uint8_t *u = malloc((size_t)n * dim);
	int8_t *s = malloc((size_t)n * dim);
	float *q = malloc(sizeof *q * 50 * dim);
	struct vam_params p = params(24, 48, 2);
	struct vam *v;

	rng_state = 9;
	for (size_t i = 0; i < (size_t)n * dim; i++) {
		u[i] = (uint8_t)(frand() * 255);
		s[i] = (int8_t)(frand() * 255 - 128);
	}
	for (uint32_t i = 0; i < 50 * dim; i++)
		q[i] = u[i + 7 * dim] + 1.0f;
	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_U8, dim, u, n, &p, &v), 0, "%s", dann_errmsg());
	assert_invariants(v, n);
	double r = measure_recall(v, DANN_METRIC_L2, DANN_DTYPE_U8, dim, u, n, q, 50, 10, 64);
	cr_expect_geq(r, 0.9, "u8 recall %.3f", r);
	vam_free(v);
	for (uint32_t i = 0; i < 50 * dim; i++)
		q[i] = s[i] * 0.5f;
	cr_assert_eq(vam_build(DANN_METRIC_COSINE, DANN_DTYPE_I8, dim, s, n, &p, &v), 0, "%s", dann_errmsg());
	assert_invariants(v, n);
	r = measure_recall(v, DANN_METRIC_COSINE, DANN_DTYPE_I8, dim, s, n, q, 50, 10, 64);
	cr_expect_geq(r, 0.9, "i8 cosine recall %.3f", r);
	vam_free(v);
	free(u);
	free(s);
	free(q);
}

Test(vamana_build, rejects_bad_parameters_with_clear_errors)
{
	float x[8] = { 0 }, q[2] = { 0 };
	struct vam_params p = params(4, 8, 1);
	struct vam *v = (struct vam *)1;
	uint32_t ids[16], found;
	float d[16];

	p.R = 0;
	cr_expect_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 2, x, 4, &p, &v), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "R = 0"), "%s", dann_errmsg());
	cr_expect_null(v);
	p = params(4, 0, 1);
	cr_expect_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 2, x, 4, &p, &v), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "L = 0"), "%s", dann_errmsg());
	p = params(4, 8, 1);
	p.alpha = 0.9f;
	cr_expect_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 2, x, 4, &p, &v), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "alpha = 0.9"), "%s", dann_errmsg());
	p.alpha = NAN;
	cr_expect_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 2, x, 4, &p, &v), DANN_EINVAL);
	p = params(4, 8, 1);
	p.passes = 3;
	cr_expect_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 2, x, 4, &p, &v), DANN_EINVAL);
	p = params(4, 8, 1);
	cr_expect_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_I32, 2, x, 4, &p, &v), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "element type"), "%s", dann_errmsg());
	cr_expect_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 0, x, 4, &p, &v), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "dimension 0"), "%s", dann_errmsg());

	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 2, x, 4, &p, &v), 0);
	cr_expect_eq(vam_search(v, q, 0, 8, NULL, ids, d, &found, NULL), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "k must be"), "%s", dann_errmsg());
	cr_expect_eq(vam_search(v, q, 10, 8, NULL, ids, d, &found, NULL), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "L = 8"), "%s", dann_errmsg());
	cr_expect_eq(vam_delete(v, 4), DANN_ENOTFOUND);
	vam_free(v);
}

Test(vamana_build, a_nan_or_infinite_query_is_refused_naming_the_component)
{
	float *x = random_f32(200, 8, 3), q[8] = { 0 };
	struct vam_params p = params(16, 32, 1);
	struct vam *v;
	uint32_t ids[5], found = 7;
	float dists[5];

	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 8, x, 200, &p, &v), 0, "%s",
		     dann_errmsg());
	q[5] = NAN;
	cr_assert_eq(vam_search(v, q, 5, 20, NULL, ids, dists, &found, NULL), DANN_EINVAL);
	cr_assert_eq(found, 0);
	cr_assert_not_null(strstr(dann_errmsg(), "vam_search"), "%s", dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), "component 5 is NaN"), "%s", dann_errmsg());
	q[5] = -INFINITY;
	cr_assert_eq(vam_search(v, q, 5, 20, NULL, ids, dists, &found, NULL), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "component 5 is infinite"), "%s", dann_errmsg());
	q[5] = 0;
	cr_assert_eq(vam_search(v, q, 5, 20, NULL, ids, dists, &found, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(found, 5);
	vam_free(v);
	free(x);
}
