/*
 * test_gt.c — exact ground truth against a naive brute force with the
 * scalar kernels, over every metric and element type, with ties, k at its
 * limits and base blocks smaller than the base; the file form and the
 * `dann gt` command's errors.
 *
 * DANN_SIMD=scalar is set before anything runs, so gt's re-scoring kernel is
 * the scalar reference too and the answers must match exactly, ids and
 * distances, ties included (the smaller id wins).
 */
#include <cblas.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dist.h"
#include "error.h"
#include "gt.h"
#include "topk.h"
#include "vf.h"
#include "helpers/tmpdir.h"

static void force_scalar(void)
{
	setenv("DANN_SIMD", "scalar", 1);
}

TestSuite(gt, .init = force_scalar);

struct mem_base {
	const void *rows;
	size_t row_bytes;
	int reads;
};

static int mem_read(void *ctx, uint64_t first, uint64_t n, void *dst)
{
	struct mem_base *m = ctx;

	m->reads++;
	memcpy(dst, (const char *)m->rows + first * m->row_bytes, n * m->row_bytes);
	return 0;
}

static struct gt_base mem_base(struct mem_base *m, const void *rows, uint64_t count, uint32_t dim,
			       enum dann_dtype t)
{
	m->rows = rows;
	m->row_bytes = dim * dann_dtype_size(t);
	m->reads = 0;
	return (struct gt_base){ .count = count, .dim = dim, .dtype = t, .read = mem_read, .ctx = m };
}

/* Random rows of type t; `levels` > 0 draws from that few values, so that
 * many distances tie; a share of rows are copies of earlier ones and a few
 * are zero. */
static void *random_rows(enum dann_dtype t, uint64_t n, uint32_t dim, int levels, unsigned seed)
{
	size_t esz = dann_dtype_size(t);
	unsigned char *p = malloc(n * dim * esz);

	cr_assert_not_null(p);
	for (uint64_t i = 0; i < n * dim; i++) {
		int r = rand_r(&seed);
		if (t == DANN_DTYPE_F32)
			((float *)p)[i] = levels ? (float)(r % levels) : (float)r / RAND_MAX * 4 - 2;
		else if (t == DANN_DTYPE_U8)
			p[i] = (unsigned char)(levels ? r % levels : r % 256);
		else
			((int8_t *)p)[i] = (int8_t)(levels ? r % levels - levels / 2 : r % 256 - 128);
	}
	for (uint64_t i = 5; i < n; i += 7) /* duplicates: exact ties */
		memcpy(p + i * dim * esz, p + (i / 2) * dim * esz, dim * esz);
	if (n > 3)
		memset(p + 3 * dim * esz, 0, dim * esz);
	return p;
}

/* The oracle: every base row scored by the scalar kernel, kept by topk. */
static void brute_force(const void *base, enum dann_dtype bt, uint64_t nb, const void *q,
			enum dann_dtype qt, uint64_t nq, uint32_t dim, enum dann_metric m, uint32_t k,
			uint32_t *ids, float *dists)
{
	float *qf = NULL;
	const void *qx = q;
	enum dann_dtype kq = qt;
	size_t qrow = dim * dann_dtype_size(qt), brow = dim * dann_dtype_size(bt);
	struct topk h;

	if (qt != bt) {
		qf = malloc(sizeof *qf * nq * dim);
		for (uint64_t i = 0; i < nq * dim; i++)
			qf[i] = qt == DANN_DTYPE_F32 ? ((const float *)q)[i]
				: qt == DANN_DTYPE_U8 ? ((const uint8_t *)q)[i]
						      : ((const int8_t *)q)[i];
		qx = qf;
		kq = DANN_DTYPE_F32;
		qrow = dim * sizeof(float);
	}
	dist_fn f = dist_kernel_at(DIST_SCALAR, m, kq, bt);
	cr_assert_not_null(f);
	cr_assert_eq(topk_init(&h, k), 0);
	for (uint64_t i = 0; i < nq; i++) {
		topk_reset(&h);
		for (uint64_t j = 0; j < nb; j++)
			topk_push(&h, (uint32_t)j,
				  f((const char *)qx + i * qrow, (const char *)base + j * brow, dim));
		cr_assert_eq(topk_sort(&h), k);
		memcpy(ids + i * k, h.id, sizeof *ids * k);
		memcpy(dists + i * k, h.dist, sizeof *dists * k);
	}
	topk_destroy(&h);
	free(qf);
}

