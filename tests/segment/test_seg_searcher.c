/*
 * test_seg_searcher.c — the searcher (dann_searcher_*): queries admitted
 * one by one into long-lived search threads return exactly what
 * dann_coll_search_batch returns for them, over flushed, sealed and
 * growing segments with deletes, with mixed parameters in flight at once,
 * with filters, and from many submitting threads; a query past its deadline or
 * cancelled ends with that status, in flight or still waiting; a full
 * queue says DANN_EBUSY; a compaction and a drop while queries run leave
 * every answer correct or a clear error.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_searcher"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_searcher, .init = setup, .fini = teardown, .timeout = 120);

#define NQ 200
#define K 10
#define MAXK 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void queries(float *q, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		st_vec(1000000 + i, ST_DIM, q + (size_t)i * ST_DIM);
}

/* Four segments: two flushed, one sealed (not built), one growing; every
 * seventh key deleted; disk segments with an OPQ rotation if opq. */
static struct dann_coll *four_segments_opq(struct dann_db *db, int opq)
{
	struct dann_schema s;
	struct dann_coll *c;
	uint64_t del;

	st_schema(&s, "q", ST_DIM);
	s.seal_rows = 600;
	s.index.opq = opq;
	c = st_create(db, &s);
	st_insert_range(c, 1, 600, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_range(c, 601, 600, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_range(c, 1201, 600, ST_DIM);
	st_insert_range(c, 1801, 300, ST_DIM);
	for (int64_t k = 2; k <= 2100; k += 7)
		cr_assert_eq(dann_coll_delete(c, &k, 1, &del), 0);
	return c;
}

static struct dann_coll *four_segments(struct dann_db *db)
{
	return four_segments_opq(db, 0);
}

/* One query's outputs and how it ended. */
struct slot {
	int64_t keys[MAXK];
	float dists[MAXK];
	uint32_t found;
	int rc;
	char msg[256];
	atomic_bool done;
};

static atomic_uint n_done;

static void on_done(void *arg, int rc, const char *msg)
{
	struct slot *s = arg;

	s->rc = rc;
	snprintf(s->msg, sizeof s->msg, "%s", msg);
	atomic_store(&s->done, true);
	atomic_fetch_add(&n_done, 1);
}

static void wait_done(unsigned n)
{
	for (int i = 0; i < 60000 && atomic_load(&n_done) < n; i++)
		usleep(1000);
	cr_assert_eq(atomic_load(&n_done), n, "%u of %u queries finished", atomic_load(&n_done), n);
}

static void params(struct dann_coll_search_params *p, uint32_t k, uint32_t L)
{
	dann_coll_search_params_default(p);
	p->k = k;
	p->L = L;
	p->threads = 2;
	p->inflight = 8;
}

static void expect_same(const struct slot *got, const int64_t *keys, const float *dists, uint32_t found,
			uint32_t i)
{
	cr_assert_eq(got->rc, 0, "query %u: %s", i, got->msg);
	cr_assert_eq(got->found, found, "query %u: found %u, batch %u", i, got->found, found);
	for (uint32_t j = 0; j < found; j++) {
		cr_assert_eq(got->keys[j], keys[j], "query %u result %u: key %lld vs %lld", i, j,
			     (long long)got->keys[j], (long long)keys[j]);
		cr_assert_eq(got->dists[j], dists[j], "query %u result %u: distance", i, j);
	}
}

/* The batch's answers for the NQ queries at (k, L) with filter. */
static void batch_f(struct dann_coll *c, const float *q, uint32_t k, uint32_t L, const char *filter, int64_t *keys,
		    float *dists, uint32_t *found)
{
	struct dann_coll_search_params p;

	params(&p, k, L);
	p.filter = filter;
	cr_assert_eq(dann_coll_search_batch(c, q, NQ, &p, keys, dists, found, NULL), 0, "%s", dann_errmsg());
}

static void batch(struct dann_coll *c, const float *q, uint32_t k, uint32_t L, int64_t *keys, float *dists,
		  uint32_t *found)
{
	batch_f(c, q, k, L, NULL, keys, dists, found);
}

Test(seg_searcher, equals_the_batch_with_mixed_parameters_in_flight)
{
	static const uint32_t ks[] = { K, 3, 20 }, Ls[] = { 40, 10, 200 };
	struct dann_db *db = st_open(0);
	struct dann_coll *c = four_segments(db);
	struct dann_searcher_params sp;
	struct dann_searcher *s;
	float *q = malloc(NQ * ST_DIM * sizeof *q);
	struct slot *got = calloc(3 * NQ, sizeof *got);
	int64_t *bk = malloc(NQ * MAXK * sizeof *bk);
	float *bd = malloc(NQ * MAXK * sizeof *bd);
	uint32_t bf[NQ];

	queries(q, NQ);
	dann_searcher_params_default(&sp);
	sp.threads = 2;
	sp.inflight = 8;
	cr_assert_eq(dann_searcher_new(&sp, &s), 0, "%s", dann_errmsg());
	atomic_store(&n_done, 0);
	/* the three parameter sets interleaved, so slots sized for one meet
	 * the others */
	for (uint32_t i = 0; i < NQ; i++)
		for (uint32_t v = 0; v < 3; v++) {
			struct dann_coll_search_params p;
			struct slot *g = &got[v * NQ + i];
			params(&p, ks[v], Ls[v]);
			cr_assert_eq(dann_searcher_submit(s, c, q + i * ST_DIM, &p, g->keys, g->dists, &g->found,
							  on_done, g), 0, "%s", dann_errmsg());
		}
	wait_done(3 * NQ);
	for (uint32_t v = 0; v < 3; v++) {
		batch(c, q, ks[v], Ls[v], bk, bd, bf);
		for (uint32_t i = 0; i < NQ; i++)
			expect_same(&got[v * NQ + i], bk + i * ks[v], bd + i * ks[v], bf[i], i);
	}
	dann_searcher_free(s);
	dann_db_close(db);
	free(q);
	free(got);
	free(bk);
	free(bd);
}

struct submitter {
	struct dann_searcher *s;
	struct dann_coll *c;
	const float *q;
	uint32_t first, step;
	struct slot *got;
};

static void *submit_main(void *arg)
{
	struct submitter *t = arg;
	struct dann_coll_search_params p;

	params(&p, K, 40);
	for (uint32_t i = t->first; i < NQ; i += t->step) {
		struct slot *g = &t->got[i];
		g->rc = dann_searcher_search(t->s, t->c, t->q + i * ST_DIM, &p, g->keys, g->dists, &g->found);
		if (g->rc < 0)
			snprintf(g->msg, sizeof g->msg, "%s", dann_errmsg());
	}
	return NULL;
}

Test(seg_searcher, many_blocking_callers_get_the_batch_answers)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = four_segments(db);
	struct dann_searcher *s;
	float *q = malloc(NQ * ST_DIM * sizeof *q);
	struct slot *got = calloc(NQ, sizeof *got);
	int64_t bk[NQ * K];
	float bd[NQ * K];
	uint32_t bf[NQ];
	struct submitter t[8];
	pthread_t th[8];

	queries(q, NQ);
	cr_assert_eq(dann_searcher_new(NULL, &s), 0, "%s", dann_errmsg());
	for (uint32_t i = 0; i < 8; i++) {
		t[i] = (struct submitter){ .s = s, .c = c, .q = q, .first = i, .step = 8, .got = got };
		cr_assert_eq(pthread_create(&th[i], NULL, submit_main, &t[i]), 0);
	}
	for (uint32_t i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	batch(c, q, K, 40, bk, bd, bf);
	for (uint32_t i = 0; i < NQ; i++)
		expect_same(&got[i], bk + i * K, bd + i * K, bf[i], i);
	dann_searcher_free(s);
	dann_db_close(db);
	free(q);
	free(got);
}

/* A done callback that holds the search thread until released: the
 * queue behind it fills deterministically. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_held;

static void on_done_gated(void *arg, int rc, const char *msg)
{
	pthread_mutex_lock(&gate_mu);
	gate_held = true;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	on_done(arg, rc, msg);
}

struct canceller {
	volatile int *flag;
};

static void *cancel_soon(void *arg)
{
	struct canceller *x = arg;

	usleep(30000);
	__atomic_store_n(x->flag, 1, __ATOMIC_RELAXED);
	return NULL;
}

Test(seg_searcher, deadlines_cancels_and_a_full_queue_are_clear_statuses)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = four_segments(db);
	struct dann_searcher_params sp;
	struct dann_searcher *s;
	struct dann_coll_search_params p;
	float q[ST_DIM];
	struct slot a = { 0 }, b = { 0 }, d = { 0 }, e = { 0 }, late = { 0 };
	volatile int cancel = 0;
	struct canceller cx = { &cancel };
	pthread_t th;
	int rc;

	st_vec(42, ST_DIM, q);
	dann_searcher_params_default(&sp);
	sp.queue_max = 2;
	cr_assert_eq(dann_searcher_new(&sp, &s), 0, "%s", dann_errmsg());
	atomic_store(&n_done, 0);

	/* in flight: a deadline already past stops the query at its first step */
	params(&p, K, 40);
	p.deadline_ns = now_ns() - 1;
	cr_assert_eq(dann_searcher_submit(s, c, q, &p, late.keys, late.dists, &late.found, on_done, &late), 0);
	wait_done(1);
	cr_assert_eq(late.rc, DANN_ETIMEDOUT, "%d %s", late.rc, late.msg);
	/* in flight: a cancelled query */
	params(&p, K, 40);
	cancel = 1;
	p.cancel = &cancel;
	cr_assert_eq(dann_searcher_submit(s, c, q, &p, e.keys, e.dists, &e.found, on_done, &e), 0);
	wait_done(2);
	cr_assert_eq(e.rc, DANN_ECANCELED, "%d %s", e.rc, e.msg);
	cancel = 0;

	/* hold the only search thread in a's done; b and d then wait */
	params(&p, K, 40);
	cr_assert_eq(dann_searcher_submit(s, c, q, &p, a.keys, a.dists, &a.found, on_done_gated, &a), 0);
	pthread_mutex_lock(&gate_mu);
	while (!gate_held)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	cr_assert_eq(dann_searcher_submit(s, c, q, &p, b.keys, b.dists, &b.found, on_done, &b), 0);
	cr_assert_eq(dann_searcher_submit(s, c, q, &p, d.keys, d.dists, &d.found, on_done, &d), 0);
	/* the queue holds 2: a third is turned away and changes nothing */
	{
		struct slot x = { 0 };
		rc = dann_searcher_submit(s, c, q, &p, x.keys, x.dists, &x.found, on_done, &x);
		cr_assert_eq(rc, DANN_EBUSY, "%d %s", rc, dann_errmsg());
		cr_assert(strstr(dann_errmsg(), "queue is full"), "%s", dann_errmsg());
	}
	/* a blocking caller whose deadline passes while it waits for a slot
	 * is taken back (on a second searcher, whose queue has room) */
	{
		struct dann_searcher_params sp2 = sp;
		struct dann_searcher *s2;
		struct slot x = { 0 }, y = { 0 };
		sp2.queue_max = 8;
		cr_assert_eq(dann_searcher_new(&sp2, &s2), 0);
		pthread_mutex_lock(&gate_mu);
		gate_held = false;
		pthread_mutex_unlock(&gate_mu);
		cr_assert_eq(dann_searcher_submit(s2, c, q, &p, x.keys, x.dists, &x.found, on_done_gated, &x), 0);
		pthread_mutex_lock(&gate_mu);
		while (!gate_held)
			pthread_cond_wait(&gate_cv, &gate_mu);
		pthread_mutex_unlock(&gate_mu);
		p.deadline_ns = now_ns() + 50 * 1000000ull;
		rc = dann_searcher_search(s2, c, q, &p, y.keys, y.dists, &y.found);
		cr_assert_eq(rc, DANN_ETIMEDOUT, "%d %s", rc, dann_errmsg());
		cr_assert(strstr(dann_errmsg(), "waiting for a slot"), "%s", dann_errmsg());
		/* and one whose client goes away */
		p.deadline_ns = 0;
		p.cancel = &cancel;
		cr_assert_eq(pthread_create(&th, NULL, cancel_soon, &cx), 0);
		rc = dann_searcher_search(s2, c, q, &p, y.keys, y.dists, &y.found);
		pthread_join(th, NULL);
		cr_assert_eq(rc, DANN_ECANCELED, "%d %s", rc, dann_errmsg());
		p.cancel = NULL;
		cancel = 0;
		pthread_mutex_lock(&gate_mu);
		gate_open = true;
		pthread_cond_broadcast(&gate_cv);
		pthread_mutex_unlock(&gate_mu);
		wait_done(6); /* a, b, d and x */
		dann_searcher_free(s2);
		cr_assert_eq(x.rc, 0, "%s", x.msg);
	}
	cr_assert_eq(a.rc, 0, "%s", a.msg);
	cr_assert_eq(b.rc, 0, "%s", b.msg);
	cr_assert_eq(d.rc, 0, "%s", d.msg);
	cr_assert_eq(a.found, K);
	cr_assert_eq(b.found, K);
	dann_searcher_free(s);
	dann_db_close(db);
}

static void *free_main(void *arg)
{
	dann_searcher_free(arg);
	return NULL;
}

Test(seg_searcher, closing_ends_waiting_queries_as_cancelled)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = four_segments(db);
	struct dann_searcher_params sp;
	struct dann_searcher *s;
	struct dann_coll_search_params p;
	float q[ST_DIM];
	struct slot a = { 0 }, b = { 0 };

