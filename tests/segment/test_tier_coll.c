/*
 * test_tier_coll.c — a collection on a tiered data directory: a cache
 * budget smaller than the data, searches that need evicted segments fetch
 * them back and answer exactly as before the eviction (and with the recall
 * of an untiered collection of the same rows); deletes in evicted segments
 * survive a restart; compaction fetches its inputs; a fresh data dir
 * restored from the bucket answers the same; a process killed with -9
 * during an upload or during a fetch loses nothing and never uses a
 * partial segment (s3rver).
 */
#include <glob.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/cli.h"
#include "helpers/s3rver.h"
#include "io/obj.h"
#include "segment/seg_testutil.h"
#include "segment/seg_tier.h"

#define NSEG 6
#define ROWS 1000 /* per flushed segment */
#define NQ 20
#define K 10

static struct s3rver srv;
static int srv_up;

static void setup(void)
{
	tmpdir_make("tier_coll");
	setenv("OMP_WAIT_POLICY", "passive", 0);
}

static void teardown(void)
{
	if (srv_up)
		s3rver_stop(&srv);
	srv_up = 0;
	tmpdir_remove();
}

TestSuite(tier_coll, .init = setup, .fini = teardown, .timeout = 300);

static const int64_t deleted[] = { 3, 1500, 2999, 4321, 5998 };
#define NDEL (sizeof deleted / sizeof deleted[0])

/* uri NULL: untiered. */
static struct dann_db *open_db(const char *dir, const char *uri, const struct obj_config *cfg, uint64_t budget)
{
	struct dann_db_params p;
	struct dann_db *db = NULL;

	dann_db_params_default(&p);
	p.no_background = 1;
	p.threads = 2;
	p.store_uri = uri;
	p.store_config = cfg;
	p.tier_cache_bytes = budget;
	p.sync_interval_ms = 60000; /* passes come from kicks and waits */
	cr_assert_eq(dann_db_open(dir, &p, &db), 0, "db_open %s: %s", dir, dann_errmsg());
	return db;
}

static struct dann_coll *coll(struct dann_db *db)
{
	struct dann_coll *c;

	cr_assert_eq(dann_coll_get(db, "docs", &c), 0, "%s", dann_errmsg());
	return c;
}

