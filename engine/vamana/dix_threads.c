/*
 * dix_threads.c — the thread fan-out of a batch of queries (see
 * dix_threads.h). Each thread keeps its own result code and a copy of its
 * error message (messages are per thread), which the caller's thread
 * takes back after the join.
 */
#include "dix_threads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../error.h"

#define IO_DESC_BYTES 128
#define ERR_BYTES 512

struct worker {
	pthread_t tid;
	dix_thread_fn fn;
	void *arg;
	_Atomic uint64_t *next;
	uint64_t nq;
	int rc;
	char err[ERR_BYTES];
	char io[IO_DESC_BYTES];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->rc = w->fn(w->arg, w->io, sizeof w->io);
	if (w->rc < 0) {
		snprintf(w->err, sizeof w->err, "%s", dann_errmsg());
		/* Stop the other threads early: nothing left to claim. */
		atomic_store(w->next, w->nq);
	}
	return NULL;
}

int dix_run_threads(uint32_t threads, dix_thread_fn fn, void *arg, _Atomic uint64_t *next,
		    uint64_t nq, char *io_desc, size_t io_desc_cap)
{
	struct worker *w;
	uint32_t started = 0;
	int rc = 0;

	if (threads == 0)
		threads = 1;
	if (!(w = calloc(threads, sizeof *w)))
		return dann_fail(DANN_ENOMEM, "search: no memory for %u threads", threads);
	for (uint32_t i = 0; i < threads; i++) {
		w[i] = (struct worker){ .fn = fn, .arg = arg, .next = next, .nq = nq };
		if (i > 0 && pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			rc = dann_fail(DANN_EIO, "search: cannot start search thread %u", i);
			atomic_store(next, nq);
			break;
		}
		started++;
	}
	worker_main(&w[0]);
	for (uint32_t i = 1; i < started; i++)
		pthread_join(w[i].tid, NULL);
	for (uint32_t i = 0; i < started && rc == 0; i++)
		if (w[i].rc < 0)
			rc = dann_fail(w[i].rc, "%s", w[i].err);
	if (io_desc && io_desc_cap)
		snprintf(io_desc, io_desc_cap, "%s", w[0].io);
	free(w);
	return rc;
}