	st_vec(7, ST_DIM, q);
	dann_searcher_params_default(&sp);
	cr_assert_eq(dann_searcher_new(&sp, &s), 0);
	atomic_store(&n_done, 0);
	pthread_mutex_lock(&gate_mu);
	gate_open = false;
	gate_held = false;
	pthread_mutex_unlock(&gate_mu);
	params(&p, K, 40);
	cr_assert_eq(dann_searcher_submit(s, c, q, &p, a.keys, a.dists, &a.found, on_done_gated, &a), 0);
	pthread_mutex_lock(&gate_mu);
	while (!gate_held)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	cr_assert_eq(dann_searcher_submit(s, c, q, &p, b.keys, b.dists, &b.found, on_done, &b), 0);
	{
		pthread_t th;
		struct dann_searcher *sv = s;
		/* free waits for a's done: open the gate from here once b is
		 * cancelled by the close */
		cr_assert_eq(pthread_create(&th, NULL, free_main, sv), 0);
		for (int i = 0; i < 10000 && !atomic_load(&b.done); i++)
			usleep(1000);
		cr_assert(atomic_load(&b.done), "the waiting query was not ended by the close");
		cr_assert_eq(b.rc, DANN_ECANCELED, "%d %s", b.rc, b.msg);
		pthread_mutex_lock(&gate_mu);
		gate_open = true;
		pthread_cond_broadcast(&gate_cv);
		pthread_mutex_unlock(&gate_mu);
		pthread_join(th, NULL);
	}
	cr_assert_eq(a.rc, 0, "%s", a.msg);
	dann_db_close(db);
}

