/*
 * test_dix_shuffle.c — the block-shuffled node order (--order shuffle)
 * and the in-block search (sector expansion EXACT): the order is a
 * permutation with at least the locality order's same-sector edges, the
 * same from a graph in RAM as from a graph file read by pread; a shuffled
 * index searches with the locality index's recall; EXACT returns the true
 * neighbours, each once; bad values are refused by name.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dann.h"
#include "dix_testutil.h"
#include "error.h"
#include "helpers/cli.h"
#include "helpers/knn.h"
#include "vamana/dix_graph.h"
#include "vamana/dix_write.h"
#include "vamana/vam_file.h"
#include "vamana/vamana.h"
#include "vf.h"

#define DIM 24
#define NQ 50

/* ---- the order alone ------------------------------------------------------ */

/* A graph with structure hidden by a random relabelling: the nodes of a
 * side x side torus, each linked to its 8 surrounding nodes (R = 8), so
 * the plain order packs almost no edge and a good order packs compact
 * patches, which a greedy fill only approximates. */
static void grid_graph(uint32_t side, uint32_t R, uint32_t *nbrs, uint32_t *degree)
{
	uint64_t n = (uint64_t)side * side;
	uint32_t *p = malloc(sizeof *p * n);
	unsigned seed = 5;

	for (uint64_t i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = (uint64_t)rand_r(&seed) % (i + 1);
		uint32_t t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
	for (uint32_t y = 0; y < side; y++)
		for (uint32_t x = 0; x < side; x++) {
			uint32_t u = p[y * side + x], d = 0;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					uint32_t yy = (y + side + (uint32_t)dy) % side;
					uint32_t xx = (x + side + (uint32_t)dx) % side;
					if (dx || dy)
						nbrs[(uint64_t)u * R + d++] = p[yy * side + xx];
				}
			degree[u] = d;
		}
	free(p);
}

static uint64_t same_sector_edges(const uint32_t *nbrs, const uint32_t *degree, uint64_t n,
				  uint32_t R, uint32_t nps, const uint32_t *slot_of)
{
	uint64_t e = 0;

	for (uint64_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < degree[i]; j++)
			e += slot_of[i] / nps == slot_of[nbrs[i * R + j]] / nps;
	return e;
}

static void assert_permutation(const uint32_t *slot_of, uint64_t n)
{
	uint8_t *used = calloc(n, 1);

	for (uint64_t i = 0; i < n; i++) {
		cr_assert_lt(slot_of[i], n, "node %llu in slot %u", (unsigned long long)i, slot_of[i]);
		cr_assert_eq(used[slot_of[i]], 0, "slot %u used twice", slot_of[i]);
		used[slot_of[i]] = 1;
	}
	free(used);
}

Test(dix_shuffle, the_order_is_a_permutation_with_more_same_sector_edges_than_locality)
{
	const uint32_t side = 71, R = 8, nps = 7;
	const uint64_t n = side * side; /* 5041: the last sector is partly filled */
	uint32_t *nbrs = malloc(sizeof *nbrs * n * R), *degree = malloc(sizeof *degree * n);
	uint32_t *loc = malloc(sizeof *loc * n), *shuf = malloc(sizeof *shuf * n);
	struct dix_graph g;
	uint64_t e_loc, e_shuf, e_plain = 0;

	grid_graph(side, R, nbrs, degree);
	g = (struct dix_graph){ .n = n, .R = R, .nbrs = nbrs, .degree = degree, .n_entry = 1,
				.entry = { 17 } };
	cr_assert_eq(dix_order_locality(&g, nps, loc), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_order_shuffle(&g, nps, NULL, shuf), 0, "%s", dann_errmsg());
	assert_permutation(shuf, n);
	e_loc = same_sector_edges(nbrs, degree, n, R, nps, loc);
	e_shuf = same_sector_edges(nbrs, degree, n, R, nps, shuf);
	for (uint64_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < degree[i]; j++)
			e_plain += i / nps == nbrs[i * R + j] / nps;
	/* Every swap only adds same-sector edges, and the greedy pass leaves
	 * patches that swaps can make more compact. */
	cr_assert_gt(e_shuf, e_loc, "shuffle %llu vs locality %llu same-sector edges",
		     (unsigned long long)e_shuf, (unsigned long long)e_loc);
	cr_assert_gt(e_loc, 10 * e_plain);
	cr_log_info("same-sector edges: plain %llu, locality %llu, shuffle %llu of %llu",
		    (unsigned long long)e_plain, (unsigned long long)e_loc, (unsigned long long)e_shuf,
		    (unsigned long long)n * R);
	free(nbrs);
	free(degree);
	free(loc);
	free(shuf);
}

