/*
 * test_dix_filter.c — filtered search on a disk index keeps its recall at
 * every selectivity: Fashion-MNIST images with their class label as an
 * int field and a synthetic field r (uniform 0..999) that gives filters
 * allowing 50%, 10%, 1% and 0.1% of the rows. Filters are written as
 * expressions, evaluated by the expression engine into the allowed mask;
 * ground truth is exact k-NN over the allowed rows only. Also: deleted
 * rows are never returned, the planner's choice follows the selectivity,
 * an empty filter finds nothing, and the uncounted beam walk (excluded
 * nodes not counted into L) keeps recall and is the plain search when
 * nothing is excluded.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"
#include "dix_testutil.h"
#include "error.h"
#include "helpers/cli.h"
#include "helpers/fmnist.h"
#include "helpers/knn.h"
#include "idx.h"
#include "segment/expr.h"
#include "vf.h"

#if defined(__SANITIZE_ADDRESS__)
#define BASE_ROWS 4000
#define QUERY_ROWS 40
#else
#define BASE_ROWS 10000
#define QUERY_ROWS 100
#endif
#define K 10
#define FLOOR 0.95

struct data {
	uint8_t *base;
	uint32_t n, dim, nq;
	float *q;
	int32_t label[BASE_ROWS], r[BASE_ROWS];
	struct dann_schema s;
	struct dann_index *ix;
};

static struct data D;

static int column(void *ctx, const char *name, struct dann_column *out)
{
	struct data *d = ctx;
	if (!strcmp(name, "label"))
		*out = (struct dann_column){ .name = "label", .type = DANN_FIELD_INT32, .values = d->label };
	else if (!strcmp(name, "r"))
		*out = (struct dann_column){ .name = "r", .type = DANN_FIELD_INT32, .values = d->r };
	else
		return DANN_ENOTFOUND;
	return 0;
}

static void load_labels(int32_t *label, uint32_t n)
{
	struct idx *x;
	uint8_t *b = malloc(n);
	cr_assert_eq(idx_open(DANN_FMNIST_DIR "/train-labels-idx1-ubyte.gz", &x), 0, "%s", dann_errmsg());
	cr_assert_eq(idx_read(x, n, b), 0, "%s", dann_errmsg());
	idx_close(x);
	for (uint32_t i = 0; i < n; i++)
		label[i] = b[i];
	free(b);
}

/* The index is built once, in the runner before the tests start (Criterion
 * runs each test in a worker process, which finds it through the
 * environment), and removed after the last one. */
#define INDEX_ENV "DANN_TEST_FILTER_INDEX"
static char shared_tmp[256];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char data[600], shared_dir[600], *err = NULL;
	uint8_t *base;
	uint32_t n, dim;
	(void)set;

	if (fmnist_load_u8(DANN_FMNIST_DIR, "train", BASE_ROWS, &base, &n, &dim) < 0)
		return;
	snprintf(shared_tmp, sizeof shared_tmp, "/tmp/dann-filter-XXXXXX");
	if (!mkdtemp(shared_tmp))
		goto out;
	snprintf(data, sizeof data, "%s/base.u8bin", shared_tmp);
	snprintf(shared_dir, sizeof shared_dir, "%s/index", shared_tmp);
	if (vf_write_file(data, dim, base, n) < 0)
		goto out;
	setenv("OMP_WAIT_POLICY", "passive", 0);
	if (cli_run(NULL, &err, "build", "--data", data, "--out", shared_dir, "-R", "32", "-L", "64",
		    "--pq-bytes", "49", NULL) == 0)
		setenv(INDEX_ENV, shared_dir, 1);
	free(err);
out:
	free(base);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	if (shared_tmp[0])
		tu_rmtree(shared_tmp);
}

static void setup(void)
{
	uint8_t *qu8;
	unsigned seed = 7;

	memset(&D, 0, sizeof D);
	cr_assert_eq(fmnist_load_u8(DANN_FMNIST_DIR, "train", BASE_ROWS, &D.base, &D.n, &D.dim), 0,
		     "%s", dann_errmsg());
	cr_assert_eq(fmnist_load_u8(DANN_FMNIST_DIR, "t10k", QUERY_ROWS, &qu8, &D.nq, &D.dim), 0,
		     "%s", dann_errmsg());
	D.q = malloc(sizeof *D.q * D.nq * D.dim);
	for (uint64_t i = 0; i < (uint64_t)D.nq * D.dim; i++)
		D.q[i] = qu8[i];
	free(qu8);
	load_labels(D.label, D.n);
	for (uint32_t i = 0; i < D.n; i++)
		D.r[i] = (int32_t)(rand_r(&seed) % 1000);
	snprintf(D.s.pk_field, sizeof D.s.pk_field, "id");
	snprintf(D.s.vector_field, sizeof D.s.vector_field, "vector");
	D.s.nfields = 2;
	snprintf(D.s.fields[0].name, sizeof D.s.fields[0].name, "label");
	D.s.fields[0].type = DANN_FIELD_INT32;
	snprintf(D.s.fields[1].name, sizeof D.s.fields[1].name, "r");
	D.s.fields[1].type = DANN_FIELD_INT32;
	cr_assert_not_null(getenv(INDEX_ENV), "the shared index was not built");
	cr_assert_eq(dann_index_open(getenv(INDEX_ENV), NULL, &D.ix), 0, "%s", dann_errmsg());
}

