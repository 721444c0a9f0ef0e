/*
 * test_seg_concurrent.c — writers at once on one collection: they share
 * the WAL's group commit yet apply in LSN order, so two inserts of the
 * same key never both succeed, upserts racing on a key leave one of the
 * written versions, and a reopen (replay in LSN order) rebuilds exactly
 * the state the live collection had. A custom catalog (the interface meta/
 * implements) that fails on demand shows a failed swap changes nothing.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_conc"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_conc, .init = setup, .fini = teardown, .timeout = 120);

#define WRITERS 4
#define KEYS 400

struct wr {
	struct dann_coll *c;
	int id;
	int inserted[KEYS + 1];
};

static void *writer(void *arg)
{
	struct wr *w = arg;
	float v[8 * ST_DIM];
	int64_t keys[8];

	/* every writer tries every key, in batches of 8 in its own order */
	for (int r = 0; r < KEYS / 8; r++) {
		int base = ((r + w->id * 13) % (KEYS / 8)) * 8;
		for (int j = 0; j < 8; j++) {
			keys[j] = base + j + 1;
			st_vec(keys[j], ST_DIM, v + j * ST_DIM);
		}
		struct dann_batch b = { .n = 8, .keys = keys, .vectors = v };
		int rc = dann_coll_insert(w->c, &b, NULL);
		if (rc == 0)
			for (int j = 0; j < 8; j++)
				w->inserted[keys[j]]++;
		else if (rc != DANN_EEXIST)
			return (void *)1;
		/* and upserts a key of that batch (inserted by now, by someone)
		 * with its own version */
		int64_t k = base + 1 + w->id % 8;
		st_vec_v(k, (uint32_t)w->id, ST_DIM, v);
		struct dann_batch u = { .n = 1, .keys = &k, .vectors = v };
		if (dann_coll_upsert(w->c, &u) < 0)
			return (void *)1;
	}
	return NULL;
}

Test(seg_conc, racing_writers_agree_with_replay)
{
	struct dann_db *db = st_open(1);
	struct dann_schema s;
	struct wr w[WRITERS];
	pthread_t th[WRITERS];
	static float before[KEYS + 1][ST_DIM];
	struct dann_coll *c;

	st_schema(&s, "cc", ST_DIM);
	s.seal_rows = 150;
	c = st_create(db, &s);
	for (int i = 0; i < WRITERS; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].c = c;
		w[i].id = i;
		pthread_create(&th[i], NULL, writer, &w[i]);
	}
	for (int i = 0; i < WRITERS; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		cr_assert_null(ret, "writer %d failed: %s", i, dann_errmsg());
	}
	/* every key inserted by exactly one insert (batches are all-or-nothing,
	 * and each key's batch is the same in every writer) */
	for (int k = 1; k <= KEYS; k++) {
		int total = 0;
		for (int i = 0; i < WRITERS; i++)
			total += w[i].inserted[k];
		cr_assert_eq(total, 1, "key %d inserted %d times", k, total);
		cr_assert_eq(dann_coll_get_vector(c, k, before[k]), 0, "key %d: %s", k, dann_errmsg());
	}
	uint64_t n;
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, KEYS);
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "cc", &c), 0);
	for (int k = 1; k <= KEYS; k++) {
		float v[ST_DIM];
		cr_assert_eq(dann_coll_get_vector(c, k, v), 0);
		cr_assert_eq(memcmp(v, before[k], sizeof v), 0, "key %d: replay gives another version", k);
		cr_assert_eq(st_findable(c, k, v), 1, "key %d", k);
	}
	dann_db_close(db);
}

/* A catalog that forwards to the local one and fails seg_apply on demand. */
struct failing_cat {
	const struct dann_catalog_ops *inner;
	void *ctx;
	_Atomic int fail_apply;
	_Atomic int applies;
};
static struct failing_cat fc;

