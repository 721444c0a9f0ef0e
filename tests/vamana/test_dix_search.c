/*
 * test_dix_search.c — the disk beam search end to end on small synthetic
 * indexes built by dann_index_build: recall against brute force, equal
 * answers across I/O backends, batch vs one-at-a-time, cache on/off,
 * filters, a one-point index, and damaged index files.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"
#include "dix_testutil.h"
#include "error.h"
#include "helpers/cli.h"
#include "topk.h"
#include "vamana/dix_format.h"
#include "vf.h"

#define N 2000
#define DIM 24
#define NQ 50

struct fx {
	char tmp[256];
	char data[512], dir[512];
	float *x, *q;
	uint32_t n;
};

/* Clustered data: 20 Gaussian blobs, so the graph has structure to find. */
static void gen(float *x, uint32_t n, unsigned seed)
{
	float centres[20][DIM];

	for (int c = 0; c < 20; c++)
		for (int d = 0; d < DIM; d++)
			centres[c][d] = (float)(rand_r(&seed) % 2000) / 100.0f;
	for (uint32_t i = 0; i < n; i++) {
		int c = rand_r(&seed) % 20;
		for (int d = 0; d < DIM; d++) {
			float u1 = ((float)rand_r(&seed) + 1) / ((float)RAND_MAX + 2);
			float u2 = ((float)rand_r(&seed) + 1) / ((float)RAND_MAX + 2);
			x[i * DIM + d] = centres[c][d] + sqrtf(-2 * logf(u1)) * cosf(6.2831853f * u2);
		}
	}
}

/* Builds through `dann build` in a child process, with OpenMP told to
 * sleep rather than spin while it waits: libgomp reads that only at
 * process start, and spinning threads on a shared two-core machine make
 * the PQ training ten times slower. */
static void fx_build(struct fx *f, uint32_t n, int locality)
{
	char *err = NULL;
	int rc;

	memset(f, 0, sizeof *f);
	tu_mkdtemp(f->tmp, sizeof f->tmp);
	TU_FMT(f->data, "%s/data.fbin", f->tmp);
	TU_FMT(f->dir, "%s/index", f->tmp);
	f->n = n;
	f->x = malloc(sizeof *f->x * n * DIM);
	f->q = malloc(sizeof *f->q * NQ * DIM);
	gen(f->x, n, 11);
	gen(f->q, NQ, 12);
	cr_assert_eq(vf_write_file(f->data, DIM, f->x, n), 0, "%s", dann_errmsg());
	setenv("OMP_WAIT_POLICY", "passive", 0);
	rc = cli_run(NULL, &err, "build", "--data", f->data, "--out", f->dir, "-R", "24", "-L", "48",
		     "--pq-bytes", "8", "--threads", "1", "--order", locality ? "locality" : "plain",
		     NULL);
	cr_assert_eq(rc, 0, "dann build: %s", err);
	free(err);
}

static void fx_free(struct fx *f)
{
	tu_rmtree(f->tmp);
	free(f->x);
	free(f->q);
}

static struct dann_index *fx_open(struct fx *f, uint64_t cache_nodes)
{
	struct dann_open_params op = { .cache_nodes = cache_nodes };
	struct dann_index *ix = NULL;

	cr_assert_eq(dann_index_open(f->dir, &op, &ix), 0, "%s", dann_errmsg());
	return ix;
}

struct answers {
	uint32_t ids[NQ * 100];
	float dists[NQ * 100];
	uint32_t found[NQ];
	struct dann_search_stats st[NQ];
};

static void run_batch(struct dann_index *ix, const float *q, const struct dann_search_params *p,
		      struct answers *a)
{
	memset(a, 0, sizeof *a);
	cr_assert_eq(dann_search_batch(ix, q, NQ, p, a->ids, a->dists, a->found, a->st), 0, "%s",
		     dann_errmsg());
}

static void assert_same(const struct answers *a, const struct answers *b, uint32_t k)
{
	for (uint32_t i = 0; i < NQ; i++) {
		cr_assert_eq(a->found[i], b->found[i], "query %u", i);
		for (uint32_t j = 0; j < a->found[i]; j++) {
			cr_assert_eq(a->ids[i * k + j], b->ids[i * k + j], "query %u rank %u", i, j);
			cr_assert_eq(a->dists[i * k + j], b->dists[i * k + j], "query %u rank %u", i, j);
		}
	}
}

