/*
 * test_seg_cache.c — the node cache of a collection's disk segments (issue
 * 16): dann_db_params_default gives every open segment a cache of
 * DANN_CACHE_DEFAULT_FRAC of its node file (DANN_CACHE_AUTO), so the same
 * searches read less from SSD than with cache_bytes 0 (none), with nearly
 * the same answers; an explicit byte budget is honoured; a bad cache policy is
 * refused at open.
 */
#include "seg_testutil.h"

#define DIM 32
#define ROWS 6000
#define NQ 100
#define K 10

static void setup(void) { tmpdir_make("seg_cache"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_cache, .init = setup, .fini = teardown, .timeout = 300);

static struct dann_db *open_with(uint64_t cache_bytes)
{
	struct dann_db_params p;
	struct dann_db *db = NULL;

	dann_db_params_default(&p);
	p.no_background = 1;
	p.threads = 2;
	p.cache_bytes = cache_bytes;
	cr_assert_eq(dann_db_open(tmpdir_path("data"), &p, &db), 0, "db_open: %s", dann_errmsg());
	return db;
}

/* SSD reads of NQ searches; their keys into keys (NQ * K). */
static uint64_t reads_of(struct dann_db *db, int64_t *keys)
{
	struct dann_coll_search_params p;
	struct dann_coll_search_stats st;
	struct dann_coll *c;
	float q[DIM], d[K];
	uint32_t found;
	uint64_t reads = 0;

	cr_assert_eq(dann_coll_get(db, "emb", &c), 0, "%s", dann_errmsg());
	dann_coll_search_params_default(&p);
	p.k = K;
	p.L = 40;
	for (int i = 0; i < NQ; i++) {
		st_vec(1000000 + i, DIM, q);
		cr_assert_eq(dann_coll_search(c, q, &p, keys + i * K, d, &found, &st), 0, "%s",
			     dann_errmsg());
		cr_assert_eq(found, K);
		reads += st.reads;
	}
	return reads;
}

Test(seg_cache, segments_get_the_default_cache_unless_told_otherwise)
{
	struct dann_db *db = open_with(0);
	struct dann_schema s;
	struct dann_coll *c;
	static int64_t k_none[NQ * K], k_auto[NQ * K], k_bytes[NQ * K];
	uint64_t r_none, r_auto, r_bytes, r_tiny;
	int same = 0;

	st_schema(&s, "emb", DIM);
	s.index.pq_bytes = 4; /* coarse codes: more reads, where a cache shows */
	c = st_create(db, &s);
	st_insert_range(c, 0, ROWS, DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	r_none = reads_of(db, k_none);
	dann_db_close(db);

	db = open_with(DANN_CACHE_AUTO);
	r_auto = reads_of(db, k_auto);
	dann_db_close(db);
	db = open_with(1u << 20); /* the whole node file */
	r_bytes = reads_of(db, k_bytes);
	dann_db_close(db);
	db = open_with(1); /* less than one node: none */
	r_tiny = reads_of(db, k_bytes);
	dann_db_close(db);

	cr_log_info("reads of %d searches: %llu without a cache, %llu default, %llu with 1 MiB", NQ,
		    (unsigned long long)r_none, (unsigned long long)r_auto, (unsigned long long)r_bytes);
	cr_assert_lt(r_auto, r_none, "default cache %llu reads, none %llu", (unsigned long long)r_auto,
		     (unsigned long long)r_none);
	cr_assert_lt(r_bytes, r_auto, "1 MiB %llu reads, default %llu", (unsigned long long)r_bytes,
		     (unsigned long long)r_auto);
	cr_assert_eq(r_tiny, r_none);
	/* a cached node's sector is not fetched, so its co-located nodes are
	 * not expanded with it: the path may differ, the answers barely */
	for (int i = 0; i < NQ; i++)
		for (int a = 0; a < K; a++)
			for (int b = 0; b < K; b++)
				same += k_none[i * K + a] == k_auto[i * K + b];
	cr_assert_geq(same, NQ * K * 9 / 10, "the cache changed %d of %d results", NQ * K - same, NQ * K);
}

Test(seg_cache, a_bad_cache_policy_is_refused_at_open)
{
	struct dann_db_params p;
	struct dann_db *db = NULL;

	dann_db_params_default(&p);
	cr_assert_eq(p.cache_bytes, DANN_CACHE_AUTO);
	cr_assert_eq(p.cache_policy, DANN_CACHE_DEFAULT_POLICY);
	p.cache_policy = 9;
	cr_assert_eq(dann_db_open(tmpdir_path("data"), &p, &db), DANN_EINVAL);
	cr_assert_null(db);
	cr_assert(strstr(dann_errmsg(), "cache_policy 9"), "%s", dann_errmsg());
}
