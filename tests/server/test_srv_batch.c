/*
 * test_srv_batch.c — the search collector (server/srv_batch.c) on a real
 * collection (a flushed disk segment and a growing one): queries from many
 * threads at once, gathered into shared engine batches, each get exactly
 * the answer a search of its own gives; a query still waiting for a batch
 * when its deadline passes or its client leaves is dropped with the
 * matching error and never searched; through dannd and the Node.js SDK
 * (tests/node/batch_flow.mjs), concurrent Search RPCs share batches and get
 * their own answers.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dann.h"
#include "helpers/tmpdir.h"
#include "srv_batch.h"
#include "srvtest.h"

#define SDK_TIMEOUT_S 120

#define DIM 16
#define ROWS 600
#define THREADS 24
#define PER_THREAD 20
#define K 5

static struct dann_db *db;
static struct dann_coll *coll;

static void vec_of(int i, float *v)
{
	for (int d = 0; d < DIM; d++)
		v[d] = (float)(((i * 7919 + d * 104729) % 1000) / 500.0 - 1.0);
}

static void setup(void)
{
	struct dann_db_params p;
	struct dann_schema s;
	static int64_t keys[ROWS];
	static float vecs[ROWS * DIM];

	tmpdir_make("srv_batch");
	dann_db_params_default(&p);
	p.threads = 2;
	cr_assert_eq(dann_db_open(tmpdir_path("data"), &p, &db), 0, "%s", dann_errmsg());
	dann_schema_default(&s);
	snprintf(s.name, sizeof s.name, "c");
	s.dim = DIM;
	s.index.R = 16;
	s.index.L = 32;
	cr_assert_eq(dann_coll_create(db, &s), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_get(db, "c", &coll), 0);
	for (int i = 0; i < ROWS; i++) {
		keys[i] = i;
		vec_of(i, vecs + i * DIM);
	}
	struct dann_batch b = { .n = ROWS / 2, .keys = keys, .vectors = vecs };
	cr_assert_eq(dann_coll_insert(coll, &b, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_flush(coll), 0, "%s", dann_errmsg());
	b.keys = keys + ROWS / 2;
	b.vectors = vecs + ROWS / 2 * DIM;
	cr_assert_eq(dann_coll_insert(coll, &b, NULL), 0, "%s", dann_errmsg());
}

static void teardown(void)
{
	dann_db_close(db);
	tmpdir_remove();
}

TestSuite(srv_batch, .init = setup, .fini = teardown, .timeout = 120);

struct worker {
	struct srv_batcher *b;
	int first;
	int mismatches;
	int rc;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct dann_coll_search_params p;

	dann_coll_search_params_default(&p);
	p.k = K;
	p.L = 40;
	for (int j = 0; j < PER_THREAD && w->rc == 0; j++) {
		float q[DIM];
		int64_t k1[K], k2[K];
		float d1[K], d2[K];
		uint32_t f1, f2;
		vec_of(w->first + j * 13, q);
		q[0] += 0.01f;
		if ((w->rc = srv_batch_search(w->b, coll, DIM, q, &p, k1, d1, &f1)) < 0 ||
		    (w->rc = dann_coll_search(coll, q, &p, k2, d2, &f2, NULL)) < 0)
			break;
		if (f1 != f2 || memcmp(k1, k2, f1 * sizeof *k1) || memcmp(d1, d2, f1 * sizeof *d1))
			w->mismatches++;
	}
	return NULL;
}

Test(srv_batch, batched_queries_get_the_answers_of_their_own_searches)
{
	struct srv_batcher *b;
	struct worker w[THREADS];
	pthread_t th[THREADS];
	uint64_t batches, queries;

	/* One batch at a time, 2 ms to fill: many queries share each batch. */
	cr_assert_eq(srv_batcher_new(64, 1, 1, 2000, &b), 0, "%s", dann_errmsg());
	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct worker){ .b = b, .first = t * 17 };
		cr_assert_eq(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		cr_expect_eq(w[t].rc, 0, "thread %d: %s", t, dann_errmsg());
		cr_expect_eq(w[t].mismatches, 0, "thread %d: %d answers differ from the single search", t,
			     w[t].mismatches);
	}
	srv_batcher_counts(b, &batches, &queries);
	cr_expect_eq(queries, THREADS * PER_THREAD, "every query went through a batch: %llu",
		     (unsigned long long)queries);
	cr_expect_lt(batches, queries, "queries shared batches (%llu batches for %llu queries)",
		     (unsigned long long)batches, (unsigned long long)queries);
	srv_batcher_free(b);
}

