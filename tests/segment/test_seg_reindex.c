/*
 * test_seg_reindex.c — dann_coll_set_index with a new metric: searches
 * keep the old metric until every flushed segment is rebuilt, then all of
 * the collection answers by the new one (distances of the new metric,
 * the new nearest rows), deleted rows stay deleted, and it holds after a
 * reopen; a reopen resumes a pending change, and a crash between the
 * segment swap and the schema change is finished by the next open.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dist.h"
#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_reindex"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_reindex, .init = setup, .fini = teardown, .timeout = 120);

#define NQ 30
#define LAST 700

static bool gone(int64_t k) { return k % 5 == 0 && k <= 600; }

/* 2 flushed segments, deletes in both, 100 growing rows. */
static struct dann_coll *fill(struct dann_db *db)
{
	struct dann_schema s;
	struct dann_coll *c;
	uint64_t d;

	st_schema(&s, "r", ST_DIM);
	s.seal_rows = 300;
	c = st_create(db, &s);
	st_insert_range(c, 1, 300, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_range(c, 301, 300, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	for (int64_t k = 5; k <= 600; k += 5)
		cr_assert_eq(dann_coll_delete(c, &k, 1, &d), 0);
	st_insert_range(c, 601, 100, ST_DIM);
	return c;
}

/* Every result's distance is its row's distance under metric m, and the
 * nearest live row by m comes first for most queries. */
static void answers_by(struct dann_coll *c, enum dann_metric m)
{
	dist_fn dist = dist_kernel(m, DANN_DTYPE_F32, DANN_DTYPE_F32);
	struct dann_coll_search_params p;
	int64_t keys[10];
	float d[10], q[ST_DIM], v[ST_DIM];
	uint32_t found, best_first = 0;

	dann_coll_search_params_default(&p);
	p.L = 64;
	for (int i = 0; i < NQ; i++) {
		int64_t best = -1;
		float bd = INFINITY;
		st_vec(5000000 + i, ST_DIM, q);
		cr_assert_eq(dann_coll_search(c, q, &p, keys, d, &found, NULL), 0, "%s", dann_errmsg());
		cr_assert_eq(found, 10);
		for (uint32_t j = 0; j < found; j++) {
			cr_assert(!gone(keys[j]), "deleted key %lld returned", (long long)keys[j]);
			st_vec(keys[j], ST_DIM, v);
			cr_assert_float_eq(d[j], dist(q, v, ST_DIM), 1e-3, "query %d key %lld: %g, by %s %g", i,
					   (long long)keys[j], d[j], dann_metric_name(m), dist(q, v, ST_DIM));
		}
		for (int64_t k = 1; k <= LAST; k++) {
			float e;
			if (gone(k))
				continue;
			st_vec(k, ST_DIM, v);
			if ((e = dist(q, v, ST_DIM)) < bd)
				bd = e, best = k;
		}
		best_first += keys[0] == best;
	}
	cr_assert_geq(best_first, NQ * 9 / 10, "nearest by %s first in %u of %d", dann_metric_name(m),
		      best_first, NQ);
}

static enum dann_metric metric_of(struct dann_coll *c)
{
	struct dann_schema s;

	cr_assert_eq(dann_coll_schema(c, &s), 0);
	return s.index.metric;
}

static void to_ip(struct dann_coll *c)
{
	struct dann_schema s;

	cr_assert_eq(dann_coll_schema(c, &s), 0);
	s.index.metric = DANN_METRIC_IP;
	cr_assert_eq(dann_coll_set_index(c, &s.index), 0, "%s", dann_errmsg());
}

static void check_ip(struct dann_coll *c)
{
	struct dann_seg_info *si;
	uint64_t count;
	float v[ST_DIM];
	size_t n;

	cr_assert_eq(metric_of(c), DANN_METRIC_IP);
	answers_by(c, DANN_METRIC_IP);
	cr_assert_eq(dann_coll_count(c, &count), 0);
	cr_assert_eq(count, LAST - 120);
	cr_assert_eq(dann_coll_get_vector(c, 10, v), DANN_ENOTFOUND);
	cr_assert_eq(dann_coll_get_vector(c, 11, v), 0);
	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(si[i].deleted, 0, "segment %llu rebuilt without its deleted rows",
			     (unsigned long long)si[i].id);
	free(si);
}

Test(seg_reindex, searches_keep_the_old_metric_until_every_segment_is_rebuilt)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = fill(db);
	struct dann_seg_info *si;
	uint64_t old_ids[8];
	size_t n, nold = 0;

	answers_by(c, DANN_METRIC_L2);
	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (si[i].state == DANN_SEG_FLUSHED)
			old_ids[nold++] = si[i].id;
	free(si);
	cr_assert_eq(nold, 2);
	to_ip(c);
	/* nothing rebuilt yet (no background): the old metric answers */
	cr_assert_eq(metric_of(c), DANN_METRIC_L2);
	answers_by(c, DANN_METRIC_L2);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	check_ip(c);
	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert(si[i].state == DANN_SEG_FLUSHED || si[i].rows == 0, "segment %llu: state %d",
			  (unsigned long long)si[i].id, si[i].state);
		for (size_t j = 0; j < nold; j++)
			cr_assert_neq(si[i].id, old_ids[j], "segment %llu was not rebuilt",
				      (unsigned long long)old_ids[j]);
	}
	free(si);
	/* rows written after the change are of the new metric too */
	st_insert_range(c, 1000, 50, ST_DIM);
	cr_assert_eq(dann_coll_delete(c, (int64_t[]){ 1000 }, 1, NULL), 0);
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "r", &c), 0);
	cr_assert_eq(metric_of(c), DANN_METRIC_IP);
	answers_by(c, DANN_METRIC_IP);
	dann_db_close(db);
}