struct gt_case {
	enum dann_dtype bt, qt;
	enum dann_metric m;
	uint64_t nb, nq;
	uint32_t dim, k;
	uint64_t block_rows;
	int levels, threads;
	enum gt_parallel par;
};

static void check_case(const struct gt_case *c)
{
	void *base = random_rows(c->bt, c->nb, c->dim, c->levels, 11);
	void *q = random_rows(c->qt, c->nq, c->dim, c->levels, 12);
	uint32_t *ids = calloc(c->nq * c->k, sizeof *ids), *want_ids = calloc(c->nq * c->k, sizeof *ids);
	float *d = calloc(c->nq * c->k, sizeof *d), *want_d = calloc(c->nq * c->k, sizeof *d);
	struct mem_base mb;
	struct gt_base gb = mem_base(&mb, base, c->nb, c->dim, c->bt);
	struct gt_params p = { .k = c->k, .metric = c->m, .block_rows = c->block_rows,
			       .threads = c->threads, .parallel = c->par };

	cr_assert_eq(gt_compute(&gb, q, c->qt, c->nq, &p, ids, d), 0, "%s", dann_errmsg());
	brute_force(base, c->bt, c->nb, q, c->qt, c->nq, c->dim, c->m, c->k, want_ids, want_d);
	for (uint64_t i = 0; i < c->nq * c->k; i++) {
		cr_assert_eq(ids[i], want_ids[i], "%s %s/%s k=%u query %llu rank %llu: id %u, want %u",
			     dann_metric_name(c->m), dann_dtype_name(c->qt), dann_dtype_name(c->bt),
			     c->k, (unsigned long long)(i / c->k), (unsigned long long)(i % c->k),
			     ids[i], want_ids[i]);
		cr_assert_eq(d[i], want_d[i], "distance at %llu", (unsigned long long)i);
	}
	if (c->block_rows)
		cr_assert_eq(mb.reads, (int)((c->nb + c->block_rows - 1) / c->block_rows));
	free(base);
	free(q);
	free(ids);
	free(want_ids);
	free(d);
	free(want_d);
}

static const enum dann_metric metrics[] = { DANN_METRIC_L2, DANN_METRIC_IP, DANN_METRIC_COSINE };

Test(gt, matches_brute_force_for_float_data_in_every_metric_across_blocks)
{
	for (int m = 0; m < 3; m++) {
		struct gt_case c = { DANN_DTYPE_F32, DANN_DTYPE_F32, metrics[m], 3000, 60, 37, 10, 700, 0, 2, GT_PAR_QUERIES };
		check_case(&c);
	}
}

Test(gt, matches_brute_force_for_uint8_data_in_every_metric_across_blocks)
{
	for (int m = 0; m < 3; m++) {
		struct gt_case c = { DANN_DTYPE_U8, DANN_DTYPE_U8, metrics[m], 3000, 60, 64, 10, 1024, 0, 2, GT_PAR_QUERIES };
		check_case(&c);
	}
}

Test(gt, matches_brute_force_for_int8_data_and_float_queries_on_uint8)
{
	for (int m = 0; m < 3; m++) {
		struct gt_case c = { DANN_DTYPE_I8, DANN_DTYPE_I8, metrics[m], 2000, 40, 33, 7, 999, 0, 2, GT_PAR_QUERIES };
		check_case(&c);
		struct gt_case d = { DANN_DTYPE_U8, DANN_DTYPE_F32, metrics[m], 2000, 40, 33, 7, 0, 0, 2, GT_PAR_QUERIES };
		check_case(&d);
	}
}

Test(gt, breaks_ties_by_smaller_id_like_the_brute_force)
{
	/* Three values over four dims: most distances tie many times over. */
	for (int m = 0; m < 3; m++) {
		struct gt_case c = { DANN_DTYPE_U8, DANN_DTYPE_U8, metrics[m], 2500, 50, 4, 20, 300, 3, 2, GT_PAR_QUERIES };
		check_case(&c);
		struct gt_case f = { DANN_DTYPE_F32, DANN_DTYPE_F32, metrics[m], 2500, 50, 4, 20, 300, 3, 2, GT_PAR_QUERIES };
		check_case(&f);
	}
}