struct waiter {
	struct srv_batcher *b;
	uint64_t deadline_ns;
	const volatile int *cancel;
	int rc;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct dann_coll_search_params p;
	float q[DIM];
	int64_t keys[K];
	float dists[K];
	uint32_t found;

	dann_coll_search_params_default(&p);
	p.k = K;
	p.deadline_ns = w->deadline_ns;
	p.cancel = w->cancel;
	vec_of(5, q);
	w->rc = srv_batch_search(w->b, coll, DIM, q, &p, keys, dists, &found);
	return NULL;
}

Test(srv_batch, a_query_waiting_past_its_deadline_or_cancelled_is_dropped)
{
	struct srv_batcher *b;
	struct waiter lead, late, gone;
	pthread_t t1, t2, t3;
	volatile int cancelled = 0;
	uint64_t batches, queries;

	/* The leader holds the only batch slot for its 1.5 s fill window. */
	cr_assert_eq(srv_batcher_new(64, 1, 1, 1500000, &b), 0, "%s", dann_errmsg());
	lead = (struct waiter){ .b = b };
	late = (struct waiter){ .b = b, .deadline_ns = mono_ns() + 100000000ull };
	gone = (struct waiter){ .b = b, .cancel = &cancelled };
	cr_assert_eq(pthread_create(&t1, NULL, waiter_main, &lead), 0);
	usleep(50000);
	cr_assert_eq(pthread_create(&t2, NULL, waiter_main, &late), 0);
	cr_assert_eq(pthread_create(&t3, NULL, waiter_main, &gone), 0);
	usleep(200000);
	__atomic_store_n(&cancelled, 1, __ATOMIC_RELAXED);
	pthread_join(t2, NULL);
	pthread_join(t3, NULL);
	pthread_join(t1, NULL);
	cr_expect_eq(late.rc, DANN_ETIMEDOUT, "past its deadline: %d", late.rc);
	cr_expect_eq(gone.rc, DANN_ECANCELED, "client gone: %d", gone.rc);
	cr_expect_eq(lead.rc, 0, "the leader's own query: %d", lead.rc);
	srv_batcher_counts(b, &batches, &queries);
	cr_expect_eq(queries, 1, "only the leader's query was searched: %llu", (unsigned long long)queries);
	srv_batcher_free(b);
}

/* dannd with the collector on; concurrent single-query Search RPCs from
 * the SDK, with different limits and filters; /metrics shows that queries
 * shared batches. */
TestSuite(srv_batch_sdk, .init = srvtest_need_node, .fini = tmpdir_remove, .timeout = 200);

Test(srv_batch_sdk, concurrent_sdk_searches_share_batches_and_get_their_own_answers)
{
	struct proc_dannd d;
	char addr[64], *metrics, *at;
	unsigned long long batches = 0, queries = 0;
	FILE *f;

	tmpdir_make("srv_batch_sdk");
	f = fopen(tmpdir_path("batch.conf"), "w");
	cr_assert_not_null(f);
	fprintf(f, "search_batch = 64\nsearch_batch_running = 1\nsearch_batch_window_us = 3000\nworkers = 32\n");
	fclose(f);
	cr_assert_eq(proc_dannd_start(&d, DANND_BIN, SRVTEST_START_S, "--data-dir", tmpdir_path("data"), "--listen",
				      "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--config", tmpdir_path("batch.conf"),
				      NULL),
		     0, "dannd did not start");
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(SDK_TIMEOUT_S, (char *[]){ "node", "batch_flow.mjs", addr, NULL });
	metrics = srvtest_http_get(d.metrics_port, "/metrics");
	cr_assert_not_null(metrics);
	if ((at = strstr(metrics, "\ndann_search_batches_total ")))
		batches = strtoull(at + strlen("\ndann_search_batches_total "), NULL, 10);
	if ((at = strstr(metrics, "\ndann_search_batched_queries_total ")))
		queries = strtoull(at + strlen("\ndann_search_batched_queries_total "), NULL, 10);
	cr_expect(batches > 0 && queries > batches, "queries shared batches: %llu queries in %llu batches",
		  queries, batches);
	free(metrics);
	srvtest_stop(&d);
}
