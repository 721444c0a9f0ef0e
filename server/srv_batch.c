/*
 * srv_batch.c — the search collector (see srv_batch.h).
 *
 * One mutex guards every group; a group lives while a worker is in it
 * (users), so a dropped collection leaves nothing behind. A query is
 * PENDING on its group's list, TAKEN once a leader moved it into a batch
 * (from then on only the leader writes its results), DONE when the results
 * or the error are in. Each waiting worker sleeps on its own query's
 * condition variable, woken when its query is done or when it should lead
 * (the first waiting query, once a batch slot is free): with dozens of
 * workers waiting, waking all of them at every step cost more CPU than the
 * batching saved. The waits time out now and then, so a waiting query
 * notices its deadline or its client leaving even when nothing else
 * happens. The group's own condition variable only serves a leader
 * waiting for its batch to fill.
 */
#include "srv_batch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

#define BATCH_MAX_QUERIES 1024u
#define BATCH_POLL_NS (20ull * 1000000)   /* a waiting query checks its deadline this often */
#define BATCH_ERR_MAX 512

enum bq_state { BQ_PENDING, BQ_TAKEN, BQ_DONE };

struct bq {
	const float *query;
	int64_t *keys;
	float *dists;
	uint32_t *found;
	uint64_t deadline_ns;
	const volatile int *cancel;
	enum bq_state state;
	pthread_cond_t cv;
	int rc;
	char err[BATCH_ERR_MAX];
	struct bq *next;
};

struct group {
	struct dann_coll *c;
	uint32_t dim, k, L, W;
	struct bq *head, **tail;
	uint32_t npending, running, users;
	uint32_t filling;                  /* leaders waiting for their batch to fill */
	pthread_cond_t cv;
	struct group *next;
};

struct srv_batcher {
	pthread_mutex_t lock;
	struct group *groups;
	uint32_t max_queries, running, threads, window_us;
	uint64_t batches, queries;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int srv_batcher_new(uint32_t max_queries, uint32_t running, uint32_t threads, uint32_t window_us,
		    struct srv_batcher **out)
{
	struct srv_batcher *b;

	if (!max_queries || max_queries > BATCH_MAX_QUERIES || !running || !threads)
		return dann_fail(DANN_EINVAL,
				 "search batch: %u queries per batch (1..%u), %u running, %u threads (>= 1)",
				 max_queries, BATCH_MAX_QUERIES, running, threads);
	if (!(b = calloc(1, sizeof *b)))
		return dann_fail(DANN_ENOMEM, "search batch");
	pthread_mutex_init(&b->lock, NULL);
	b->max_queries = max_queries;
	b->running = running;
	b->threads = threads;
	b->window_us = window_us;
	*out = b;
	return 0;
}

void srv_batcher_free(struct srv_batcher *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void srv_batcher_counts(struct srv_batcher *b, uint64_t *batches, uint64_t *queries)
{
	pthread_mutex_lock(&b->lock);
	*batches = b->batches;
	*queries = b->queries;
	pthread_mutex_unlock(&b->lock);
}

/* The group of (c, dim, k, L, W), made if new; users counted. */
static struct group *group_join(struct srv_batcher *b, struct dann_coll *c, uint32_t dim,
				const struct dann_coll_search_params *p)
{
	struct group *g;
	pthread_condattr_t ca;

	for (g = b->groups; g; g = g->next)
		if (g->c == c && g->dim == dim && g->k == p->k && g->L == p->L && g->W == p->W)
			break;
	if (!g) {
		if (!(g = calloc(1, sizeof *g)))
			return NULL;
		*g = (struct group){ .c = c, .dim = dim, .k = p->k, .L = p->L, .W = p->W, .next = b->groups };
		g->tail = &g->head;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&g->cv, &ca);
		pthread_condattr_destroy(&ca);
		b->groups = g;
	}
	g->users++;
	return g;
}

static void group_leave(struct srv_batcher *b, struct group *g)
{
	struct group **pp;

	if (--g->users)
		return;
	for (pp = &b->groups; *pp != g; pp = &(*pp)->next)
		;
	*pp = g->next;
	pthread_cond_destroy(&g->cv);
	free(g);
}

static void unlink_query(struct group *g, struct bq *q)
{
	struct bq **pp;

	for (pp = &g->head; *pp != q; pp = &(*pp)->next)
		;
	*pp = q->next;
	if (g->tail == &q->next)
		g->tail = pp;
	g->npending--;
}

/* Waits on cv until abs_ns (CLOCK_MONOTONIC) at the latest. */
static void wait_until(struct srv_batcher *b, pthread_cond_t *cv, uint64_t abs_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(abs_ns / 1000000000ull), .tv_nsec = (long)(abs_ns % 1000000000ull) };

	pthread_cond_timedwait(cv, &b->lock, &ts);
}

/* A batch slot is free and queries wait: wake the first one's worker to
 * lead. */
static void wake_leader(struct srv_batcher *b, struct group *g)
{
	if (g->head && g->running < b->running && !g->filling)
		pthread_cond_signal(&g->head->cv);
}

/* Runs n taken queries as one search (lock not held); fills their results
 * and rc. */
