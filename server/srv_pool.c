/*
 * srv_pool.c — a fixed set of workers over a bounded ring of jobs.
 *
 * One mutex and two condition variables: the ring is short (hundreds of
 * entries) and each job is a whole RPC, so contention is not the cost that
 * matters. Stopping drains: every accepted job still runs, because each
 * one holds a gRPC call that must be answered (or seen cancelled) before
 * the server can be destroyed.
 */
#include "srv_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "dann.h"
#include "error.h"

struct srv_pool {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	void **ring;
	uint32_t cap, head, count, running;
	int stopping;
	srv_job_fn fn;
	uint32_t nthreads;
	pthread_t *threads;
};

static void *worker_main(void *arg)
{
	struct srv_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		void *job;

		while (!p->count && !p->stopping)
			pthread_cond_wait(&p->nonempty, &p->lock);
		if (!p->count)
			break;
		job = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		p->running++;
		pthread_mutex_unlock(&p->lock);
		p->fn(job);
		pthread_mutex_lock(&p->lock);
		p->running--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int srv_pool_new(uint32_t nthreads, uint32_t queue_max, srv_job_fn fn, struct srv_pool **out)
{
	struct srv_pool *p;

	if (!nthreads || !queue_max)
		return dann_fail(DANN_EINVAL, "server: workers and queue_max must be at least 1");
	if (!(p = calloc(1, sizeof *p)))
		return dann_fail(DANN_ENOMEM, "server: worker pool");
	p->ring = calloc(queue_max, sizeof *p->ring);
	p->threads = calloc(nthreads, sizeof *p->threads);
	if (!p->ring || !p->threads) {
		free(p->ring);
		free(p->threads);
		free(p);
		return dann_fail(DANN_ENOMEM, "server: worker pool");
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->nonempty, NULL);
	p->cap = queue_max;
	p->fn = fn;
	for (uint32_t i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
			p->nthreads = i;
			srv_pool_free(p);
			return dann_fail(DANN_ENOMEM, "server: cannot start worker thread %u", i);
		}
		p->nthreads = i + 1;
	}
	*out = p;
	return 0;
}

int srv_pool_push(struct srv_pool *p, void *job)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stopping)
		rc = DANN_ECANCELED;
	else if (p->count == p->cap)
		rc = DANN_EBUSY;
	else {
		p->ring[(p->head + p->count) % p->cap] = job;
		p->count++;
		pthread_cond_signal(&p->nonempty);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

uint32_t srv_pool_depth(struct srv_pool *p)
{
	uint32_t n;

	pthread_mutex_lock(&p->lock);
	n = p->count + p->running;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void srv_pool_free(struct srv_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->nonempty);
	pthread_mutex_unlock(&p->lock);
	for (uint32_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->nonempty);
	free(p->ring);
	free(p->threads);
	free(p);
}