/* NSEG flushed segments of ROWS rows, some rows deleted. */
static void fill(struct dann_db *db)
{
	struct dann_schema s;
	struct dann_coll *c;

	st_schema(&s, "docs", ST_DIM);
	c = st_create(db, &s);
	for (int i = 0; i < NSEG; i++) {
		st_insert_range(c, (int64_t)i * ROWS, ROWS, ST_DIM);
		cr_assert_eq(dann_coll_flush(c), 0, "flush: %s", dann_errmsg());
	}
	cr_assert_eq(dann_coll_delete(c, deleted, NDEL, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg()); /* bitmaps written */
}

static void answers(struct dann_db *db, int64_t *keys)
{
	struct dann_coll_search_params sp;
	struct dann_coll *c = coll(db);
	float q[ST_DIM], dists[K];
	uint32_t found;

	dann_coll_search_params_default(&sp);
	sp.k = K;
	for (int i = 0; i < NQ; i++) {
		st_vec(100000 + i, ST_DIM, q);
		cr_assert_eq(dann_coll_search(c, q, &sp, keys + i * K, dists, &found, NULL), 0, "query %d: %s", i,
			     dann_errmsg());
		cr_assert_eq(found, K);
	}
}

static int is_deleted(int64_t key)
{
	for (size_t i = 0; i < NDEL; i++)
		if (deleted[i] == key)
			return 1;
	return 0;
}

/* Recall@K of answers against brute force over the live rows. */
static double recall(const int64_t *keys)
{
	float q[ST_DIM], v[ST_DIM];
	unsigned hits = 0;

	for (int i = 0; i < NQ; i++) {
		int64_t best[K];
		float bd[K];
		int nb = 0;

		st_vec(100000 + i, ST_DIM, q);
		for (int64_t key = 0; key < NSEG * ROWS; key++) {
			float d = 0;
			int j;

			if (is_deleted(key))
				continue;
			st_vec(key, ST_DIM, v);
			for (j = 0; j < ST_DIM; j++)
				d += (q[j] - v[j]) * (q[j] - v[j]);
			if (nb == K && d >= bd[K - 1])
				continue;
			for (j = nb < K ? nb++ : K - 1; j > 0 && bd[j - 1] > d; j--) {
				bd[j] = bd[j - 1];
				best[j] = best[j - 1];
			}
			bd[j] = d;
			best[j] = key;
		}
		for (int a = 0; a < K; a++)
			for (int b = 0; b < K; b++)
				hits += keys[i * K + a] == best[b];
	}
	return (double)hits / (NQ * K);
}

static uint64_t seg_bytes(struct dann_db *db)
{
	struct dann_seg_info *si;
	uint64_t max = 0;
	size_t n;

	cr_assert_eq(dann_coll_segments(coll(db), &si, &n), 0);
	for (size_t i = 0; i < n; i++)
		max = si[i].disk_bytes > max ? si[i].disk_bytes : max;
	free(si);
	cr_assert_gt(max, 0);
	return max;
}

static struct tier_cache_stats cache_stats(struct dann_db *db)
{
	struct tier_cache_stats cs;

	cr_assert_eq(seg_tier_stats(db, &cs, NULL), 0, "%s", dann_errmsg());
	return cs;
}

static int leftovers(const char *data)
{
	char pat[1200];
	glob_t g;
	int n;

	snprintf(pat, sizeof pat, "%s/c*/s*.obj-tmp-*", data);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = (int)g.gl_pathc;
	globfree(&g);
	return n;
}

Test(tier_coll, searches_fetch_evicted_segments_and_answer_as_before)
{
	char uri[600], data[512], plain[512];
	int64_t before[NQ * K], after[NQ * K], ref[NQ * K];
	struct tier_cache_stats cs;
	struct dann_db *db, *pdb;
	uint64_t budget, rows;
	float vbuf[ST_DIM], want[ST_DIM];

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	snprintf(plain, sizeof plain, "%s", tmpdir_path("plain"));

	/* the same rows in an untiered data dir: the recall to match */
	pdb = open_db(plain, NULL, NULL, 0);
	fill(pdb);
	answers(pdb, ref);
	budget = seg_bytes(pdb) * 4; /* room for about 4 of NSEG segments */
	dann_db_close(pdb);

	db = open_db(data, uri, NULL, budget);
	fill(db);
	answers(db, before); /* nothing uploaded yet: nothing evicted */
	cr_assert_eq(cache_stats(db).segments, NSEG);
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cs = cache_stats(db);
	cr_assert_geq(cs.evictions, NSEG - 4, "%llu evictions", (unsigned long long)cs.evictions);
	cr_assert_leq(cs.local_bytes, budget);
	cr_assert_lt(cs.local, NSEG);

	answers(db, after);
	cr_assert(memcmp(before, after, sizeof before) == 0, "the same answers after eviction and refetch");
	cs = cache_stats(db);
	cr_assert_geq(cs.fetches, NSEG - 4, "%llu fetches", (unsigned long long)cs.fetches);
	cr_assert_leq(cs.local_bytes, budget, "unpinned, the cache keeps to its budget");
	cr_assert_eq(cs.pinned, 0);
	{
		double rt = recall(after), ru = recall(ref);
		cr_assert_geq(rt, ru - 0.01, "recall %.3f tiered, %.3f untiered", rt, ru);
		cr_assert_geq(rt, 0.9, "recall %.3f", rt);
	}

	/* a get of a row in an evicted segment fetches it too */
	for (int64_t key = 0; key < NSEG * ROWS; key += ROWS / 2 + 7) {
		st_vec(key, ST_DIM, want);
		cr_assert_eq(dann_coll_get_vector(coll(db), key, vbuf), 0, "key %lld: %s", (long long)key,
			     dann_errmsg());
		cr_assert(memcmp(vbuf, want, sizeof want) == 0);
	}

	/* a delete in an evicted segment: written after a download, stored
	 * by the next sync, and kept across a restart */
	{
		int64_t late = 17;
		cr_assert_eq(dann_coll_count(coll(db), &rows), 0);
		for (int i = 1; i < NSEG; i++) /* the others push the first out */
			cr_assert_eq(dann_coll_get_vector(coll(db), (int64_t)i * ROWS + 1, vbuf), 0);
		cr_assert_eq(seg_tier_stats(db, &cs, NULL), 0);
		cr_assert_lt(cs.local, NSEG);
		cr_assert_eq(dann_coll_delete(coll(db), &late, 1, NULL), 0);
		cr_assert_eq(dann_coll_flush(coll(db)), 0, "%s", dann_errmsg());
		cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
		dann_db_close(db);
		db = open_db(data, uri, NULL, budget);
		cr_assert_eq(dann_coll_get_vector(coll(db), late, vbuf), DANN_ENOTFOUND, "the late delete survived");
		cr_assert_eq(dann_coll_count(coll(db), &rows), 0);
		cr_assert_eq(rows, (uint64_t)NSEG * ROWS - NDEL - 1);
		cr_assert_leq(cache_stats(db).local_bytes, budget, "reopened within the budget");
		answers(db, after);
		for (int i = 0; i < NQ * K; i++)
			cr_assert_neq(after[i], late);
	}
	dann_db_close(db);

	/* a fresh data dir restored from the bucket answers the same */
	{
		struct obj_store *s;
		struct tier_sync_stats st;
		char fresh[512];
		int64_t restored[NQ * K];

		snprintf(fresh, sizeof fresh, "%s", tmpdir_path("fresh"));
		cr_assert_eq(obj_open(uri, NULL, &s), 0);
		cr_assert_eq(tier_restore_db(s, fresh, &st), 0, "%s", dann_errmsg());
		cr_assert_eq(st.restored, NSEG);
		obj_close(s);
		db = open_db(fresh, NULL, NULL, 0);
		answers(db, restored);
		dann_db_close(db);
		db = open_db(data, uri, NULL, budget);
		answers(db, after);
		dann_db_close(db);
		cr_assert(memcmp(restored, after, sizeof after) == 0, "the restored node answers as the original");
	}
}

Test(tier_coll, compaction_fetches_its_evicted_inputs_and_uploads_its_output)
{
	char uri[600], data[512];
	int64_t keys[NQ * K], del[ROWS / 2];
	struct tier_sync_stats st;
	struct tier_cache_stats cs;
	struct dann_db *db;
	uint64_t budget, rows;
	float vbuf[ST_DIM];

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	db = open_db(data, uri, NULL, 0);
	fill(db);
	budget = seg_bytes(db) * 2;
	dann_db_close(db);
	db = open_db(data, uri, NULL, budget); /* the sync at open uploads, then evicts */
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cr_assert_geq(cache_stats(db).evictions, NSEG - 2);

	/* half of the first two segments' rows go: compaction rewrites them */
	for (int i = 0; i < ROWS / 2; i++)
		del[i] = 2 * i;
	cr_assert_eq(dann_coll_delete(coll(db), del, ROWS / 2, NULL), 0);
	for (int i = 0; i < ROWS / 2; i++)
		del[i] = ROWS + 2 * i;
	cr_assert_eq(dann_coll_delete(coll(db), del, ROWS / 2, NULL), 0);
	cr_assert_eq(dann_coll_compact(coll(db)), 0, "%s", dann_errmsg());
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cr_assert_eq(seg_tier_stats(db, &cs, &st), 0);
	cr_assert_geq(st.orphans_deleted, 1, "the inputs' objects went");
	cr_assert_leq(cs.local_bytes, budget);
	cr_assert_eq(dann_coll_count(coll(db), &rows), 0);
	dann_db_close(db);

	db = open_db(data, uri, NULL, budget);
	cr_assert_eq(dann_coll_count(coll(db), &rows), 0);
	cr_assert_eq(rows, (uint64_t)NSEG * ROWS - NDEL - ROWS + 1 /* 1500 was deleted twice */);
	cr_assert_eq(dann_coll_get_vector(coll(db), 2, vbuf), DANN_ENOTFOUND);
	cr_assert_eq(dann_coll_get_vector(coll(db), 1, vbuf), 0, "%s", dann_errmsg());
	answers(db, keys);
	for (int i = 0; i < NQ * K; i++)
		cr_assert(!(keys[i] < 2 * ROWS && keys[i] % 2 == 0), "deleted key %lld answered", (long long)keys[i]);
	dann_db_close(db);
}

static void s3_config(struct obj_config *cfg, uint32_t backoff_ms)
{
	obj_config_default(cfg);
	cfg->endpoint = srv.endpoint;
	cfg->access_key = cfg->secret_key = "S3RVER";
	cfg->path_style = 1;
	cfg->retry_base_ms = cfg->retry_max_ms = backoff_ms;
}

static void wait_count(const char *method, const char *match, long n, const char *what)
{
	for (int i = 0; i < 3000 && s3rver_count(&srv, method, match) < n; i++)
		usleep(10000);
	cr_assert_geq(s3rver_count(&srv, method, match), n, "%s", what);
}

Test(tier_coll, a_process_killed_during_an_upload_or_a_fetch_loses_nothing)
{
	const char *uri = "s3://tier/n1";
	char data[512];
	int64_t before[NQ * K], after[NQ * K];
	struct obj_config cfg;
	struct dann_db *db;
	uint64_t budget, rows;
	pid_t child;

	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	db = open_db(data, NULL, NULL, 0);
	fill(db);
	answers(db, before);
	budget = seg_bytes(db) * 2;
	dann_db_close(db);
	s3rver_start(&srv, tmpdir_path("s3rver"), "tier", 0, 0);
	srv_up = 1;

	/* killed while its syncer uploads: the second segment's MANIFEST
	 * fails and the upload sits in a long backoff */
	s3_config(&cfg, 10000);
	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"MANIFEST\",\"action\":\"status\",\"status\":503,\"skip\":1}");
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct dann_db_params p;
		struct dann_db *d;

		dann_db_params_default(&p);
		p.no_background = 1;
		p.store_uri = uri;
		p.store_config = &cfg;
		p.tier_cache_bytes = budget;
		if (dann_db_open(data, &p, &d) == 0)
			sleep(60);
		_exit(0);
	}
	wait_count("PUT", "MANIFEST", 2, "the upload reached the second MANIFEST");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	s3rver_clear(&srv);

	s3_config(&cfg, 20);
	db = open_db(data, uri, &cfg, budget);
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cr_assert_geq(cache_stats(db).evictions, NSEG - 2, "every segment uploaded, then evicted");
	dann_db_close(db);

	/* killed while a search downloads evicted segments (opening needs
	 * none: their stubs are local): a GET fails after the first few and
	 * backs off */
	s3_config(&cfg, 10000);
	s3rver_fault(&srv, "{\"method\":\"GET\",\"match\":\"/n1/c\",\"action\":\"status\",\"status\":503,\"skip\":3,\"count\":1000}");
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct dann_db_params p;
		struct dann_db *d;
		struct dann_coll *c;
		float q[ST_DIM];

		dann_db_params_default(&p);
		p.no_background = 1;
		p.store_uri = uri;
		p.store_config = &cfg;
		p.tier_cache_bytes = budget;
		if (dann_db_open(data, &p, &d) == 0 && dann_coll_get(d, "docs", &c) == 0) {
			/* no cr_assert in the child: its result is not looked at */
			for (int i = 0; i < NSEG; i++)
				dann_coll_get_vector(c, (int64_t)i * ROWS + 1, q);
		}
		_exit(0);
	}
	wait_count("GET", "/n1/c", 4, "the fetch was under way");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	{
		long gets = s3rver_count(&srv, "GET", "/");
		int n = leftovers(data);

		s3rver_clear(&srv);
		/* usually 1 (the kill lands between a directory's files); under
		 * ASan the stall sometimes falls before a directory's stage */
		cr_assert_leq(n, 1, "%d partial downloads, %ld GETs", n, gets);
	}

	/* no limit now: each evicted segment is downloaded once, when searched */
	s3_config(&cfg, 20);
	db = open_db(data, uri, &cfg, 0);
	cr_assert_eq(leftovers(data), 0, "the partial download was removed, never used");
	answers(db, after);
	cr_assert_geq(cache_stats(db).fetches, NSEG - 2);
	cr_assert(memcmp(before, after, sizeof before) == 0, "nothing lost to the killed fetch");
	cr_assert_eq(dann_coll_count(coll(db), &rows), 0);
	cr_assert_eq(rows, (uint64_t)NSEG * ROWS - NDEL);
	dann_db_close(db);
}