/* Queries submitted in a loop until told to stop: each must succeed (or,
 * once the collection is dropped, say so) with results in order. */
struct looper {
	struct dann_searcher *s;
	struct dann_coll *c;
	atomic_bool stop;
	atomic_uint ok, gone;
	char err[256];
};

static void *loop_main(void *arg)
{
	struct looper *l = arg;
	struct dann_coll_search_params p;
	struct slot g;
	float q[ST_DIM];

	params(&p, K, 40);
	for (uint32_t i = 0; !atomic_load(&l->stop); i++) {
		int rc;
		st_vec(2000000 + i % 500, ST_DIM, q);
		rc = dann_searcher_search(l->s, l->c, q, &p, g.keys, g.dists, &g.found);
		if (rc == DANN_ENOTFOUND) {
			atomic_fetch_add(&l->gone, 1);
			continue;
		}
		if (rc < 0) {
			snprintf(l->err, sizeof l->err, "%s", dann_errmsg());
			return NULL;
		}
		for (uint32_t j = 1; j < g.found; j++)
			if (g.dists[j] < g.dists[j - 1]) {
				snprintf(l->err, sizeof l->err, "results out of order");
				return NULL;
			}
		if (g.found != K && !atomic_load(&l->gone)) {
			snprintf(l->err, sizeof l->err, "found %u", g.found);
			return NULL;
		}
		atomic_fetch_add(&l->ok, 1);
	}
	return NULL;
}

