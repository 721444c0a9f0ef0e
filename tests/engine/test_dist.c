/*
 * test_dist.c — every distance kernel at every level this CPU supports
 * against the scalar reference.
 *
 * Float kernels may differ from the reference (which sums in double) by a
 * relative 1e-5 of the sum of |terms|; integer kernels must match it bit
 * for bit. Each vector is its own allocation of exactly the elements the
 * kernel may read, placed 0..3 elements past the start of a malloc'd block,
 * so under ASan any read past either end is caught.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist_impl.h"

#define MAX_DIM 1031
#define MAX_OFFSET 3
#define FLOAT_REL_TOL 1e-5

static const enum dann_metric metrics[] = { DANN_METRIC_L2, DANN_METRIC_IP, DANN_METRIC_COSINE };

struct pair {
	enum dann_dtype q, d;
	const char *name;
};

static const struct pair pairs[] = {
	{ DANN_DTYPE_F32, DANN_DTYPE_F32, "f32" },   { DANN_DTYPE_U8, DANN_DTYPE_U8, "u8" },
	{ DANN_DTYPE_I8, DANN_DTYPE_I8, "i8" },      { DANN_DTYPE_F32, DANN_DTYPE_U8, "f32-u8" },
	{ DANN_DTYPE_F32, DANN_DTYPE_I8, "f32-i8" },
};
#define NPAIRS (sizeof pairs / sizeof pairs[0])
#define NMETRICS (sizeof metrics / sizeof metrics[0])

static double elem(enum dann_dtype t, const void *v, size_t i)
{
	switch (t) {
	case DANN_DTYPE_F32: return ((const float *)v)[i];
	case DANN_DTYPE_U8: return ((const uint8_t *)v)[i];
	case DANN_DTYPE_I8: return ((const int8_t *)v)[i];
	default: cr_assert_fail("no such element type %d", (int)t);
	}
	return 0;
}

/* The bound on a float kernel's error: 1e-5 of the sum of |terms| (for
 * cosine, of the dot product's terms and the norms' terms, scaled to the
 * cosine, which Cauchy-Schwarz keeps within 2 of each other). */
static double tolerance(const struct pair *p, enum dann_metric m, const void *a, const void *b, size_t dim)
{
	double s = 0, na = 0, nb = 0;

	for (size_t i = 0; i < dim; i++) {
		double x = elem(p->q, a, i), y = elem(p->d, b, i);
		s += m == DANN_METRIC_L2 ? (x - y) * (x - y) : fabs(x * y);
		na += x * x;
		nb += y * y;
	}
	if (m != DANN_METRIC_COSINE)
		return FLOAT_REL_TOL * s;
	if (na <= 0 || nb <= 0)
		return 0;
	return FLOAT_REL_TOL * (s / sqrt(na * nb) + 1);
}

static int is_integer_pair(const struct pair *p)
{
	return p->q != DANN_DTYPE_F32;
}

/* Compares the kernel at `level` against the scalar one on (a, b). */
static void check_one(enum dist_level level, const struct pair *p, enum dann_metric m, const void *a,
		      const void *b, size_t dim, const char *what)
{
	dist_fn ref = dist_kernel_at(DIST_SCALAR, m, p->q, p->d);
	dist_fn got = dist_kernel_at(level, m, p->q, p->d);
	float want, have;

	cr_assert_not_null(got, "%s %s %s: no kernel", dist_level_name(level), p->name, dann_metric_name(m));
	want = ref(a, b, dim);
	have = got(a, b, dim);
	if (is_integer_pair(p)) {
		cr_assert_eq(have, want, "%s %s %s dim %zu (%s): %.9g, reference %.9g", dist_level_name(level),
			     p->name, dann_metric_name(m), dim, what, have, want);
		return;
	}
	cr_assert(isfinite(have), "%s %s %s dim %zu (%s): %g", dist_level_name(level), p->name,
		  dann_metric_name(m), dim, what, have);
	cr_assert_leq(fabs((double)have - want), tolerance(p, m, a, b, dim),
		      "%s %s %s dim %zu (%s): %.9g, reference %.9g", dist_level_name(level), p->name,
		      dann_metric_name(m), dim, what, have, want);
}

static void fill_random(enum dann_dtype t, void *v, size_t n, unsigned *seed, double scale)
{
	for (size_t i = 0; i < n; i++) {
		int r = rand_r(seed);
		switch (t) {
		case DANN_DTYPE_F32:
			((float *)v)[i] = (float)(scale * ((double)r / RAND_MAX * 2 - 1));
			break;
		case DANN_DTYPE_U8: ((uint8_t *)v)[i] = (uint8_t)(r & 0xff); break;
		case DANN_DTYPE_I8: ((int8_t *)v)[i] = (int8_t)(r & 0xff); break; /* -128..127 */
		default: cr_assert_fail("no such element type");
		}
	}
}

