/*
 * test_pq.c — product quantizer: training, encoding, decoding, tables and
 * ADC, for every metric and input type.
 */
#include "pq/pq_testutil.h"

#include "dann.h"
#include "error.h"
#include "pq/pq.h"
#include "pq/pq_kernels.h"

static struct pq *train_or_die(enum dann_metric metric, uint32_t M, const void *x,
			       enum dann_dtype t, uint64_t n, uint32_t dim, struct pq_train_stats *st)
{
	struct pq_params p;
	struct pq *pq = NULL;

	pq_params_default(&p, metric, M);
	p.iters = 10;
	cr_assert_eq(pq_train(&p, x, t, n, dim, &pq, st), 0, "%s", dann_errmsg());
	return pq;
}

Test(pq, decoding_then_encoding_gives_back_the_same_codes)
{
	enum { N = 3000, DIM = 24, M = 6 };
	float *x = pt_mixture(N, DIM, 20, 1), *dec = malloc(N * DIM * sizeof *dec);
	uint8_t *codes = malloc(N * M), *again = malloc(N * M);
	struct pq *pq = train_or_die(DANN_METRIC_L2, M, x, DANN_DTYPE_F32, N, DIM, NULL);
	double err = 0, var = 0;

	cr_assert_eq(pq_encode(pq, x, DANN_DTYPE_F32, N, codes), 0, "%s", dann_errmsg());
	pq_decode(pq, codes, N, dec);
	cr_assert_eq(pq_encode(pq, dec, DANN_DTYPE_F32, N, again), 0);
	cr_assert_arr_eq(codes, again, N * M);
	/* And decoding is a real approximation: error well below the variance. */
	for (int i = 0; i < N * DIM; i++) {
		err += ((double)x[i] - dec[i]) * ((double)x[i] - dec[i]);
		var += (double)x[i] * x[i];
	}
	cr_assert_lt(err, 0.2 * var, "err %g var %g", err, var);
	pq_free(pq);
	free(x);
	free(dec);
	free(codes);
	free(again);
}

/* ADC through every kernel level equals the exact distance from the query
 * to the decoded vector. */
static void check_adc_matches_decoded(enum dann_metric metric)
{
	enum { N = 1500, DIM = 40, M = 10, Q = 5 };
	float *x = pt_mixture(N, DIM, 15, 2), *q = pt_mixture(Q, DIM, 3, 3);
	float *dec = malloc(N * DIM * sizeof *dec), *table, out[N], out2[N];
	uint32_t ids[N];
	struct pq *pq = train_or_die(metric, M, x, DANN_DTYPE_F32, N, DIM, NULL);

	cr_assert_eq(pq_encode_array(pq, x, DANN_DTYPE_F32, N), 0, "%s", dann_errmsg());
	cr_assert_eq(pq_count(pq), N);
	pq_decode(pq, pq_codes(pq), N, dec);
	table = malloc(pq_table_floats(pq) * sizeof *table);
	for (int i = 0; i < N; i++)
		ids[i] = (uint32_t)((i * 7919u) % N); /* scattered order */
	for (int qi = 0; qi < Q; qi++) {
		const float *qq = q + qi * DIM;
		double qn = 0;

		for (int j = 0; j < DIM; j++)
			qn += (double)qq[j] * qq[j];
		pq_table_build(pq, qq, table);
		/* Sums of M entries in another order differ by about M ulps of the
		 * largest entry. */
		double tabmax = 0, tol;
		for (size_t e = 0; e < pq_table_floats(pq); e++)
			tabmax = fmax(tabmax, fabs(table[e]));
		tol = 1e-6 * (1 + M * tabmax);
		pq_adc_ids(pq, table, ids, N, out);
		pq_adc_block(pq, table, 0, N, out2);
		for (int i = 0; i < N; i++) {
			const float *d = dec + (size_t)ids[i] * DIM;
			double want, dot = 0;
			if (metric == DANN_METRIC_COSINE) {
				/* Half the squared L2 distance from the unit query
				 * to the decoded vector: 1 - cos for unit vectors. */
				for (int j = 0; j < DIM; j++) {
					double e = qq[j] / sqrt(qn) - d[j];
					dot += e * e;
				}
				want = 0.5 * dot;
			} else {
				want = pt_dist(metric, qq, d, DIM);
			}
			cr_assert_float_eq(out[i], want, tol + 1e-5 * fabs(want),
					   "%s q%d id %u: adc %g exact %g", dann_metric_name(metric), qi,
					   ids[i], out[i], want);
			cr_assert_float_eq(out2[ids[i]], out[i], tol);
		}
		/* Every SIMD level agrees with the scalar reference. */
		for (int l = DIST_AVX2; l < DIST_NLEVELS; l++) {
			const struct pq_kernels *k = pq_kernels_at((enum dist_level)l);
			float o3[N];
			if (!k)
				continue;
			k->adc_ids(table, M, pq_codes(pq), ids, N, o3);
			for (int i = 0; i < N; i++)
				cr_assert_float_eq(o3[i], out[i], tol, "level %d", l);
		}
	}
	pq_free(pq);
	free(x);
	free(q);
	free(dec);
	free(table);
}

