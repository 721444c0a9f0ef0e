/*
 * test_tier_db.c — a data directory and its bucket, end to end: collections
 * written and flushed, synced to the store (file:// or s3rver), restored
 * into a fresh data directory by `dann restore`, which answers the same
 * searches with the same results; deletes made after an upload reach the
 * bucket with the next sync; a dropped collection's objects go; a sync
 * killed with -9 in the middle of an upload records nothing half done and
 * the next sync finishes it.
 */
#include <glob.h>
#include <signal.h>
#include <sys/wait.h>

#include "fsutil.h"
#include "helpers/cli.h"
#include "helpers/s3rver.h"
#include "io/obj.h"
#include "segment/seg_testutil.h"
#include "segment/tier.h"

#define NQ 30
#define K 10
#define ROWS 1200 /* per flushed segment */

static struct s3rver srv;
static int srv_up;

static void setup(void)
{
	tmpdir_make("tier_db");
	setenv("OMP_WAIT_POLICY", "passive", 0);
}

static void teardown(void)
{
	if (srv_up)
		s3rver_stop(&srv);
	tmpdir_remove();
}

TestSuite(tier_db, .init = setup, .fini = teardown, .timeout = 300);

static struct dann_db *open_at(const char *dir)
{
	struct dann_db_params p;
	struct dann_db *db = NULL;

	dann_db_params_default(&p);
	p.no_background = 1;
	p.threads = 2;
	cr_assert_eq(dann_db_open(dir, &p, &db), 0, "db_open %s: %s", dir, dann_errmsg());
	return db;
}

/* Collection "docs": three flushed segments of ROWS rows, some deleted. */
static void fill(struct dann_db *db)
{
	struct dann_schema s;
	struct dann_coll *c;
	int64_t del[] = { 5, 17, 1300, 2500 };
	unsigned i;

	st_schema(&s, "docs", ST_DIM);
	c = st_create(db, &s);
	cr_assert_eq(dann_coll_set_prop(c, "index_name", "vec"), 0);
	for (i = 0; i < 3; i++) {
		st_insert_range(c, (int64_t)i * ROWS, ROWS, ST_DIM);
		cr_assert_eq(dann_coll_flush(c), 0, "flush: %s", dann_errmsg());
	}
	cr_assert_eq(dann_coll_delete(c, del, 4, NULL), 0, "%s", dann_errmsg());
}

static void answers(struct dann_db *db, int64_t *keys)
{
	struct dann_coll_search_params sp;
	struct dann_coll *c;
	float q[ST_DIM], dists[K];
	uint32_t found;
	unsigned i;

	cr_assert_eq(dann_coll_get(db, "docs", &c), 0, "%s", dann_errmsg());
	dann_coll_search_params_default(&sp);
	sp.k = K;
	for (i = 0; i < NQ; i++) {
		st_vec(100000 + i, ST_DIM, q);
		cr_assert_eq(dann_coll_search(c, q, &sp, keys + i * K, dists, &found, NULL), 0, "%s", dann_errmsg());
		cr_assert_eq(found, K);
	}
}

static uint64_t count(struct dann_db *db)
{
	struct dann_coll *c;
	uint64_t n;

	cr_assert_eq(dann_coll_get(db, "docs", &c), 0);
	cr_assert_eq(dann_coll_count(c, &n), 0);
	return n;
}

static int count_keys(void *arg, const char *key, uint64_t size)
{
	(void)key, (void)size;
	(*(unsigned *)arg)++;
	return 0;
}

static int stages_of(const char *dir)
{
	char pat[600];
	glob_t g;
	int n;

	snprintf(pat, sizeof pat, "%s.restore-*", dir);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = (int)g.gl_pathc;
	globfree(&g);
	return n;
}