static double recall_at(const struct fx *f, const struct answers *a, uint32_t k)
{
	uint64_t hits = 0;

	for (uint32_t i = 0; i < NQ; i++) {
		struct topk t;
		topk_init(&t, k);
		for (uint32_t j = 0; j < f->n; j++) {
			float d = 0;
			for (int e = 0; e < DIM; e++) {
				float u = f->q[i * DIM + e] - f->x[j * DIM + e];
				d += u * u;
			}
			topk_push(&t, j, d);
		}
		topk_sort(&t);
		for (uint32_t r = 0; r < k; r++)
			for (uint32_t s = 0; s < k; s++)
				hits += a->ids[i * k + r] == t.id[s];
		topk_destroy(&t);
	}
	return (double)hits / (NQ * k);
}

Test(dix_search, finds_nearly_all_true_neighbours_at_a_generous_L)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers a;
	struct dann_index *ix;
	double r;

	fx_build(&f, N, 1);
	ix = fx_open(&f, 0);
	dann_search_params_default(&p);
	p.L = 64;
	run_batch(ix, f.q, &p, &a);
	r = recall_at(&f, &a, p.k);
	/* Measured 1.000 with R 24, L 48 on these 20 blobs; exact re-ranking
	 * makes anything below 0.95 a bug, not noise. */
	cr_assert_geq(r, 0.95, "recall@10 = %.3f", r);
	for (uint32_t i = 0; i < NQ; i++) {
		cr_assert_eq(a.found[i], 10);
		cr_assert_gt(a.st[i].reads, 0);
		cr_assert_geq(a.st[i].hops, a.st[i].reads);
		for (uint32_t j = 1; j < 10; j++)
			cr_assert_leq(a.dists[i * 10 + j - 1], a.dists[i * 10 + j]);
	}
	dann_index_close(ix);
	fx_free(&f);
}

Test(dix_search, the_three_io_backends_return_identical_results)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers a, b;
	struct dann_index *ix;

	fx_build(&f, N, 0);
	ix = fx_open(&f, 0);
	dann_search_params_default(&p);
	p.L = 40;
	p.threads = 2;
	p.inflight = 4;
	p.io_backend = 1; /* io_uring */
	run_batch(ix, f.q, &p, &a);
	cr_assert_neq(dann_index_io(ix)[0], '\0', "the backend in use is reported");
	for (int b_ = 2; b_ <= 3; b_++) {
		p.io_backend = b_;
		run_batch(ix, f.q, &p, &b);
		assert_same(&a, &b, p.k);
		cr_assert_eq(a.st[7].reads, b.st[7].reads);
	}
	dann_index_close(ix);
	fx_free(&f);
}

Test(dix_search, batch_results_equal_one_at_a_time_results)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers a, b;
	struct dann_index *ix;

	fx_build(&f, N, 1);
	ix = fx_open(&f, 0);
	dann_search_params_default(&p);
	p.L = 30;
	p.threads = 2;
	p.inflight = 8;
	run_batch(ix, f.q, &p, &a);
	memset(&b, 0, sizeof b);
	for (uint32_t i = 0; i < NQ; i++)
		cr_assert_eq(dann_search(ix, f.q + i * DIM, &p, b.ids + i * p.k, b.dists + i * p.k,
					 &b.found[i], &b.st[i]), 0, "%s", dann_errmsg());
	assert_same(&a, &b, p.k);
	dann_index_close(ix);
	fx_free(&f);
}

