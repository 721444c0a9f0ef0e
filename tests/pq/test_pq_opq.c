/*
 * test_pq_opq.c — OPQ (pq_params.opq_iters): the learned rotation is
 * orthonormal, quantizes low-rank data with less error than plain PQ, keeps
 * the table-sum = distance-to-decoded identity, and survives a save and
 * load (a plain quantizer still writes the version 1 pivots file).
 */
#include "pq/pq_testutil.h"

#include "dann.h"
#include "error.h"
#include "pq/pq.h"

#define N 3000u
#define DIM 48u
#define LATENT 6u
#define M 8u

/* Embedding-like rows: clustered points of a LATENT-dim space mapped to DIM
 * dims by a random linear map, plus a little noise, so the signal is spread
 * over every dimension (the shape of `dann gen`'s data). */
static float *low_rank(uint64_t n, unsigned seed)
{
	float *z = pt_mixture(n, LATENT, 30, seed), *x = malloc(n * DIM * sizeof *x);
	float a[DIM * LATENT];
	unsigned s2 = 99; /* the same map for base and queries */

	cr_assert_not_null(x);
	for (uint32_t i = 0; i < DIM * LATENT; i++)
		a[i] = pt_gauss(&s2);
	for (uint64_t i = 0; i < n; i++)
		for (uint32_t d = 0; d < DIM; d++) {
			float v = 0.05f * pt_gauss(&seed);
			for (uint32_t k = 0; k < LATENT; k++)
				v += a[d * LATENT + k] * z[i * LATENT + k];
			x[i * DIM + d] = v;
		}
	free(z);
	return x;
}

static struct pq *train(enum dann_metric metric, const float *x, uint32_t opq,
			struct pq_train_stats *st)
{
	struct pq_params p;
	struct pq *pq = NULL;

	pq_params_default(&p, metric, M);
	p.iters = 10;
	p.opq_iters = opq;
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, N, DIM, &pq, st), 0, "%s", dann_errmsg());
	return pq;
}

Test(pq_opq, the_rotation_is_orthonormal)
{
	float *x = low_rank(N, 1);
	struct pq *pq = train(DANN_METRIC_L2, x, 4, NULL);
	const float *r = pq_rotation(pq);

	cr_assert_not_null(r);
	for (uint32_t i = 0; i < DIM; i++)
		for (uint32_t j = 0; j < DIM; j++) {
			double s = 0;
			for (uint32_t k = 0; k < DIM; k++)
				s += (double)r[i * DIM + k] * r[j * DIM + k];
			cr_assert_float_eq(s, i == j ? 1.0 : 0.0, 1e-4, "R R^T [%u][%u] = %g", i, j, s);
		}
	pq_free(pq);
	free(x);
}

Test(pq_opq, quantizes_low_rank_data_with_less_error_than_pq)
{
	float *x = low_rank(N, 2);
	struct pq_train_stats plain, opq;
	struct pq *a = train(DANN_METRIC_L2, x, 0, &plain), *b = train(DANN_METRIC_L2, x, 6, &opq);

	cr_assert_null(pq_rotation(a));
	cr_assert_lt(opq.mse, 0.9 * plain.mse, "OPQ MSE %g, PQ MSE %g", opq.mse, plain.mse);
	pq_free(a);
	pq_free(b);
	free(x);
}

/* The table sum equals the distance from the query to pq_decode's output,
 * so the rotation is applied to the query and undone by decode alike. */
static void check_table_matches_decoded(enum dann_metric metric)
{
	enum { Q = 4 };
	float *x = low_rank(N, 3), *q = low_rank(Q, 4), *dec = malloc(N * DIM * sizeof *dec);
	struct pq *pq = train(metric, x, 3, NULL);
	float *table = malloc(pq_table_floats(pq) * sizeof *table), out[64];
	uint32_t ids[64];

	cr_assert_eq(pq_encode_array(pq, x, DANN_DTYPE_F32, N), 0, "%s", dann_errmsg());
	pq_decode(pq, pq_codes(pq), N, dec);
	for (uint32_t i = 0; i < 64; i++)
		ids[i] = i * 37;
	for (int qi = 0; qi < Q; qi++) {
		const float *qq = q + qi * DIM;
		double qn = 0;

		for (uint32_t j = 0; j < DIM; j++)
			qn += (double)qq[j] * qq[j];
		pq_table_build(pq, qq, table);
		pq_adc_ids(pq, table, ids, 64, out);
		for (uint32_t i = 0; i < 64; i++) {
			const float *d = dec + (size_t)ids[i] * DIM;
			double want = 0, dn = 0;
			for (uint32_t j = 0; j < DIM; j++) {
				double qv = metric == DANN_METRIC_COSINE ? qq[j] / sqrt(qn) : qq[j];
				want += metric == DANN_METRIC_IP ? -qv * d[j] : (qv - d[j]) * (qv - d[j]);
				dn += (double)d[j] * d[j];
			}
			if (metric == DANN_METRIC_COSINE)
				want *= 0.5;
			cr_assert_float_eq(out[i], want, 1e-3 * (1 + fabs(want) + dn), "%s q%d id %u",
					   dann_metric_name(metric), qi, ids[i]);
		}
	}
	pq_free(pq);
	free(x);
	free(q);
	free(dec);
	free(table);
}