static void teardown(void)
{
	dann_index_close(D.ix);
	free(D.base);
	free(D.q);
}

/* The mask of rows passing text (and how many). */
static uint64_t *mask_of(const char *text, uint64_t *count)
{
	struct expr *e;
	roaring_bitmap_t *bm;
	struct expr_source src = { .n = D.n, .column = column, .ctx = &D };
	uint64_t *w;

	cr_assert_eq(expr_compile(text, &D.s, &e), 0, "%s", dann_errmsg());
	cr_assert_eq(expr_eval(e, &src, &bm), 0, "%s", dann_errmsg());
	cr_assert_eq(expr_bitmap_words(bm, D.n, &w), 0);
	*count = roaring_bitmap_get_cardinality(bm);
	roaring_bitmap_free(bm);
	expr_free(e);
	return w;
}

static int bit(const uint64_t *w, uint32_t i)
{
	return w && (w[i >> 6] >> (i & 63) & 1);
}

/* Exact k-NN among rows allowed by `allow` and not in `del`, as ids of the
 * whole base; *nallowed gets their number. */
static uint32_t *truth(const uint64_t *allow, const uint64_t *del, uint32_t *nallowed)
{
	uint32_t m = 0, *map = malloc(sizeof *map * D.n), *gt_sub, *gt;
	uint8_t *sub = malloc((size_t)D.n * D.dim);
	uint32_t kk;

	for (uint32_t i = 0; i < D.n; i++)
		if ((!allow || bit(allow, i)) && !bit(del, i)) {
			memcpy(sub + (size_t)m * D.dim, D.base + (size_t)i * D.dim, D.dim);
			map[m++] = i;
		}
	kk = m < K ? m : K;
	gt = calloc((size_t)D.nq * K, sizeof *gt);
	if (kk) {
		gt_sub = malloc(sizeof *gt_sub * D.nq * kk);
		cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_U8, D.dim, sub, m, D.q, D.nq, kk, gt_sub), 0);
		for (uint32_t q = 0; q < D.nq; q++)
			for (uint32_t j = 0; j < kk; j++)
				gt[q * K + j] = map[gt_sub[q * kk + j]];
		free(gt_sub);
	}
	free(sub);
	free(map);
	*nallowed = m;
	return gt;
}

struct outcome {
	double recall;
	uint32_t plan;
	double reads;
	int bad;    /* results outside the allowed rows */
};

static struct outcome run(const uint64_t *allow, const uint64_t *del, int plan, uint32_t L)
{
	struct dann_search_params sp;
	struct dann_search_stats *st = calloc(D.nq, sizeof *st);
	uint32_t *ids = malloc(sizeof *ids * D.nq * K), *found = malloc(sizeof *found * D.nq), m;
	float *dists = malloc(sizeof *dists * D.nq * K);
	uint32_t *gt = truth(allow, del, &m), kk = m < K ? m : K;
	struct outcome o = { 0 };

	dann_search_params_default(&sp);
	sp.k = K;
	sp.L = L;
	sp.threads = 2;
	sp.inflight = 8;
	sp.allowed = allow;
	sp.allowed_bits = allow ? D.n : 0;
	sp.deleted = del;
	sp.deleted_bits = del ? D.n : 0;
	sp.filter_plan = plan;
	cr_assert_eq(dann_search_batch(D.ix, D.q, D.nq, &sp, ids, dists, found, st), 0, "%s",
		     dann_errmsg());
	for (uint32_t q = 0; q < D.nq; q++) {
		uint32_t hit = 0;
		for (uint32_t j = 0; j < found[q]; j++) {
			uint32_t id = ids[q * K + j];
			o.bad += (allow && !bit(allow, id)) || bit(del, id);
			for (uint32_t g = 0; g < kk; g++)
				hit += gt[q * K + g] == id;
		}
		o.recall += kk ? (double)hit / kk : 1.0;
		o.reads += st[q].reads;
	}
	o.recall /= D.nq;
	o.reads /= D.nq;
	o.plan = st[0].plan;
	free(st);
	free(ids);
	free(found);
	free(dists);
	free(gt);
	return o;
}

