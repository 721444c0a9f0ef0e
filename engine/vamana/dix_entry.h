/*
 * dix_entry.h — entry points from RAM (Starling, Wang et al. SIGMOD 2024,
 * section 4.2; PipeANN): a small in-memory Vamana graph over a uniform
 * sample of the indexed points, kept with the index and loaded on open.
 * Each query first searches it with exact distances, and its nearest
 * sample points seed the disk beam search in place of the medoid, so the
 * first rounds read nodes near the query instead of walking there from
 * the middle of the data (those first hops are the search's most wasted
 * reads).
 *
 * Files (listed in the MANIFEST like the rest of the index):
 *   entry.bin    u32 ids[S] (internal ids, ascending), then S rows of the
 *                stored dtype, dim elements each;
 *   entry.graph  a graph file (vamana.h) over those S rows, R 32.
 * An index without them searches from the medoid, as before.
 */
#ifndef DANN_DIX_ENTRY_H
#define DANN_DIX_ENTRY_H

#include <stdint.h>

#include "../dann.h"

#define DIX_ENTRY_FILE "entry.bin"
#define DIX_ENTRY_GRAPH_FILE "entry.graph"
#define DIX_ENTRY_MAX_SEEDS 64u

struct vf;
struct dix_entry;

/* The sample size dann_build_params.entry_sample asks for, for n points:
 * DANN_ENTRY_SAMPLE_AUTO is 1% of n within [min(n, 1000), 1000000]; other
 * values are capped at n. 0: no entry graph. */
uint64_t dix_entry_sample_size(uint64_t requested, uint64_t n);

/* Samples `sample` rows of f (uniformly, seed fixed, so a rebuild gives
 * the same files), builds their graph with `threads` threads and writes
 * both files into dir. */
int dix_entry_build(const char *dir, const struct vf *f, enum dann_metric metric, uint64_t sample,
		    uint32_t threads);

/* Loads the entry graph of the index in dir, checked against n points of
 * dim elements of dtype under metric (sizes, ids < n and ascending, the
 * graph's CRC): DANN_ECORRUPT naming the file. *out is NULL when the
 * MANIFEST lists neither file (an index built without one); one without
 * the other is DANN_ECORRUPT. */
int dix_entry_load(const char *dir, enum dann_metric metric, enum dann_dtype dtype, uint32_t dim,
		   uint64_t n, struct dix_entry **out);
void dix_entry_free(struct dix_entry *e);

/* Up to `want` (<= DIX_ENTRY_MAX_SEEDS) internal ids of sample points
 * nearest to query q (dim float32s) by exact distance, nearest first,
 * into ids; their number into *n. Thread-safe. */
int dix_entry_seeds(struct dix_entry *e, const float *q, uint32_t want, uint32_t *ids, uint32_t *n);

/* Sample points and RAM held (rows, ids, graph); the sample's internal
 * ids, ascending (dix_entry_count of them). */
uint64_t dix_entry_count(const struct dix_entry *e);
const uint32_t *dix_entry_ids(const struct dix_entry *e);
uint64_t dix_entry_ram_bytes(const struct dix_entry *e);

#endif
