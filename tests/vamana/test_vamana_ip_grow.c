/*
 * test_vamana_ip_grow.c — inner product on an index that starts empty and
 * grows by inserts (a growing segment): the MIPS reduction's norm bound
 * must follow the largest point seen, not the first one, or the points
 * beyond it fall out of the reduction and inner-product recall collapses.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "../engine/error.h"
#include "../engine/vamana/vamana.h"
#include "helpers/knn.h"

#define DIM 16
#define N 3000
#define NQ 100

/* Random directions with norms growing along the rows (0.05 .. 5): the
 * first point has the smallest norm, as a growing segment may well see. */
static float *growing_norms(uint32_t n, unsigned seed)
{
	float *x = malloc(sizeof *x * n * DIM);

	for (uint32_t i = 0; i < n; i++) {
		float s = 0, want = 0.05f + 4.95f * (float)i / (float)n;
		for (int j = 0; j < DIM; j++) {
			x[i * DIM + j] = (float)(rand_r(&seed) % 2001) / 1000.0f - 1;
			s += x[i * DIM + j] * x[i * DIM + j];
		}
		for (int j = 0; j < DIM; j++)
			x[i * DIM + j] *= want / sqrtf(s);
	}
	return x;
}

static double ip_recall(struct vam *v, const float *x, const float *q)
{
	uint32_t *gt = malloc(sizeof *gt * NQ * 10), ids[10], found;
	float d[10];
	double sum = 0;

	cr_assert_eq(knn_exact(DANN_METRIC_IP, DANN_DTYPE_F32, DIM, x, N, q, NQ, 10, gt), 0);
	for (uint32_t i = 0; i < NQ; i++) {
		cr_assert_eq(vam_search(v, q + i * DIM, 10, 60, NULL, ids, d, &found, NULL), 0, "%s",
			     dann_errmsg());
		sum += knn_recall(gt + i * 10, 10, ids, found);
	}
	free(gt);
	return sum / NQ;
}

static struct vam_params params(void)
{
	struct vam_params p;

	vam_params_default(&p);
	p.R = 24;
	p.L = 48;
	p.threads = 1;
	return p;
}

Test(vamana_ip_grow, an_empty_ip_index_grown_by_larger_points_keeps_its_recall)
{
	float *x = growing_norms(N, 1), *q = growing_norms(NQ, 2);
	struct vam_params p = params();
	struct vam *whole, *grown;
	double rw, rg;
	uint32_t id;

	cr_assert_eq(vam_build(DANN_METRIC_IP, DANN_DTYPE_F32, DIM, x, N, &p, &whole), 0, "%s",
		     dann_errmsg());
	cr_assert_eq(vam_build(DANN_METRIC_IP, DANN_DTYPE_F32, DIM, NULL, 0, &p, &grown), 0, "%s",
		     dann_errmsg());
	/* One by one, then in batches: both paths must raise the bound. */
	for (uint32_t i = 0; i < N / 2; i++)
		cr_assert_eq(vam_insert(grown, x + i * DIM, &id), 0, "%s", dann_errmsg());
	for (uint32_t i = N / 2; i < N; i += 100)
		cr_assert_eq(vam_insert_batch(grown, x + i * DIM, 100, &id), 0, "%s", dann_errmsg());
	rw = ip_recall(whole, x, q);
	rg = ip_recall(grown, x, q);
	cr_log_info("ip recall@10 at L 60: built whole %.4f, grown from empty %.4f", rw, rg);
	cr_assert_geq(rg, rw - 0.03, "grown %.4f, whole %.4f", rg, rw);
	vam_free(whole);
	vam_free(grown);
	free(x);
	free(q);
}