/* A vector of dim elements of type t placed `offset` elements into its own
 * allocation, which ends where the vector ends. */
struct vec {
	char *block;
	void *v;
};

static struct vec vec_new(enum dann_dtype t, size_t dim, size_t offset)
{
	size_t es = dann_dtype_size(t);
	struct vec r;

	r.block = malloc((offset + dim) * es);
	cr_assert_not_null(r.block);
	r.v = r.block + offset * es;
	return r;
}

static void check_all_levels(const struct pair *p, const void *a, const void *b, size_t dim, const char *what)
{
	for (enum dist_level l = DIST_SCALAR; l < DIST_NLEVELS; l++) {
		if (!dist_level_supported(l))
			continue;
		for (size_t m = 0; m < NMETRICS; m++)
			check_one(l, p, metrics[m], a, b, dim, what);
	}
}

/* Every dim 1..MAX_DIM, with the two vectors at every pair of offsets
 * 0..3 elements from an aligned start as dim varies. */
static void sweep_pair(const struct pair *p, unsigned seed)
{
	for (size_t dim = 1; dim <= MAX_DIM; dim++) {
		for (size_t k = 0; k <= MAX_OFFSET; k++) {
			size_t oa = k, ob = (k + dim) % (MAX_OFFSET + 1);
			struct vec a = vec_new(p->q, dim, oa), b = vec_new(p->d, dim, ob);

			fill_random(p->q, a.v, dim, &seed, 1.0);
			fill_random(p->d, b.v, dim, &seed, 1.0);
			check_all_levels(p, a.v, b.v, dim, "random, unaligned");
			free(a.block);
			free(b.block);
		}
	}
}

Test(dist, f32_kernels_match_the_reference_for_every_dim_and_offset)
{
	sweep_pair(&pairs[0], 1);
}

Test(dist, u8_kernels_match_the_reference_exactly_for_every_dim_and_offset)
{
	sweep_pair(&pairs[1], 2);
}

Test(dist, i8_kernels_match_the_reference_exactly_for_every_dim_and_offset)
{
	sweep_pair(&pairs[2], 3);
}

Test(dist, f32_query_u8_data_kernels_match_the_reference_for_every_dim_and_offset)
{
	sweep_pair(&pairs[3], 4);
}

Test(dist, f32_query_i8_data_kernels_match_the_reference_for_every_dim_and_offset)
{
	sweep_pair(&pairs[4], 5);
}

Test(dist, every_simd_table_entry_is_filled)
{
	const struct dist_table *tables[] = { dist_avx2_table, dist_avx512_table };

	for (size_t t = 0; t < 2; t++) {
		cr_assert_not_null(tables[t], "table %zu is not built", t);
		for (int p = 0; p < DIST_NPAIRS; p++) {
			cr_assert_not_null(tables[t]->l2[p], "table %zu l2[%d]", t, p);
			cr_assert_not_null(tables[t]->ip[p], "table %zu ip[%d]", t, p);
			cr_assert_not_null(tables[t]->cos[p], "table %zu cos[%d]", t, p);
		}
	}
}

Test(dist, zero_vectors_have_cosine_distance_one_and_zero_l2_and_ip)
{
	enum { DIM = 77 };
	static const uint8_t zeros[DIM * sizeof(float)];
	float ones[DIM];

	for (int i = 0; i < DIM; i++)
		ones[i] = 1;
	for (enum dist_level l = DIST_SCALAR; l < DIST_NLEVELS; l++) {
		if (!dist_level_supported(l))
			continue;
		for (size_t p = 0; p < NPAIRS; p++) {
			dist_fn cosk = dist_kernel_at(l, DANN_METRIC_COSINE, pairs[p].q, pairs[p].d);
			dist_fn l2 = dist_kernel_at(l, DANN_METRIC_L2, pairs[p].q, pairs[p].d);
			dist_fn ip = dist_kernel_at(l, DANN_METRIC_IP, pairs[p].q, pairs[p].d);

			cr_assert_eq(cosk(zeros, zeros, DIM), 1.0f, "%s %s", dist_level_name(l), pairs[p].name);
			cr_assert_eq(l2(zeros, zeros, DIM), 0.0f, "%s %s", dist_level_name(l), pairs[p].name);
			cr_assert_eq(ip(zeros, zeros, DIM), 0.0f, "%s %s", dist_level_name(l), pairs[p].name);
			if (pairs[p].q == DANN_DTYPE_F32) /* a non-zero query against zero data */
				cr_assert_eq(cosk(ones, zeros, DIM), 1.0f, "%s %s", dist_level_name(l),
					     pairs[p].name);
		}
	}
}

