/*
 * seg_searcher.c — the searcher (dann.h): single queries admitted one by
 * one into long-lived disk search engines (dix_stream_run).
 *
 * A submitted query waits on the searcher's queue. Each search thread owns
 * a dix searcher (one ring, `inflight` slots) and is the stream's source:
 * when a slot frees, the thread takes a query it already holds whose last
 * segment just finished (its ready list), else the first waiting query,
 * and walks it through its version's segments in order: empty ones
 * skipped, RAM ones searched at once (seg_mem_search, as the single
 * search), a flushed one handed to the engine as a task (the plan and
 * parameters dann_search would use; an exact plan is run by dann_search
 * itself). A filter is compiled once at submit and evaluated per segment
 * into the allowed-rows mask the segment's search takes, as the single
 * search does. When every segment answered, the hits are merged by the
 * single search's own merge, so a query's results are dann_coll_search's.
 *
 * A query reads one version, pinned from its start to its end, and reruns
 * if a metric change flipped meanwhile (as dann_coll_search does). The
 * disk segment it reads is pinned (seg_disk_use) while its task runs.
 * Threads sleep on the queue's condition variable when they hold no query
 * and none waits, so an idle searcher costs nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../error.h"
#include "../vamana/dix_search.h"
#include "expr.h"
#include "seg_impl.h"

#define SQ_MAX_THREADS 64u
#define SQ_POLL_NS (20ull * 1000000) /* a waiting caller checks its cancel flag this often */
#define SQ_ERR_MAX 512

enum sq_state { SQ_QUEUED, SQ_RUNNING };

/* One query. */
struct sq {
	struct dann_coll *c;
	struct dann_coll_search_params p;
	int64_t *keys;
	float *dists;
	uint32_t *found;
	dann_search_done_fn done;
	void *arg;
	enum sq_state state;
	struct sq *next;
	/* running */
	struct seg_ver *v;
	uint32_t epoch;
	int tries;
	size_t si;                 /* the next segment of v */
	int64_t *hk;               /* hits so far: (v->n + 1) * k */
	float *hd;
	size_t nh, cap;
	struct seg *cur;           /* the disk segment its task reads */
	struct expr *filter;       /* compiled p.filter, or NULL */
	uint64_t *mask;            /* the filter's rows of the current segment */
	uint64_t mask_rows;
	uint32_t *ids;             /* one segment's results: k each */
	int64_t *sk;
	float *sd;
	uint32_t sf;
	float q[];                 /* the query, dim floats */
};

struct sq_thread {
	struct dann_searcher *s;
	struct dix_searcher *dx;
	struct sq *ready, **ready_tail;
	pthread_t th;
};

struct dann_searcher {
	struct dann_searcher_params p;
	pthread_mutex_t lock;
	pthread_cond_t work;       /* a query waits, or stopping */
	struct sq *head, **tail;
	uint32_t nqueued;
	uint64_t running, done;
	bool stopping;
	uint32_t nthreads;
	struct sq_thread *t;
};