Test(pq, adc_equals_exact_l2_to_the_decoded_vector) { check_adc_matches_decoded(DANN_METRIC_L2); }
Test(pq, adc_equals_exact_inner_product_with_the_decoded_vector) { check_adc_matches_decoded(DANN_METRIC_IP); }
Test(pq, adc_equals_half_the_l2_distance_from_the_unit_query_to_the_decoded_vector) { check_adc_matches_decoded(DANN_METRIC_COSINE); }

Test(pq, quantization_error_falls_as_M_grows)
{
	enum { N = 2500, DIM = 32 };
	float *x = pt_mixture(N, DIM, 40, 4);
	double prev = INFINITY;

	for (uint32_t M = 2; M <= 16; M *= 2) {
		struct pq_train_stats st;
		struct pq *pq = train_or_die(DANN_METRIC_L2, M, x, DANN_DTYPE_F32, N, DIM, &st);
		cr_assert_eq(st.rows, N);
		cr_assert_lt(st.mse, prev, "M=%u mse %g, previous %g", M, st.mse, prev);
		prev = st.mse;
		pq_free(pq);
	}
	free(x);
}

Test(pq, splits_dims_that_M_does_not_divide_over_the_first_chunks)
{
	enum { N = 1200, DIM = 10, M = 3 };
	float *x = pt_mixture(N, DIM, 8, 5), *dec = malloc(N * DIM * sizeof *dec);
	struct pq *pq = train_or_die(DANN_METRIC_L2, M, x, DANN_DTYPE_F32, N, DIM, NULL);
	const uint32_t *off = pq_chunk_offsets(pq);
	float table[M * 256], out[N];
	uint32_t ids[N];

	cr_assert_eq(off[0], 0);
	cr_assert_eq(off[1], 4);
	cr_assert_eq(off[2], 7);
	cr_assert_eq(off[3], 10);
	cr_assert_eq(pq_encode_array(pq, x, DANN_DTYPE_F32, N), 0);
	pq_decode(pq, pq_codes(pq), N, dec);
	pq_table_build(pq, x, table);
	for (int i = 0; i < N; i++)
		ids[i] = (uint32_t)i;
	pq_adc_ids(pq, table, ids, N, out);
	for (int i = 0; i < N; i++)
		cr_assert_float_eq(out[i], pt_dist(0, x, dec + i * DIM, DIM), 1e-3);
	pq_free(pq);
	free(x);
	free(dec);
}