Test(dix_search, cache_on_or_off_gives_the_same_results_with_fewer_reads)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers a, b;
	struct dann_index *cold, *warm;
	struct dann_index_info info;
	uint64_t reads_a = 0, reads_b = 0, hits = 0;

	fx_build(&f, N, 1);
	cold = fx_open(&f, 0);
	warm = fx_open(&f, 200);
	cr_assert_eq(dann_index_info(warm, &info), 0);
	cr_assert_eq(info.cache_nodes, 200);
	dann_search_params_default(&p);
	p.L = 40;
	/* Sector expansion is off: with it, a node served from the cache brings
	 * no sector-mates, so the cache changes which extra nodes get expanded
	 * (reads still fall, answers may move by a rank). */
	p.sector_expand = 0;
	run_batch(cold, f.q, &p, &a);
	run_batch(warm, f.q, &p, &b);
	assert_same(&a, &b, p.k);
	for (uint32_t i = 0; i < NQ; i++) {
		reads_a += a.st[i].reads;
		reads_b += b.st[i].reads;
		hits += b.st[i].cache_hits;
		cr_assert_eq(a.st[i].cache_hits, 0);
	}
	cr_assert_gt(hits, 0);
	cr_assert_eq(reads_a, reads_b + hits, "every cache hit is a read saved");
	dann_index_close(cold);
	dann_index_close(warm);
	fx_free(&f);
}

Test(dix_search, filter_and_delete_bitmaps_keep_excluded_points_out)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers a;
	static uint64_t allowed[(N + 63) / 64], deleted[(N + 63) / 64];
	struct dann_index *ix;

	fx_build(&f, N, 1);
	ix = fx_open(&f, 0);
	for (uint32_t i = 0; i < N; i++) {
		if (i % 3 == 0)
			allowed[i / 64] |= 1ull << (i % 64);
		if (i % 2 == 0)
			deleted[i / 64] |= 1ull << (i % 64);
	}
	dann_search_params_default(&p);
	p.L = 60;
	p.allowed = allowed;
	p.allowed_bits = N;
	p.deleted = deleted;
	p.deleted_bits = N;
	run_batch(ix, f.q, &p, &a);
	for (uint32_t i = 0; i < NQ; i++) {
		cr_assert_gt(a.found[i], 0, "query %u found nothing", i);
		for (uint32_t j = 0; j < a.found[i]; j++)
			cr_assert_eq(a.ids[i * 10 + j] % 6, 3, "id %u passes neither filter",
				     a.ids[i * 10 + j]);
	}
	dann_index_close(ix);
	fx_free(&f);
}

Test(dix_search, a_one_point_index_returns_that_point)
{
	struct fx f;
	struct dann_search_params p;
	struct dann_index *ix;
	uint32_t ids[10], found;
	float dists[10];

	fx_build(&f, 1, 1);
	ix = fx_open(&f, 5);
	dann_search_params_default(&p);
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, &found, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(found, 1);
	cr_assert_eq(ids[0], 0);
	cr_assert_eq(dann_index_key(ix, ids[0]), 0);
	dann_index_close(ix);
	fx_free(&f);
}

Test(dix_search, k_zero_k_above_L_and_bad_W_are_rejected)
{
	struct fx f;
	struct dann_search_params p;
	struct dann_index *ix;
	uint32_t ids[200], found;
	float dists[200];

	fx_build(&f, 300, 1);
	ix = fx_open(&f, 0);
	dann_search_params_default(&p);
	p.k = 0;
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, &found, NULL), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "k must be at least 1"), "%s", dann_errmsg());
	p.k = 50;
	p.L = 20;
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, &found, NULL), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "k = 50 is larger than L = 20"), "%s", dann_errmsg());
	p.k = 10;
	p.W = 0;
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, &found, NULL), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "W = 0"), "%s", dann_errmsg());
	dann_index_close(ix);
	fx_free(&f);
}

static void expect_open_fails(struct fx *f, const char *file, const char *what)
{
	struct dann_index *ix = NULL;
	int rc = dann_index_open(f->dir, NULL, &ix);

	cr_assert_lt(rc, 0, "opening with a damaged %s succeeded", file);
	cr_assert_null(ix);
	cr_assert_not_null(strstr(dann_errmsg(), file), "message does not name %s: %s", file,
			   dann_errmsg());
	if (what)
		cr_assert_not_null(strstr(dann_errmsg(), what), "%s", dann_errmsg());
}