void dann_searcher_params_default(struct dann_searcher_params *p)
{
	p->threads = 1;
	p->inflight = 64;
	p->queue_max = 1024;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- one query ----------------------------------------------------------- */

static void sq_free(struct sq *q)
{
	if (!q)
		return;
	expr_free(q->filter);
	free(q->mask);
	free(q->hk);
	free(q->hd);
	free(q->ids);
	free(q->sk);
	free(q->sd);
	free(q);
}

/* q ends with rc (its results merged into its outputs when 0). */
static void sq_finish(struct dann_searcher *s, struct sq *q, int rc, const char *msg)
{
	if (q->v)
		seg_ver_unref(q->v);
	q->v = NULL;
	q->done(q->arg, rc, rc < 0 ? msg : "");
	sq_free(q);
	pthread_mutex_lock(&s->lock);
	s->running--;
	s->done++;
	pthread_mutex_unlock(&s->lock);
}

static void sq_fail(struct dann_searcher *s, struct sq *q, int rc)
{
	char msg[SQ_ERR_MAX];

	snprintf(msg, sizeof msg, "%s", dann_errmsg());
	sq_finish(s, q, rc, msg);
}

/* Pins the current version and makes room for its hits. */
static int sq_begin(struct sq *q)
{
	uint32_t k = q->p.k;

	if (atomic_load(&q->c->dropped)) /* since it was queued */
		return dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", q->c->schema.name);
	q->epoch = atomic_load(&q->c->metric_epoch);
	q->v = seg_ver_get(q->c);
	q->si = 0;
	q->nh = 0;
	if ((q->v->n + 1) * k > q->cap) {
		free(q->hk);
		free(q->hd);
		q->cap = (q->v->n + 1) * k;
		q->hk = malloc(q->cap * sizeof *q->hk);
		q->hd = malloc(q->cap * sizeof *q->hd);
		if (!q->hk || !q->hd) {
			q->cap = 0;
			return dann_fail(DANN_ENOMEM, "search: hits of %zu segments", q->v->n);
		}
	}
	return 0;
}

static void add_hits(struct sq *q, uint32_t n)
{
	memcpy(q->hk + q->nh, q->sk, n * sizeof *q->hk);
	memcpy(q->hd + q->nh, q->sd, n * sizeof *q->hd);
	q->nh += n;
}

/* The task of q's disk segment s: 1 if *t is set, 0 if s was searched at
 * once (an exact plan: dann_search's own), < 0 on error. */
static int disk_task(struct sq *q, struct seg *s, struct dix_task *t)
{
	struct dann_search_params sp;
	int rc;

	if ((rc = seg_disk_use(q->c, s)) < 0)
		return rc;
	/* the parameters seg_disk_search gives dann_search */
	dann_search_params_default(&sp);
	sp.k = q->p.k;
	sp.L = q->p.L < q->p.k ? q->p.k : q->p.L;
	sp.W = q->p.W ? q->p.W : sp.W;
	sp.deleted = (const uint64_t *)s->disk->delw;
	sp.deleted_bits = s->nrows;
	sp.allowed = q->mask; /* the filter's rows: dann_search plans by their fraction */
	sp.allowed_bits = q->mask ? s->nrows : 0;
	sp.cancel = q->p.cancel;
	sp.deadline_ns = q->p.deadline_ns;
	if ((rc = dix_task_of(s->disk->ix, &sp, t)) <= 0) {
		seg_disk_done(q->c, s);
		if (rc < 0)
			return rc;
		if ((rc = seg_disk_search(q->c, s, q->q, &q->p, q->mask, q->sk, q->sd, &q->sf, NULL)) < 0)
			return rc;
		add_hits(q, q->sf);
		return 0;
	}
	t->query = q->q;
	t->ids = q->ids;
	t->dists = q->sd;
	t->found = &q->sf;
	t->cookie = q;
	q->cur = s;
	return 1;
}

/* Walks q through its segments until one needs the disk engine (1, *t
 * set) or q is finished (0: done called, q freed). */
static int sq_advance(struct dann_searcher *s, struct sq *q, struct dix_task *t)
{
	int rc;

	for (;;) {
		struct seg *g;
		if (q->si == q->v->n) {
			if (atomic_load(&q->c->metric_epoch) != q->epoch && q->tries < SEG_SEARCH_RETRIES) {
				q->tries++;
				seg_ver_unref(q->v);
				q->v = NULL;
				if ((rc = sq_begin(q)) < 0)
					goto fail;
				continue;
			}
			if ((rc = seg_search_merge(q->hk, q->hd, q->nh, q->p.k, q->keys, q->dists, q->found)) < 0)
				goto fail;
			sq_finish(s, q, 0, "");
			return 0;
		}
		if ((rc = seg_search_stop(q->c, &q->p)) < 0)
			goto fail;
		g = q->v->s[q->si];
		if (!g->disk && !g->mem->n) {
			q->si++;
			continue;
		}
		/* the mask of the segment before (its task is done) goes */
		free(q->mask);
		q->mask = NULL;
		q->mask_rows = 0;
		if (q->filter && (rc = seg_filter_mask(q->c, g, q->filter, &q->mask, &q->mask_rows)) < 0)
			goto fail;
		if (!g->disk) {
			if ((rc = seg_mem_search(q->c, g->mem, q->q, q->p.k, q->p.L, q->mask, q->mask_rows,
						 q->sk, q->sd, &q->sf)) < 0)
				goto fail;
			add_hits(q, q->sf);
			q->si++;
			continue;
		}
		if ((rc = disk_task(q, g, t)) < 0)
			goto fail;
		if (rc > 0)
			return 1;
		q->si++;
	}
fail:
	sq_fail(s, q, rc);
	return 0;
}

/* ---- the stream source of one thread ------------------------------------- */

static struct sq *take_waiting(struct dann_searcher *s)
{
	struct sq *q;

	pthread_mutex_lock(&s->lock);
	if ((q = s->head)) {
		if (!(s->head = q->next))
			s->tail = &s->head;
		s->nqueued--;
		s->running++;
		q->state = SQ_RUNNING;
	}
	pthread_mutex_unlock(&s->lock);
	return q;
}

static int src_next(void *arg, struct dix_task *t)
{
	struct sq_thread *th = arg;
	struct sq *q;
	int rc;

	for (;;) {
		if ((q = th->ready)) {
			if (!(th->ready = q->next))
				th->ready_tail = &th->ready;
		} else {
			if (!(q = take_waiting(th->s)))
				return 0;
			if ((rc = sq_begin(q)) < 0) {
				sq_fail(th->s, q, rc);
				continue;
			}
		}
		if (sq_advance(th->s, q, t))
			return 1;
	}
}

static void src_done(void *arg, struct dix_task *t, int rc, const char *msg)
{
	struct sq_thread *th = arg;
	struct sq *q = t->cookie;

	seg_disk_done(q->c, q->cur);
	if (rc < 0) {
		sq_finish(th->s, q, rc, msg);
		return;
	}
	for (uint32_t j = 0; j < q->sf; j++)
		q->sk[j] = q->cur->disk->keys[q->ids[j]];
	add_hits(q, q->sf);
	q->cur = NULL;
	q->si++;
	q->next = NULL;
	*th->ready_tail = q;
	th->ready_tail = &q->next;
}

static void *thread_main(void *arg)
{
	struct sq_thread *th = arg;
	struct dann_searcher *s = th->s;
	struct dix_source src = { .next = src_next, .done = src_done, .arg = th };

	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->work, &s->lock);
		if (!s->head && s->stopping) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		pthread_mutex_unlock(&s->lock);
		/* a failure of the ring went to every query it held */
		dix_stream_run(th->dx, &src);
	}
}