Test(gt, stays_exact_when_float_sgemm_scores_cancel_badly)
{
	/* Bright u8 rows that differ by a few levels: squared norms near 3e7
	 * pass float's 2^24 integer range, so |b|^2 - 2 q.b + |q|^2 loses more
	 * than the gaps between true distances. Only the exact re-scoring of
	 * every pair within the rounding margin keeps the answer right. */
	enum { NB = 1200, NQ = 30, DIM = 700 };
	for (int m = 0; m < 3; m++) {
		uint8_t *base = random_rows(DANN_DTYPE_U8, NB, DIM, 3, 21);
		uint8_t *q = random_rows(DANN_DTYPE_U8, NQ, DIM, 3, 22);
		for (int i = 0; i < NB * DIM; i++)
			base[i] += 200;
		for (int i = 0; i < NQ * DIM; i++)
			q[i] += 200;
		uint32_t ids[NQ * 10], want_ids[NQ * 10];
		float d[NQ * 10], want_d[NQ * 10];
		struct mem_base mb;
		struct gt_base gb = mem_base(&mb, base, NB, DIM, DANN_DTYPE_U8);
		struct gt_params p = { .k = 10, .metric = metrics[m], .block_rows = 777 };

		cr_assert_eq(gt_compute(&gb, q, DANN_DTYPE_U8, NQ, &p, ids, d), 0);
		brute_force(base, DANN_DTYPE_U8, NB, q, DANN_DTYPE_U8, NQ, DIM, metrics[m], 10, want_ids, want_d);
		for (int i = 0; i < NQ * 10; i++) {
			cr_assert_eq(ids[i], want_ids[i], "%s query %d rank %d", dann_metric_name(metrics[m]), i / 10, i % 10);
			cr_assert_eq(d[i], want_d[i]);
		}
		free(base);
		free(q);
	}
}

Test(gt, handles_k_of_one_and_k_equal_to_the_base_count)
{
	for (int m = 0; m < 3; m++) {
		struct gt_case one = { DANN_DTYPE_F32, DANN_DTYPE_F32, metrics[m], 2000, 30, 16, 1, 128, 0, 2, GT_PAR_QUERIES };
		check_case(&one);
		struct gt_case all = { DANN_DTYPE_U8, DANN_DTYPE_U8, metrics[m], 600, 9, 12, 600, 250, 0, 2, GT_PAR_QUERIES };
		check_case(&all);
	}
}

Test(gt, gives_the_same_answer_on_one_thread_and_with_one_query)
{
	struct gt_case one_thread = { DANN_DTYPE_F32, DANN_DTYPE_F32, DANN_METRIC_L2, 2000, 50, 24, 10, 512, 0, 1, GT_PAR_QUERIES };
	check_case(&one_thread);
	struct gt_case one_query = { DANN_DTYPE_F32, DANN_DTYPE_F32, DANN_METRIC_IP, 2000, 1, 24, 10, 0, 0, 2, GT_PAR_QUERIES };
	check_case(&one_query);
}

Test(gt, gives_the_same_answer_with_threaded_sgemm)
{
	for (int m = 0; m < 3; m++) {
		struct gt_case f = { DANN_DTYPE_F32, DANN_DTYPE_F32, metrics[m], 1500, 4200, 12, 10, 1100, 0, 2, GT_PAR_BLAS };
		check_case(&f);
		struct gt_case u = { DANN_DTYPE_U8, DANN_DTYPE_U8, metrics[m], 1000, 30, 4, 15, 0, 3, 2, GT_PAR_BLAS };
		check_case(&u);
	}
}

struct progress_log {
	uint64_t last, total;
	int calls, regressed;
};

static void log_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct progress_log *l = arg;

	(void)phase;
	if (done < l->last || done > total)
		l->regressed = 1;
	l->last = done;
	l->total = total;
	l->calls++;
}

Test(gt, reports_progress_up_to_the_base_count)
{
	enum { NB = 1000, DIM = 8, NQ = 20 };
	float *base = random_rows(DANN_DTYPE_F32, NB, DIM, 0, 1), *q = random_rows(DANN_DTYPE_F32, NQ, DIM, 0, 2);
	uint32_t ids[NQ * 5];
	float d[NQ * 5];
	struct progress_log log = { 0 };
	struct mem_base mb;
	struct gt_base gb = mem_base(&mb, base, NB, DIM, DANN_DTYPE_F32);
	struct gt_params p = { .k = 5, .metric = DANN_METRIC_L2, .block_rows = 300,
			       .progress = log_progress, .progress_arg = &log };

	cr_assert_eq(gt_compute(&gb, q, DANN_DTYPE_F32, NQ, &p, ids, d), 0);
	cr_assert_geq(log.calls, 4);
	cr_assert_eq(log.regressed, 0);
	cr_assert_eq(log.last, NB);
	cr_assert_eq(log.total, NB);
	free(base);
	free(q);
}