Test(dix_search, truncated_or_corrupt_index_files_are_rejected_by_name)
{
	static const char *files[] = { DIX_DATA_FILE, DIX_IDS_FILE, DIX_SLOTS_FILE, "pq_codes.bin",
				       "pq_pivots.bin" };
	struct fx f;

	fx_build(&f, 300, 1);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[700], save[700];
		TU_FMT(path, "%s/%s", f.dir, files[i]);
		TU_FMT(save, "%s/save", f.tmp); /* inside tmp: removed with it */
		/* Truncated. */
		{
			char cmd[1600];
			TU_FMT(cmd, "cp '%s' '%s'", path, save);
			cr_assert_eq(system(cmd), 0);
			tu_truncate(f.dir, files[i], 4);
			expect_open_fails(&f, files[i], NULL);
			TU_FMT(cmd, "cp '%s' '%s'", save, path);
			cr_assert_eq(system(cmd), 0);
		}
		/* One byte flipped (not in disk.index's records: only its header is
		 * checksummed on open; the test below covers records). */
		if (strcmp(files[i], DIX_DATA_FILE)) {
			tu_flip_byte(f.dir, files[i], 9);
			expect_open_fails(&f, files[i], "checksum");
			tu_flip_byte(f.dir, files[i], 9);
		}
	}
	tu_flip_byte(f.dir, DIX_DATA_FILE, 40);
	expect_open_fails(&f, DIX_DATA_FILE, "header");
	tu_flip_byte(f.dir, DIX_DATA_FILE, 40);
	{
		char path[700];
		TU_FMT(path, "%s/%s", f.dir, DIX_MANIFEST_FILE);
		cr_assert_eq(unlink(path), 0);
		expect_open_fails(&f, DIX_MANIFEST_FILE, NULL);
	}
	fx_free(&f);
}

Test(dix_search, a_damaged_node_record_fails_the_search_naming_the_file)
{
	struct fx f;
	struct dann_search_params p;
	struct dann_index *ix;
	struct dann_open_params op = { .verify_all = 1 };
	uint32_t ids[10], found;
	float dists[10];
	uint32_t vb = (DIM * 4 + 3) & ~3u;

	fx_build(&f, 300, 0);
	/* Every record's degree set far beyond R: whichever node the search
	 * reads first is damaged. Records start at sector 1. */
	for (uint32_t s = 0; s < 300; s++) {
		uint64_t nb = vb + 4 + 24 * 4, nps = 4096 / nb;
		long off = (long)(4096 * (1 + s / nps) + (s % nps) * nb + vb + 3);
		tu_flip_byte(f.dir, DIX_DATA_FILE, off);
	}
	ix = fx_open(&f, 0);
	dann_search_params_default(&p);
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, &found, NULL), DANN_ECORRUPT);
	cr_assert_not_null(strstr(dann_errmsg(), DIX_DATA_FILE), "%s", dann_errmsg());
	dann_index_close(ix);
	/* A full verify catches it on open. */
	cr_assert_eq(dann_index_open(f.dir, &op, &ix), DANN_ECORRUPT);
	cr_assert_not_null(strstr(dann_errmsg(), DIX_DATA_FILE), "%s", dann_errmsg());
	fx_free(&f);
}

struct conc_arg {
	struct dann_index *ix[2];
	const float *q;
	const struct answers *want[2];
	int bad;
};

static void *conc_main(void *p)
{
	struct conc_arg *a = p;
	struct dann_search_params sp;
	uint32_t ids[10], found;
	float dists[10];

	dann_search_params_default(&sp);
	sp.L = 30;
	for (uint32_t i = 0; i < NQ; i++)
		for (int x = 0; x < 2; x++) {
			if (dann_search(a->ix[x], a->q + i * DIM, &sp, ids, dists, &found, NULL) < 0 ||
			    found != a->want[x]->found[i] ||
			    memcmp(ids, a->want[x]->ids + i * 10, sizeof ids[0] * found))
				a->bad++;
		}
	return NULL;
}