/* Fills n bytes with v and checks every integer kernel of the pair against
 * the reference and against the exact value the caller worked out. */
static void check_bytes_exact(const struct pair *p, int av, int bv, size_t dim, double l2, double dot)
{
	uint8_t *a = malloc(dim), *b = malloc(dim);

	cr_assert(a && b);
	memset(a, av & 0xff, dim);
	memset(b, bv & 0xff, dim);
	check_all_levels(p, a, b, dim, "constant");
	for (enum dist_level l = DIST_SCALAR; l < DIST_NLEVELS; l++) {
		if (!dist_level_supported(l))
			continue;
		cr_assert_eq(dist_kernel_at(l, DANN_METRIC_L2, p->q, p->d)(a, b, dim), (float)l2, "%s %s dim %zu",
			     dist_level_name(l), p->name, dim);
		cr_assert_eq(dist_kernel_at(l, DANN_METRIC_IP, p->q, p->d)(a, b, dim), (float)-dot,
			     "%s %s dim %zu", dist_level_name(l), p->name, dim);
	}
	free(a);
	free(b);
}

Test(dist, u8_extremes_at_dim_65536_and_beyond_are_exact)
{
	/* 65536 * 255^2 = 4261478400 overflows int32 four times over. */
	size_t dims[] = { 65536, 3 * DIST_INT_BLOCK + 17 };

	for (size_t k = 0; k < 2; k++) {
		size_t n = dims[k];
		check_bytes_exact(&pairs[1], 255, 0, n, 65025.0 * n, 0);
		check_bytes_exact(&pairs[1], 255, 255, n, 0, 65025.0 * n);
		check_bytes_exact(&pairs[1], 0, 255, n, 65025.0 * n, 0);
	}
}

Test(dist, i8_extremes_including_minus_128_are_exact)
{
	size_t dims[] = { 65536, 3 * DIST_INT_BLOCK + 17, 1031 };

	for (size_t k = 0; k < 3; k++) {
		size_t n = dims[k];
		check_bytes_exact(&pairs[2], -128, 127, n, 65025.0 * n, -16256.0 * n);
		check_bytes_exact(&pairs[2], -128, -128, n, 0, 16384.0 * n);
		check_bytes_exact(&pairs[2], 127, -128, n, 65025.0 * n, -16256.0 * n);
	}
}

Test(dist, float_kernels_stay_within_tolerance_at_the_largest_dim)
{
	enum { DIM = 65536 };
	float *q = malloc(DIM * sizeof *q), *f = malloc(DIM * sizeof *f);
	uint8_t *d = malloc(DIM);
	unsigned seed = 19;

	cr_assert(q && f && d);
	fill_random(DANN_DTYPE_F32, q, DIM, &seed, 1.0);
	fill_random(DANN_DTYPE_F32, f, DIM, &seed, 1.0);
	fill_random(DANN_DTYPE_U8, d, DIM, &seed, 1.0);
	check_all_levels(&pairs[0], q, f, DIM, "largest dim");
	check_all_levels(&pairs[3], q, d, DIM, "largest dim");
	check_all_levels(&pairs[4], q, d, DIM, "largest dim");
	free(q);
	free(f);
	free(d);
}

Test(dist, f32_values_near_1e18_stay_finite_and_accurate)
{
	/* 64 terms of at most (2e18)^2 = 4e36 sum below FLT_MAX. */
	enum { DIM = 64 };
	float a[DIM + 1], b[DIM + 1];
	unsigned seed = 11;

	fill_random(DANN_DTYPE_F32, a, DIM + 1, &seed, 1e18);
	fill_random(DANN_DTYPE_F32, b, DIM + 1, &seed, 1e18);
	for (size_t dim = 1; dim <= DIM; dim++) {
		check_all_levels(&pairs[0], a, b, dim, "near 1e18");
		check_all_levels(&pairs[0], a + 1, b, dim, "near 1e18, unaligned");
	}
}

Test(dist, mixed_kernels_take_large_queries_and_extreme_bytes)
{
	enum { DIM = 515 };
	float q[DIM];
	uint8_t d[DIM];
	unsigned seed = 13;

	fill_random(DANN_DTYPE_F32, q, DIM, &seed, 1e15);
	for (int i = 0; i < DIM; i++)
		d[i] = i % 2 ? 0x80 : 0xff; /* 128 and 255 as u8, -128 and -1 as i8 */
	check_all_levels(&pairs[3], q, d, DIM, "large query");
	check_all_levels(&pairs[4], q, d, DIM, "large query");
}