/* Two runs overlapping in one process: A opens its BLAS scope, then B,
 * then A finishes, then B. Each saving and restoring on its own, B saved
 * A's setting and put it back last, leaving the process at 1 thread. */
struct overlap {
	atomic_int a_inside, b_inside, a_done;
	int timed_out;
};

#define OVERLAP_WAIT_US 1000
#define OVERLAP_WAIT_ROUNDS 20000 /* 20 s at most */

static void wait_for(atomic_int *flag, int *timed_out)
{
	for (int i = 0; i < OVERLAP_WAIT_ROUNDS && !atomic_load(flag); i++)
		usleep(OVERLAP_WAIT_US);
	if (!atomic_load(flag))
		*timed_out = 1;
}

static struct overlap ov;
static float *ov_base, *ov_q;
enum { OV_NB = 600, OV_DIM = 8, OV_NQ = 10, OV_K = 3 };

static int read_a(void *ctx, uint64_t first, uint64_t n, void *dst)
{
	if (first == 0) {
		atomic_store(&ov.a_inside, 1);
		wait_for(&ov.b_inside, &ov.timed_out);
	}
	return mem_read(ctx, first, n, dst);
}

static int read_b(void *ctx, uint64_t first, uint64_t n, void *dst)
{
	if (first == 0) {
		atomic_store(&ov.b_inside, 1);
		wait_for(&ov.a_done, &ov.timed_out);
	}
	return mem_read(ctx, first, n, dst);
}

static void *run_overlapping(void *arg)
{
	int is_b = arg != NULL;
	struct mem_base mb;
	struct gt_base gb = mem_base(&mb, ov_base, OV_NB, OV_DIM, DANN_DTYPE_F32);
	struct gt_params p = { .k = OV_K, .metric = DANN_METRIC_L2, .threads = 1 };
	uint32_t ids[OV_NQ * OV_K];
	float d[OV_NQ * OV_K];
	intptr_t rc;

	gb.read = is_b ? read_b : read_a;
	rc = gt_compute(&gb, ov_q, DANN_DTYPE_F32, OV_NQ, &p, ids, d);
	if (!is_b)
		atomic_store(&ov.a_done, 1);
	return (void *)rc;
}

Test(gt, overlapping_runs_leave_the_process_blas_thread_count_as_it_was)
{
	pthread_t a, b;
	void *ra, *rb;

	ov_base = random_rows(DANN_DTYPE_F32, OV_NB, OV_DIM, 0, 11);
	ov_q = random_rows(DANN_DTYPE_F32, OV_NQ, OV_DIM, 0, 12);
	openblas_set_num_threads(2);
	if (openblas_get_num_threads() != 2)
		cr_skip_test("this OpenBLAS runs at most %d thread(s)", openblas_get_num_threads());
	cr_assert_eq(pthread_create(&a, NULL, run_overlapping, NULL), 0);
	wait_for(&ov.a_inside, &ov.timed_out); /* B starts once A's scope is open */
	cr_assert_eq(pthread_create(&b, NULL, run_overlapping, (void *)1), 0);
	cr_assert_eq(pthread_join(a, &ra), 0);
	cr_assert_eq(pthread_join(b, &rb), 0);
	cr_assert_eq((intptr_t)ra, 0);
	cr_assert_eq((intptr_t)rb, 0);
	cr_assert_eq(ov.timed_out, 0, "the two runs did not overlap as planned");
	cr_assert_eq(openblas_get_num_threads(), 2, "OpenBLAS left at %d thread(s)",
		     openblas_get_num_threads());
	free(ov_base);
	free(ov_q);
}

Test(gt, rejects_k_out_of_range_and_k_above_the_base_count)
{
	float base[10 * 2] = { 0 }, q[2] = { 0 };
	uint32_t ids[1000];
	float d[1000];
	struct mem_base mb;
	struct gt_base gb = mem_base(&mb, base, 10, 2, DANN_DTYPE_F32);
	struct gt_params p = { .k = 0, .metric = DANN_METRIC_L2 };

	cr_assert_eq(gt_compute(&gb, q, DANN_DTYPE_F32, 1, &p, ids, d), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "k = 0"), "%s", dann_errmsg());
	p.k = GT_MAX_K + 1;
	cr_assert_eq(gt_compute(&gb, q, DANN_DTYPE_F32, 1, &p, ids, d), DANN_EINVAL);
	p.k = 11;
	cr_assert_eq(gt_compute(&gb, q, DANN_DTYPE_F32, 1, &p, ids, d), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "more than the 10 base rows"), "%s", dann_errmsg());
	p.k = 1;
	gb.dtype = DANN_DTYPE_I32;
	cr_assert_eq(gt_compute(&gb, q, DANN_DTYPE_F32, 1, &p, ids, d), DANN_EINVAL);
	cr_assert_eq(mb.reads, 0);
}

