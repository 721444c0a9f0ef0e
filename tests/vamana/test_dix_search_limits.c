/*
 * test_dix_search_limits.c — what a server needs from the disk search
 * beyond answers: cancellation and deadlines (DANN_ECANCELED,
 * DANN_ETIMEDOUT), searchers that size down after a query with a huge L,
 * and dann_index_io readable while other threads search.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "dix_fx.h"
#include "vamana/dix.h"
#include "vamana/dix_search.h"

#define NQ 40

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

Test(dix_search_limits, a_set_cancel_flag_stops_the_search_with_ecanceled)
{
	struct dix_fx f;
	struct dann_index *ix;
	struct dann_search_params p;
	static uint32_t ids[NQ * 10], found[NQ];
	static float dists[NQ * 10];
	volatile int cancel = 1;

	dix_fx_build(&f, 500, 16, NQ);
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&p);
	p.cancel = &cancel;
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, found, NULL), DANN_ECANCELED);
	cr_assert_not_null(strstr(dann_errmsg(), "canceled"), "%s", dann_errmsg());
	p.threads = 2;
	cr_assert_eq(dann_search_batch(ix, f.q, NQ, &p, ids, dists, found, NULL), DANN_ECANCELED);
	cr_assert_not_null(strstr(dann_errmsg(), "canceled"), "%s", dann_errmsg());
	/* The searcher goes back to the pool whole: the next search works. */
	cancel = 0;
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, found, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(found[0], 10);
	dann_index_close(ix);
	dix_fx_free(&f);
}

Test(dix_search_limits, a_passed_deadline_stops_the_search_with_etimedout)
{
	struct dix_fx f;
	struct dann_index *ix;
	struct dann_search_params p;
	static uint32_t ids[NQ * 10], found[NQ];
	static float dists[NQ * 10];

	dix_fx_build(&f, 500, 16, NQ);
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&p);
	p.deadline_ns = mono_ns() - 1;
	cr_assert_eq(dann_search(ix, f.q, &p, ids, dists, found, NULL), DANN_ETIMEDOUT);
	cr_assert_not_null(strstr(dann_errmsg(), "deadline"), "%s", dann_errmsg());
	cr_assert_eq(dann_search_batch(ix, f.q, NQ, &p, ids, dists, found, NULL), DANN_ETIMEDOUT);
	p.deadline_ns = mono_ns() + 600ull * 1000000000ull;
	cr_assert_eq(dann_search_batch(ix, f.q, NQ, &p, ids, dists, found, NULL), 0, "%s",
		     dann_errmsg());
	dann_index_close(ix);
	dix_fx_free(&f);
}

Test(dix_search_limits, a_searcher_sized_for_a_huge_L_sizes_down_for_a_small_one)
{
	struct dix_fx f;
	struct dix_index *ix;
	struct dix_searcher *s, *fresh;
	struct dix_searcher_params sp = { .inflight = 1, .backend = DIO_BACKEND_AUTO };
	struct dix_search_params p;
	uint32_t ids[10], found;
	float dists[10];
	uint64_t small, big;

	dix_fx_build(&f, 500, 16, 1);
	cr_assert_eq(dix_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_searcher_new(&sp, &s), 0);
	cr_assert_eq(dix_searcher_new(&sp, &fresh), 0);
	dix_search_params_default(&p);
	p.L = 20;
	cr_assert_eq(dix_search_run(fresh, ix, f.q, 1, &p, NULL, ids, dists, &found, NULL), 0);
	small = dix_searcher_bytes(fresh);
	p.L = DIX_MAX_L;
	cr_assert_eq(dix_search_run(s, ix, f.q, 1, &p, NULL, ids, dists, &found, NULL), 0, "%s",
		     dann_errmsg());
	big = dix_searcher_bytes(s);
	cr_assert_gt(big, 100 * small, "L %u: %llu bytes, L 20: %llu", DIX_MAX_L,
		     (unsigned long long)big, (unsigned long long)small);
	p.L = 20;
	cr_assert_eq(dix_search_run(s, ix, f.q, 1, &p, NULL, ids, dists, &found, NULL), 0);
	cr_assert_eq(dix_searcher_bytes(s), small, "after L 20 again: %llu bytes, fresh %llu",
		     (unsigned long long)dix_searcher_bytes(s), (unsigned long long)small);
	dix_searcher_free(s);
	dix_searcher_free(fresh);
	dix_close(ix);
	dix_fx_free(&f);
}

struct io_arg {
	struct dann_index *ix;
	const float *q;
	int backend;
	_Atomic int *stop;
	int bad;
};

static void *searcher_main(void *p)
{
	struct io_arg *a = p;
	struct dann_search_params sp;
	uint32_t ids[10], found;
	float dists[10];

	dann_search_params_default(&sp);
	sp.io_backend = a->backend;
	for (int i = 0; i < 200; i++)
		if (dann_search(a->ix, a->q, &sp, ids, dists, &found, NULL) < 0)
			a->bad++;
	return NULL;
}

/* Two threads search with different backends (so the text changes) while
 * this one reads it: every text read is one whole description. Under the
 * tsan build this is the test that catches a racy read. */
Test(dix_search_limits, index_io_can_be_read_while_other_threads_search)
{
	struct dix_fx f;
	struct dann_index *ix;
	struct io_arg a[2];
	pthread_t tid[2];
	_Atomic int stop = 0;

	dix_fx_build(&f, 300, 16, 1);
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	for (int t = 0; t < 2; t++) {
		a[t] = (struct io_arg){ .ix = ix, .q = f.q, .backend = t ? 3 : 0, .stop = &stop };
		cr_assert_eq(pthread_create(&tid[t], NULL, searcher_main, &a[t]), 0);
	}
	for (int i = 0; i < 2000; i++) {
		const char *io = dann_index_io(ix);
		cr_assert(io[0] == '\0' || strchr(io, ':'), "torn text: \"%s\"", io);
	}
	for (int t = 0; t < 2; t++) {
		pthread_join(tid[t], NULL);
		cr_assert_eq(a[t].bad, 0);
	}
	cr_assert_neq(dann_index_io(ix)[0], '\0');
	dann_index_close(ix);
	dix_fx_free(&f);
}

Test(dix_search_limits, inflight_times_W_past_one_ring_is_refused_before_any_read)
{
	struct dix_fx f;
	struct dann_index *ix;
	struct dann_search_params p;
	struct dann_search_stats st[NQ];
	static uint32_t ids[NQ * 10], found[NQ];
	static float dists[NQ * 10];

	dix_fx_build(&f, 300, 16, NQ);
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&p);
	p.inflight = 1024;
	p.W = 64;
	memset(st, 0, sizeof st);
	cr_assert_eq(dann_search_batch(ix, f.q, NQ, &p, ids, dists, found, st), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "inflight 1024 x W 64"), "%s", dann_errmsg());
	cr_assert_eq(st[0].reads, 0);
	p.inflight = 16; /* 1024 reads: fits */
	cr_assert_eq(dann_search_batch(ix, f.q, NQ, &p, ids, dists, found, st), 0, "%s",
		     dann_errmsg());
	dann_index_close(ix);
	dix_fx_free(&f);
}