Test(dix_shuffle, a_graph_file_read_by_pread_gives_the_order_of_the_graph_in_ram)
{
	const uint32_t side = 53, R = 8, nps = 5;
	const uint64_t n = side * side;
	uint32_t *nbrs = malloc(sizeof *nbrs * n * R), *degree = malloc(sizeof *degree * n);
	uint32_t *a = malloc(sizeof *a * n), *b = malloc(sizeof *b * n);
	struct vam_file_header h = { .R = R, .n = n, .medoid = 100, .metric = DANN_METRIC_L2,
				     .dtype = DANN_DTYPE_U8, .dim = 4 };
	struct dix_graph mem, file;
	struct vam_gw *w;
	char tmp[256], path[512];

	tu_mkdtemp(tmp, sizeof tmp);
	TU_FMT(path, "%s/graph.bin", tmp);
	grid_graph(side, R, nbrs, degree);
	cr_assert_eq(vam_gw_create(path, &h, &w), 0, "%s", dann_errmsg());
	cr_assert_eq(vam_gw_put(w, 0, n, degree, nbrs), 0, "%s", dann_errmsg());
	cr_assert_eq(vam_gw_close(w), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_graph_open_file(path, n, 4, &file), 0, "%s", dann_errmsg());
	mem = (struct dix_graph){ .n = n, .R = R, .nbrs = nbrs, .degree = degree, .n_entry = 1,
				  .entry = { 100 } };
	cr_assert_eq(dix_order_shuffle(&mem, nps, NULL, a), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_order_shuffle(&file, nps, NULL, b), 0, "%s", dann_errmsg());
	/* This grid converges in fewer passes than a file's row budget
	 * allows, so both runs make the same swaps. */
	cr_assert_eq(memcmp(a, b, sizeof *a * n), 0, "the two orders differ");
	assert_permutation(b, n);
	dix_graph_close(&file);
	tu_rmtree(tmp);
	free(nbrs);
	free(degree);
	free(a);
	free(b);
}

/* ---- indexes searched ----------------------------------------------------- */

struct fx {
	char tmp[256];
	char data[512], dir[512];
	float *x, *q;
	uint32_t n, dim;
};

/* 20 Gaussian blobs, so the graph has structure to find. */
static void blobs(float *x, uint32_t n, uint32_t dim, unsigned seed)
{
	float centres[20][DIM];

	for (int c = 0; c < 20; c++)
		for (uint32_t d = 0; d < dim; d++)
			centres[c][d] = (float)(rand_r(&seed) % 2000) / 100.0f;
	for (uint32_t i = 0; i < n; i++) {
		int c = rand_r(&seed) % 20;
		for (uint32_t d = 0; d < dim; d++) {
			float u1 = ((float)rand_r(&seed) + 1) / ((float)RAND_MAX + 2);
			float u2 = ((float)rand_r(&seed) + 1) / ((float)RAND_MAX + 2);
			x[i * dim + d] = centres[c][d] + sqrtf(-2 * logf(u1)) * cosf(6.2831853f * u2);
		}
	}
}

static void fx_data(struct fx *f, uint32_t n, uint32_t dim)
{
	memset(f, 0, sizeof *f);
	tu_mkdtemp(f->tmp, sizeof f->tmp);
	TU_FMT(f->data, "%s/data.fbin", f->tmp);
	f->n = n;
	f->dim = dim;
	f->x = malloc(sizeof *f->x * n * dim);
	f->q = malloc(sizeof *f->q * NQ * dim);
	blobs(f->x, n, dim, 11);
	blobs(f->q, NQ, dim, 12);
	cr_assert_eq(vf_write_file(f->data, dim, f->x, n), 0, "%s", dann_errmsg());
	setenv("OMP_WAIT_POLICY", "passive", 0);
}