Test(tier_coll, the_cli_tiers_a_data_dir_named_by_DANN_STORE)
{
	char uri[600], data[512], budget_s[32], *out = NULL, *err = NULL;
	int64_t before[NQ * K], after[NQ * K];
	struct dann_db *db;
	uint64_t budget;

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	db = open_db(data, NULL, NULL, 0);
	fill(db);
	answers(db, before);
	budget = seg_bytes(db) * 2;
	dann_db_close(db);

	snprintf(budget_s, sizeof budget_s, "%llu", (unsigned long long)budget);
	setenv("DANN_STORE", uri, 1);
	setenv("DANN_TIER_CACHE_BYTES", "12x", 1);
	cr_assert_neq(cli_run(NULL, &err, "flush", "--data-dir", data, "--name", "docs", NULL), 0);
	cr_assert(strstr(err, "DANN_TIER_CACHE_BYTES=12x"), "%s", err);
	free(err);
	setenv("DANN_TIER_CACHE_BYTES", budget_s, 1);
	cr_assert_eq(cli_run(&out, &err, "flush", "--data-dir", data, "--name", "docs", NULL), 0, "%s", err);
	unsetenv("DANN_STORE");
	unsetenv("DANN_TIER_CACHE_BYTES");
	cr_assert(strstr(out, "segment(s) uploaded"), "%s", out);
	cr_assert(!strstr(out, " 0 segment(s) uploaded"), "%s", out);
	free(out);
	free(err);

	db = open_db(data, uri, NULL, budget);
	cr_assert_lt(cache_stats(db).local, NSEG, "the CLI's sync let the cache evict");
	answers(db, after);
	cr_assert(memcmp(before, after, sizeof before) == 0);
	dann_db_close(db);
}

