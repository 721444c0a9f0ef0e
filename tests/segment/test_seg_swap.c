/*
 * test_seg_swap.c — sealing and the background build's swap while
 * searches and writes go on: every acknowledged row is found by every
 * search that starts after it, the segments always hold each live row
 * once (their live rows add up to the count), deletes made during a build
 * carry over into the flushed segment and its bitmap on disk.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_swap"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_swap, .init = setup, .fini = teardown, .timeout = 120);

struct reader {
	struct dann_coll *c;
	_Atomic int64_t acked;   /* keys 1..acked are in */
	_Atomic int stop;
	int misses, bad_counts, searches;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	uint64_t x = 7;

	while (!atomic_load(&r->stop)) {
		int64_t top = atomic_load(&r->acked);
		if (top < 1)
			continue;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int64_t key = 1 + (int64_t)(x % (uint64_t)top);
		float v[ST_DIM];
		st_vec(key, ST_DIM, v);
		if (st_findable(r->c, key, v) != 1)
			r->misses++;
		/* the version's live rows add up to at least what was acked */
		struct dann_seg_info *si;
		size_t n;
		uint64_t live = 0, count = 0;
		dann_coll_segments(r->c, &si, &n);
		for (size_t i = 0; i < n; i++)
			live += si[i].rows - si[i].deleted;
		free(si);
		dann_coll_count(r->c, &count);
		if (live < (uint64_t)top)
			r->bad_counts++;
		r->searches++;
	}
	return NULL;
}

Test(seg_swap, searches_see_every_row_once_across_seals_and_swaps)
{
	struct dann_db *db = st_open(1);
	struct dann_schema s;
	struct dann_coll *c;
	struct reader r = { 0 };
	pthread_t th;

	st_schema(&s, "sw", ST_DIM);
	s.seal_rows = 700;
	c = st_create(db, &s);
	r.c = c;
	pthread_create(&th, NULL, read_loop, &r);
	for (int64_t k = 1; k <= 3000; k += 100) {
		st_insert_range(c, k, 100, ST_DIM);
		atomic_store(&r.acked, k + 99);
	}
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	cr_assert_eq(r.misses, 0, "%d of %d searches missed an acknowledged row", r.misses, r.searches);
	cr_assert_eq(r.bad_counts, 0, "segments lost rows %d times", r.bad_counts);

	struct dann_seg_info *si;
	size_t n;
	uint64_t rows = 0;
	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert(si[i].state == DANN_SEG_FLUSHED || si[i].state == DANN_SEG_GROWING);
		rows += si[i].rows;
	}
	free(si);
	cr_assert_eq(rows, 3000, "every row in exactly one segment (%llu)", (unsigned long long)rows);
	dann_db_close(db);
}

Test(seg_swap, deletes_during_a_build_stay_deleted)
{
	struct dann_db *db = st_open(1);
	struct dann_schema s;
	struct dann_coll *c;
	uint64_t n;

	st_schema(&s, "del", ST_DIM);
	s.seal_rows = 2000;
	c = st_create(db, &s);
	st_insert_range(c, 1, 2000, ST_DIM); /* sealed: the build starts */
	for (int64_t k = 1; k <= 2000; k += 10) {
		uint64_t d;
		cr_assert_eq(dann_coll_delete(c, &k, 1, &d), 0, "%s", dann_errmsg());
		cr_assert_eq(d, 1);
	}
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	for (int pass = 0; pass < 2; pass++) {
		for (int64_t k = 1; k <= 2000; k++) {
			float v[ST_DIM];
			int rc = dann_coll_get_vector(c, k, v);
			cr_assert_eq(rc, k % 10 == 1 ? DANN_ENOTFOUND : 0, "key %lld pass %d", (long long)k,
				     pass);
			if (k % 97 == 0 || k % 10 == 1) {
				st_vec(k, ST_DIM, v);
				cr_assert_eq(st_findable(c, k, v), k % 10 == 1 ? 0 : 1, "search, key %lld",
					     (long long)k);
			}
		}
		cr_assert_eq(dann_coll_count(c, &n), 0);
		cr_assert_eq(n, 1800);
		dann_db_close(db);
		db = st_open(1);
		cr_assert_eq(dann_coll_get(db, "del", &c), 0);
	}
	dann_db_close(db);
}

Test(seg_swap, the_growing_graph_never_returns_deleted_rows)
{
	struct dann_db *db = st_open(1);
	struct dann_schema s;
	struct dann_coll *c;

	st_schema(&s, "g", ST_DIM);
	s.seal_rows = 8000; /* the graph starts at 4000 rows */
	c = st_create(db, &s);
	for (int64_t k = 1; k <= 6000; k += 500) {
		st_insert_range(c, k, 500, ST_DIM);
		/* deletes land before, during and after the graph thread's steps */
		for (int64_t d = k; d < k + 500; d += 10) {
			uint64_t n;
			cr_assert_eq(dann_coll_delete(c, &d, 1, &n), 0);
			cr_assert_eq(n, 1);
		}
		for (int64_t q = 1; q < k + 500; q += 37) {
			float v[ST_DIM];
			st_vec(q, ST_DIM, v);
			cr_assert_eq(st_findable(c, q, v), q % 10 == 1 ? 0 : 1, "key %lld after %lld rows",
				     (long long)q, (long long)(k + 499));
		}
	}
	for (int i = 0; i < 20; i++) { /* let the graph catch up, then look again */
		usleep(100000);
		for (int64_t q = 1 + i; q <= 6000; q += 97) {
			float v[ST_DIM];
			st_vec(q, ST_DIM, v);
			cr_assert_eq(st_findable(c, q, v), q % 10 == 1 ? 0 : 1, "key %lld", (long long)q);
		}
	}
	dann_db_close(db);
}

Test(seg_swap, close_during_a_build_keeps_every_row)
{
	struct dann_schema s;
	struct dann_coll *c;
	uint64_t n;

	for (int round = 0; round < 3; round++) {
		struct dann_db *db = st_open(1);
		if (round == 0) {
			st_schema(&s, "cl", ST_DIM);
			s.seal_rows = 3000;
			st_create(db, &s);
		}
		cr_assert_eq(dann_coll_get(db, "cl", &c), 0);
		st_insert_range(c, 1 + round * 3000, 3000, ST_DIM); /* sealed: a build starts */
		usleep((useconds_t)round * 30000);
		dann_db_close(db); /* abandons or finishes it */
	}
	struct dann_db *db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "cl", &c), 0);
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, 9000);
	for (int64_t k = 1; k <= 9000; k += 61) {
		float v[ST_DIM];
		st_vec(k, ST_DIM, v);
		cr_assert_eq(st_findable(c, k, v), 1, "key %lld", (long long)k);
	}
	dann_db_close(db);
}
