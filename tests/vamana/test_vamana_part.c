/*
 * test_vamana_part.c — building from a vector file, in one piece and
 * partitioned under a small RAM budget: the merged graph keeps the
 * invariants and its recall stays within 0.01 of the one-piece build.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/error.h"
#include "../engine/vamana/vamana.h"
#include "../engine/vf.h"
#include "helpers/knn.h"

#define DIM 16
#define N 8000u
#define NQ 200u

static char dir[] = "/tmp/vampartXXXXXX";
static char vec_path[256], whole_path[256], part_path[256];
static float *x, *q;

static void setup(void)
{
	uint64_t s = 11;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(vec_path, sizeof vec_path, "%s/base.fbin", dir);
	snprintf(whole_path, sizeof whole_path, "%s/whole.vam", dir);
	snprintf(part_path, sizeof part_path, "%s/part.vam", dir);
	x = malloc(sizeof *x * N * DIM);
	q = malloc(sizeof *q * NQ * DIM);
	/* 40 clusters: partitions then follow real structure, as in use. */
	for (uint32_t i = 0; i < N; i++)
		for (uint32_t j = 0; j < DIM; j++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			float noise = (float)((s >> 40) / 16777216.0) - 0.5f;
			x[i * DIM + j] = (float)((i % 40) * 7 % 13) * (j % 3 == (i % 40) % 3) + 6 * noise;
		}
	for (uint32_t i = 0; i < NQ * DIM; i++)
		q[i] = x[(i / DIM * 37 % N) * DIM + i % DIM] + 0.05f;
	cr_assert_eq(vf_write_file(vec_path, DIM, x, N), 0, "%s", dann_errmsg());
}

static void teardown(void)
{
	unlink(vec_path);
	unlink(whole_path);
	unlink(part_path);
	rmdir(dir);
	free(x);
	free(q);
}

static double recall_of(const char *graph, const uint32_t *gt, uint32_t L)
{
	struct vam *v;
	struct vam_stats st;
	uint32_t ids[10], found;
	float d[10];
	double sum = 0;

	cr_assert_eq(vam_load(graph, DANN_METRIC_L2, DANN_DTYPE_F32, DIM, x, N, NULL, &v), 0, "%s",
		     dann_errmsg());
	cr_assert_eq(vam_check(v, &st), 0);
	cr_expect_eq(st.self_loops + st.duplicate_edges + st.bad_ids, 0, "%s", graph);
	cr_expect_eq(st.unreachable, 0, "%s: %llu unreachable", graph, (unsigned long long)st.unreachable);
	for (uint32_t i = 0; i < NQ; i++) {
		cr_assert_eq(vam_search(v, q + i * DIM, 10, L, NULL, ids, d, &found, NULL), 0);
		sum += knn_recall(gt + i * 10, 10, ids, found);
	}
	vam_free(v);
	return sum / NQ;
}

TestSuite(vamana_part, .init = setup, .fini = teardown);

Test(vamana_part, partitioned_build_matches_whole_build_recall)
{
	struct vam_params p;
	struct vam_file_stats ws, ps;
	uint32_t *gt = malloc(sizeof *gt * NQ * 10);
	uint64_t budget;

	vam_params_default(&p);
	p.R = 32;
	p.L = 64;
	p.threads = 2;
	cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_F32, DIM, x, N, q, NQ, 10, gt), 0);
	cr_assert_eq(vam_build_file(vec_path, DANN_METRIC_L2, &p, 0, NULL, whole_path, &ws), 0, "%s",
		     dann_errmsg());
	cr_expect_eq(ws.shards, 0);
	/* A quarter of what the whole build needs: about a dozen shards. */
	budget = vam_build_bytes(N, DIM, DANN_DTYPE_F32, DANN_METRIC_L2, &p) / 4;
	cr_assert_eq(vam_build_file(vec_path, DANN_METRIC_L2, &p, budget, dir, part_path, &ps), 0, "%s",
		     dann_errmsg());
	cr_expect_geq(ps.shards, 8);
	cr_expect_leq(vam_build_bytes(ps.max_shard_points, DIM, DANN_DTYPE_F32, DANN_METRIC_L2, &p), budget);
	for (uint32_t L = 15; L <= 45; L += 15) {
		double rw = recall_of(whole_path, gt, L), rp = recall_of(part_path, gt, L);
		cr_log_info("recall@10 at L %u: whole %.4f, partitioned %.4f (%u shards of <= %llu, "
			    "%llu unions over R)", L, rw, rp, ps.shards,
			    (unsigned long long)ps.max_shard_points, (unsigned long long)ps.truncated);
		cr_expect_geq(rp, rw - 0.01, "L %u: partitioned recall %.4f, whole %.4f", L, rp, rw);
	}
	free(gt);
}

Test(vamana_part, rejects_a_budget_too_small_and_a_missing_file)
{
	struct vam_params p;

	vam_params_default(&p);
	cr_expect_eq(vam_build_file(vec_path, DANN_METRIC_L2, &p, 1000, dir, part_path, NULL), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "too small"), "%s", dann_errmsg());
	cr_expect_neq(access(part_path, F_OK), 0, "no graph file may be left behind");
	cr_expect_lt(vam_build_file("/nonexistent/x.fbin", DANN_METRIC_L2, &p, 0, NULL, part_path, NULL), 0);
	cr_expect(strstr(dann_errmsg(), "/nonexistent/x.fbin"), "%s", dann_errmsg());
}