static void run_batch(struct group *g, uint32_t threads, const struct dann_coll_search_params *p0, struct bq **qs,
		      uint32_t n)
{
	struct dann_coll_search_params sp = *p0;
	float *queries = NULL, *dists = NULL;
	int64_t *keys = NULL;
	uint32_t *found = NULL;
	int rc;

	sp.deadline_ns = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!qs[i]->deadline_ns) {
			sp.deadline_ns = 0;
			break;
		}
		if (qs[i]->deadline_ns > sp.deadline_ns)
			sp.deadline_ns = qs[i]->deadline_ns;
	}
	sp.cancel = n == 1 ? qs[0]->cancel : NULL;
	sp.filter = NULL;
	if (n == 1) {
		rc = dann_coll_search(g->c, qs[0]->query, &sp, qs[0]->keys, qs[0]->dists, qs[0]->found, NULL);
		goto out;
	}
	queries = malloc((size_t)n * g->dim * sizeof *queries);
	keys = malloc((size_t)n * g->k * sizeof *keys);
	dists = malloc((size_t)n * g->k * sizeof *dists);
	found = malloc(n * sizeof *found);
	if (!queries || !keys || !dists || !found) {
		rc = dann_fail(DANN_ENOMEM, "search batch of %u queries", n);
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		memcpy(queries + (size_t)i * g->dim, qs[i]->query, g->dim * sizeof *queries);
	sp.threads = threads < n ? threads : n;
	sp.inflight = (n + sp.threads - 1) / sp.threads;
	rc = dann_coll_search_batch(g->c, queries, n, &sp, keys, dists, found, NULL);
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		*qs[i]->found = found[i];
		memcpy(qs[i]->keys, keys + (size_t)i * g->k, found[i] * sizeof *keys);
		memcpy(qs[i]->dists, dists + (size_t)i * g->k, found[i] * sizeof *dists);
	}
out:
	for (uint32_t i = 0; i < n; i++) {
		qs[i]->rc = rc;
		if (rc < 0)
			snprintf(qs[i]->err, sizeof qs[i]->err, "%s", dann_errmsg());
	}
	free(queries);
	free(keys);
	free(dists);
	free(found);
}

/* Leads one batch of g (lock held on entry and on return). */
static void lead(struct srv_batcher *b, struct group *g, const struct dann_coll_search_params *p)
{
	struct bq *qs[BATCH_MAX_QUERIES];
	uint32_t n = 0;

	g->running++;
	if (b->window_us && g->npending < b->max_queries) {
		uint64_t until = now_ns() + (uint64_t)b->window_us * 1000;
		g->filling++;
		while (g->npending < b->max_queries && now_ns() < until)
			wait_until(b, &g->cv, until);
		g->filling--;
	}
	while (g->head && n < b->max_queries) {
		struct bq *q = g->head;
		unlink_query(g, q);
		q->state = BQ_TAKEN;
		qs[n++] = q;
	}
	b->batches += n > 0;
	b->queries += n;
	wake_leader(b, g); /* more than one batch waits and a slot is free */
	pthread_mutex_unlock(&b->lock);
	if (n)
		run_batch(g, b->threads, p, qs, n);
	pthread_mutex_lock(&b->lock);
	for (uint32_t i = 0; i < n; i++) {
		qs[i]->state = BQ_DONE;
		pthread_cond_signal(&qs[i]->cv);
	}
	g->running--;
	wake_leader(b, g);
}

int srv_batch_search(struct srv_batcher *b, struct dann_coll *c, uint32_t dim, const float *query,
		     const struct dann_coll_search_params *p, int64_t *keys, float *dists, uint32_t *found)
{
	struct bq q = { .query = query, .keys = keys, .dists = dists, .found = found,
			.deadline_ns = p->deadline_ns, .cancel = p->cancel, .state = BQ_PENDING };
	struct group *g;
	pthread_condattr_t ca;

	*found = 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q.cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&b->lock);
	if (!(g = group_join(b, c, dim, p))) {
		pthread_mutex_unlock(&b->lock);
		pthread_cond_destroy(&q.cv);
		return dann_fail(DANN_ENOMEM, "search batch: group");
	}
	*g->tail = &q;
	g->tail = &q.next;
	g->npending++;
	if (g->filling && g->npending >= b->max_queries)
		pthread_cond_signal(&g->cv); /* the filling leader's batch is full */
	while (q.state != BQ_DONE) {
		uint64_t now;
		if (q.state == BQ_PENDING && g->running < b->running && !g->filling) {
			lead(b, g, p);
			continue;
		}
		now = now_ns();
		wait_until(b, &q.cv, q.deadline_ns && q.deadline_ns < now + BATCH_POLL_NS ? q.deadline_ns
										   : now + BATCH_POLL_NS);
		if (q.state != BQ_PENDING)
			continue;
		int gone = q.cancel && __atomic_load_n(q.cancel, __ATOMIC_RELAXED);
		if (gone || (q.deadline_ns && now_ns() >= q.deadline_ns)) {
			unlink_query(g, &q);
			q.rc = gone ? DANN_ECANCELED : DANN_ETIMEDOUT;
			snprintf(q.err, sizeof q.err, "search: %s while waiting for a batch",
				 q.rc == DANN_ECANCELED ? "cancelled" : "deadline passed");
			q.state = BQ_DONE;
		}
	}
	group_leave(b, g);
	pthread_mutex_unlock(&b->lock);
	pthread_cond_destroy(&q.cv);
	if (q.rc < 0)
		return dann_fail(q.rc, "%s", q.err);
	return 0;
}
