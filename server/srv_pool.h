/*
 * srv_pool.h — the worker threads that run handlers.
 *
 * Threads polling gRPC's completion queue also drive its network I/O, so a
 * handler (a search that waits on the SSD, a flush that waits on a build)
 * must never run there: it is queued here and a worker runs it and answers
 * the call from its own thread. The queue is bounded: when it is full
 * srv_pool_push fails at once and the caller answers RESOURCE_EXHAUSTED,
 * so overload is a clear status, not a growing backlog.
 */
#ifndef SRV_POOL_H
#define SRV_POOL_H

#include <stdint.h>

struct srv_pool;
typedef void (*srv_job_fn)(void *job);

/* nthreads workers running fn on each pushed job; at most queue_max jobs
 * wait. */
int srv_pool_new(uint32_t nthreads, uint32_t queue_max, srv_job_fn fn, struct srv_pool **out);
/* DANN_EBUSY when queue_max jobs already wait, DANN_ECANCELED once stopping. */
int srv_pool_push(struct srv_pool *p, void *job);
/* Jobs waiting plus running (for metrics). */
uint32_t srv_pool_depth(struct srv_pool *p);
/* Runs every queued job, then joins the workers and frees p. */
void srv_pool_free(struct srv_pool *p);

#endif