/* answers() as one batch: each segment is fetched once for all queries. */
static void batch_answers(struct dann_db *db, int64_t *keys)
{
	struct dann_coll_search_params sp;
	float q[NQ * ST_DIM], dists[NQ * K];
	uint32_t found[NQ];

	dann_coll_search_params_default(&sp);
	sp.k = K;
	for (int i = 0; i < NQ; i++)
		st_vec(100000 + i, ST_DIM, q + i * ST_DIM);
	cr_assert_eq(dann_coll_search_batch(coll(db), q, NQ, &sp, keys, dists, found, NULL), 0, "%s",
		     dann_errmsg());
	for (int i = 0; i < NQ; i++)
		cr_assert_eq(found[i], K);
}

/* The stubs of evicted segments in data (paths into g). */
static size_t stubs(const char *data, glob_t *g)
{
	char pat[1200];

	snprintf(pat, sizeof pat, "%s/c*/s*.stub", data);
	if (glob(pat, 0, NULL, g) != 0) {
		g->gl_pathc = 0;
		g->gl_pathv = NULL;
	}
	return g->gl_pathc;
}

/* Opens data with a one-byte budget: what opening downloaded (GETs of
 * segment objects, counted by s3rver's proxy) and the cache's fetches. */
static struct dann_db *open_counting(const char *data, const char *uri, const struct obj_config *cfg,
				     long *gets, uint64_t *fetches)
{
	struct dann_db *db;

	s3rver_clear(&srv);
	db = open_db(data, uri, cfg, 1);
	*gets = s3rver_count(&srv, "GET", "/n1/c");
	*fetches = cache_stats(db).fetches;
	return db;
}