static void fx_build(struct fx *f, const char *order)
{
	char *err = NULL;

	TU_FMT(f->dir, "%s/index-%s", f->tmp, order);
	cr_assert_eq(cli_run(NULL, &err, "build", "--data", f->data, "--out", f->dir, "-R", "24",
			     "-L", "48", "--pq-bytes", "8", "--threads", "1", "--order", order, NULL),
		     0, "dann build --order %s: %s", order, err);
	free(err);
}

static void fx_free(struct fx *f)
{
	tu_rmtree(f->tmp);
	free(f->x);
	free(f->q);
}

struct answers {
	uint32_t ids[NQ * 64];
	float dists[NQ * 64];
	uint32_t found[NQ];
	struct dann_search_stats st[NQ];
};

static void search(const char *dir, const float *q, const struct dann_search_params *p,
		   struct answers *a)
{
	struct dann_index *ix = NULL;

	memset(a, 0, sizeof *a);
	cr_assert_eq(dann_index_open(dir, NULL, &ix), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_search_batch(ix, q, NQ, p, a->ids, a->dists, a->found, a->st), 0, "%s",
		     dann_errmsg());
	dann_index_close(ix);
}

static double recall(const uint32_t *gt, const struct answers *a, uint32_t k)
{
	double r = 0;

	for (uint32_t i = 0; i < NQ; i++)
		r += knn_recall(gt + i * k, k, a->ids + i * k, a->found[i]);
	return r / NQ;
}

/* Every query's answers: distinct ids, ascending distances. */
static void assert_well_formed(const struct answers *a, uint32_t k)
{
	for (uint32_t i = 0; i < NQ; i++)
		for (uint32_t j = 0; j < a->found[i]; j++) {
			if (j)
				cr_assert_leq(a->dists[i * k + j - 1], a->dists[i * k + j]);
			for (uint32_t m = 0; m < j; m++)
				cr_assert_neq(a->ids[i * k + m], a->ids[i * k + j],
					      "query %u returns id %u twice", i, a->ids[i * k + j]);
		}
}

Test(dix_shuffle, a_shuffled_index_searches_with_the_recall_of_the_locality_index)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers a, b;
	static uint32_t gt[NQ * 10];
	struct dann_index *ix = NULL;
	struct dann_index_info info;
	char loc[512];
	double r_loc, r_shuf;

	fx_data(&f, 2000, DIM);
	fx_build(&f, "locality");
	TU_FMT(loc, "%s", f.dir);
	fx_build(&f, "shuffle");
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_index_info(ix, &info), 0);
	cr_assert_eq(info.locality_order, DANN_ORDER_SHUFFLE);
	dann_index_close(ix);
	cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_F32, DIM, f.x, f.n, f.q, NQ, 10, gt), 0);
	dann_search_params_default(&p);
	p.L = 64;
	search(loc, f.q, &p, &a);
	search(f.dir, f.q, &p, &b);
	r_loc = recall(gt, &a, 10);
	r_shuf = recall(gt, &b, 10);
	/* Same graph (one build thread), other slots: the answers may move
	 * by a rank where sector expansion differs, not more. Measured 1.000
	 * and 1.000. */
	cr_assert_geq(r_shuf, 0.95, "shuffle recall@10 %.3f (locality %.3f)", r_shuf, r_loc);
	cr_assert_geq(r_shuf, r_loc - 0.02, "shuffle %.3f vs locality %.3f", r_shuf, r_loc);
	assert_well_formed(&b, 10);
	fx_free(&f);
}

