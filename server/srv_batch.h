/*
 * srv_batch.h — the search collector: concurrent single-query Search RPCs
 * on one collection become one engine batch.
 *
 * One blocking dann_coll_search per RPC keeps one query in flight per
 * worker; the engine's batch search keeps many queries in flight on one
 * I/O ring. Each single-query, unfiltered Search joins the group of its
 * collection and parameters (k, L); a worker finding queries waiting and
 * fewer than `running` batches of that group under way leads the next
 * batch: it takes up to `max_queries` waiting queries (its own or others'),
 * runs them with dann_coll_search_batch (one query alone: dann_coll_search,
 * so a lone client pays nothing) and hands each its results. Queries that
 * arrive while batches run wait and form the next one, so batches grow
 * with the load by themselves; `window_us` (0: none) makes a leader also
 * wait that long for a batch to fill. Every waiting worker may lead, so no
 * thread of its own is needed and no query waits for an idle leader.
 *
 * Deadlines and cancellation: a query still waiting when its deadline
 * passes or its client leaves is dropped (DANN_ETIMEDOUT / DANN_ECANCELED)
 * and never searched; a batch runs until the latest deadline among its
 * queries (none if one has none).
 */
#ifndef SRV_BATCH_H
#define SRV_BATCH_H

#include <stdint.h>

#include "dann.h"

struct srv_batcher;

/* max_queries: queries per batch (1..1024); running: batches of one group
 * at once (>= 1); threads: search threads of one batch, each with its own
 * I/O ring and its share of the queries in flight (>= 1); window_us: how
 * long a leader waits for its batch to fill. */
int srv_batcher_new(uint32_t max_queries, uint32_t running, uint32_t threads, uint32_t window_us,
		    struct srv_batcher **out);
/* No search may be in srv_batch_search. NULL: no-op. */
void srv_batcher_free(struct srv_batcher *b);

/* Searches one query (dim floats) of collection c with p (k, L, W; no
 * filter: a filtered search does not batch) through the collector: the
 * same results as dann_coll_search into keys/dists (p->k each) and *found.
 * deadline_ns (0: none) and cancel (may be NULL) are the call's. Errors as
 * dann_coll_search's, with its message. */
int srv_batch_search(struct srv_batcher *b, struct dann_coll *c, uint32_t dim, const float *query,
		     const struct dann_coll_search_params *p, int64_t *keys, float *dists, uint32_t *found);

/* Batches run and queries they held, since start (for metrics). */
void srv_batcher_counts(struct srv_batcher *b, uint64_t *batches, uint64_t *queries);

#endif
