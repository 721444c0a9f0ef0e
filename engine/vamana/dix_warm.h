/*
 * dix_warm.h — the visit-count policy of the node cache: run a sample of
 * searches on the freshly opened index (cache still empty), count how often
 * each node is read from disk, and cache the most read first (DiskANN's
 * cache list from sample queries). The breadth-first policy (dix_open.c)
 * caches what is near the entry points; this one caches what searches
 * actually fetch, which with entry seeds from RAM is no longer the
 * neighbourhood of the medoid.
 */
#ifndef DANN_DIX_WARM_H
#define DANN_DIX_WARM_H

#include <stdint.h>

#include "dix.h"

#define DIX_WARM_QUERIES 2000u /* sample searches (every n/2000-th point) */
#define DIX_WARM_L 32u         /* their list size: near the L of recall 0.95 */
#define DIX_WARM_INFLIGHT 16u  /* queries in flight on the one warm-up thread */

/* Writes to ids (room for `want`) the nodes the sample searches read, most
 * read first (ties: lower id), at most `want`; their number to *count
 * (fewer than want when fewer nodes were read). Must run before the cache
 * is filled. DANN_ENOMEM, or the search's read errors naming the file. */
int dix_warm_visits(const struct dix_index *ix, uint64_t want, uint32_t *ids, uint64_t *count);

#endif