Test(dix_shuffle, exact_sector_expansion_returns_the_true_neighbours_each_once)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers a;
	static uint32_t gt[NQ * 10];
	uint64_t used = 0, peers = 0;
	double r;

	fx_data(&f, 400, 16); /* 164-byte records (R 24): 24 a sector */
	fx_build(&f, "shuffle");
	cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_F32, 16, f.x, f.n, f.q, NQ, 10, gt), 0);
	dann_search_params_default(&p);
	p.sector_expand = DANN_SECTOR_EXACT;
	p.L = 400; /* every node is reached: the answers are exact */
	search(f.dir, f.q, &p, &a);
	r = recall(gt, &a, 10);
	cr_assert_eq(r, 1.0, "recall@10 %.3f at L = n", r);
	for (uint32_t i = 0; i < NQ; i++)
		for (uint32_t j = 0; j < 10; j++) {
			const float *x = f.x + (uint64_t)a.ids[i * 10 + j] * 16, *q = f.q + i * 16;
			float d = 0;
			for (int e = 0; e < 16; e++)
				d += (q[e] - x[e]) * (q[e] - x[e]);
			cr_assert_float_eq(a.dists[i * 10 + j], d, 1e-3f * (1 + d));
		}
	assert_well_formed(&a, 10);
	/* A small list, where a sector's peers are pushed into the results
	 * without being expanded, and some were expanded before: still each
	 * id once. */
	p.L = 10;
	search(f.dir, f.q, &p, &a);
	assert_well_formed(&a, 10);
	for (uint32_t i = 0; i < NQ; i++) {
		used += a.st[i].sector_used;
		peers += a.st[i].sector_peers;
	}
	cr_assert_gt(peers, 0);
	cr_assert_gt(used, 0);
	cr_assert_geq(recall(gt, &a, 10), 0.5, "L 10 with 24 nodes a sector");
	fx_free(&f);
}

Test(dix_shuffle, beam_nodes_in_one_sector_share_its_read)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers on, off;
	static uint32_t gt[NQ * 10];
	uint64_t reads_on = 0, reads_off = 0;

	fx_data(&f, 60, 16); /* 164-byte records (R 24), 24 a sector: three sectors */
	fx_build(&f, "locality");
	cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_F32, 16, f.x, f.n, f.q, NQ, 10, gt), 0);
	dann_search_params_default(&p);
	p.L = 60;
	p.sector_expand = DANN_SECTOR_ON;
	search(f.dir, f.q, &p, &on);
	p.sector_expand = DANN_SECTOR_OFF;
	search(f.dir, f.q, &p, &off);
	cr_assert_eq(recall(gt, &on, 10), 1.0);
	assert_well_formed(&on, 10);
	for (uint32_t i = 0; i < NQ; i++) {
		/* A sector is read once: its beam nodes share the read and its
		 * other nodes are expanded with it (the list holds all 60). */
		cr_assert_leq(on.st[i].reads, 3, "query %u read %u sectors of 3", i, on.st[i].reads);
		reads_on += on.st[i].reads;
		reads_off += off.st[i].reads;
	}
	cr_assert_gt(reads_off, 10 * reads_on, "off %llu, on %llu reads", (unsigned long long)reads_off,
		     (unsigned long long)reads_on);
	fx_free(&f);
}

Test(dix_shuffle, bad_order_and_sector_expansion_values_are_refused_by_name)
{
	struct fx f;
	struct dann_search_params p;
	struct dann_build_params bp;
	struct dann_index *ix = NULL;
	uint32_t ids[10], found;
	float dists[10];
	char *err = NULL, out[512];

	fx_data(&f, 300, DIM);
	fx_build(&f, "shuffle");
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&p);
	for (int v = -3; v <= 4; v += 7) { /* -3 and 4 */
		p.sector_expand = v;
		cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, &found, NULL), DANN_EINVAL);
		cr_assert_not_null(strstr(dann_errmsg(), "sector expansion"), "%s", dann_errmsg());
	}
	dann_index_close(ix);
	dann_build_params_default(&bp);
	bp.locality_order = 3;
	TU_FMT(out, "%s/never", f.tmp);
	cr_assert_eq(dann_index_build(f.data, out, &bp), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "node order"), "%s", dann_errmsg());
	cr_assert_eq(access(out, F_OK), -1, "a refused build leaves nothing");
	cr_assert_eq(cli_run(NULL, &err, "build", "--data", f.data, "--out", out, "--order",
			     "diagonal", NULL),
		     2);
	cr_assert_not_null(strstr(err, "expected locality, shuffle or plain"), "%s", err);
	free(err);
	err = NULL;
	cr_assert_eq(cli_run(NULL, &err, "search", "--index", f.dir, "--queries", f.data,
			     "--sector-expand", "maybe", NULL),
		     2);
	cr_assert_not_null(strstr(err, "expected auto, on, exact or off"), "%s", err);
	free(err);
	fx_free(&f);
}
