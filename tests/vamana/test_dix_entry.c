/*
 * test_dix_entry.c — entry points from RAM (dix_entry.h): the build keeps
 * an in-memory graph over a sample of the points, the open loads it, and
 * the search starts from the sample points nearest the query; an index
 * without one searches from the medoid; a damaged entry file is an error
 * naming it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dix_testutil.h"
#include "error.h"
#include "gen.h"
#include "helpers/knn.h"
#include "vamana/dix_entry.h"
#include "vf.h"

#define N 4000u
#define DIM 24u
#define NQ 100u
#define SAMPLE 400u

struct efx {
	char tmp[PATH_MAX], base[PATH_MAX], queries[PATH_MAX], with[PATH_MAX], without[PATH_MAX];
	float *q;
	float *rows;
};

static void build(const struct efx *f, const char *out, uint64_t sample)
{
	struct dann_build_params p;

	dann_build_params_default(&p);
	p.R = 24;
	p.L = 48;
	p.pq_bytes = 4; /* coarse PQ: the start matters more */
	p.threads = 2;
	p.entry_sample = sample;
	cr_assert_eq(dann_index_build(f->base, out, &p), 0, "%s", dann_errmsg());
}

static void efx_make(struct efx *f)
{
	struct gen_params gp = { .dim = DIM, .seed = 3, .dtype = DANN_DTYPE_F32 };
	struct gen_model *m;
	struct vf *v;

	memset(f, 0, sizeof *f);
	tu_mkdtemp(f->tmp, sizeof f->tmp);
	TU_FMT(f->base, "%s/base.fbin", f->tmp);
	TU_FMT(f->queries, "%s/q.fbin", f->tmp);
	TU_FMT(f->with, "%s/with", f->tmp);
	TU_FMT(f->without, "%s/without", f->tmp);
	cr_assert_eq(gen_model_new(&gp, &m), 0, "%s", dann_errmsg());
	cr_assert_eq(gen_write(m, GEN_BASE, N, f->base, NULL, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(gen_write(m, GEN_QUERIES, NQ, f->queries, NULL, NULL), 0, "%s", dann_errmsg());
	gen_model_free(m);
	cr_assert_not_null(f->q = malloc(sizeof *f->q * NQ * DIM));
	cr_assert_not_null(f->rows = malloc(sizeof *f->rows * N * DIM));
	cr_assert_eq(vf_open(f->queries, &v), 0);
	cr_assert_eq(vf_read_f32(v, 0, NQ, f->q), 0);
	vf_close(v);
	cr_assert_eq(vf_open(f->base, &v), 0);
	cr_assert_eq(vf_read_f32(v, 0, N, f->rows), 0);
	vf_close(v);
}

static void efx_free(struct efx *f)
{
	free(f->q);
	free(f->rows);
	tu_rmtree(f->tmp);
}

/* Mean recall@10 of the queries against brute force. */
static double recall(struct dann_index *ix, const struct efx *f, int seeds, uint32_t L)
{
	struct dann_search_params sp;
	uint32_t *gt = malloc(sizeof *gt * NQ * 10), ids[10], found;
	float d[10];
	double sum = 0;

	cr_assert_not_null(gt);
	cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_F32, DIM, f->rows, N, f->q, NQ, 10, gt), 0);

	dann_search_params_default(&sp);
	sp.L = L;
	sp.entry_seeds = seeds;
	for (uint32_t i = 0; i < NQ; i++) {
		cr_assert_eq(dann_search(ix, f->q + i * DIM, &sp, ids, d, &found, NULL), 0, "%s",
			     dann_errmsg());
		sum += knn_recall(gt + i * 10, 10, ids, found);
	}
	free(gt);
	return sum / NQ;
}