/* ---- the searcher -------------------------------------------------------- */

int dann_searcher_new(const struct dann_searcher_params *p, struct dann_searcher **out)
{
	struct dix_searcher_params dp = { .inflight = p ? p->inflight : 0, .backend = DIO_BACKEND_AUTO };
	struct dann_searcher_params def;
	struct dann_searcher *s;
	int rc = 0;

	*out = NULL;
	if (!p) {
		dann_searcher_params_default(&def);
		p = &def;
		dp.inflight = p->inflight;
	}
	if (!p->threads || p->threads > SQ_MAX_THREADS || !p->inflight || p->inflight > DIX_MAX_INFLIGHT ||
	    !p->queue_max)
		return dann_fail(DANN_EINVAL, "searcher: %u threads (1..%u), %u in flight (1..%u), "
				 "queue of %u (>= 1)", p->threads, SQ_MAX_THREADS, p->inflight,
				 DIX_MAX_INFLIGHT, p->queue_max);
	if (!(s = calloc(1, sizeof *s)) || !(s->t = calloc(p->threads, sizeof *s->t))) {
		free(s);
		return dann_fail(DANN_ENOMEM, "searcher");
	}
	s->p = *p;
	s->tail = &s->head;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	for (uint32_t i = 0; i < p->threads; i++) {
		struct sq_thread *th = &s->t[i];
		th->s = s;
		th->ready_tail = &th->ready;
		if ((rc = dix_searcher_new(&dp, &th->dx)) < 0)
			break;
		if (pthread_create(&th->th, NULL, thread_main, th) != 0) {
			dix_searcher_free(th->dx);
			rc = dann_fail(DANN_ENOMEM, "searcher: cannot start search thread %u", i);
			break;
		}
		s->nthreads = i + 1;
	}
	if (rc < 0) {
		dann_searcher_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void dann_searcher_free(struct dann_searcher *s)
{
	struct sq *q;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	q = s->head;
	s->head = NULL;
	s->tail = &s->head;
	s->nqueued = 0;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	while (q) {
		struct sq *next = q->next;
		q->done(q->arg, DANN_ECANCELED, "search: the searcher was closed");
		sq_free(q);
		q = next;
	}
	for (uint32_t i = 0; i < s->nthreads; i++) {
		pthread_join(s->t[i].th, NULL);
		dix_searcher_free(s->t[i].dx);
	}
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->lock);
	free(s->t);
	free(s);
}

void dann_searcher_counts(struct dann_searcher *s, uint64_t *done, uint64_t *pending)
{
	pthread_mutex_lock(&s->lock);
	*done = s->done;
	*pending = s->nqueued + s->running;
	pthread_mutex_unlock(&s->lock);
}

static int submit(struct dann_searcher *s, struct dann_coll *c, const float *query,
		  const struct dann_coll_search_params *p, int64_t *keys, float *dists, uint32_t *found,
		  dann_search_done_fn done, void *arg, struct sq **out)
{
	struct dann_coll_search_params def;
	uint32_t dim;
	struct sq *q;
	int rc;

	if (!s || !c || !keys || !dists || !found || !done)
		return dann_fail(DANN_EINVAL, "searcher: no searcher, collection, output or callback");
	if (!p) {
		dann_coll_search_params_default(&def);
		p = &def;
	}
	if ((rc = seg_search_check(c, query, p)) < 0)
		return rc;
	dim = c->schema.dim;
	if (!(q = calloc(1, sizeof *q + dim * sizeof(float))))
		return dann_fail(DANN_ENOMEM, "searcher: a query of %u dims", dim);
	*q = (struct sq){ .c = c, .p = *p, .keys = keys, .dists = dists, .found = found, .done = done,
			  .arg = arg };
	q->p.filter = NULL; /* compiled now: the caller's text may go */
	if (p->filter && (rc = expr_compile(p->filter, &c->schema, &q->filter)) < 0) {
		sq_free(q);
		return dann_fail_wrap(rc, "%s", c->schema.name);
	}
	memcpy(q->q, query, dim * sizeof(float));
	q->ids = malloc(p->k * sizeof *q->ids);
	q->sk = malloc(p->k * sizeof *q->sk);
	q->sd = malloc(p->k * sizeof *q->sd);
	if (!q->ids || !q->sk || !q->sd) {
		sq_free(q);
		return dann_fail(DANN_ENOMEM, "searcher: %u results", p->k);
	}
	*found = 0;
	pthread_mutex_lock(&s->lock);
	if (s->stopping || s->nqueued >= s->p.queue_max) {
		rc = s->stopping ? DANN_ECANCELED : DANN_EBUSY;
		pthread_mutex_unlock(&s->lock);
		sq_free(q);
		return dann_fail(rc, rc == DANN_EBUSY ? "search: %u queries wait already (the searcher's "
				 "queue is full)" : "search: the searcher is closing", s->p.queue_max);
	}
	*s->tail = q;
	s->tail = &q->next;
	s->nqueued++;
	if (out)
		*out = q;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int dann_searcher_submit(struct dann_searcher *s, struct dann_coll *c, const float *query,
			 const struct dann_coll_search_params *p, int64_t *keys, float *dists,
			 uint32_t *found, dann_search_done_fn done, void *arg)
{
	return submit(s, c, query, p, keys, dists, found, done, arg, NULL);
}

/* ---- waiting for one query ----------------------------------------------- */

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int rc;
	char msg[SQ_ERR_MAX];
};

static void waiter_wake(void *arg, int rc, const char *msg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->m);
	w->rc = rc;
	snprintf(w->msg, sizeof w->msg, "%s", msg);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->m);
}