Test(tier_coll, opening_with_every_segment_evicted_downloads_none_of_them)
{
	const char *uri = "s3://tier/n1";
	char data[512];
	int64_t before[NQ * K], after[NQ * K], late = -1;
	struct obj_config cfg;
	struct dann_db *db;
	uint64_t rows, fetches;
	float v[ST_DIM];
	long gets;
	glob_t g;

	s3rver_start(&srv, tmpdir_path("s3rver"), "tier", 0, 0);
	srv_up = 1;
	s3_config(&cfg, 20);
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	db = open_db(data, uri, &cfg, 1);
	fill(db);
	batch_answers(db, before);
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cr_assert_eq(cache_stats(db).local, 0, "a one-byte budget evicts every uploaded segment");
	dann_db_close(db);
	cr_assert_eq(stubs(data, &g), NSEG, "a stub per evicted segment");
	globfree(&g);
	/* a row no answer holds, deleted while its segment is evicted */
	for (int64_t k = 1; late < 0; k++) {
		int used = is_deleted(k);
		for (int i = 0; i < NQ * K && !used; i++)
			used = before[i] == k;
		late = used ? -1 : k;
	}

	for (int round = 0; round < 2; round++) {
		db = open_counting(data, uri, &cfg, &gets, &fetches);
		cr_assert_eq(gets, 0, "round %d: %ld GETs of segment objects at open", round, gets);
		cr_assert_eq(fetches, 0);
		cr_assert_eq(cache_stats(db).local, 0);
		cr_assert_eq(dann_coll_count(coll(db), &rows), 0, "%s", dann_errmsg());
		cr_assert_eq(rows, (uint64_t)NSEG * ROWS - NDEL - (uint64_t)round, "round %d", round);
		cr_assert_eq(dann_coll_get_vector(coll(db), deleted[0], v), DANN_ENOTFOUND,
			     "deletes come from the stub");
		cr_assert_eq(dann_coll_get_vector(coll(db), late, v), round ? DANN_ENOTFOUND : 0, "round %d",
			     round);
		batch_answers(db, after);
		cr_assert(memcmp(before, after, sizeof before) == 0, "round %d: the same answers", round);
		cr_assert_geq(cache_stats(db).fetches, NSEG, "the searches fetched what they needed");
		if (round == 0) {
			/* a delete in an evicted segment: downloaded, written,
			 * stored, evicted again with a new stub */
			cr_assert_eq(dann_coll_delete(coll(db), &late, 1, NULL), 0, "%s", dann_errmsg());
			cr_assert_eq(dann_coll_flush(coll(db)), 0, "%s", dann_errmsg());
			cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
			cr_assert_eq(cache_stats(db).local, 0);
		}
		dann_db_close(db);
	}

	/* a damaged stub is not trusted: that segment's stub is made again
	 * from its MANIFEST, keys, index header and delete bitmap alone */
	cr_assert_eq(stubs(data, &g), NSEG);
	{
		FILE *f = fopen(g.gl_pathv[0], "r+b");
		int b;

		cr_assert_not_null(f);
		fseek(f, 50, SEEK_SET);
		b = fgetc(f);
		fseek(f, 50, SEEK_SET);
		fputc(b ^ 0x5a, f);
		fclose(f);
	}
	globfree(&g);
	db = open_counting(data, uri, &cfg, &gets, &fetches);
	cr_assert_eq(fetches, 0, "no segment downloaded whole");
	cr_assert(gets > 0 && gets <= 4, "%ld GETs for one segment's stub", gets);
	cr_assert_eq(s3rver_count(&srv, "GET", "vectors."), 0);
	cr_assert_eq(dann_coll_count(coll(db), &rows), 0);
	cr_assert_eq(rows, (uint64_t)NSEG * ROWS - NDEL - 1);
	dann_db_close(db);
	db = open_counting(data, uri, &cfg, &gets, &fetches);
	cr_assert_eq(gets, 0, "the stub was written again");
	batch_answers(db, after);
	cr_assert(memcmp(before, after, sizeof before) == 0);
	dann_db_close(db);
}