static int f_create(void *x, const struct dann_schema *s, uint64_t *id) { (void)x; return fc.inner->coll_create(fc.ctx, s, id); }
static int f_drop(void *x, uint64_t id) { (void)x; return fc.inner->coll_drop(fc.ctx, id); }
static int f_update(void *x, const struct dann_cat_coll *c) { (void)x; return fc.inner->coll_update(fc.ctx, c); }
static int f_list(void *x, struct dann_cat_coll **o, size_t *n) { (void)x; return fc.inner->coll_list(fc.ctx, o, n); }
static int f_seg_list(void *x, uint64_t id, struct dann_cat_segment **o, size_t *n) { (void)x; return fc.inner->seg_list(fc.ctx, id, o, n); }
static int f_alloc(void *x, enum dann_cat_counter w, uint64_t n, uint64_t *f) { (void)x; return fc.inner->alloc(fc.ctx, w, n, f); }
static int f_counter(void *x, enum dann_cat_counter w, uint64_t *next) { (void)x; return fc.inner->counter(fc.ctx, w, next); }
static int f_apply(void *x, const struct dann_cat_segment *s, size_t n)
{
	(void)x;
	atomic_fetch_add(&fc.applies, 1);
	if (atomic_load(&fc.fail_apply))
		return DANN_EIO;
	return fc.inner->seg_apply(fc.ctx, s, n);
}
static const struct dann_catalog_ops failing_ops = { f_create, f_drop, f_update, f_list, NULL, f_seg_list, f_alloc, f_counter };

Test(seg_conc, a_failed_catalog_step_leaves_the_segment_searchable_in_ram)
{
	extern const struct dann_catalog_ops seg_catalog_local_ops;
	int seg_catalog_local_open(const char *dir, void **ctx);
	void seg_catalog_local_close(void *ctx);
	struct dann_catalog_ops ops = failing_ops;
	struct dann_db_params p;
	struct dann_db *db;
	struct dann_schema s;
	struct dann_coll *c;
	char catdir[512];

	ops.seg_apply = f_apply;
	snprintf(catdir, sizeof catdir, "%s", tmpdir_path("cat"));
	cr_assert_eq(mkdir(catdir, 0755), 0);
	fc.inner = &seg_catalog_local_ops;
	cr_assert_eq(seg_catalog_local_open(catdir, &fc.ctx), 0, "%s", dann_errmsg());
	dann_db_params_default(&p);
	p.no_background = 1;
	p.catalog = &ops;
	cr_assert_eq(dann_db_open(tmpdir_path("data"), &p, &db), 0, "%s", dann_errmsg());
	st_schema(&s, "fc", ST_DIM);
	c = st_create(db, &s);
	st_insert_range(c, 1, 300, ST_DIM);
	atomic_store(&fc.fail_apply, 1);
	cr_assert_eq(dann_coll_flush(c), DANN_EIO, "the swap's catalog step failed");
	cr_assert_geq(atomic_load(&fc.applies), 1, "the supplied catalog was used");
	float v[ST_DIM];
	for (int64_t k = 1; k <= 300; k += 7) {
		st_vec(k, ST_DIM, v);
		cr_assert_eq(st_findable(c, k, v), 1, "key %lld after the failed swap", (long long)k);
	}
	atomic_store(&fc.fail_apply, 0);
	cr_assert_eq(dann_coll_flush(c), 0, "retry: %s", dann_errmsg());
	struct dann_seg_info *si;
	size_t n;
	int flushed = 0;
	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	for (size_t i = 0; i < n; i++)
		flushed += si[i].state == DANN_SEG_FLUSHED && si[i].rows == 300;
	free(si);
	cr_assert_eq(flushed, 1);
	dann_db_close(db);
	cr_assert_eq(dann_db_open(tmpdir_path("data"), &p, &db), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_get(db, "fc", &c), 0);
	for (int64_t k = 1; k <= 300; k += 7) {
		st_vec(k, ST_DIM, v);
		cr_assert_eq(st_findable(c, k, v), 1, "key %lld after reopen", (long long)k);
	}
	dann_db_close(db);
	seg_catalog_local_close(fc.ctx);
}