/* Takes q back if it still waits for a slot (w->m held, so q, whose done
 * takes w->m, is not freed meanwhile). */
static bool withdraw(struct dann_searcher *s, struct sq *q)
{
	struct sq **pp;
	bool found = false;

	pthread_mutex_lock(&s->lock);
	if (q->state == SQ_QUEUED) {
		for (pp = &s->head; *pp && *pp != q; pp = &(*pp)->next)
			;
		if (*pp) {
			*pp = q->next;
			if (s->tail == &q->next)
				s->tail = pp;
			s->nqueued--;
			found = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (found)
		sq_free(q);
	return found;
}

int dann_searcher_search(struct dann_searcher *s, struct dann_coll *c, const float *query,
			 const struct dann_coll_search_params *p, int64_t *keys, float *dists,
			 uint32_t *found)
{
	struct waiter w = { .done = false };
	uint64_t deadline = p ? p->deadline_ns : 0;
	const volatile int *cancel = p ? p->cancel : NULL;
	pthread_condattr_t ca;
	struct sq *q = NULL;
	int rc;

	pthread_mutex_init(&w.m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = submit(s, c, query, p, keys, dists, found, waiter_wake, &w, &q)) < 0)
		goto out;
	pthread_mutex_lock(&w.m);
	while (!w.done) {
		uint64_t now = now_ns(), until = now + SQ_POLL_NS;
		struct timespec ts;
		bool gone = cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED);
		bool late = deadline && now >= deadline;
		if ((gone || late) && withdraw(s, q)) {
			w.rc = dann_fail(gone ? DANN_ECANCELED : DANN_ETIMEDOUT, "%s: search %s while "
					 "waiting for a slot", c->schema.name,
					 gone ? "cancelled" : "passed its deadline");
			snprintf(w.msg, sizeof w.msg, "%s", dann_errmsg());
			break;
		}
		if (deadline && deadline < until && deadline > now)
			until = deadline;
		ts = (struct timespec){ .tv_sec = (time_t)(until / 1000000000ull),
					.tv_nsec = (long)(until % 1000000000ull) };
		pthread_cond_timedwait(&w.cv, &w.m, &ts);
	}
	pthread_mutex_unlock(&w.m);
	rc = w.rc < 0 ? dann_fail(w.rc, "%s", w.msg) : 0;
out:
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.m);
	return rc;
}