static int count_manifests(void *arg, const char *key, uint64_t size)
{
	(void)size;
	if (strstr(key, "/MANIFEST"))
		(*(unsigned *)arg)++;
	return 0;
}

static unsigned segments_in_bucket(const char *uri)
{
	struct obj_store *s;
	unsigned n = 0;

	cr_assert_eq(obj_open(uri, NULL, &s), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_list(s, "", count_manifests, &n), 0, "%s", dann_errmsg());
	obj_close(s);
	return n;
}

Test(tier_coll, a_search_on_an_older_version_still_fetches_segments_a_compaction_replaced)
{
	char uri[600], data[512];
	int64_t del[ROWS / 2], keys[K];
	float q[ST_DIM], dists[K];
	struct dann_coll_search_params sp;
	struct tier_sync_stats st;
	struct seg_ver *old;
	struct dann_coll *c;
	struct dann_db *db;
	size_t nnew, searched = 0;
	uint32_t found;

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	db = open_db(data, uri, NULL, 1);
	fill(db);
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cr_assert_eq(cache_stats(db).local, 0, "every segment evicted");
	c = coll(db);

	/* a search holds the current version (as dann_coll_search does for
	 * its whole run) while a compaction replaces two of its segments and
	 * a sync runs */
	old = seg_ver_get(c);
	for (int s = 0; s < 2; s++) {
		for (int i = 0; i < ROWS / 2; i++)
			del[i] = (int64_t)s * ROWS + 2 * i;
		cr_assert_eq(dann_coll_delete(c, del, ROWS / 2, NULL), 0);
	}
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cr_assert_eq(seg_tier_stats(db, NULL, &st), 0);
	cr_assert_geq(st.orphans_kept, 1, "the replaced segments' objects are kept while held");
	cr_assert_eq(st.orphans_deleted, 0);

	/* the held version's segments, evicted, are fetched from the bucket */
	dann_coll_search_params_default(&sp);
	sp.k = K;
	st_vec(100000, ST_DIM, q);
	for (size_t i = 0; i < old->n; i++) {
		struct seg *s = old->s[i];
		if (!s->disk)
			continue;
		cr_assert_eq(seg_disk_search(c, s, q, &sp, NULL, keys, dists, &found, NULL), 0,
			     "segment %llu of the older version: %s", (unsigned long long)s->id, dann_errmsg());
		cr_assert_eq(found, K);
		searched++;
	}
	cr_assert_eq(searched, NSEG);
	seg_ver_unref(old);

	/* once let go, the next sync deletes them */
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cr_assert_eq(seg_tier_stats(db, NULL, &st), 0);
	cr_assert_geq(st.orphans_deleted, 1);
	{
		struct dann_seg_info *si;
		size_t n;
		cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
		for (nnew = 0; n > 0; n--)
			nnew += si[n - 1].state == DANN_SEG_FLUSHED;
		free(si);
	}
	cr_assert_eq(segments_in_bucket(uri), nnew, "the bucket holds the %zu current segments only", nnew);
	dann_db_close(db);
}