Test(seg_reindex, a_reopen_resumes_a_pending_change_and_a_same_metric_call_cancels_it)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = fill(db);
	struct dann_schema s;

	to_ip(c);
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "r", &c), 0);
	cr_assert_eq(metric_of(c), DANN_METRIC_L2, "still pending after the reopen");
	answers_by(c, DANN_METRIC_L2);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	check_ip(c);
	/* back to L2, then called off by a call keeping IP: nothing changes */
	cr_assert_eq(dann_coll_schema(c, &s), 0);
	s.index.metric = DANN_METRIC_L2;
	cr_assert_eq(dann_coll_set_index(c, &s.index), 0, "%s", dann_errmsg());
	s.index.metric = DANN_METRIC_IP;
	cr_assert_eq(dann_coll_set_index(c, &s.index), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	check_ip(c);
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "r", &c), 0);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	check_ip(c);
	dann_db_close(db);
}

/* In a child: libgomp cannot run in a child forked after it ran, so the
 * parent builds nothing before its children are done. */
static void run_child(int (*fn)(void), int expect_kill)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(fn());
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (expect_kill)
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
	else
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

static int child_fill(void)
{
	struct dann_db *db = st_open(0);

	fill(db);
	dann_db_close(db);
	return 0;
}

static int child_reindex(void)
{
	struct dann_db_params p;
	struct dann_db *db;
	struct dann_coll *c;

	setenv("DANN_FAILPOINT", "reindexed", 1);
	dann_db_params_default(&p);
	p.no_background = 1;
	if (dann_db_open(tmpdir_path("data"), &p, &db) < 0 || dann_coll_get(db, "r", &c) < 0)
		return 3;
	to_ip(c);
	dann_coll_flush(c); /* killed at the failpoint */
	return 4;
}

Test(seg_reindex, a_crash_between_the_segment_swap_and_the_schema_change_is_finished_at_open)
{
	struct dann_db *db;
	struct dann_coll *c;

	run_child(child_fill, 0);
	run_child(child_reindex, 1);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "r", &c), 0);
	check_ip(c);
	dann_db_close(db);
}

Test(seg_reindex, the_background_worker_rebuilds_and_flush_waits_for_it)
{
	struct dann_db *db = st_open(1);
	struct dann_coll *c = fill(db);

	to_ip(c);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	check_ip(c);
	dann_db_close(db);
}

Test(seg_reindex, an_empty_collection_changes_metric_at_once_and_new_rows_follow)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	dist_fn ip = dist_kernel(DANN_METRIC_IP, DANN_DTYPE_F32, DANN_DTYPE_F32);
	float q[ST_DIM], v[ST_DIM], d[10];
	int64_t keys[10];
	uint32_t found;

	st_schema(&s, "e", ST_DIM);
	c = st_create(db, &s);
	to_ip(c);
	st_insert_range(c, 1, 50, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(metric_of(c), DANN_METRIC_IP);
	st_vec(777, ST_DIM, q);
	cr_assert_eq(dann_coll_search(c, q, NULL, keys, d, &found, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(found, 10);
	for (uint32_t j = 0; j < found; j++) {
		st_vec(keys[j], ST_DIM, v);
		cr_assert_float_eq(d[j], ip(q, v, ST_DIM), 1e-3, "key %lld", (long long)keys[j]);
	}
	dann_db_close(db);
}
