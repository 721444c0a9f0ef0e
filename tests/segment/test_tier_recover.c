/*
 * test_tier_recover.c — a node that lost its data dir but kept its
 * catalog (in a cluster the catalog is the Raft group's; here the local
 * CATALOG file copied alone into an empty dir stands for it) serves every
 * flushed segment again from the bucket, without a restore and without
 * registering anything anew: opening reads each segment's MANIFEST, keys,
 * index header and delete bitmap (s3rver counts the requests), searches
 * download the rest, and the write-ahead log starts after the flushed
 * segments so new writes survive a restart.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/s3rver.h"
#include "io/obj.h"
#include "segment/seg_testutil.h"
#include "segment/seg_tier.h"

#define NSEG 3
#define ROWS 800 /* per flushed segment */
#define NQ 16
#define K 10

static struct s3rver srv;
static int srv_up;

static void setup(void)
{
	tmpdir_make("tier_recover");
	setenv("OMP_WAIT_POLICY", "passive", 0);
}

static void teardown(void)
{
	if (srv_up)
		s3rver_stop(&srv);
	srv_up = 0;
	tmpdir_remove();
}

TestSuite(tier_recover, .init = setup, .fini = teardown, .timeout = 240);

static const int64_t deleted[] = { 5, 900, 2222 };
#define NDEL (sizeof deleted / sizeof deleted[0])

static struct dann_db *open_db(const char *dir, const struct obj_config *cfg)
{
	struct dann_db_params p;
	struct dann_db *db = NULL;

	dann_db_params_default(&p);
	p.no_background = 1;
	p.threads = 2;
	p.store_uri = "s3://tier/n1";
	p.store_config = cfg;
	p.tier_cache_bytes = 1; /* nothing uploaded stays local */
	p.sync_interval_ms = 60000;
	cr_assert_eq(dann_db_open(dir, &p, &db), 0, "db_open %s: %s", dir, dann_errmsg());
	return db;
}

static struct dann_coll *coll(struct dann_db *db)
{
	struct dann_coll *c;

	cr_assert_eq(dann_coll_get(db, "docs", &c), 0, "%s", dann_errmsg());
	return c;
}

static void answers(struct dann_db *db, int64_t *keys)
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

