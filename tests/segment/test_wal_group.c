/*
 * test_wal_group.c — group commit: appenders on many threads each get a
 * distinct LSN, every record is in the log exactly once in LSN order with
 * each thread's records in its own order, and concurrent appenders share
 * syncs (fewer syncs than appends). With small files, rotation happens
 * under the same load.
 */
#include "wal_testutil.h"

#include <pthread.h>

#include "helpers/tmpdir.h"

static void make_dir(void)
{
	tmpdir_make("walgrp");
}

TestSuite(wal_group, .init = make_dir, .fini = tmpdir_remove);

#define THREADS 8
#define PER_THREAD 250

struct payload {
	uint32_t thread, seq;
	uint8_t body[120];
};

struct worker {
	struct wal *w;
	uint32_t id;
	uint64_t lsns[PER_THREAD];
	int rc;
	char err[512];
};

static void *append_many(void *arg)
{
	struct worker *k = arg;
	struct payload pl;

	for (uint32_t s = 0; s < PER_THREAD; s++) {
		pl.thread = k->id;
		pl.seq = s;
		wt_fill(pl.body, sizeof pl.body, (uint64_t)k->id << 32 | s);
		/* A header and a body written as one record, as the segment layer does. */
		if ((k->rc = wal_append2(k->w, &pl, 8, pl.body, sizeof pl.body, &k->lsns[s])) < 0) {
			snprintf(k->err, sizeof k->err, "%s", dann_errmsg());
			return NULL;
		}
	}
	return NULL;
}

static void run(const char *dir, const struct wal_params *p)
{
	struct worker k[THREADS];
	pthread_t t[THREADS];
	struct wal_stats st;
	struct wt_replay *rp;
	uint32_t next[THREADS] = { 0 };
	struct wal *w = wt_open(dir, p);
	uint8_t body[120];
	const uint64_t n = (uint64_t)THREADS * PER_THREAD;

	for (uint32_t i = 0; i < THREADS; i++) {
		k[i] = (struct worker){ .w = w, .id = i };
		cr_assert_eq(pthread_create(&t[i], NULL, append_many, &k[i]), 0);
	}
	for (uint32_t i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(k[i].rc, 0, "thread %u: %s", i, k[i].err);
		for (uint32_t s = 1; s < PER_THREAD; s++)
			cr_assert_gt(k[i].lsns[s], k[i].lsns[s - 1], "a thread's LSNs increase");
	}
	wal_stats(w, &st);
	cr_assert_eq(st.appends, n);
	cr_assert_eq(wal_last_lsn(w), n);
	cr_assert_lt(st.syncs, st.appends, "%llu syncs for %llu appends", (unsigned long long)st.syncs,
		     (unsigned long long)st.appends);
	cr_log_info("group commit: %llu appends, %llu syncs (%.2f appends per sync), %llu files",
		    (unsigned long long)st.appends, (unsigned long long)st.syncs, (double)st.appends / (double)st.syncs,
		    (unsigned long long)st.files);
	wal_close(w);

	w = wt_open(dir, p);
	rp = wt_replay_all(w, 0);
	cr_assert_eq(rp->n, n);
	for (uint64_t i = 0; i < n; i++) {
		struct payload got;
		cr_assert_eq(rp->r[i].lsn, i + 1);
		cr_assert_eq(rp->r[i].len, sizeof got);
		memcpy(&got, rp->r[i].data, sizeof got);
		cr_assert_lt(got.thread, THREADS);
		cr_assert_eq(got.seq, next[got.thread], "thread %u's records once each, in its order", got.thread);
		cr_assert_eq(k[got.thread].lsns[got.seq], i + 1, "the LSN the append returned");
		next[got.thread]++;
		wt_fill(body, sizeof body, (uint64_t)got.thread << 32 | got.seq);
		cr_assert_eq(memcmp(got.body, body, sizeof body), 0);
	}
	for (uint32_t i = 0; i < THREADS; i++)
		cr_assert_eq(next[i], PER_THREAD);
	wt_replay_free(rp);
	wal_close(w);
}

Test(wal_group, concurrent_appenders_share_syncs_and_every_record_is_there_once)
{
	struct wal_params p;

	wt_params(&p, 0);
	run(tmpdir_path("log"), &p);
}

Test(wal_group, a_short_group_wait_gathers_appenders)
{
	struct wal_params p;

	wt_params(&p, 0);
	p.group_wait_us = 200;
	run(tmpdir_path("log"), &p);
}

Test(wal_group, rotation_under_concurrent_appends_loses_nothing)
{
	struct wal_params p;

	wt_params(&p, 16 * 1024);
	run(tmpdir_path("log"), &p);
}