Test(seg_searcher, compaction_and_drop_while_queries_run)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = four_segments(db);
	struct dann_searcher_params sp;
	struct looper l = { .c = c };
	pthread_t th[3];
	unsigned ok0;

	dann_searcher_params_default(&sp);
	sp.threads = 2;
	cr_assert_eq(dann_searcher_new(&sp, &l.s), 0);
	atomic_init(&l.stop, false);
	atomic_init(&l.ok, 0);
	atomic_init(&l.gone, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, loop_main, &l), 0);
	usleep(50000);
	/* the sealed segment is built and the deleted rows compacted away
	 * while queries read the old segments */
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	usleep(50000);
	ok0 = atomic_load(&l.ok);
	cr_assert_eq(dann_coll_drop(db, "q"), 0, "%s", dann_errmsg());
	usleep(50000);
	atomic_store(&l.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	cr_assert_str_empty(l.err, "%s", l.err);
	cr_assert_gt(ok0, 0);
	cr_assert_gt(atomic_load(&l.gone), 0, "no query saw the drop");
	dann_searcher_free(l.s);
	dann_db_close(db);
}

Test(seg_searcher, filtered_queries_equal_the_filtered_batch)
{
	/* 10% of the rows (the disk segments' exact plan), 50% (the beam
	 * plan), and one over the key and a field */
	static const char *const filters[] = { "cat == 3", "cat < 5", "cat in [1, 2] and id > 300" };
	struct dann_db *db = st_open(0);
	struct dann_schema sc;
	struct dann_coll *c;
	struct dann_searcher_params sp;
	struct dann_searcher *s;
	struct dann_coll_search_params p;
	float *q = malloc(NQ * ST_DIM * sizeof *q);
	struct slot *got = calloc(3 * NQ, sizeof *got);
	int64_t bk[NQ * K];
	float bd[NQ * K];
	uint32_t bf[NQ];
	uint64_t del;
	int rc;

	st_schema(&sc, "f", ST_DIM);
	sc.seal_rows = 600;
	sc.nfields = 1;
	snprintf(sc.fields[0].name, sizeof sc.fields[0].name, "cat");
	sc.fields[0].type = DANN_FIELD_INT32;
	c = st_create(db, &sc);
	st_insert_cat(c, 1, 600);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_cat(c, 601, 600);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	st_insert_cat(c, 1201, 600);
	st_insert_cat(c, 1801, 300);
	for (int64_t k = 2; k <= 2100; k += 7)
		cr_assert_eq(dann_coll_delete(c, &k, 1, &del), 0);
	queries(q, NQ);
	dann_searcher_params_default(&sp);
	sp.threads = 2;
	sp.inflight = 8;
	cr_assert_eq(dann_searcher_new(&sp, &s), 0, "%s", dann_errmsg());
	atomic_store(&n_done, 0);
	for (uint32_t i = 0; i < NQ; i++)
		for (uint32_t f = 0; f < 3; f++) {
			char text[64];
			struct slot *g = &got[f * NQ + i];
			params(&p, K, 40);
			/* the text may go once submitted */
			snprintf(text, sizeof text, "%s", filters[f]);
			p.filter = text;
			cr_assert_eq(dann_searcher_submit(s, c, q + i * ST_DIM, &p, g->keys, g->dists, &g->found,
							  on_done, g), 0, "%s", dann_errmsg());
			memset(text, 0, sizeof text);
		}
	wait_done(3 * NQ);
	for (uint32_t f = 0; f < 3; f++) {
		batch_f(c, q, K, 40, filters[f], bk, bd, bf);
		for (uint32_t i = 0; i < NQ; i++)
			expect_same(&got[f * NQ + i], bk + i * K, bd + i * K, bf[i], i);
	}
	/* a bad filter is refused at once, naming what is wrong */
	params(&p, K, 40);
	p.filter = "nope == 1";
	rc = dann_searcher_submit(s, c, q, &p, got[0].keys, got[0].dists, &got[0].found, on_done, &got[0]);
	cr_assert_eq(rc, DANN_EINVAL, "%d", rc);
	cr_assert(strstr(dann_errmsg(), "nope"), "%s", dann_errmsg());
	dann_searcher_free(s);
	dann_db_close(db);
	free(q);
	free(got);
}

