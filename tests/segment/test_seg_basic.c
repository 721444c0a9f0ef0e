/*
 * test_seg_basic.c — a collection's life without crashes: create, insert,
 * search, get, delete, upsert, reopen (WAL replay), flush into a disk
 * segment, and the same answers after each step.
 */
#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_basic"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_basic, .init = setup, .fini = teardown, .timeout = 120);

static void check_get(struct dann_coll *c, int64_t key, int live)
{
	float v[ST_DIM], want[ST_DIM];
	int rc = dann_coll_get_vector(c, key, v);

	if (!live) {
		cr_assert_eq(rc, DANN_ENOTFOUND, "key %lld should be gone (rc %d)", (long long)key, rc);
		return;
	}
	cr_assert_eq(rc, 0, "get %lld: %s", (long long)key, dann_errmsg());
	st_vec(key, ST_DIM, want);
	cr_assert_eq(memcmp(v, want, sizeof v), 0, "key %lld: stored vector differs", (long long)key);
	cr_assert_eq(st_findable(c, key, want), 1, "key %lld not found by its own vector",
		     (long long)key);
}

Test(seg_basic, insert_search_get_delete_upsert_survive_reopen_and_flush)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	uint64_t n = 0, deleted = 0;

	st_schema(&s, "docs", ST_DIM);
	c = st_create(db, &s);
	st_insert_range(c, 1, 500, ST_DIM);
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, 500);
	check_get(c, 1, 1);
	check_get(c, 250, 1);

	int64_t del[3] = { 10, 20, 99999 };
	cr_assert_eq(dann_coll_delete(c, del, 3, &deleted), 0, "%s", dann_errmsg());
	cr_assert_eq(deleted, 2, "two of three keys existed");
	check_get(c, 10, 0);

	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "docs", &c), 0);
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, 498, "count after replay %llu", (unsigned long long)n);
	check_get(c, 10, 0);
	check_get(c, 11, 1);

	cr_assert_eq(dann_coll_flush(c), 0, "flush: %s", dann_errmsg());
	struct dann_seg_info *si;
	size_t ns;
	cr_assert_eq(dann_coll_segments(c, &si, &ns), 0);
	int flushed = 0;
	for (size_t i = 0; i < ns; i++)
		flushed += si[i].state == DANN_SEG_FLUSHED;
	free(si);
	cr_assert_eq(flushed, 1, "one flushed segment after flush");
	check_get(c, 11, 1);
	check_get(c, 20, 0);
	st_insert_range(c, 1000, 50, ST_DIM);
	check_get(c, 1020, 1);

	/* delete in a flushed segment, reopen, still deleted */
	int64_t d2 = 300;
	cr_assert_eq(dann_coll_delete(c, &d2, 1, &deleted), 0);
	cr_assert_eq(deleted, 1);
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "docs", &c), 0);
	check_get(c, 300, 0);
	check_get(c, 301, 1);
	check_get(c, 1049, 1);
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, 497 + 50);
	dann_db_close(db);
}
