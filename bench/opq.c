/*
 * bench/opq.c — dann's plain PQ against its OPQ on one vector file: training
 * time, MSE over the whole base and the recall@10 of the ADC ranking alone
 * (every base point scored from its code, top 10 against exact ground
 * truth), which is how well the codes can steer a beam search. bench/opq.py
 * runs it next to faiss's OPQMatrix on the same files.
 *
 *   bench_opq --base F --queries Q --gt GT.ibin --M m [--opq-iters 10] [--threads 2]
 *
 * One JSON object per quantizer on stdout. Never pass/fail on time.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dann.h"
#include "error.h"
#include "pq/pq.h"
#include "vf.h"

#define K 10

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *read_all(const char *path, uint64_t *n, uint32_t *dim)
{
	struct vf *f;
	float *x;

	if (vf_open(path, &f) < 0)
		return NULL;
	*n = vf_count(f);
	*dim = vf_dim(f);
	x = malloc(*n * *dim * sizeof *x);
	if (x && vf_read_f32(f, 0, *n, x) < 0) {
		free(x);
		x = NULL;
	}
	vf_close(f);
	return x;
}

/* The first K ids of each of nq rows of an .ibin of nq x k int32. */
static int32_t *read_gt(const char *path, uint64_t nq, uint32_t *k)
{
	FILE *f = fopen(path, "rb");
	int32_t hdr[2], *g = NULL;

	if (!f || fread(hdr, sizeof hdr, 1, f) != 1 || (uint64_t)hdr[0] < nq || hdr[1] < K)
		goto out;
	*k = (uint32_t)hdr[1];
	g = malloc(nq * *k * sizeof *g);
	if (g && fread(g, sizeof *g, nq * *k, f) != nq * *k) {
		free(g);
		g = NULL;
	}
out:
	if (f)
		fclose(f);
	return g;
}

static double mse(const struct pq *pq, const float *x, uint64_t n, uint32_t dim)
{
	float *dec = malloc(dim * sizeof *dec);
	double err = 0;

	for (uint64_t i = 0; i < n; i++) {
		pq_decode(pq, pq_codes(pq) + i * pq_bytes(pq), 1, dec);
		for (uint32_t j = 0; j < dim; j++) {
			double d = (double)x[i * dim + j] - dec[j];
			err += d * d;
		}
	}
	free(dec);
	return err / (double)n;
}

/* Recall@10 of the ADC top 10 over the whole base. */
static double adc_recall(const struct pq *pq, const float *q, uint64_t nq, uint32_t dim,
			 const int32_t *gt, uint32_t gk)
{
	uint64_t n = pq_count(pq);
	double hits = 0;

#pragma omp parallel reduction(+ : hits)
	{
		float *table = malloc(pq_table_floats(pq) * sizeof *table);
		float *d = malloc(n * sizeof *d);

#pragma omp for schedule(dynamic)
		for (uint64_t i = 0; i < nq; i++) {
			uint32_t top[K];
			float td[K];
			int have = 0;

			pq_table_build(pq, q + i * dim, table);
			pq_adc_block(pq, table, 0, n, d);
			for (uint64_t j = 0; j < n; j++) {
				int p;
				if (have == K && d[j] >= td[K - 1])
					continue;
				p = have < K ? have++ : K - 1;
				for (; p > 0 && td[p - 1] > d[j]; p--) {
					td[p] = td[p - 1];
					top[p] = top[p - 1];
				}
				td[p] = d[j];
				top[p] = (uint32_t)j;
			}
			for (int a = 0; a < have; a++)
				for (int b = 0; b < K; b++)
					if ((int32_t)top[a] == gt[i * gk + b]) {
						hits++;
						break;
					}
		}
		free(table);
		free(d);
	}
	return hits / (double)(nq * K);
}

static int measure(const char *name, uint32_t M, uint32_t opq, uint32_t threads, const float *x,
		   uint64_t n, uint32_t dim, const float *q, uint64_t nq, const int32_t *gt,
		   uint32_t gk)
{
	struct pq_params p;
	struct pq_train_stats st;
	struct pq *pq = NULL;
	double t0, train_s, enc_s;
	int rc;

	pq_params_default(&p, DANN_METRIC_L2, M);
	p.opq_iters = opq;
	p.threads = threads;
	t0 = now_s();
	if ((rc = pq_train(&p, x, DANN_DTYPE_F32, n, dim, &pq, &st)) < 0)
		return rc;
	train_s = now_s() - t0;
	t0 = now_s();
	if ((rc = pq_encode_array(pq, x, DANN_DTYPE_F32, n)) < 0) {
		pq_free(pq);
		return rc;
	}
	enc_s = now_s() - t0;
	printf("{\"system\": \"%s\", \"M\": %u, \"n\": %llu, \"dim\": %u, \"opq_iters\": %u, "
	       "\"train_s\": %.2f, \"encode_s\": %.2f, \"mse\": %.6g, \"adc_recall10\": %.4f}\n",
	       name, M, (unsigned long long)n, dim, opq, train_s, enc_s, mse(pq, x, n, dim),
	       adc_recall(pq, q, nq, dim, gt, gk));
	fflush(stdout);
	pq_free(pq);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "base", required_argument, 0, 'b' },   { "queries", required_argument, 0, 'q' },
		{ "gt", required_argument, 0, 'g' },     { "M", required_argument, 0, 'M' },
		{ "opq-iters", required_argument, 0, 'o' }, { "threads", required_argument, 0, 't' },
		{ 0, 0, 0, 0 },
	};
	const char *base = NULL, *queries = NULL, *gtp = NULL;
	uint32_t M = 0, opq = PQ_OPQ_DEFAULT_ITERS, threads = 2, dim, qdim, gk;
	uint64_t n, nq;
	float *x, *q;
	int32_t *gt;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'b': base = optarg; break;
		case 'q': queries = optarg; break;
		case 'g': gtp = optarg; break;
		case 'M': M = (uint32_t)atoi(optarg); break;
		case 'o': opq = (uint32_t)atoi(optarg); break;
		case 't': threads = (uint32_t)atoi(optarg); break;
		default: fprintf(stderr, "usage: bench_opq --base F --queries Q --gt GT --M m\n"); return 2;
		}
	}
	if (!base || !queries || !gtp || !M) {
		fprintf(stderr, "usage: bench_opq --base F --queries Q --gt GT --M m [--opq-iters N]\n");
		return 2;
	}
	if (!(x = read_all(base, &n, &dim)) || !(q = read_all(queries, &nq, &qdim)) || qdim != dim ||
	    !(gt = read_gt(gtp, nq, &gk))) {
		fprintf(stderr, "bench_opq: cannot read the inputs: %s\n", dann_errmsg());
		return 1;
	}
	if ((rc = measure("dann-pq", M, 0, threads, x, n, dim, q, nq, gt, gk)) < 0 ||
	    (rc = measure("dann-opq", M, opq, threads, x, n, dim, q, nq, gt, gk)) < 0) {
		fprintf(stderr, "bench_opq: %s\n", dann_errmsg());
		return 1;
	}
	free(x);
	free(q);
	free(gt);
	return 0;
}