Test(gt, rejects_nan_and_infinite_values_naming_the_row)
{
	float base[20 * 3] = { 0 }, q[2 * 3] = { 0 };
	uint32_t ids[2];
	float d[2];
	struct mem_base mb;
	struct gt_base gb = mem_base(&mb, base, 20, 3, DANN_DTYPE_F32);
	struct gt_params p = { .k = 1, .metric = DANN_METRIC_L2, .block_rows = 8 };

	base[13 * 3 + 1] = NAN;
	cr_assert_eq(gt_compute(&gb, q, DANN_DTYPE_F32, 2, &p, ids, d), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "base row 13"), "%s", dann_errmsg());
	base[13 * 3 + 1] = 0;
	q[3 + 2] = INFINITY;
	cr_assert_eq(gt_compute(&gb, q, DANN_DTYPE_F32, 2, &p, ids, d), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "query row 1"), "%s", dann_errmsg());
}

/* ---- the file form and the CLI -------------------------------------- */

static void make_tmp(void)
{
	force_scalar();
	tmpdir_make("gt");
}

TestSuite(gt_files, .init = make_tmp, .fini = tmpdir_remove);

static char *path_in(const char *name)
{
	return tmpdir_path(name);
}

/* Runs `dann <args>` in the temp dir; returns the exit status and keeps
 * what it printed (stdout and stderr) in out. */
static int run_cli(const char *args, char *out, size_t cap)
{
	char cmd[1024];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>&1", tmpdir_get(), DANN_CLI, args);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(gt_files, writes_ids_and_distances_that_match_the_in_memory_answer)
{
	enum { NB = 1500, NQ = 30, DIM = 20, K = 8 };
	uint8_t *base = random_rows(DANN_DTYPE_U8, NB, DIM, 0, 5);
	float *q = random_rows(DANN_DTYPE_F32, NQ, DIM, 0, 6);
	uint32_t want_ids[NQ * K];
	float want_d[NQ * K];
	struct gt_params p = { .k = K, .metric = DANN_METRIC_L2, .block_rows = 400 };
	struct vf *ids, *dists;
	char dpath[300];

	for (int i = 0; i < NQ * DIM; i++)
		q[i] = (q[i] + 2) * 60;
	cr_assert_eq(vf_write_file(path_in("b.u8bin"), DIM, base, NB), 0);
	cr_assert_eq(vf_write_file(path_in("q.fbin"), DIM, q, NQ), 0);
	cr_assert_eq(gt_files(path_in("b.u8bin"), path_in("q.fbin"), path_in("gt.ibin"), &p), 0,
		     "%s", dann_errmsg());
	brute_force(base, DANN_DTYPE_U8, NB, q, DANN_DTYPE_F32, NQ, DIM, DANN_METRIC_L2, K, want_ids, want_d);
	cr_assert_eq(vf_open(path_in("gt.ibin"), &ids), 0);
	cr_assert_eq(vf_gt_dist_path(path_in("gt.ibin"), dpath, sizeof dpath), 0);
	cr_assert_eq(vf_open(dpath, &dists), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_count(ids), NQ);
	cr_assert_eq(vf_dim(ids), K);
	cr_assert_eq(vf_count(dists), NQ);
	cr_assert_eq(vf_dim(dists), K);
	uint32_t got_ids[NQ * K];
	float got_d[NQ * K];
	cr_assert_eq(vf_read(ids, 0, NQ, got_ids), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_read(dists, 0, NQ, got_d), 0, "%s", dann_errmsg());
	cr_assert_eq(memcmp(got_ids, want_ids, sizeof want_ids), 0);
	cr_assert_eq(memcmp(got_d, want_d, sizeof want_d), 0);
	vf_close(ids);
	vf_close(dists);
	free(base);
	free(q);
}

Test(gt_files, writes_empty_results_for_an_empty_query_file)
{
	float base[6 * 2] = { 0 };
	struct gt_params p = { .k = 3, .metric = DANN_METRIC_IP };
	struct vf *ids;

	cr_assert_eq(vf_write_file(path_in("b.fbin"), 2, base, 6), 0);
	cr_assert_eq(vf_write_file(path_in("q.fbin"), 2, base, 0), 0);
	cr_assert_eq(gt_files(path_in("b.fbin"), path_in("q.fbin"), path_in("gt.ibin"), &p), 0,
		     "%s", dann_errmsg());
	cr_assert_eq(vf_open(path_in("gt.ibin"), &ids), 0);
	cr_assert_eq(vf_count(ids), 0);
	cr_assert_eq(vf_dim(ids), 3);
	vf_close(ids);
}

Test(gt_files, names_both_files_when_dimensions_differ)
{
	float a[4 * 3] = { 0 }, b[2 * 4] = { 0 };
	struct gt_params p = { .k = 1, .metric = DANN_METRIC_L2 };

	cr_assert_eq(vf_write_file(path_in("b.fbin"), 3, a, 4), 0);
	cr_assert_eq(vf_write_file(path_in("q.fbin"), 4, b, 2), 0);
	cr_assert_eq(gt_files(path_in("b.fbin"), path_in("q.fbin"), path_in("gt.ibin"), &p), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "b.fbin") && strstr(dann_errmsg(), "q.fbin") &&
		  strstr(dann_errmsg(), "dim 3") && strstr(dann_errmsg(), "dim 4"), "%s", dann_errmsg());
	cr_assert_eq(access(path_in("gt.ibin"), F_OK), -1);
}

