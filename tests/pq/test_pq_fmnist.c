/*
 * test_pq_fmnist.c — ranking by PQ distance on real data (Fashion-MNIST).
 *
 * The measure is DiskANN's reason for PQ: of the true 100 nearest
 * neighbours of a query, how many are among the 1000 best by ADC distance
 * (the candidates a beam search would then re-rank exactly). The base is
 * the 60,000 training images, the queries the first 100 test images; the
 * quantizer trains on a 10,000-row sample to keep the test fast under ASan.
 */
#include "pq/pq_testutil.h"

#include <cblas.h>

#include "dann.h"
#include "error.h"
#include "idx.h"
#include "pq/pq.h"
#include "topk.h"
#include "helpers/fmnist_skip.h"

enum { DIM = 784, NBASE = 60000, NQ = 100, K = 100, CAND = 1000, TRAIN = 10000 };

static uint8_t *read_images(const char *name, uint32_t n)
{
	char path[PATH_MAX];
	struct idx *x = NULL;
	uint8_t *buf = malloc((size_t)n * DIM);

	snprintf(path, sizeof path, "%s", fmnist_require(name));
	cr_assert_eq(idx_open(path, &x), 0, "%s", dann_errmsg());
	cr_assert_eq(idx_row_elems(x), DIM);
	cr_assert_eq(idx_read(x, n, buf), 0, "%s", dann_errmsg());
	idx_close(x);
	return buf;
}

/* The k nearest of each query by exact L2 (ids into ids[q * k ...]),
 * distances from one sgemm per block of base rows: exact up to float
 * rounding, and fast under ASan (OpenBLAS is not instrumented). */
static void exact_knn(const uint8_t *base, const float *q, uint32_t k, uint32_t *ids)
{
	enum { BLK = 2048 };
	float *b = malloc((size_t)BLK * DIM * sizeof *b), *d = malloc((size_t)NQ * BLK * sizeof *d);
	float bn[BLK];
	struct topk t[NQ];

	for (int qi = 0; qi < NQ; qi++)
		cr_assert_eq(topk_init(&t[qi], k), 0);
	for (int i0 = 0; i0 < NBASE; i0 += BLK) {
		int m = NBASE - i0 < BLK ? NBASE - i0 : BLK;
		for (int i = 0; i < m; i++) {
			bn[i] = 0;
			for (int j = 0; j < DIM; j++) {
				b[(size_t)i * DIM + j] = base[(size_t)(i0 + i) * DIM + j];
				bn[i] += b[(size_t)i * DIM + j] * b[(size_t)i * DIM + j];
			}
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, NQ, m, DIM, -2.0f, q, DIM, b, DIM,
			    0.0f, d, m);
		for (int qi = 0; qi < NQ; qi++)
			for (int i = 0; i < m; i++)
				topk_push(&t[qi], (uint32_t)(i0 + i), d[(size_t)qi * m + i] + bn[i]);
	}
	for (int qi = 0; qi < NQ; qi++) {
		topk_sort(&t[qi]);
		memcpy(ids + (size_t)qi * k, t[qi].id, k * sizeof *ids);
		topk_destroy(&t[qi]);
	}
	free(b);
	free(d);
}

static double recall_at(const struct pq *pq, const float *q, const uint32_t *truth)
{
	float *table = malloc(pq_table_floats(pq) * sizeof *table), *d = malloc(NBASE * sizeof *d);
	struct topk t;
	uint64_t hit = 0;

	cr_assert_eq(topk_init(&t, CAND), 0);
	for (int qi = 0; qi < NQ; qi++) {
		pq_table_build(pq, q + qi * DIM, table);
		pq_adc_block(pq, table, 0, NBASE, d);
		topk_reset(&t);
		for (int i = 0; i < NBASE; i++)
			topk_push(&t, (uint32_t)i, d[i]);
		for (int a = 0; a < K; a++)
			for (uint32_t b = 0; b < t.n; b++)
				if (t.id[b] == truth[qi * K + a]) {
					hit++;
					break;
				}
	}
	topk_destroy(&t);
	free(table);
	free(d);
	return (double)hit / (NQ * K);
}

Test(pq_fmnist, ranking_by_adc_finds_the_true_neighbours_among_the_top_1000, .timeout = 300)
{
	/* Floors sit a little under the recall measured at the time of writing
	 * (see the log line), so a regression in training or ADC fails. */
	static const struct { uint32_t M; double floor; } runs[] = { { 4, 0.96 }, { 16, 0.99 } };
	uint8_t *base = read_images("train-images-idx3-ubyte.gz", NBASE);
	uint8_t *qb = read_images("t10k-images-idx3-ubyte.gz", NQ);
	float *q = malloc((size_t)NQ * DIM * sizeof *q);
	uint32_t *truth = malloc((size_t)NQ * K * sizeof *truth);

	for (int i = 0; i < NQ * DIM; i++)
		q[i] = qb[i];
	exact_knn(base, q, K, truth);
	for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
		struct pq_params p;
		struct pq *pq = NULL;
		double rec;

		pq_params_default(&p, DANN_METRIC_L2, runs[r].M);
		p.iters = 10;
		p.sample = TRAIN;
		cr_assert_eq(pq_train(&p, base, DANN_DTYPE_U8, NBASE, DIM, &pq, NULL), 0, "%s", dann_errmsg());
		cr_assert_eq(pq_encode_array(pq, base, DANN_DTYPE_U8, NBASE), 0, "%s", dann_errmsg());
		rec = recall_at(pq, q, truth);
		cr_log_info("Fashion-MNIST %d base, %d queries, M=%u: recall@%d in top-%d = %.4f",
			    NBASE, NQ, runs[r].M, K, CAND, rec);
		fprintf(stderr, "pq_fmnist: M=%u recall@%d-in-top-%d %.4f (floor %.2f)\n", runs[r].M, K,
			CAND, rec, runs[r].floor);
		cr_assert_geq(rec, runs[r].floor, "M=%u recall %.4f below %.2f", runs[r].M, rec,
			      runs[r].floor);
		pq_free(pq);
	}
	free(base);
	free(qb);
	free(q);
	free(truth);
}
