/*
 * tier_syncer.c — tier_sync on a thread of its own: every interval, and at
 * once when kicked. Passes are numbered so a waiter knows when a pass that
 * started after its request is over.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../error.h"
#include "../log.h"
#include "tier.h"

struct tier_syncer {
	struct dann_db *db;
	struct obj_store *store;
	uint32_t interval_ms;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, kicked;
	uint64_t started, finished;  /* passes begun and ended */
	int last_rc;
	char last_err[512];
	struct tier_sync_stats total;
};

static void add_stats(struct tier_sync_stats *t, const struct tier_sync_stats *s)
{
	t->collections += s->collections;
	t->uploaded += s->uploaded;
	t->deletes_refreshed += s->deletes_refreshed;
	t->dropped += s->dropped;
	t->orphans_deleted += s->orphans_deleted;
	t->orphans_kept += s->orphans_kept;
	t->colls_kept += s->colls_kept;
	t->restored += s->restored;
}

static void *syncer(void *arg)
{
	struct tier_syncer *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct tier_sync_stats st;
		struct timespec until;
		int rc;

		if (!s->kicked) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += s->interval_ms / 1000;
			until.tv_nsec += (long)(s->interval_ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (!s->stop && !s->kicked)
				if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
					break;
			if (s->stop)
				break;
		}
		s->kicked = 0;
		s->started++;
		pthread_mutex_unlock(&s->mu);
		memset(&st, 0, sizeof st);
		rc = tier_sync(s->db, s->store, &st);
		if (rc < 0)
			dann_log(DANN_LOG_WARN, "tier", "sync to %s failed (next pass retries): %s", obj_uri(s->store),
				 dann_errmsg());
		pthread_mutex_lock(&s->mu);
		add_stats(&s->total, &st);
		s->last_rc = rc;
		snprintf(s->last_err, sizeof s->last_err, "%s", rc < 0 ? dann_errmsg() : "");
		s->finished++;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int tier_syncer_start(struct dann_db *db, struct obj_store *store, uint32_t interval_ms, struct tier_syncer **out)
{
	struct tier_syncer *s;

	*out = NULL;
	if (!db || !store || interval_ms == 0)
		return dann_fail(DANN_EINVAL, "tier_syncer_start: a database, a store and an interval are required");
	if (!(s = calloc(1, sizeof *s)))
		return dann_fail(DANN_ENOMEM, "tier_syncer_start");
	s->db = db;
	s->store = store;
	s->interval_ms = interval_ms;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->th, NULL, syncer, s) != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return dann_fail(DANN_ENOMEM, "tier_syncer_start: no thread");
	}
	*out = s;
	return 0;
}

void tier_syncer_kick(struct tier_syncer *s)
{
	pthread_mutex_lock(&s->mu);
	s->kicked = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int tier_syncer_wait(struct tier_syncer *s)
{
	uint64_t want;
	int rc;

	pthread_mutex_lock(&s->mu);
	/* the pass after the one running now, if any, has seen our state */
	want = s->started + 1;
	s->kicked = 1;
	pthread_cond_broadcast(&s->cv);
	while (s->finished < want && !s->stop)
		pthread_cond_wait(&s->cv, &s->mu);
	rc = s->last_rc;
	if (rc < 0)
		dann_fail(rc, "%s", s->last_err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void tier_syncer_stats(struct tier_syncer *s, struct tier_sync_stats *st, uint64_t *passes)
{
	pthread_mutex_lock(&s->mu);
	*st = s->total;
	*passes = s->finished;
	pthread_mutex_unlock(&s->mu);
}

void tier_syncer_stop(struct tier_syncer *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
