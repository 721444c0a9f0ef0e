/*
 * test_dix_warm.c — the node cache's visit-count policy (dix_warm.h) and a
 * disk index built with OPQ: the visit-count cache serves more of the
 * searches' reads than breadth-first at the same budget and keeps the
 * recall; an unknown policy is refused; a budget as a fraction of the
 * node file; an OPQ index stores its rotation
 * and searches with recall at least that of plain PQ; the search counts
 * how many co-located nodes of each sector read it uses.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dix_testutil.h"
#include "error.h"
#include "gen.h"
#include "helpers/knn.h"
#include "pq/pq.h"
#include "vf.h"

#define N 4000u
#define DIM 32u
#define NQ 100u
#define BUDGET 300u /* cached nodes: under a tenth of the index */

struct wfx {
	char tmp[PATH_MAX], base[PATH_MAX], queries[PATH_MAX], plain[PATH_MAX], opq[PATH_MAX];
	float *q, *rows;
	uint32_t *gt;
};

static void build_m(const struct wfx *f, const char *out, int opq, uint32_t pq_bytes)
{
	struct dann_build_params p;

	dann_build_params_default(&p);
	p.R = 24;
	p.L = 48;
	p.pq_bytes = pq_bytes;
	p.threads = 2;
	p.opq = opq;
	cr_assert_eq(dann_index_build(f->base, out, &p), 0, "%s", dann_errmsg());
}

/* Coarse codes: where the cache matters. */
static void build(const struct wfx *f, const char *out, int opq)
{
	build_m(f, out, opq, 4);
}

static float *read_rows(const char *path, uint32_t n)
{
	float *x = malloc(sizeof *x * n * DIM);
	struct vf *v;

	cr_assert_not_null(x);
	cr_assert_eq(vf_open(path, &v), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_read_f32(v, 0, n, x), 0, "%s", dann_errmsg());
	vf_close(v);
	return x;
}

static void wfx_make(struct wfx *f)
{
	struct gen_params gp = { .dim = DIM, .seed = 5, .dtype = DANN_DTYPE_F32 };
	struct gen_model *m;

	memset(f, 0, sizeof *f);
	tu_mkdtemp(f->tmp, sizeof f->tmp);
	TU_FMT(f->base, "%s/base.fbin", f->tmp);
	TU_FMT(f->queries, "%s/q.fbin", f->tmp);
	TU_FMT(f->plain, "%s/plain", f->tmp);
	TU_FMT(f->opq, "%s/opq", f->tmp);
	cr_assert_eq(gen_model_new(&gp, &m), 0, "%s", dann_errmsg());
	cr_assert_eq(gen_write(m, GEN_BASE, N, f->base, NULL, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(gen_write(m, GEN_QUERIES, NQ, f->queries, NULL, NULL), 0, "%s", dann_errmsg());
	gen_model_free(m);
	f->q = read_rows(f->queries, NQ);
	f->rows = read_rows(f->base, N);
	cr_assert_not_null(f->gt = malloc(sizeof *f->gt * NQ * 10));
	cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_F32, DIM, f->rows, N, f->q, NQ, 10, f->gt), 0);
}

static void wfx_free(struct wfx *f)
{
	free(f->q);
	free(f->rows);
	free(f->gt);
	tu_rmtree(f->tmp);
}

/* Runs every query at L; returns recall@10, adds up disk reads, keeps ids. */
static double run(struct dann_index *ix, const struct wfx *f, uint32_t L, uint64_t *reads,
		  uint32_t *ids_out)
{
	struct dann_search_params sp;
	struct dann_search_stats st;
	uint32_t ids[10], found;
	float d[10];
	double sum = 0;

	dann_search_params_default(&sp);
	sp.L = L;
	*reads = 0;
	for (uint32_t i = 0; i < NQ; i++) {
		cr_assert_eq(dann_search(ix, f->q + i * DIM, &sp, ids, d, &found, &st), 0, "%s",
			     dann_errmsg());
		cr_assert_eq(found, 10);
		*reads += st.reads;
		sum += knn_recall(f->gt + i * 10, 10, ids, found);
		if (ids_out)
			memcpy(ids_out + i * 10, ids, sizeof ids);
	}
	return sum / NQ;
}