TestSuite(dix_filter, .init = setup, .fini = teardown, .timeout = 300);

Test(dix_filter, recall_holds_at_every_selectivity)
{
	static const struct {
		const char *expr;
		double lo, hi;       /* expected allowed fraction */
		uint32_t plan;       /* what AUTO should pick */
	} cases[] = {
		{ "r < 500", 0.45, 0.55, DANN_PLAN_BEAM_UNCOUNTED },
		{ "label == 3", 0.08, 0.12, DANN_PLAN_EXACT },
		{ "r < 100", 0.08, 0.12, DANN_PLAN_EXACT },
		{ "r < 10", 0.005, 0.015, DANN_PLAN_EXACT },
		{ "label in [1, 7] and r < 50", 0.005, 0.015, DANN_PLAN_EXACT },
		{ "r < 1", 0.0003, 0.002, DANN_PLAN_EXACT },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint64_t count, *w = mask_of(cases[c].expr, &count);
		double frac = (double)count / D.n;
		struct outcome o = run(w, NULL, DANN_PLAN_AUTO, 64);
		cr_expect(frac >= cases[c].lo && frac <= cases[c].hi, "%s allows %.4f", cases[c].expr, frac);
		cr_expect_eq(o.plan, cases[c].plan, "%s: plan %u", cases[c].expr, o.plan);
		cr_expect_eq(o.bad, 0, "%s: %d results outside the filter", cases[c].expr, o.bad);
		cr_expect_geq(o.recall, FLOOR, "%s (%.4f allowed): recall@10 %.4f, %.1f reads/query",
			      cases[c].expr, frac, o.recall, o.reads);
		free(w);
	}
}

Test(dix_filter, each_plan_keeps_recall_where_it_is_used)
{
	uint64_t count, *half = mask_of("r < 500", &count), *tenth = mask_of("r < 100", &count);
	struct outcome o;

	o = run(half, NULL, DANN_PLAN_EXACT, 64);
	cr_expect_geq(o.recall, FLOOR, "exact at 50%%: %.4f", o.recall);
	cr_expect_eq(o.plan, DANN_PLAN_EXACT);
	o = run(tenth, NULL, DANN_PLAN_BEAM, 64);
	cr_expect_geq(o.recall, FLOOR, "beam at 10%%: %.4f", o.recall);
	cr_expect_eq(o.plan, DANN_PLAN_BEAM);
	cr_expect_eq(o.bad, 0);
	free(half);
	free(tenth);
}

/* The uncounted walk (excluded nodes traversed, not counted into L) with
 * nothing excluded is the plain beam search: same answers, same reads. */
Test(dix_filter, uncounted_walk_with_nothing_excluded_is_the_plain_search)
{
	uint64_t count, *all = mask_of("r >= 0", &count);
	struct dann_search_params sp;
	uint32_t ids[K], pids[K], found, pfound;
	float dists[K], pdists[K];
	struct dann_search_stats st, pst;

	cr_assert_eq(count, D.n);
	dann_search_params_default(&sp);
	sp.L = 32;
	for (uint32_t q = 0; q < 10; q++) {
		const float *v = D.q + (size_t)q * D.dim;
		sp.allowed = NULL;
		sp.allowed_bits = 0;
		sp.filter_plan = DANN_PLAN_AUTO;
		cr_assert_eq(dann_search(D.ix, v, &sp, pids, pdists, &pfound, &pst), 0, "%s", dann_errmsg());
		sp.allowed = all;
		sp.allowed_bits = D.n;
		sp.filter_plan = DANN_PLAN_BEAM_UNCOUNTED;
		cr_assert_eq(dann_search(D.ix, v, &sp, ids, dists, &found, &st), 0, "%s", dann_errmsg());
		cr_assert_eq(st.plan, DANN_PLAN_BEAM_UNCOUNTED);
		cr_assert_eq(found, pfound);
		cr_assert_arr_eq(ids, pids, sizeof ids[0] * found, "query %u", q);
		cr_assert_eq(st.reads, pst.reads, "query %u: %u reads against %u", q, st.reads, pst.reads);
	}
	free(all);
}

/* Where the beam plans are used (most rows allowed), the uncounted walk
 * keeps recall and returns only allowed, undeleted rows; a single query
 * answers what the batch does. */