static void restore_with_cli(const char *uri, const char *dir)
{
	char *out = NULL, *err = NULL;

	cr_assert_eq(cli_run(&out, &err, "restore", "--from", uri, "--data-dir", dir, NULL), 0, "dann restore: %s",
		     err);
	cr_assert(strstr(out, "restored 1 collection(s), 3 segment(s)"), "%s", out);
	free(out);
	free(err);
}

Test(tier_db, a_fresh_data_dir_restored_from_the_bucket_answers_the_same)
{
	char uri[512], fresh[512];
	struct dann_db *db = open_at(tmpdir_path("data"));
	struct tier_sync_stats st;
	struct obj_store *s;
	int64_t before[NQ * K], after[NQ * K], gone = 17;
	float vbuf[ST_DIM];
	struct dann_coll *c;
	char prop[32];
	uint64_t rows;

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	cr_assert_eq(obj_open(uri, NULL, &s), 0, "%s", dann_errmsg());
	fill(db);
	answers(db, before);
	rows = count(db);
	cr_assert_eq(tier_sync(db, s, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.collections, 1);
	cr_assert_eq(st.uploaded, 3);
	/* a second sync uploads nothing again, refreshes the delete bitmaps */
	cr_assert_eq(tier_sync(db, s, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.uploaded, 0);
	cr_assert_eq(st.deletes_refreshed, 3);
	dann_db_close(db);

	snprintf(fresh, sizeof fresh, "%s", tmpdir_path("fresh"));
	restore_with_cli(uri, fresh);
	db = open_at(fresh);
	answers(db, after);
	cr_assert(memcmp(before, after, sizeof before) == 0, "the restored node answers as the original");
	cr_assert_eq(count(db), rows);
	cr_assert_eq(dann_coll_get(db, "docs", &c), 0);
	cr_assert_eq(dann_coll_get_vector(c, gone, vbuf), DANN_ENOTFOUND, "deleted rows stay deleted");
	cr_assert_eq(dann_coll_get_vector(c, 18, vbuf), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_get_prop(c, "index_name", prop, sizeof prop), 0);
	cr_assert_str_eq(prop, "vec");
	/* the restored node takes writes and flushes like any other */
	st_insert_range(c, 90000, 50, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(count(db), rows + 50);
	dann_db_close(db);
	/* restoring over a data dir that has collections is refused */
	cr_assert_neq(cli_run(NULL, NULL, "restore", "--from", uri, "--data-dir", fresh, NULL), 0);
	obj_close(s);
}

Test(tier_db, deletes_after_the_upload_reach_the_bucket_and_a_drop_empties_it)
{
	char uri[512], fresh[512];
	struct dann_db *db = open_at(tmpdir_path("data"));
	struct tier_sync_stats st;
	struct obj_store *s;
	struct dann_coll *c;
	int64_t late = 2000;
	float vbuf[ST_DIM];
	unsigned n = 0;

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	cr_assert_eq(obj_open(uri, NULL, &s), 0);
	fill(db);
	cr_assert_eq(tier_sync(db, s, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_get(db, "docs", &c), 0);
	cr_assert_eq(dann_coll_delete(c, &late, 1, NULL), 0);
	cr_assert_eq(dann_coll_flush(c), 0); /* the bitmap is written at the checkpoint */
	cr_assert_eq(tier_sync(db, s, &st), 0, "%s", dann_errmsg());
	snprintf(fresh, sizeof fresh, "%s", tmpdir_path("fresh"));
	restore_with_cli(uri, fresh);
	{
		struct dann_db *db2 = open_at(fresh);
		struct dann_coll *c2;

		cr_assert_eq(dann_coll_get(db2, "docs", &c2), 0);
		cr_assert_eq(dann_coll_get_vector(c2, late, vbuf), DANN_ENOTFOUND, "a delete after the upload");
		dann_db_close(db2);
	}
	cr_assert_eq(dann_coll_drop(db, "docs"), 0, "%s", dann_errmsg());
	cr_assert_eq(tier_sync(db, s, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.dropped, 1);
	cr_assert_eq(obj_list(s, "", count_keys, &n), 0);
	cr_assert_eq(n, 0, "%u objects left after the drop", n);
	dann_db_close(db);
	obj_close(s);
}

Test(tier_db, a_sync_killed_mid_upload_records_nothing_and_the_next_finishes)
{
	struct obj_config cfg;
	struct dann_db *db = open_at(tmpdir_path("data"));
	struct tier_sync_stats st;
	struct obj_store *s;
	char fresh[512];
	int64_t before[NQ * K], after[NQ * K];
	pid_t child;
	int i;

	fill(db);
	answers(db, before);
	dann_db_close(db);
	s3rver_start(&srv, tmpdir_path("s3rver"), "tier", 0, 0);
	srv_up = 1;
	obj_config_default(&cfg);
	cfg.endpoint = srv.endpoint;
	cfg.access_key = cfg.secret_key = "S3RVER";
	cfg.path_style = 1;
	cfg.retry_base_ms = 10000;
	cfg.retry_max_ms = 10000;
	/* the second segment's MANIFEST fails: the sync sits in a backoff */
	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"MANIFEST\",\"action\":\"status\",\"status\":503,\"skip\":1}");
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct dann_db *d;
		struct dann_db_params p;

		dann_db_params_default(&p);
		p.no_background = 1;
		if (obj_open("s3://tier/n1", &cfg, &s) == 0 && dann_db_open(tmpdir_path("data"), &p, &d) == 0)
			tier_sync(d, s, NULL);
		_exit(0);
	}
	for (i = 0; i < 3000 && s3rver_count(&srv, "PUT", "MANIFEST") < 2; i++)
		usleep(10000);
	cr_assert_eq(s3rver_count(&srv, "PUT", "MANIFEST"), 2, "the sync reached the second MANIFEST");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	s3rver_clear(&srv);

	/* no snapshot yet: nothing to restore from, nothing half restored */
	snprintf(fresh, sizeof fresh, "%s", tmpdir_path("fresh"));
	cfg.retry_base_ms = 20;
	cfg.retry_max_ms = 100;
	cr_assert_eq(obj_open("s3://tier/n1", &cfg, &s), 0);
	cr_assert_eq(tier_restore_db(s, fresh, &st), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "no collection snapshot"), "%s", dann_errmsg());
	cr_assert_neq(access(fresh, F_OK), 0, "a failed restore leaves no data dir");
	cr_assert_eq(stages_of(fresh), 0);

	/* the next sync: the first segment is recorded, the rest uploaded */
	db = open_at(tmpdir_path("data"));
	cr_assert_eq(tier_sync(db, s, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.uploaded, 2, "the segment uploaded before the kill was recorded then");
	dann_db_close(db);
	/* a restore killed while it downloads: no data dir, and the next
	 * restore clears what it left */
	s3rver_fault(&srv, "{\"method\":\"GET\",\"match\":\"/s\",\"action\":\"status\",\"status\":503,\"skip\":3}");
	cfg.retry_base_ms = cfg.retry_max_ms = 10000;
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct obj_store *s2;

		if (obj_open("s3://tier/n1", &cfg, &s2) == 0)
			tier_restore_db(s2, fresh, NULL);
		_exit(0);
	}
	for (i = 0; i < 3000 && s3rver_count(&srv, "GET", "/s") < 4; i++)
		usleep(10000);
	cr_assert_geq(s3rver_count(&srv, "GET", "/s"), 4, "the restore was downloading");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	s3rver_clear(&srv);
	cr_assert_neq(access(fresh, F_OK), 0, "a killed restore leaves no data dir");
	cr_assert_eq(stages_of(fresh), 1);
	cr_assert_eq(tier_restore_db(s, fresh, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.restored, 3);
	cr_assert_eq(stages_of(fresh), 0, "the killed restore's stage is gone");
	db = open_at(fresh);
	answers(db, after);
	cr_assert(memcmp(before, after, sizeof before) == 0);
	dann_db_close(db);
	obj_close(s);
}

Test(tier_db, the_background_syncer_uploads_after_a_kick_and_on_its_interval)
{
	char uri[512];
	struct dann_db *db = open_at(tmpdir_path("data"));
	struct tier_sync_stats st;
	struct tier_syncer *sy;
	struct obj_store *s;
	struct dann_coll *c;
	uint64_t passes = 0;
	unsigned i;

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	cr_assert_eq(obj_open(uri, NULL, &s), 0);
	cr_assert_eq(tier_syncer_start(db, s, 200, &sy), 0, "%s", dann_errmsg());
	fill(db);
	cr_assert_eq(tier_syncer_wait(sy), 0, "%s", dann_errmsg());
	tier_syncer_stats(sy, &st, &passes);
	cr_assert_eq(st.uploaded, 3);
	/* a fourth segment, no kick: the interval picks it up */
	cr_assert_eq(dann_coll_get(db, "docs", &c), 0);
	st_insert_range(c, 50000, 100, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	for (i = 0; i < 1500; i++) {
		tier_syncer_stats(sy, &st, &passes);
		if (st.uploaded == 4)
			break;
		usleep(20000);
	}
	cr_assert_eq(st.uploaded, 4, "uploaded by a timed pass");
	tier_syncer_stop(sy);
	dann_db_close(db);
	obj_close(s);
}

static int count_segment_prefixes(void *arg, const char *key, uint64_t size)
{
	unsigned long long cid, sid;

	(void)size;
	if (sscanf(key, "c%llu/s%llu/MANIFEST", &cid, &sid) == 2 && strstr(key, "/MANIFEST"))
		(*(unsigned *)arg)++;
	return 0;
}

Test(tier_db, segments_replaced_by_a_compaction_leave_the_bucket)
{
	char uri[512], fresh[512];
	struct dann_db *db = open_at(tmpdir_path("data"));
	struct tier_sync_stats st;
	struct obj_store *s;
	struct dann_coll *c;
	struct dann_seg_info *segs;
	int64_t before[NQ * K], after[NQ * K], *del;
	size_t nsegs, i;
	unsigned n = 0;

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	cr_assert_eq(obj_open(uri, NULL, &s), 0);
	fill(db);
	cr_assert_eq(tier_sync(db, s, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_list(s, "", count_segment_prefixes, &n), 0);
	cr_assert_eq(n, 3);
	/* half of the first segment deleted: compaction rewrites it */
	cr_assert_eq(dann_coll_get(db, "docs", &c), 0);
	del = malloc(ROWS / 2 * sizeof *del);
	for (i = 0; i < ROWS / 2; i++)
		del[i] = (int64_t)(2 * i + 1);
	cr_assert_eq(dann_coll_delete(c, del, ROWS / 2, NULL), 0);
	free(del);
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_segments(c, &segs, &nsegs), 0);
	free(segs);
	answers(db, before);
	cr_assert_eq(tier_sync(db, s, &st), 0, "%s", dann_errmsg());
	cr_assert_geq(st.orphans_deleted, 1, "the compacted segment's objects went");
	cr_assert_geq(st.uploaded, 1, "its replacement was uploaded");
	n = 0;
	cr_assert_eq(obj_list(s, "", count_segment_prefixes, &n), 0);
	cr_assert_eq(n, st.collections ? (unsigned)(3 - st.orphans_deleted + st.uploaded) : 0);
	dann_db_close(db);
	snprintf(fresh, sizeof fresh, "%s", tmpdir_path("fresh"));
	cr_assert_eq(tier_restore_db(s, fresh, &st), 0, "%s", dann_errmsg());
	db = open_at(fresh);
	answers(db, after);
	cr_assert(memcmp(before, after, sizeof before) == 0);
	dann_db_close(db);
	obj_close(s);
}