Test(dix_warm, the_visit_count_cache_saves_more_reads_than_breadth_first)
{
	struct wfx f;
	struct dann_open_params none = { 0 };
	struct dann_open_params bfs = { .cache_nodes = BUDGET, .cache_policy = DANN_CACHE_BFS };
	struct dann_open_params vis = { .cache_nodes = BUDGET, .cache_policy = DANN_CACHE_VISITS };
	struct dann_index *ix;
	struct dann_index_info info;
	uint64_t r_none, r_bfs, r_vis;
	double rec_none, rec_vis;

	wfx_make(&f);
	build(&f, f.plain, 0);
	cr_assert_eq(dann_index_open(f.plain, &none, &ix), 0, "%s", dann_errmsg());
	rec_none = run(ix, &f, 40, &r_none, NULL);
	dann_index_close(ix);
	cr_assert_eq(dann_index_open(f.plain, &bfs, &ix), 0, "%s", dann_errmsg());
	run(ix, &f, 40, &r_bfs, NULL);
	dann_index_close(ix);
	cr_assert_eq(dann_index_open(f.plain, &vis, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &info);
	cr_assert_eq(info.cache_nodes, BUDGET);
	rec_vis = run(ix, &f, 40, &r_vis, NULL);
	dann_index_close(ix);
	cr_log_info("reads for %u queries: %llu uncached, %llu breadth-first, %llu visit counts", NQ,
		    (unsigned long long)r_none, (unsigned long long)r_bfs, (unsigned long long)r_vis);
	cr_assert_lt(r_vis, r_bfs, "visit counts %llu reads, breadth-first %llu",
		     (unsigned long long)r_vis, (unsigned long long)r_bfs);
	/* A cached node's sector is not fetched, so its neighbours in the
	 * sector are not expanded with it: the path may differ, the recall
	 * stays. */
	cr_assert_geq(rec_vis, rec_none - 0.02, "recall %.3f cached, %.3f uncached", rec_vis,
		      rec_none);
	wfx_free(&f);
}

Test(dix_warm, an_unknown_cache_policy_is_refused)
{
	struct wfx f;
	struct dann_open_params op = { .cache_nodes = 10, .cache_policy = 7 };
	struct dann_index *ix = NULL;

	wfx_make(&f);
	build(&f, f.plain, 0);
	cr_assert_eq(dann_index_open(f.plain, &op, &ix), DANN_EINVAL);
	cr_assert_null(ix);
	cr_assert_not_null(strstr(dann_errmsg(), "cache policy"), "%s", dann_errmsg());
	wfx_free(&f);
}

/* dann_open_params.cache_frac: a budget of that share of disk.index's
 * bytes, the same cache a byte budget of that size gives; the smallest
 * bound set wins; a fraction outside 0..1 is refused. */
Test(dix_warm, a_cache_fraction_budgets_by_the_node_file)
{
	struct wfx f;
	struct dann_open_params frac = { .cache_frac = 0.05 };
	struct dann_open_params by, both = { .cache_frac = 0.05, .cache_nodes = 10 };
	struct dann_index_info a, b;
	struct dann_index *ix = NULL;
	char path[PATH_MAX + 16];
	const double bad[] = { -0.1, 1.5, NAN };
	struct stat st;
	uint64_t r_none, r_frac;

	wfx_make(&f);
	build(&f, f.plain, 0);
	TU_FMT(path, "%s/disk.index", f.plain);
	cr_assert_eq(stat(path, &st), 0);
	by = (struct dann_open_params){ .cache_bytes = (uint64_t)(0.05 * (double)st.st_size) };
	cr_assert_eq(dann_index_open(f.plain, &frac, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &a);
	r_frac = 0;
	run(ix, &f, 40, &r_frac, NULL);
	dann_index_close(ix);
	cr_assert_eq(dann_index_open(f.plain, &by, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &b);
	dann_index_close(ix);
	cr_assert_gt(a.cache_nodes, 0);
	cr_assert_eq(a.cache_nodes, b.cache_nodes, "fraction %llu nodes, the same bytes %llu",
		     (unsigned long long)a.cache_nodes, (unsigned long long)b.cache_nodes);
	cr_assert_eq(dann_index_open(f.plain, &both, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &b);
	dann_index_close(ix);
	cr_assert_eq(b.cache_nodes, 10);
	cr_assert_eq(dann_index_open(f.plain, NULL, &ix), 0, "%s", dann_errmsg());
	run(ix, &f, 40, &r_none, NULL);
	dann_index_close(ix);
	cr_assert_lt(r_frac, r_none, "cached %llu reads, uncached %llu", (unsigned long long)r_frac,
		     (unsigned long long)r_none);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		frac.cache_frac = bad[i];
		ix = NULL;
		cr_assert_eq(dann_index_open(f.plain, &frac, &ix), DANN_EINVAL);
		cr_assert_null(ix);
		cr_assert_not_null(strstr(dann_errmsg(), "cache fraction"), "%s", dann_errmsg());
	}
	wfx_free(&f);
}

/* On `dann gen` data (a low-rank map of a latent space), OPQ's codes steer
 * the beam search at least as well as plain PQ's at the same L, and the
 * index keeps the rotation in its pivots file. */
Test(dix_warm, an_opq_index_keeps_its_rotation_and_searches_with_recall)
{
	struct wfx f;
	struct dann_index *ix;
	struct dann_index_info info;
	struct pq *pq;
	uint64_t reads_plain, reads_opq;
	double r_plain, r_opq;

	wfx_make(&f);
	/* 4 dims a chunk. With 8 (pq_bytes 4) OPQ measured below PQ on this
	 * small set (0.88 against 0.91 at L 30): 4000 rows are few for 256
	 * centroids of 8 dims. */
	build_m(&f, f.plain, 0, 8);
	build_m(&f, f.opq, 1, 8);
	cr_assert_eq(pq_load(f.opq, 0, &pq), 0, "%s", dann_errmsg());
	cr_assert_not_null(pq_rotation(pq));
	pq_free(pq);
	cr_assert_eq(dann_index_open(f.plain, NULL, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &info);
	cr_assert_eq(info.opq, 0);
	r_plain = run(ix, &f, 12, &reads_plain, NULL);
	dann_index_close(ix);
	cr_assert_eq(dann_index_open(f.opq, NULL, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &info);
	cr_assert_eq(info.opq, 1);
	r_opq = run(ix, &f, 12, &reads_opq, NULL);
	dann_index_close(ix);
	cr_log_info("recall@10 at L 12: PQ %.3f (%llu reads), OPQ %.3f (%llu reads)", r_plain,
		    (unsigned long long)reads_plain, r_opq, (unsigned long long)reads_opq);
	cr_assert_geq(r_opq, 0.85, "OPQ recall %.3f", r_opq);
	cr_assert_geq(r_opq, r_plain - 0.01, "OPQ recall %.3f, PQ %.3f", r_opq, r_plain);
	wfx_free(&f);
}

/* Sector use: every read of the locality layout brings the other nodes of
 * its sector; the search counts them and those it expanded with the read.
 * Without sector expansion there is nothing to count. */
Test(dix_warm, the_search_counts_how_many_co_located_nodes_it_uses)
{
	struct wfx f;
	struct dann_index *ix;
	struct dann_index_info info;
	struct dann_search_params sp;
	struct dann_search_stats st;
	uint64_t reads = 0, peers = 0, used = 0;
	uint32_t ids[10], found;
	float d[10];

	wfx_make(&f);
	build(&f, f.plain, 0);
	cr_assert_eq(dann_index_open(f.plain, NULL, &ix), 0, "%s", dann_errmsg());
	dann_index_info(ix, &info);
	cr_assert(info.locality_order && info.nodes_per_sector > 1);
	dann_search_params_default(&sp);
	sp.L = 40;
	for (uint32_t i = 0; i < NQ; i++) {
		cr_assert_eq(dann_search(ix, f.q + i * DIM, &sp, ids, d, &found, &st), 0, "%s",
			     dann_errmsg());
		cr_assert_leq(st.sector_used, st.sector_peers);
		cr_assert_leq(st.sector_peers, st.reads * (info.nodes_per_sector - 1));
		reads += st.reads;
		peers += st.sector_peers;
		used += st.sector_used;
	}
	cr_log_info("%llu reads brought %llu co-located nodes, %llu used", (unsigned long long)reads,
		    (unsigned long long)peers, (unsigned long long)used);
	cr_assert_gt(used, 0);
	cr_assert_gt(peers, reads); /* several nodes per sector */
	sp.sector_expand = 0;
	cr_assert_eq(dann_search(ix, f.q, &sp, ids, d, &found, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.sector_peers, 0);
	cr_assert_eq(st.sector_used, 0);
	dann_index_close(ix);
	wfx_free(&f);
}