Test(dist, identical_vectors_have_cosine_distance_near_zero)
{
	enum { DIM = 300 };
	float a[DIM];
	int8_t c[DIM];
	unsigned seed = 17;

	fill_random(DANN_DTYPE_F32, a, DIM, &seed, 3.0);
	fill_random(DANN_DTYPE_I8, c, DIM, &seed, 1.0);
	for (enum dist_level l = DIST_SCALAR; l < DIST_NLEVELS; l++) {
		if (!dist_level_supported(l))
			continue;
		float df = dist_kernel_at(l, DANN_METRIC_COSINE, DANN_DTYPE_F32, DANN_DTYPE_F32)(a, a, DIM);
		float di = dist_kernel_at(l, DANN_METRIC_COSINE, DANN_DTYPE_I8, DANN_DTYPE_I8)(c, c, DIM);
		cr_assert_leq(fabsf(df), 1e-5f, "%s: %g", dist_level_name(l), df);
		cr_assert_leq(fabsf(di), 1e-6f, "%s: %g", dist_level_name(l), di);
	}
}

Test(dist, unsupported_pairs_and_levels_get_no_kernel)
{
	cr_assert_null(dist_kernel_at(DIST_SCALAR, DANN_METRIC_L2, DANN_DTYPE_U8, DANN_DTYPE_F32));
	cr_assert_null(dist_kernel_at(DIST_SCALAR, DANN_METRIC_IP, DANN_DTYPE_I8, DANN_DTYPE_U8));
	cr_assert_null(dist_kernel_at(DIST_SCALAR, DANN_METRIC_L2, DANN_DTYPE_I32, DANN_DTYPE_I32));
	cr_assert_null(dist_kernel_at(DIST_NLEVELS, DANN_METRIC_L2, DANN_DTYPE_F32, DANN_DTYPE_F32));
	cr_assert_null(dist_kernel_at(DIST_AVX2, (enum dann_metric)7, DANN_DTYPE_F32, DANN_DTYPE_F32));
}

Test(dist, best_level_is_the_highest_supported_without_the_environment)
{
	enum dist_level want = DIST_SCALAR;

	unsetenv("DANN_SIMD");
	for (enum dist_level l = DIST_SCALAR; l < DIST_NLEVELS; l++)
		if (dist_level_supported(l))
			want = l;
	cr_assert_eq(dist_best_level(), want);
	cr_assert_eq(dist_kernel(DANN_METRIC_L2, DANN_DTYPE_F32, DANN_DTYPE_F32),
		     dist_kernel_at(want, DANN_METRIC_L2, DANN_DTYPE_F32, DANN_DTYPE_F32));
}

/* Criterion runs each test in its own process, so the level cached by
 * dist_best_level is chosen afresh here, after setenv. */
Test(dist, dann_simd_scalar_in_the_environment_lowers_the_level)
{
	float a[5] = { 1, 2, 3, 4, 5 }, b[5] = { 5, 4, 3, 2, 1 };

	cr_assert_eq(setenv("DANN_SIMD", "scalar", 1), 0);
	cr_assert_eq(dist_best_level(), DIST_SCALAR);
	for (size_t p = 0; p < NPAIRS; p++)
		for (size_t m = 0; m < NMETRICS; m++)
			cr_assert_eq(dist_kernel(metrics[m], pairs[p].q, pairs[p].d),
				     dist_kernel_at(DIST_SCALAR, metrics[m], pairs[p].q, pairs[p].d));
	cr_assert_eq(dist_norm2_f32(a, 5), 55.0f);
	cr_assert_eq(dist_kernel(DANN_METRIC_L2, DANN_DTYPE_F32, DANN_DTYPE_F32)(a, b, 5), 40.0f);
}

Test(dist, dann_simd_avx2_in_the_environment_caps_the_level_at_avx2)
{
	cr_assert_eq(setenv("DANN_SIMD", "avx2", 1), 0);
	if (!dist_level_supported(DIST_AVX2))
		cr_skip_test("this CPU has no AVX2");
	cr_assert_eq(dist_best_level(), DIST_AVX2);
	cr_assert_eq(dist_kernel(DANN_METRIC_IP, DANN_DTYPE_U8, DANN_DTYPE_U8),
		     dist_kernel_at(DIST_AVX2, DANN_METRIC_IP, DANN_DTYPE_U8, DANN_DTYPE_U8));
}
