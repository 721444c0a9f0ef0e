/*
 * seg_worker.c — the background thread of a data directory: builds sealed
 * segments (oldest first, per collection) and runs compaction when a
 * collection has work for it. It wakes when kicked (a seal, a flush, a
 * swap) and stops at close. A collection's builds and compactions never
 * overlap: c->worker_busy is held around each (dann_coll_flush and
 * dann_coll_compact take it too when they do the work themselves).
 *
 * A second thread grows the in-memory graphs of growing segments (see
 * seg_mem.c), so that no write waits for a graph insert; it wakes when a
 * write leaves rows outside the graph, and every SEG_GRAPH_POLL_MS.
 */
#include <stdlib.h>
#include <time.h>

#include "../error.h"
#include "../log.h"
#include "seg_impl.h"

void seg_busy_enter(struct dann_coll *c)
{
	pthread_mutex_lock(&c->mu);
	while (c->worker_busy)
		pthread_cond_wait(&c->cv, &c->mu);
	c->worker_busy = true;
	pthread_mutex_unlock(&c->mu);
}

void seg_busy_leave(struct dann_coll *c)
{
	pthread_mutex_lock(&c->mu);
	c->worker_busy = false;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Builds every sealed segment of c, then compacts while there is work. */
static void work_on(struct dann_db *db, struct dann_coll *c)
{
	int rc;
	bool compact;

	if (atomic_load(&c->dropped))
		return;
	seg_busy_enter(c);
	while (!db->stopping && !atomic_load(&c->dropped) && (rc = seg_build_next(c)) == 0)
		;
	/* a metric change: again if its target moved while it ran */
	while (rc >= 0 && !db->stopping && !atomic_load(&c->dropped) && (rc = seg_reindex_run(c)) == 0)
		;
	pthread_mutex_lock(&c->mu);
	if (rc < 0)
		c->bg_err = rc;
	compact = rc >= 0 && seg_compact_wanted(c);
	pthread_mutex_unlock(&c->mu);
	while (compact && !db->stopping && !atomic_load(&c->dropped)) {
		rc = seg_compact_once(c, 0);
		pthread_mutex_lock(&c->mu);
		if (rc < 0)
			c->bg_err = rc;
		compact = rc == 0 && seg_compact_wanted(c);
		pthread_mutex_unlock(&c->mu);
	}
	seg_busy_leave(c);
}

static void *worker_main(void *arg)
{
	struct dann_db *db = arg;

	pthread_mutex_lock(&db->mu);
	for (;;) {
		while (!db->stopping && !db->kicked)
			pthread_cond_wait(&db->cv, &db->mu);
		if (db->stopping)
			break;
		db->kicked = false;
		for (size_t i = 0; i < db->ncolls && !db->stopping; i++) {
			struct dann_coll *c = db->colls[i];
			pthread_mutex_unlock(&db->mu);
			work_on(db, c);
			pthread_mutex_lock(&db->mu);
		}
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

#define SEG_GRAPH_POLL_MS 200

/* Catches up the graph of c's growing segment, one step at a time. */
static void graph_on(struct dann_db *db, struct dann_coll *c)
{
	struct seg *g = NULL;
	int did = 1, rc = 0;

	pthread_mutex_lock(&c->mu);
	if (!atomic_load(&c->dropped) && c->growing) {
		g = c->growing;
		seg_ref(g);
	}
	pthread_mutex_unlock(&c->mu);
	while (g && did && !db->stopping && atomic_load(&g->state) == DANN_SEG_GROWING &&
	       (rc = seg_mem_graph_step(c, g->mem, &did)) == 0)
		;
	if (rc < 0)
		dann_log(DANN_LOG_WARN, "segment", "%s: growing graph: %s (searches scan instead)",
			 c->schema.name, dann_errmsg());
	seg_unref(g);
}

static void *graph_main(void *arg)
{
	struct dann_db *db = arg;

	pthread_mutex_lock(&db->mu);
	while (!db->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SEG_GRAPH_POLL_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!db->stopping && !db->graph_kicked)
			if (pthread_cond_timedwait(&db->gcv, &db->mu, &ts) != 0)
				break;
		db->graph_kicked = false;
		for (size_t i = 0; i < db->ncolls && !db->stopping; i++) {
			struct dann_coll *c = db->colls[i];
			pthread_mutex_unlock(&db->mu);
			graph_on(db, c);
			pthread_mutex_lock(&db->mu);
		}
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

int seg_worker_start(struct dann_db *db)
{
	int err;

	if (db->p.no_background)
		return 0;
	if ((err = pthread_create(&db->worker, NULL, worker_main, db)) != 0)
		return dann_fail_errno(DANN_ENOMEM, err, "%s: background thread", db->dir);
	if ((err = pthread_create(&db->graph, NULL, graph_main, db)) != 0) {
		db->stopping = true;
		pthread_cond_broadcast(&db->cv);
		pthread_join(db->worker, NULL);
		return dann_fail_errno(DANN_ENOMEM, err, "%s: graph thread", db->dir);
	}
	db->worker_started = true;
	return 0;
}

void seg_graph_kick(struct dann_db *db)
{
	if (!db->worker_started)
		return;
	pthread_mutex_lock(&db->mu);
	db->graph_kicked = true;
	pthread_cond_signal(&db->gcv);
	pthread_mutex_unlock(&db->mu);
}

void seg_worker_stop(struct dann_db *db)
{
	if (!db->worker_started)
		return;
	pthread_mutex_lock(&db->mu);
	db->stopping = true;
	pthread_cond_broadcast(&db->cv);
	pthread_cond_broadcast(&db->gcv);
	pthread_mutex_unlock(&db->mu);
	pthread_join(db->worker, NULL);
	pthread_join(db->graph, NULL);
	db->worker_started = false;
}

void seg_worker_kick(struct dann_db *db)
{
	if (!db->worker_started)
		return;
	pthread_mutex_lock(&db->mu);
	db->kicked = true;
	pthread_cond_broadcast(&db->cv);
	pthread_mutex_unlock(&db->mu);
}
