/*
 * test_seg_compact.c — compaction rewrites segments with deletes and runs
 * of small segments into one without the deleted rows: every live row
 * stays gettable and findable, deleted ones stay gone, the old segment
 * directories are removed, and all of it holds after a reopen.
 */
#include <dirent.h>

#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_compact"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_compact, .init = setup, .fini = teardown, .timeout = 120);

static int count_segment_dirs(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/c1", tmpdir_path("data"));
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d, "%s", path);
	while ((de = readdir(d)))
		n += de->d_name[0] == 's';
	closedir(d);
	return n;
}

static void check_rows(struct dann_coll *c, int64_t last)
{
	for (int64_t k = 1; k <= last; k++) {
		float v[ST_DIM];
		bool gone = k % 3 == 0 && k <= 900;
		int rc = dann_coll_get_vector(c, k, v);
		cr_assert_eq(rc, gone ? DANN_ENOTFOUND : 0, "key %lld", (long long)k);
		if (k % 50 == 0 || (gone && k % 30 == 0)) {
			st_vec(k, ST_DIM, v);
			cr_assert_eq(st_findable(c, k, v), gone ? 0 : 1, "search, key %lld", (long long)k);
		}
	}
}

Test(seg_compact, deleted_rows_and_small_segments_are_rewritten_into_one)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	struct dann_seg_info *si;
	size_t n;
	uint64_t count;

	st_schema(&s, "cp", ST_DIM);
	s.seal_rows = 10000;
	c = st_create(db, &s);
	for (int i = 0; i < 4; i++) {
		st_insert_range(c, 1 + i * 300, 300, ST_DIM);
		cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	}
	cr_assert_eq(count_segment_dirs(), 4);
	for (int64_t k = 3; k <= 900; k += 3) {
		uint64_t d;
		cr_assert_eq(dann_coll_delete(c, &k, 1, &d), 0);
		cr_assert_eq(d, 1);
	}
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	int flushed = 0;
	for (size_t i = 0; i < n; i++)
		if (si[i].state == DANN_SEG_FLUSHED) {
			flushed++;
			cr_assert_eq(si[i].rows, 1200 - 300, "the deleted rows are gone");
			cr_assert_eq(si[i].deleted, 0);
		}
	free(si);
	cr_assert_eq(flushed, 1, "one segment left, %d", flushed);
	cr_assert_eq(count_segment_dirs(), 1, "old segment directories removed");
	cr_assert_eq(dann_coll_count(c, &count), 0);
	cr_assert_eq(count, 900);
	check_rows(c, 1200);
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "cp", &c), 0);
	check_rows(c, 1200);
	cr_assert_eq(dann_coll_count(c, &count), 0);
	cr_assert_eq(count, 900);
	dann_db_close(db);
}

Test(seg_compact, a_fully_deleted_segment_goes_and_replay_stays_exact)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	uint64_t count, d;

	st_schema(&s, "cp", ST_DIM);
	c = st_create(db, &s);
	st_insert_range(c, 1, 400, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	int64_t *keys = malloc(400 * sizeof *keys);
	for (int i = 0; i < 400; i++)
		keys[i] = i + 1;
	cr_assert_eq(dann_coll_delete(c, keys, 400, &d), 0);
	cr_assert_eq(d, 400);
	free(keys);
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	cr_assert_eq(count_segment_dirs(), 0);
	st_insert_range(c, 1000, 10, ST_DIM);
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "cp", &c), 0);
	cr_assert_eq(dann_coll_count(c, &count), 0);
	cr_assert_eq(count, 10, "replay does not bring the compacted rows back (%llu)",
		     (unsigned long long)count);
	dann_db_close(db);
}

static int flushed_segments(struct dann_coll *c, uint64_t *rows)
{
	struct dann_seg_info *si;
	size_t n;
	int f = 0;

	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (si[i].state == DANN_SEG_FLUSHED) {
			rows[f++] = si[i].rows;
			cr_assert_eq(si[i].deleted, 0);
		}
	free(si);
	return f;
}

/* Segments sealed at the full threshold are not small against the seal
 * size, yet a search pays a graph walk for each: compaction merges them
 * up to SEG_COMPACT_GROWTH (8) thresholds, in as many passes as needed. */
Test(seg_compact, full_size_segments_are_merged_up_to_eight_thresholds)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	uint64_t rows[16], count;

	st_schema(&s, "cp", ST_DIM);
	s.seal_rows = 100;
	c = st_create(db, &s);
	for (int i = 0; i < 4; i++) {
		st_insert_range(c, 1 + i * 100, 100, ST_DIM); /* seals at 100 */
		cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	}
	cr_assert_eq(flushed_segments(c, rows), 4);
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	cr_assert_eq(flushed_segments(c, rows), 1, "four full segments merged into one");
	cr_assert_eq(rows[0], 400);
	cr_assert_eq(count_segment_dirs(), 1);
	/* 400 + 7 x 100 rows: one output holds at most 800, so two remain,
	 * the second from a later pass of the same call */
	for (int i = 4; i < 11; i++) {
		st_insert_range(c, 1 + i * 100, 100, ST_DIM);
		cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	}
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	cr_assert_eq(flushed_segments(c, rows), 2);
	cr_assert(rows[0] <= 800 && rows[1] <= 800 && rows[0] + rows[1] == 1100, "%llu + %llu rows",
		  (unsigned long long)rows[0], (unsigned long long)rows[1]);
	cr_assert_eq(dann_coll_count(c, &count), 0);
	cr_assert_eq(count, 1100);
	for (int64_t k = 1; k <= 1100; k += 37) {
		float v[ST_DIM];
		cr_assert_eq(dann_coll_get_vector(c, k, v), 0, "key %lld", (long long)k);
		st_vec(k, ST_DIM, v);
		cr_assert_eq(st_findable(c, k, v), 1, "key %lld", (long long)k);
	}
	dann_db_close(db);
}