Test(pq, encodes_uint8_and_int8_input_like_the_same_values_as_floats)
{
	enum { N = 800, DIM = 16, M = 4 };
	uint8_t *u = malloc(N * DIM), *cu = malloc(N * M), *cf = malloc(N * M);
	int8_t *s = malloc(N * DIM);
	float *f = malloc(N * DIM * sizeof *f), *fs = malloc(N * DIM * sizeof *fs);
	unsigned seed = 9;
	struct pq *pq;

	for (int i = 0; i < N * DIM; i++) {
		u[i] = (uint8_t)((i / DIM % 7) * 30 + rand_r(&seed) % 20);
		s[i] = (int8_t)(u[i] - 128);
		f[i] = u[i];
		fs[i] = s[i];
	}
	pq = train_or_die(DANN_METRIC_L2, M, u, DANN_DTYPE_U8, N, DIM, NULL);
	cr_assert_eq(pq_encode(pq, u, DANN_DTYPE_U8, N, cu), 0);
	cr_assert_eq(pq_encode(pq, f, DANN_DTYPE_F32, N, cf), 0);
	cr_assert_arr_eq(cu, cf, N * M);
	pq_free(pq);
	pq = train_or_die(DANN_METRIC_IP, M, s, DANN_DTYPE_I8, N, DIM, NULL);
	cr_assert_eq(pq_encode(pq, s, DANN_DTYPE_I8, N, cu), 0);
	cr_assert_eq(pq_encode(pq, fs, DANN_DTYPE_F32, N, cf), 0);
	cr_assert_arr_eq(cu, cf, N * M);
	pq_free(pq);
	free(u);
	free(s);
	free(f);
	free(fs);
	free(cu);
	free(cf);
}

Test(pq, trains_on_fewer_rows_than_centroids)
{
	enum { N = 40, DIM = 8, M = 4 };
	float *x = pt_mixture(N, DIM, 4, 6), *dec = malloc(N * DIM * sizeof *dec);
	uint8_t codes[N * M];
	struct pq *pq = train_or_die(DANN_METRIC_L2, M, x, DANN_DTYPE_F32, N, DIM, NULL);

	/* Every row is its own centroid: decoding is exact. */
	cr_assert_eq(pq_encode(pq, x, DANN_DTYPE_F32, N, codes), 0);
	pq_decode(pq, codes, N, dec);
	for (int i = 0; i < N * DIM; i++)
		cr_assert_float_eq(dec[i], x[i], 1e-4);
	pq_free(pq);
	free(x);
	free(dec);
}

Test(pq, rejects_bad_parameters_with_a_clear_message)
{
	float x[64 * 8] = { 0 };
	struct pq_params p;
	struct pq *pq = NULL;

	pq_params_default(&p, DANN_METRIC_L2, 9);
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, 64, 8, &pq, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "pq_bytes 9 exceeds the dimension 8"), "%s", dann_errmsg());
	pq_params_default(&p, DANN_METRIC_L2, 0);
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, 64, 8, &pq, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "pq_bytes 0"), "%s", dann_errmsg());
	pq_params_default(&p, DANN_METRIC_L2, 4);
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, 0, 8, &pq, NULL), DANN_EINVAL);
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_I32, 64, 8, &pq, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "int32"), "%s", dann_errmsg());
	p.metric = (enum dann_metric)7;
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, 64, 8, &pq, NULL), DANN_EINVAL);
	pq_params_default(&p, DANN_METRIC_L2, 4);
	x[13 * 8 + 2] = NAN;
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, 64, 8, &pq, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "row 13"), "%s", dann_errmsg());
	cr_assert_null(pq);
}