Test(dix_search, threads_searching_two_open_indexes_at_once_get_the_batch_answers)
{
	struct fx f, g;
	struct dann_search_params p;
	static struct answers want[2];
	struct conc_arg args[3];
	pthread_t tid[3];

	fx_build(&f, N, 1);
	fx_build(&g, N / 2, 0);
	dann_search_params_default(&p);
	p.L = 30;
	args[0] = (struct conc_arg){ .ix = { fx_open(&f, 100), fx_open(&g, 0) }, .q = f.q,
				     .want = { &want[0], &want[1] } };
	run_batch(args[0].ix[0], f.q, &p, &want[0]);
	run_batch(args[0].ix[1], f.q, &p, &want[1]);
	/* Three threads share both handles: each dann_search borrows a
	 * searcher from the index's pool, so they run truly at once. */
	args[1] = args[2] = args[0];
	for (int t = 0; t < 3; t++)
		cr_assert_eq(pthread_create(&tid[t], NULL, conc_main, &args[t]), 0);
	for (int t = 0; t < 3; t++) {
		pthread_join(tid[t], NULL);
		cr_assert_eq(args[t].bad, 0, "thread %d got %d different answers", t, args[t].bad);
	}
	dann_index_close(args[0].ix[0]);
	dann_index_close(args[0].ix[1]);
	fx_free(&f);
	fx_free(&g);
}

/* dann_search lends each call a pooled searcher; one that served a larger
 * L kept searching with that list length, so a small-L search answered
 * differently (better, and slower) after a large-L one than before it,
 * and differently from the batch search. */
Test(dix_search, a_pooled_searcher_searches_with_the_asked_L_after_a_larger_one)
{
	struct fx f;
	struct dann_search_params p;
	static struct answers fresh, after, batch;
	struct dann_index *ix;

	fx_build(&f, N, 1);
	ix = fx_open(&f, 0);
	dann_search_params_default(&p);
	p.k = 3;
	p.L = 8;
	p.W = 2;
	memset(&fresh, 0, sizeof fresh);
	for (uint32_t i = 0; i < NQ; i++)
		cr_assert_eq(dann_search(ix, f.q + i * DIM, &p, fresh.ids + i * p.k, fresh.dists + i * p.k,
					 &fresh.found[i], &fresh.st[i]), 0, "%s", dann_errmsg());
	{
		struct dann_search_params big = p;
		uint32_t ids[10];
		float d[10];
		uint32_t n;
		big.k = 10;
		big.L = 200;
		cr_assert_eq(dann_search(ix, f.q, &big, ids, d, &n, NULL), 0, "%s", dann_errmsg());
	}
	memset(&after, 0, sizeof after);
	for (uint32_t i = 0; i < NQ; i++)
		cr_assert_eq(dann_search(ix, f.q + i * DIM, &p, after.ids + i * p.k, after.dists + i * p.k,
					 &after.found[i], &after.st[i]), 0, "%s", dann_errmsg());
	assert_same(&fresh, &after, p.k);
	for (uint32_t i = 0; i < NQ; i++)
		cr_assert_eq(fresh.st[i].hops, after.st[i].hops, "query %u: %u hops, then %u", i,
			     fresh.st[i].hops, after.st[i].hops);
	p.threads = 2;
	p.inflight = 4;
	run_batch(ix, f.q, &p, &batch);
	assert_same(&fresh, &batch, p.k);
	dann_index_close(ix);
	fx_free(&f);
}

Test(dix_search, a_nan_or_infinite_query_is_refused_before_any_read)
{
	struct fx f;
	struct dann_index *ix;
	struct dann_search_params p;
	struct dann_search_stats st[NQ];
	static uint32_t ids[NQ * 10], found[NQ];
	static float dists[NQ * 10];

	fx_build(&f, 300, 0);
	ix = fx_open(&f, 0);
	dann_search_params_default(&p);
	f.q[3] = NAN;
	memset(st, 0, sizeof st);
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, found, st), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "dann_search: query component 3 is NaN"), "%s",
			   dann_errmsg());
	cr_assert_eq(st[0].reads, 0);
	f.q[3] = 0;
	f.q[7 * DIM + 2] = INFINITY;
	cr_assert_eq(dann_search_batch(ix, f.q, NQ, &p, ids, dists, found, st), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "dann_search_batch: query 7, component 2 is infinite"),
			   "%s", dann_errmsg());
	f.q[7 * DIM + 2] = 0;
	cr_assert_eq(dann_search_batch(ix, f.q, NQ, &p, ids, dists, found, st), 0, "%s", dann_errmsg());
	dann_index_close(ix);
	fx_free(&f);
}