Test(gt_files, cli_computes_ground_truth_and_rejects_bad_arguments)
{
	float base[50 * 4], q[5 * 4];
	char out[4096];

	for (int i = 0; i < 50 * 4; i++)
		base[i] = (float)(i % 17);
	for (int i = 0; i < 5 * 4; i++)
		q[i] = (float)(i % 5);
	cr_assert_eq(vf_write_file(path_in("b.fbin"), 4, base, 50), 0);
	cr_assert_eq(vf_write_file(path_in("q.fbin"), 4, q, 5), 0);
	cr_assert_eq(vf_write_file(path_in("q3.fbin"), 3, q, 5), 0);

	cr_assert_eq(run_cli("gt --base b.fbin --queries q.fbin -k 3 --metric cosine --out gt.ibin",
			     out, sizeof out), 0, "%s", out);
	cr_assert_eq(access(path_in("gt.ibin"), F_OK), 0);
	cr_assert_eq(access(path_in("gt.dist.fbin"), F_OK), 0);

	cr_assert_eq(run_cli("gt --help", out, sizeof out), 0);
	cr_assert(strstr(out, "--metric"), "%s", out);
	cr_assert_eq(run_cli("gt --base b.fbin --queries q.fbin -k 3 --out x.ibin", out, sizeof out), 2);
	cr_assert(strstr(out, "required"), "%s", out);
	cr_assert_eq(run_cli("gt --base b.fbin --queries q.fbin -k 3 --metric hamming --out x.ibin",
			     out, sizeof out), 2);
	cr_assert(strstr(out, "hamming"), "%s", out);
	cr_assert_eq(run_cli("gt --base b.fbin --queries q.fbin -k 0 --metric l2 --out x.ibin",
			     out, sizeof out), 2);
	cr_assert(strstr(out, "-k 0"), "%s", out);
	cr_assert_eq(run_cli("gt --base b.fbin --queries q.fbin -k 1001 --metric l2 --out x.ibin",
			     out, sizeof out), 2);
	cr_assert(strstr(out, "1..1000"), "%s", out);
	cr_assert_eq(run_cli("gt --base b.fbin --queries q.fbin -k 51 --metric l2 --out x.ibin",
			     out, sizeof out), 1);
	cr_assert(strstr(out, "more than the 50 base rows"), "%s", out);
	cr_assert_eq(run_cli("gt --base b.fbin --queries q3.fbin -k 1 --metric l2 --out x.ibin",
			     out, sizeof out), 1);
	cr_assert(strstr(out, "b.fbin") && strstr(out, "q3.fbin"), "%s", out);
	cr_assert_eq(run_cli("gt --base nope.fbin --queries q.fbin -k 1 --metric l2 --out x.ibin",
			     out, sizeof out), 1);
	cr_assert(strstr(out, "nope.fbin"), "%s", out);
	cr_assert_eq(run_cli("gt --base b.fbin --queries q.fbin -k 1 --metric l2 --out x.fbin",
			     out, sizeof out), 1);
	cr_assert(strstr(out, ".ibin"), "%s", out);
	cr_assert_eq(access(path_in("x.ibin"), F_OK), -1);
}