Test(dix_filter, uncounted_walk_keeps_recall_and_the_filter)
{
	static const char *exprs[] = { "r < 500" };
	uint64_t ndel, *del = mask_of("r % 7 == 0", &ndel);
	struct dann_search_params sp;
	uint32_t ids[K], bids[K], found, bfound;
	float dists[K], bdists[K];
	struct dann_search_stats st;

	for (size_t c = 0; c < sizeof exprs / sizeof exprs[0]; c++) {
		uint64_t count, *w = mask_of(exprs[c], &count);
		struct outcome o = run(w, NULL, DANN_PLAN_BEAM_UNCOUNTED, 64);
		cr_expect_eq(o.plan, DANN_PLAN_BEAM_UNCOUNTED);
		cr_expect_eq(o.bad, 0, "%s: %d results outside the filter", exprs[c], o.bad);
		cr_expect_geq(o.recall, FLOOR, "%s: recall@10 %.4f, %.1f reads/query", exprs[c], o.recall,
			      o.reads);
		o = run(w, del, DANN_PLAN_BEAM_UNCOUNTED, 64);
		cr_expect_eq(o.bad, 0, "%s: %d results deleted or outside the filter", exprs[c], o.bad);
		cr_expect_geq(o.recall, FLOOR, "%s with deletes: recall@10 %.4f", exprs[c], o.recall);
		dann_search_params_default(&sp);
		sp.L = 64;
		sp.allowed = w;
		sp.allowed_bits = D.n;
		sp.filter_plan = DANN_PLAN_BEAM_UNCOUNTED;
		for (uint32_t q = 0; q < 3; q++) {
			cr_assert_eq(dann_search(D.ix, D.q + (size_t)q * D.dim, &sp, ids, dists, &found, &st), 0,
				     "%s", dann_errmsg());
			cr_assert_eq(dann_search_batch(D.ix, D.q + (size_t)q * D.dim, 1, &sp, bids, bdists,
						       &bfound, NULL), 0, "%s", dann_errmsg());
			cr_assert_eq(found, bfound);
			cr_assert_arr_eq(ids, bids, sizeof ids[0] * found);
		}
		free(w);
	}
	free(del);
}

Test(dix_filter, deleted_rows_are_never_returned)
{
	uint64_t count, *del = mask_of("r % 7 == 0", &count), *tenth = mask_of("r < 100", &count);
	struct outcome o;

	for (int plan = DANN_PLAN_AUTO; plan <= DANN_PLAN_EXACT; plan++) {
		o = run(NULL, del, plan, 64);
		cr_expect_eq(o.bad, 0, "plan %d returned deleted rows", plan);
		cr_expect_geq(o.recall, FLOOR, "plan %d, deletes only: %.4f", plan, o.recall);
		o = run(tenth, del, plan, 64);
		cr_expect_eq(o.bad, 0, "plan %d returned deleted or filtered rows", plan);
		cr_expect_geq(o.recall, FLOOR, "plan %d, filter and deletes: %.4f", plan, o.recall);
	}
	free(del);
	free(tenth);
}

Test(dix_filter, a_filter_that_allows_nothing_finds_nothing)
{
	uint64_t count, *none = mask_of("r < 0", &count);
	struct dann_search_params sp;
	uint32_t ids[K], found = 99;
	float dists[K];
	struct dann_search_stats st;

	cr_assert_eq(count, 0);
	dann_search_params_default(&sp);
	sp.allowed = none;
	sp.allowed_bits = D.n;
	cr_assert_eq(dann_search(D.ix, D.q, &sp, ids, dists, &found, &st), 0, "%s", dann_errmsg());
	cr_expect_eq(found, 0);
	cr_expect_eq(st.reads, 0);
	cr_expect_eq(ids[0], UINT32_MAX);
	free(none);
}

Test(dix_filter, single_queries_match_the_batch)
{
	uint64_t count, *w = mask_of("r < 10", &count);
	struct dann_search_params sp;
	uint32_t ids[K], bids[K], found, bfound;
	float dists[K], bdists[K];
	struct dann_search_stats st;

	dann_search_params_default(&sp);
	sp.allowed = w;
	sp.allowed_bits = D.n;
	for (uint32_t q = 0; q < 5; q++) {
		cr_assert_eq(dann_search(D.ix, D.q + (size_t)q * D.dim, &sp, ids, dists, &found, &st), 0,
			     "%s", dann_errmsg());
		cr_assert_eq(st.plan, DANN_PLAN_EXACT);
		cr_assert_eq(dann_search_batch(D.ix, D.q + (size_t)q * D.dim, 1, &sp, bids, bdists,
					       &bfound, NULL), 0, "%s", dann_errmsg());
		cr_assert_eq(found, bfound);
		cr_assert_arr_eq(ids, bids, sizeof ids[0] * found);
	}
	sp.filter_plan = 7;
	cr_assert_eq(dann_search(D.ix, D.q, &sp, ids, dists, &found, &st), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "filter plan 7"), "%s", dann_errmsg());
	free(w);
}