static uint64_t rows_of(struct dann_db *db)
{
	uint64_t n;

	cr_assert_eq(dann_coll_count(coll(db), &n), 0, "%s", dann_errmsg());
	return n;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;

	cr_assert(in && out, "copy %s to %s", from, to);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

Test(tier_recover, an_empty_data_dir_with_the_catalog_serves_every_flushed_segment_from_the_bucket)
{
	char a[512], b[512], from[600], to[600];
	int64_t before[NQ * K], after[NQ * K];
	struct tier_cache_stats cs;
	struct obj_config cfg;
	struct dann_schema s;
	struct dann_coll *c;
	struct dann_db *db;
	float v[ST_DIM];
	long gets;

	s3rver_start(&srv, tmpdir_path("s3rver"), "tier", 0, 0);
	srv_up = 1;
	obj_config_default(&cfg);
	cfg.endpoint = srv.endpoint;
	cfg.access_key = cfg.secret_key = "S3RVER";
	cfg.path_style = 1;
	cfg.retry_base_ms = cfg.retry_max_ms = 20;
	snprintf(a, sizeof a, "%s", tmpdir_path("node-a"));
	snprintf(b, sizeof b, "%s", tmpdir_path("node-b"));

	db = open_db(a, &cfg);
	st_schema(&s, "docs", ST_DIM);
	c = st_create(db, &s);
	for (int i = 0; i < NSEG; i++) {
		st_insert_range(c, (int64_t)i * ROWS, ROWS, ST_DIM);
		cr_assert_eq(dann_coll_flush(c), 0, "flush: %s", dann_errmsg());
	}
	cr_assert_eq(dann_coll_delete(c, deleted, NDEL, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	answers(db, before);
	cr_assert_eq(rows_of(db), NSEG * ROWS - NDEL);
	dann_db_close(db);

	/* the node is lost; its catalog survives */
	cr_assert_eq(mkdir(b, 0755), 0);
	snprintf(from, sizeof from, "%s/CATALOG", a);
	snprintf(to, sizeof to, "%s/CATALOG", b);
	copy_file(from, to);
	s3rver_clear(&srv);
	db = open_db(b, &cfg);
	gets = s3rver_count(&srv, "GET", "/n1/c");
	cr_assert(gets > 0 && gets <= 4 * NSEG, "%ld GETs at open for %d segments", gets, NSEG);
	cr_assert_eq(s3rver_count(&srv, "GET", "vectors."), 0, "no vector file downloaded at open");
	cr_assert_eq(s3rver_count(&srv, "GET", "pq_"), 0, "no PQ file downloaded at open");
	cr_assert_eq(seg_tier_stats(db, &cs, NULL), 0);
	cr_assert_eq(cs.fetches, 0);
	cr_assert_eq(rows_of(db), NSEG * ROWS - NDEL, "every flushed row, none of the deleted");
	cr_assert_eq(dann_coll_get_vector(coll(db), deleted[1], v), DANN_ENOTFOUND);
	answers(db, after);
	cr_assert(memcmp(before, after, sizeof before) == 0, "the same answers as the lost node");
	cr_assert_eq(seg_tier_stats(db, &cs, NULL), 0);
	cr_assert_geq(cs.fetches, NSEG, "searches downloaded the segments");

	/* the log continues after the flushed segments: new rows survive */
	st_insert_range(coll(db), NSEG * ROWS, 10, ST_DIM);
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	dann_db_close(db);
	s3rver_clear(&srv);
	db = open_db(b, &cfg);
	cr_assert_eq(s3rver_count(&srv, "GET", "/n1/c"), 0, "reopened from the stubs written at the first open");
	cr_assert_eq(rows_of(db), NSEG * ROWS - NDEL + 10);
	cr_assert_eq(dann_coll_get_vector(coll(db), NSEG * ROWS + 9, v), 0, "%s", dann_errmsg());
	dann_db_close(db);
}

/* The local catalog with the collection "other" left out of coll_list, as
 * a catalog that has not caught up yet (or a cluster's owner filter)
 * leaves out collections the data dir does not open. */
static int hiding_coll_list(void *ctx, struct dann_cat_coll **out, size_t *n)
{
	size_t k = 0;
	int rc = seg_catalog_local_ops.coll_list(ctx, out, n);

	for (size_t i = 0; rc == 0 && i < *n; i++)
		if (strcmp((*out)[i].schema.name, "other") != 0)
			(*out)[k++] = (*out)[i];
	if (rc == 0)
		*n = k;
	return rc;
}

static int count_under(void *arg, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	(*(unsigned *)arg)++;
	return 0;
}

Test(tier_recover, a_sync_never_deletes_a_collection_the_catalog_still_lists_segments_of)
{
	char uri[600], data[512], prefix[32];
	struct dann_catalog_ops hiding = seg_catalog_local_ops;
	struct dann_db_params p;
	struct tier_sync_stats st;
	struct dann_schema s;
	struct dann_coll *other;
	struct obj_store *store;
	struct dann_db *db;
	void *cat;
	unsigned before = 0, after = 0;

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("bucket"));
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	dann_db_params_default(&p);
	p.no_background = 1;
	p.store_uri = uri;
	p.sync_interval_ms = 60000;
	cr_assert_eq(dann_db_open(data, &p, &db), 0, "%s", dann_errmsg());
	st_schema(&s, "docs", ST_DIM);
	st_insert_range(st_create(db, &s), 0, 300, ST_DIM);
	st_schema(&s, "other", ST_DIM);
	other = st_create(db, &s);
	st_insert_range(other, 0, 300, ST_DIM);
	cr_assert_eq(dann_coll_flush(other), 0, "%s", dann_errmsg());
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	snprintf(prefix, sizeof prefix, "c%llu/", (unsigned long long)2); /* "other" is the second */
	dann_db_close(db);
	cr_assert_eq(obj_open(uri, NULL, &store), 0);
	cr_assert_eq(obj_list(store, prefix, count_under, &before), 0);
	cr_assert_gt(before, 1, "its segment and SNAPSHOT are in the bucket");

	hiding.coll_list = hiding_coll_list;
	cr_assert_eq(seg_catalog_local_open(data, &cat), 0, "%s", dann_errmsg());
	p.catalog = &hiding;
	p.catalog_ctx = cat;
	cr_assert_eq(dann_db_open(data, &p, &db), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_get(db, "other", &other), DANN_ENOTFOUND, "not open here");
	cr_assert_eq(seg_tier_sync_wait(db), 0, "%s", dann_errmsg());
	cr_assert_eq(seg_tier_stats(db, NULL, &st), 0);
	cr_assert_eq(st.dropped, 0);
	cr_assert_geq(st.colls_kept, 1);
	dann_db_close(db);
	seg_catalog_local_close(cat);
	cr_assert_eq(obj_list(store, prefix, count_under, &after), 0);
	cr_assert_eq(after, before, "nothing of it was deleted");
	obj_close(store);
}