Test(dix_entry, the_build_keeps_a_sample_graph_that_the_open_loads)
{
	struct efx f;
	struct dann_index *ix;
	struct dann_index_info info;
	double r_seeded, r_medoid;

	efx_make(&f);
	build(&f, f.with, SAMPLE);
	cr_assert_eq(dann_index_open(f.with, NULL, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &info);
	cr_assert_eq(info.entry_points, SAMPLE);
	r_seeded = recall(ix, &f, -1, 20);
	r_medoid = recall(ix, &f, 0, 20);
	cr_log_info("recall@10 at L 20: %.3f seeded, %.3f from the medoid", r_seeded, r_medoid);
	cr_expect_geq(r_seeded, 0.85, "seeded search recall %.3f", r_seeded);
	cr_expect_geq(r_medoid, 0.85, "medoid search recall %.3f", r_medoid);
	dann_index_close(ix);
	efx_free(&f);
}

/* A query equal to a sampled point: the seeds start at that point itself,
 * so even with a list of one it is read (distance 0) and returned. */
Test(dix_entry, a_query_at_a_sampled_point_starts_there)
{
	struct efx f;
	struct dann_index *ix;
	struct dann_search_params sp;
	uint32_t *sample = NULL, id, found;
	float d;
	char path[PATH_MAX];
	FILE *fp;

	efx_make(&f);
	build(&f, f.with, SAMPLE);
	TU_FMT(path, "%s/%s", f.with, DIX_ENTRY_FILE);
	cr_assert_not_null(fp = fopen(path, "rb"));
	cr_assert_not_null(sample = malloc(sizeof *sample * SAMPLE));
	cr_assert_eq(fread(sample, sizeof *sample, SAMPLE, fp), SAMPLE);
	fclose(fp);
	cr_assert_eq(dann_index_open(f.with, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&sp);
	sp.k = 1;
	sp.L = 1;
	sp.W = 1;
	sp.entry_seeds = 1;
	for (uint32_t i = 0; i < SAMPLE; i += 7) {
		cr_assert_lt(sample[i], N);
		cr_assert_eq(dann_search(ix, f.rows + (uint64_t)sample[i] * DIM, &sp, &id, &d, &found, NULL),
			     0, "%s", dann_errmsg());
		cr_assert_eq(found, 1);
		cr_assert_eq(d, 0.0f, "sample point %u (id %u): nearest found %u at %g", i, sample[i], id, d);
	}
	dann_index_close(ix);
	free(sample);
	efx_free(&f);
}

Test(dix_entry, an_index_without_an_entry_graph_searches_from_the_medoid)
{
	struct efx f;
	struct dann_index *ix;
	struct dann_index_info info;
	char path[PATH_MAX];

	efx_make(&f);
	build(&f, f.without, 0);
	TU_FMT(path, "%s/%s", f.without, DIX_ENTRY_FILE);
	cr_assert_neq(access(path, F_OK), 0, "no %s without a sample", DIX_ENTRY_FILE);
	cr_assert_eq(dann_index_open(f.without, NULL, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &info);
	cr_assert_eq(info.entry_points, 0);
	cr_expect_geq(recall(ix, &f, -1, 40), 0.85);
	dann_index_close(ix);
	efx_free(&f);
}

Test(dix_entry, a_damaged_entry_file_is_refused_naming_it)
{
	struct efx f;
	struct dann_index *ix = NULL;

	efx_make(&f);
	build(&f, f.with, SAMPLE);
	tu_flip_byte(f.with, DIX_ENTRY_FILE, 9);
	cr_assert_eq(dann_index_open(f.with, NULL, &ix), DANN_ECORRUPT);
	cr_assert_null(ix);
	cr_assert_not_null(strstr(dann_errmsg(), DIX_ENTRY_FILE), "%s", dann_errmsg());
	efx_free(&f);
}

Test(dix_entry, entry_seeds_out_of_range_is_refused)
{
	struct efx f;
	struct dann_index *ix;
	struct dann_search_params sp;
	uint32_t id, found;
	float d;

	efx_make(&f);
	build(&f, f.with, SAMPLE);
	cr_assert_eq(dann_index_open(f.with, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&sp);
	sp.k = 1;
	sp.entry_seeds = 65;
	cr_assert_eq(dann_search(ix, f.q, &sp, &id, &d, &found, NULL), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "entry seeds"), "%s", dann_errmsg());
	dann_index_close(ix);
	efx_free(&f);
}

/* The node cache holds the sample first (after the medoid): a seeded
 * search's first round, the seeds themselves, is then served from RAM. */
Test(dix_entry, the_node_cache_holds_the_sample_points)
{
	struct efx f;
	struct dann_index *ix;
	struct dann_open_params op = { .cache_nodes = SAMPLE + 1 };
	struct dann_search_params sp;
	struct dann_search_stats st;
	uint32_t *sample = NULL, id, found;
	float d;
	char path[PATH_MAX];
	FILE *fp;

	efx_make(&f);
	build(&f, f.with, SAMPLE);
	TU_FMT(path, "%s/%s", f.with, DIX_ENTRY_FILE);
	cr_assert_not_null(fp = fopen(path, "rb"));
	cr_assert_not_null(sample = malloc(sizeof *sample * SAMPLE));
	cr_assert_eq(fread(sample, sizeof *sample, SAMPLE, fp), SAMPLE);
	fclose(fp);
	cr_assert_eq(dann_index_open(f.with, &op, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&sp);
	sp.k = 1;
	sp.L = 1;
	sp.W = 1;
	sp.entry_seeds = 1;
	for (uint32_t i = 0; i < SAMPLE; i += 7) {
		cr_assert_eq(dann_search(ix, f.rows + (uint64_t)sample[i] * DIM, &sp, &id, &d, &found, &st),
			     0, "%s", dann_errmsg());
		cr_assert_geq(st.cache_hits, 1, "sample point %u (id %u): its seed was not cached", i,
			      sample[i]);
	}
	dann_index_close(ix);
	free(sample);
	efx_free(&f);
}