Test(pq, simd_argmin_matches_the_scalar_reference)
{
	enum { NB = 97 };
	unsigned seed = 12;

	for (uint32_t k = 1; k <= 300; k += (k < 40 ? 1 : 37)) {
		float *dots = malloc(NB * k * sizeof *dots), *cn = malloc(k * sizeof *cn), b0[NB], b1[NB];
		uint32_t a0[NB], a1[NB];
		for (uint32_t i = 0; i < NB * k; i++)
			dots[i] = (float)(rand_r(&seed) % 50); /* many ties */
		for (uint32_t j = 0; j < k; j++)
			cn[j] = (float)(rand_r(&seed) % 5);
		pq_kernels_scalar.argmin_rows(dots, NB, k, cn, a0, b0);
		for (int l = DIST_AVX2; l < DIST_NLEVELS; l++) {
			const struct pq_kernels *kern = pq_kernels_at((enum dist_level)l);
			if (!kern)
				continue;
			kern->argmin_rows(dots, NB, k, cn, a1, b1);
			cr_assert_arr_eq(a0, a1, sizeof a0, "level %d k %u", l, k);
			cr_assert_arr_eq(b0, b1, sizeof b0, "level %d k %u", l, k);
		}
		free(dots);
		free(cn);
	}
}

Test(pq, simd_adc_matches_the_scalar_reference_for_every_M)
{
	static const uint32_t Ms[] = { 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100 };
	enum { N = 300 };
	unsigned seed = 13;

	for (size_t t = 0; t < sizeof Ms / sizeof *Ms; t++) {
		uint32_t M = Ms[t];
		float *table = malloc(M * 256 * sizeof *table), o0[N], o1[N];
		uint8_t *codes = malloc(N * M);
		uint32_t ids[N];
		for (uint32_t i = 0; i < M * 256; i++)
			table[i] = (float)(rand_r(&seed) % 1000) / 7.0f;
		for (uint32_t i = 0; i < N * M; i++)
			codes[i] = (uint8_t)rand_r(&seed);
		for (int i = 0; i < N; i++)
			ids[i] = (uint32_t)rand_r(&seed) % N;
		for (int l = DIST_AVX2; l < DIST_NLEVELS; l++) {
			const struct pq_kernels *k = pq_kernels_at((enum dist_level)l);
			if (!k)
				continue;
			pq_kernels_scalar.adc_ids(table, M, codes, ids, N, o0);
			k->adc_ids(table, M, codes, ids, N, o1);
			for (int i = 0; i < N; i++)
				cr_assert_float_eq(o0[i], o1[i], 1e-5 * (1 + o0[i]), "M %u level %d", M, l);
			pq_kernels_scalar.adc_block(table, M, codes, N, o0);
			k->adc_block(table, M, codes, N, o1);
			for (int i = 0; i < N; i++)
				cr_assert_float_eq(o0[i], o1[i], 1e-5 * (1 + o0[i]), "M %u level %d", M, l);
		}
		free(table);
		free(codes);
	}
}

/* One CPU check and one DANN_SIMD cap for every kernel table: the PQ
 * kernels run at exactly the level the distance kernels run at (before,
 * pq_kernels.c asked only for AVX-512 F/BW/VL while its AVX-512 file is
 * compiled with DQ and VNNI too, and dist.c asked for all five). */
static void check_same_level(const char *cap)
{
	if (cap)
		cr_assert_eq(setenv("DANN_SIMD", cap, 1), 0);
	else
		unsetenv("DANN_SIMD");
	for (int l = DIST_SCALAR; l < DIST_NLEVELS; l++)
		cr_assert_eq(pq_kernels_at((enum dist_level)l) != NULL, dist_cpu_has((enum dist_level)l),
			     "level %s", dist_level_name((enum dist_level)l));
}

Test(pq_kernels, choose_the_same_level_as_the_distance_kernels_unset)
{
	check_same_level(NULL);
	cr_assert_eq(pq_kernels_level(), dist_best_level());
}

Test(pq_kernels, choose_the_same_level_as_the_distance_kernels_under_avx2)
{
	check_same_level("avx2");
	cr_assert_eq(pq_kernels_level(), dist_best_level());
	cr_assert_leq(pq_kernels_level(), DIST_AVX2);
}

Test(pq_kernels, choose_the_same_level_as_the_distance_kernels_under_scalar)
{
	check_same_level("scalar");
	cr_assert_eq(pq_kernels_level(), DIST_SCALAR);
	cr_assert_eq(dist_best_level(), DIST_SCALAR);
}
