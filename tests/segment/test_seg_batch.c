/*
 * test_seg_batch.c — dann_coll_search_batch (segment by segment, each
 * flushed one through the disk index's own batch search) returns exactly
 * what one dann_coll_search per query returns: the same keys, distances
 * and segment counts, over flushed, sealed and growing segments with
 * deletes, with and without a filter; a filtered batch evaluates its
 * filter once per segment, not once per query; and a bad query in a batch
 * is an error naming it.
 */
#include "seg_testutil.h"
#include "segment/seg_impl.h"

static void setup(void) { tmpdir_make("seg_batch"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_batch, .init = setup, .fini = teardown, .timeout = 120);

#define NQ 60
#define K 10
/* More queries than one pass over the segments takes (seg_batch.c's
 * BATCH_CHUNK), so a batch's masks must outlive its first chunk. */
#define NQ_CHUNKS 1100

static void queries(float *q, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		st_vec(1000000 + i, ST_DIM, q + (size_t)i * ST_DIM);
}

static void same_as_single_n(struct dann_coll *c, uint32_t nq, uint32_t k, uint32_t L, uint32_t threads,
			     uint32_t inflight, uint32_t expect_segments, const char *filter)
{
	struct dann_coll_search_params p;
	struct dann_coll_search_stats *bst = calloc(nq, sizeof *bst), st;
	float *q = malloc(nq * ST_DIM * sizeof *q), *bd = malloc(nq * k * sizeof *bd), *d = malloc(k * sizeof *d);
	int64_t *bk = malloc(nq * k * sizeof *bk), *keys = malloc(k * sizeof *keys);
	uint32_t *bfound = malloc(nq * sizeof *bfound), found;
	int rc;

	queries(q, nq);
	dann_coll_search_params_default(&p);
	p.k = k;
	p.L = L;
	p.threads = threads;
	p.inflight = inflight;
	p.filter = filter;
	rc = dann_coll_search_batch(c, q, nq, &p, bk, bd, bfound, bst);
	cr_assert_eq(rc, 0, "batch: %s", dann_errmsg());
	for (uint32_t i = 0; i < nq; i++) {
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
	free(bfound);
}

static void same_as_single(struct dann_coll *c, uint32_t k, uint32_t L, uint32_t threads, uint32_t inflight,
			   uint32_t expect_segments)
{
	same_as_single_n(c, NQ, k, L, threads, inflight, expect_segments, NULL);
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

/* Flushed, flushed, sealed and growing segments, with deletes in each. */
static struct dann_coll *four_segments_with_cat(struct dann_db *db)
{
	struct dann_schema s;
	struct dann_coll *c;
	uint64_t del;

	st_schema(&s, "f", ST_DIM);
	s.seal_rows = 600;
	s.nfields = 1;
	snprintf(s.fields[0].name, sizeof s.fields[0].name, "cat");
	s.fields[0].type = DANN_FIELD_INT32;
	c = st_create(db, &s);
	st_insert_cat(c, 1, 600);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_cat(c, 601, 600);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_cat(c, 1201, 600);
	st_insert_cat(c, 1801, 300);
	for (int64_t k = 2; k <= 2100; k += 7)
		cr_assert_eq(dann_coll_delete(c, &k, 1, &del), 0);
	return c;
}

/* 10% of the rows (the disk segments' exact plan), 50% (the beam plan),
 * and one over the key and a field (scalar indexes on disk). */
static const char *const filters[] = { "cat == 3", "cat < 5", "cat in [1, 2] and id > 300" };

Test(seg_batch, a_filtered_batch_equals_single_filtered_searches)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = four_segments_with_cat(db);

	for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
		same_as_single_n(c, NQ, K, 40, 2, 4, 4, filters[f]);
		same_as_single_n(c, NQ, 3, 10, 1, 1, 4, filters[f]);
	}
	dann_db_close(db);
}

static void evals(struct dann_coll *c, uint64_t *out, size_t *n)
{
	struct seg_ver *v = seg_ver_get(c);

	for (size_t i = 0; i < v->n; i++)
		out[i] = atomic_load(&v->s[i]->filter_evals);
	*n = v->n;
	seg_ver_unref(v);
}

/* Each filter over a batch of nq queries: one evaluation per segment.
 * The first filter's batch spans two chunks; its second chunk's answers
 * (made with the masks of the first) match single searches. */
Test(seg_batch, a_filtered_batch_evaluates_its_filter_once_per_segment)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = four_segments_with_cat(db);
	struct dann_coll_search_params p;
	float *q = malloc(NQ_CHUNKS * ST_DIM * sizeof *q), *d = malloc(NQ_CHUNKS * K * sizeof *d), sd[K];
	int64_t *keys = malloc(NQ_CHUNKS * K * sizeof *keys), sk[K];
	uint32_t *found = malloc(NQ_CHUNKS * sizeof *found), sf;
	uint64_t before[8], after[8];
	size_t n, n2;

	queries(q, NQ_CHUNKS);
	dann_coll_search_params_default(&p);
	p.threads = 2;
	p.L = 20; /* the exact plan reads max(L, k) rows per query and segment */
	for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
		uint32_t nq = f == 0 ? NQ_CHUNKS : NQ;
		p.filter = filters[f];
		evals(c, before, &n);
		cr_assert_eq(n, 4);
		cr_assert_eq(dann_coll_search_batch(c, q, nq, &p, keys, d, found, NULL), 0, "%s",
			     dann_errmsg());
		evals(c, after, &n2);
		for (size_t i = 0; i < n; i++)
			cr_expect_eq(after[i] - before[i], 1, "%s: segment %zu evaluated %llu times for %u queries",
				     filters[f], i, (unsigned long long)(after[i] - before[i]), nq);
		if (f == 0)
			for (uint32_t i = NQ_CHUNKS - 40; i < NQ_CHUNKS; i++) {
				cr_assert_eq(dann_coll_search(c, q + (size_t)i * ST_DIM, &p, sk, sd, &sf, NULL), 0,
					     "%s", dann_errmsg());
				cr_assert_eq(sf, found[i], "query %u", i);
				cr_assert_arr_eq(sk, keys + (size_t)i * K, sf * sizeof sk[0], "query %u", i);
			}
		/* the single search, by contrast, evaluates per query: the counter counts */
		evals(c, after, &n2);
		cr_assert_eq(dann_coll_search(c, q, &p, sk, sd, &sf, NULL), 0, "%s", dann_errmsg());
		evals(c, before, &n);
		for (size_t i = 0; i < n; i++)
			cr_expect_eq(before[i] - after[i], 1);
	}
	free(q);
	free(d);
	free(keys);
	free(found);
	dann_db_close(db);
}