Test(pq_opq, table_sums_equal_distances_to_decoded_points)
{
	check_table_matches_decoded(DANN_METRIC_L2);
	check_table_matches_decoded(DANN_METRIC_IP);
	check_table_matches_decoded(DANN_METRIC_COSINE);
}

static long file_size(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return (long)st.st_size;
}

Test(pq_opq, the_rotation_survives_save_and_load)
{
	char dir[64], piv[128];
	float *x = low_rank(N, 5);
	struct pq *pq = train(DANN_METRIC_L2, x, 3, NULL), *back = NULL, *plain;
	float *t1 = malloc(pq_table_floats(pq) * sizeof *t1);
	float *t2 = malloc(pq_table_floats(pq) * sizeof *t2);
	long with;

	pt_mkdtemp(dir, sizeof dir);
	snprintf(piv, sizeof piv, "%s/%s", dir, PQ_PIVOTS_FILE);
	cr_assert_eq(pq_encode_array(pq, x, DANN_DTYPE_F32, N), 0, "%s", dann_errmsg());
	cr_assert_eq(pq_save(pq, dir), 0, "%s", dann_errmsg());
	with = file_size(piv);
	cr_assert_eq(pq_load(dir, 1, &back), 0, "%s", dann_errmsg());
	cr_assert_not_null(pq_rotation(back));
	cr_assert_arr_eq(pq_rotation(back), pq_rotation(pq), DIM * DIM * sizeof(float));
	pq_table_build(pq, x, t1);
	pq_table_build(back, x, t2);
	cr_assert_arr_eq(t1, t2, pq_table_floats(pq) * sizeof *t1);
	pq_free(back);

	/* A damaged rotation is caught by the checksum, naming the file. */
	pt_flip_byte(piv, -8);
	cr_assert_eq(pq_load(dir, 0, &back), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), PQ_PIVOTS_FILE), "%s", dann_errmsg());

	/* Without OPQ the pivots are version 1, the rotation's bytes fewer. */
	plain = train(DANN_METRIC_L2, x, 0, NULL);
	cr_assert_eq(pq_save(plain, dir), 0, "%s", dann_errmsg());
	cr_assert_eq(file_size(piv), with - (long)(DIM * DIM * sizeof(float)));
	cr_assert_eq(pq_load(dir, 0, &back), 0, "%s", dann_errmsg());
	cr_assert_null(pq_rotation(back));
	pq_free(back);
	pq_free(plain);
	pq_free(pq);
	pt_rmtree(dir);
	free(x);
	free(t1);
	free(t2);
}

Test(pq_opq, a_pivots_file_whose_flags_disagree_with_its_version_is_refused)
{
	char dir[64], piv[128];
	float *x = low_rank(N, 6);
	struct pq *pq = train(DANN_METRIC_L2, x, 0, NULL), *back = NULL;
	uint32_t flags = 1;
	int fd;

	pt_mkdtemp(dir, sizeof dir);
	snprintf(piv, sizeof piv, "%s/%s", dir, PQ_PIVOTS_FILE);
	cr_assert_eq(pq_save(pq, dir), 0, "%s", dann_errmsg());
	/* flags sit at byte 28 of the 32-byte header. */
	cr_assert((fd = open(piv, O_RDWR)) >= 0);
	cr_assert_eq(pwrite(fd, &flags, sizeof flags, 28), (ssize_t)sizeof flags);
	close(fd);
	cr_assert_eq(pq_load(dir, 0, &back), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "flags"), "%s", dann_errmsg());
	pq_free(pq);
	pt_rmtree(dir);
	free(x);
}

/* Queries rotated as a batch (one matrix product) build the same tables
 * as queries rotated one by one while their table is built. */
Test(pq_opq, batch_rotated_queries_build_the_same_tables)
{
	enum { Q = 8 };
	float *x = low_rank(N, 7), *q = low_rank(Q, 8), *qr = malloc(Q * DIM * sizeof *qr);
	struct pq *pq = train(DANN_METRIC_L2, x, 3, NULL);
	float *t1 = malloc(pq_table_floats(pq) * sizeof *t1);
	float *t2 = malloc(pq_table_floats(pq) * sizeof *t2);

	cr_assert_eq(pq_rotate_queries(pq, q, Q, qr), 0, "%s", dann_errmsg());
	for (int m = DANN_METRIC_L2; m <= DANN_METRIC_COSINE; m++)
		for (int i = 0; i < Q; i++) {
			pq_table_build_as(pq, (enum dann_metric)m, q + i * DIM, t1);
			pq_table_build_rotated(pq, (enum dann_metric)m, qr + i * DIM, t2);
			for (size_t e = 0; e < pq_table_floats(pq); e++)
				cr_assert_float_eq(t1[e], t2[e], 1e-3 * (1 + fabs(t1[e])),
						   "metric %d query %d entry %zu", m, i, e);
		}
	pq_free(pq);
	free(x);
	free(q);
	free(qr);
	free(t1);
	free(t2);
}
