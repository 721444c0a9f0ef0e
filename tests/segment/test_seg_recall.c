/*
 * test_seg_recall.c — recall@10 of a collection on Fashion-MNIST against
 * one disk index built in one go at the same R, L and search L:
 *   1. rows inserted in batches (growing → sealed → flushed segments)
 *      give recall within 0.01 of the one index;
 *   2. after deleting 10% of the rows and compacting, recall is within
 *      0.01 of a fresh index over the remaining rows, and no deleted row
 *      is ever returned (checked before and after compaction).
 * The sanitizer build uses a subset.
 */
#include "helpers/fmnist.h"
#include "helpers/knn.h"
#include "seg_testutil.h"
#include "vf.h"

#if defined(__SANITIZE_ADDRESS__)
#define BASE_ROWS 3000
#define SEAL_ROWS 1000
#else
#define BASE_ROWS 12000
#define SEAL_ROWS 4000
#endif
#define QUERY_ROWS 200
#define K 10
#define BATCH 500
#define SEARCH_L 40
#define KEY_OF(row) ((int64_t)(row) * 3 + 100)

static void setup(void) { tmpdir_make("seg_recall"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_recall, .init = setup, .fini = teardown, .timeout = 600);

static uint8_t *base;
static float *queries;
static uint32_t n, nq, dim;

/* Recall of the one index built from rows (keys KEY_OF of live rows). */
static double index_recall(const uint8_t *rows, uint32_t nrows, const uint32_t *row_ids,
			   const uint32_t *gt, const char *tag)
{
	char data[256], dir[256];
	struct dann_build_params bp;
	struct dann_search_params sp;
	struct dann_index *ix;
	uint32_t ids[K], found;
	float d[K];
	double r = 0;

	snprintf(data, sizeof data, "%s", tmpdir_path(tag));
	strcat(data, ".u8bin");
	snprintf(dir, sizeof dir, "%s.index", tmpdir_path(tag));
	cr_assert_eq(vf_write_file(data, dim, rows, nrows), 0, "%s", dann_errmsg());
	dann_build_params_default(&bp);
	bp.R = 24;
	bp.L = 48;
	bp.threads = 2;
	cr_assert_eq(dann_index_build(data, dir, &bp), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_index_open(dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&sp);
	sp.k = K;
	sp.L = SEARCH_L;
	for (uint32_t i = 0; i < nq; i++) {
		cr_assert_eq(dann_search(ix, queries + (size_t)i * dim, &sp, ids, d, &found, NULL), 0);
		for (uint32_t j = 0; j < found; j++)
			ids[j] = row_ids[ids[j]];
		r += knn_recall(gt + i * K, K, ids, found);
	}
	dann_index_close(ix);
	return r / nq;
}

/* Recall of the collection; fails on any key in gone[] (by row). */
static double coll_recall(struct dann_coll *c, const uint32_t *gt, const uint8_t *gone)
{
	struct dann_coll_search_params p;
	int64_t keys[K];
	uint32_t rows[K], found;
	float d[K];
	double r = 0;

	dann_coll_search_params_default(&p);
	p.k = K;
	p.L = SEARCH_L;
	for (uint32_t i = 0; i < nq; i++) {
		cr_assert_eq(dann_coll_search(c, queries + (size_t)i * dim, &p, keys, d, &found, NULL), 0,
			     "%s", dann_errmsg());
		for (uint32_t j = 0; j < found; j++) {
			rows[j] = (uint32_t)((keys[j] - 100) / 3);
			cr_assert(!gone || !gone[rows[j]], "deleted key %lld returned", (long long)keys[j]);
		}
		r += knn_recall(gt + i * K, K, rows, found);
	}
	return r / nq;
}

Test(seg_recall, batches_and_compaction_keep_recall_of_one_index)
{
	uint8_t *qu8, *gone, *live_rows;
	uint32_t *gt, *ident, *live_ids, nlive = 0;
	struct dann_schema s;
	struct dann_coll *c;

	cr_assert_eq(fmnist_load_u8(DANN_FMNIST_DIR, "train", BASE_ROWS, &base, &n, &dim), 0, "%s",
		     dann_errmsg());
	cr_assert_eq(fmnist_load_u8(DANN_FMNIST_DIR, "t10k", QUERY_ROWS, &qu8, &nq, &dim), 0, "%s",
		     dann_errmsg());
	queries = malloc(sizeof *queries * nq * dim);
	for (uint64_t i = 0; i < (uint64_t)nq * dim; i++)
		queries[i] = qu8[i];
	gt = malloc(sizeof *gt * nq * K);
	ident = malloc(sizeof *ident * n);
	for (uint32_t i = 0; i < n; i++)
		ident[i] = i;
	cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_U8, dim, base, n, queries, nq, K, gt), 0);

	struct dann_db *db = st_open(1);
	st_schema(&s, "fm", dim);
	s.dtype = DANN_DTYPE_U8;
	s.index.R = 24;
	s.index.L = 48;
	s.seal_rows = SEAL_ROWS;
	c = st_create(db, &s);
	int64_t keys[BATCH];
	for (uint32_t r0 = 0; r0 < n; r0 += BATCH) {
		uint32_t m = n - r0 < BATCH ? n - r0 : BATCH;
		for (uint32_t j = 0; j < m; j++)
			keys[j] = KEY_OF(r0 + j);
		struct dann_batch b = { .n = m, .keys = keys, .vectors = base + (size_t)r0 * dim };
		cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
	}
	double during = coll_recall(c, gt, NULL);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	double ref = index_recall(base, n, ident, gt, "one");
	double got = coll_recall(c, gt, NULL);
	cr_log_info("recall@10 at L=%d: one index %.4f, collection %.4f (%.4f before flush)",
		    SEARCH_L, ref, got, during);
	cr_assert_geq(got, ref - 0.01, "collection %.4f vs one index %.4f", got, ref);

	/* delete 10% */
	gone = calloc(n, 1);
	uint64_t x = 99, ndel = 0;
	for (uint32_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x % 10 == 0) {
			int64_t k = KEY_OF(i);
			uint64_t d;
			gone[i] = 1;
			ndel++;
			cr_assert_eq(dann_coll_delete(c, &k, 1, &d), 0);
			cr_assert_eq(d, 1);
		}
	}
	live_rows = malloc((size_t)n * dim);
	live_ids = malloc(sizeof *live_ids * n);
	for (uint32_t i = 0; i < n; i++)
		if (!gone[i]) {
			memcpy(live_rows + (size_t)nlive * dim, base + (size_t)i * dim, dim);
			live_ids[nlive++] = i;
		}
	uint32_t *gt2 = malloc(sizeof *gt2 * nq * K);
	cr_assert_eq(knn_exact(DANN_METRIC_L2, DANN_DTYPE_U8, dim, live_rows, nlive, queries, nq, K, gt2), 0);
	for (uint32_t i = 0; i < nq * K; i++)
		gt2[i] = live_ids[gt2[i]];
	double before = coll_recall(c, gt2, gone);
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	double after = coll_recall(c, gt2, gone);
	double ref2 = index_recall(live_rows, nlive, live_ids, gt2, "fresh");
	cr_log_info("after deleting %llu rows: fresh index %.4f, collection %.4f (%.4f before compaction)",
		    (unsigned long long)ndel, ref2, after, before);
	cr_assert_geq(after, ref2 - 0.01, "compacted %.4f vs fresh index %.4f", after, ref2);
	uint64_t count;
	cr_assert_eq(dann_coll_count(c, &count), 0);
	cr_assert_eq(count, nlive);
	dann_db_close(db);
	free(gt2);
	free(live_rows);
	free(live_ids);
	free(gone);
	free(gt);
	free(ident);
	free(queries);
	free(qu8);
	free(base);
}