/* OPQ: a query's rotation is the single search's (one matrix-vector
 * product per query and segment), so the answers are dann_coll_search's. */
Test(seg_searcher, an_opq_collection_answers_as_the_single_search)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c = four_segments_opq(db, 1);
	struct dann_searcher *s;
	struct dann_coll_search_params p;
	float *q = malloc(NQ * ST_DIM * sizeof *q);
	struct slot *got = calloc(NQ, sizeof *got);

	queries(q, NQ);
	cr_assert_eq(dann_searcher_new(NULL, &s), 0, "%s", dann_errmsg());
	atomic_store(&n_done, 0);
	params(&p, K, 40);
	for (uint32_t i = 0; i < NQ; i++)
		cr_assert_eq(dann_searcher_submit(s, c, q + i * ST_DIM, &p, got[i].keys, got[i].dists, &got[i].found,
						  on_done, &got[i]), 0, "%s", dann_errmsg());
	wait_done(NQ);
	for (uint32_t i = 0; i < NQ; i++) {
		int64_t keys[K];
		float dists[K];
		uint32_t found;
		cr_assert_eq(dann_coll_search(c, q + i * ST_DIM, &p, keys, dists, &found, NULL), 0, "%s",
			     dann_errmsg());
		expect_same(&got[i], keys, dists, found, i);
	}
	dann_searcher_free(s);
	dann_db_close(db);
	free(q);
	free(got);
}
