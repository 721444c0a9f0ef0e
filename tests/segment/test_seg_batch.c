/*
 * test_seg_batch.c — dann_coll_search_batch (segment by segment, each
 * flushed one through the disk index's own batch search) returns exactly
 * what one dann_coll_search per query returns: the same keys, distances
 * and segment counts, over flushed, sealed and growing segments with
 * deletes; and a bad query in a batch is an error naming it.
 */
#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_batch"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_batch, .init = setup, .fini = teardown, .timeout = 120);

#define NQ 60
#define K 10

static void queries(float *q, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		st_vec(1000000 + i, ST_DIM, q + (size_t)i * ST_DIM);
}

static void same_as_single(struct dann_coll *c, uint32_t k, uint32_t L, uint32_t threads, uint32_t inflight,
			   uint32_t expect_segments)
{
	struct dann_coll_search_params p;
	struct dann_coll_search_stats *bst = calloc(NQ, sizeof *bst), st;
	float *q = malloc(NQ * ST_DIM * sizeof *q), *bd = malloc(NQ * k * sizeof *bd), *d = malloc(k * sizeof *d);
	int64_t *bk = malloc(NQ * k * sizeof *bk), *keys = malloc(k * sizeof *keys);
	uint32_t bfound[NQ], found;
	int rc;

	queries(q, NQ);
	dann_coll_search_params_default(&p);
	p.k = k;
	p.L = L;
	p.threads = threads;
	p.inflight = inflight;
	rc = dann_coll_search_batch(c, q, NQ, &p, bk, bd, bfound, bst);
	cr_assert_eq(rc, 0, "batch: %s", dann_errmsg());
	for (uint32_t i = 0; i < NQ; i++) {
		rc = dann_coll_search(c, q + i * ST_DIM, &p, keys, d, &found, &st);
		cr_assert_eq(rc, 0, "single %u: %s", i, dann_errmsg());
		cr_assert_eq(bfound[i], found, "query %u: batch found %u, single %u", i, bfound[i], found);
		for (uint32_t j = 0; j < found; j++) {
			cr_assert_eq(bk[i * k + j], keys[j], "query %u result %u: key %lld vs %lld (%g vs %g)", i, j,
				     (long long)bk[i * k + j], (long long)keys[j], bd[i * k + j], d[j]);
			cr_assert_eq(bd[i * k + j], d[j], "query %u result %u: distance", i, j);
		}
		cr_assert_eq(bst[i].segments, st.segments);
		cr_assert_eq(st.segments, expect_segments, "query %u visited %u segments", i, st.segments);
	}
	free(bst);
	free(q);
	free(bd);
	free(d);
	free(bk);
	free(keys);
}

Test(seg_batch, equals_single_searches_over_flushed_sealed_and_growing_segments)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	struct dann_seg_info *si;
	size_t n;
	uint64_t del;

	st_schema(&s, "b", ST_DIM);
	s.seal_rows = 600;
	c = st_create(db, &s);
	st_insert_range(c, 1, 600, ST_DIM);      /* sealed at the threshold */
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_range(c, 601, 600, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_range(c, 1201, 600, ST_DIM);   /* sealed, not built (no background) */
	st_insert_range(c, 1801, 300, ST_DIM);   /* growing */
	for (int64_t k = 2; k <= 2100; k += 7)
		cr_assert_eq(dann_coll_delete(c, &k, 1, &del), 0);
	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	cr_assert_eq(n, 4, "%zu segments", n);
	cr_assert_eq(si[0].state, DANN_SEG_FLUSHED);
	cr_assert_eq(si[1].state, DANN_SEG_FLUSHED);
	cr_assert_eq(si[2].state, DANN_SEG_SEALED);
	cr_assert_eq(si[3].state, DANN_SEG_GROWING);
	free(si);
	same_as_single(c, K, 40, 1, 1, 4);
	same_as_single(c, K, 40, 2, 4, 4);
	same_as_single(c, 3, 10, 3, 16, 4);
	dann_db_close(db);
}

Test(seg_batch, more_results_asked_than_rows)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;

	st_schema(&s, "b", ST_DIM);
	c = st_create(db, &s);
	st_insert_range(c, 1, 8, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_range(c, 9, 4, ST_DIM);
	same_as_single(c, 20, 40, 2, 16, 2);
	dann_db_close(db);
}

Test(seg_batch, a_bad_query_is_named_and_nothing_is_found)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	float *q = malloc(NQ * ST_DIM * sizeof *q), d[NQ * K];
	int64_t keys[NQ * K];
	uint32_t found[NQ];
	struct dann_coll_search_params p;

	st_schema(&s, "b", ST_DIM);
	c = st_create(db, &s);
	st_insert_range(c, 1, 100, ST_DIM);
	queries(q, NQ);
	q[7 * ST_DIM + 3] = NAN;
	dann_coll_search_params_default(&p);
	cr_assert_eq(dann_coll_search_batch(c, q, NQ, &p, keys, d, found, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "query 7") && strstr(dann_errmsg(), "NaN"), "%s", dann_errmsg());
	for (int i = 0; i < NQ; i++)
		cr_assert_eq(found[i], 0);
	q[7 * ST_DIM + 3] = 0;
	p.k = 0;
	cr_assert_eq(dann_coll_search_batch(c, q, NQ, &p, keys, d, found, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "k = 0"), "%s", dann_errmsg());
	free(q);
	dann_db_close(db);
}
