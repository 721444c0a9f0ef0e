/*
 * dix_filter.h — filtered search on one disk index: the planner that picks
 * how to search given the fraction of rows a filter allows, and the exact
 * plan for very selective filters.
 *
 * Two plans (measured in bench/run's `filter` stage, see dix_filter.c):
 *   BEAM   the beam search (dix_search.c) with the allowed/deleted masks:
 *          excluded nodes are still traversed, only allowed ones enter the
 *          top-k; the candidate list grows with 1/selectivity so that about
 *          L allowed nodes are among the candidates. Good while most rows
 *          are allowed.
 *   EXACT  no graph at all: the PQ distance of every allowed row (codes in
 *          RAM), the `rerank` best by PQ read from SSD in one batch of
 *          parallel reads and re-ranked by exact distance. Its reads do not
 *          grow as the filter gets more selective, which is where the beam
 *          search's do.
 * Deleted rows are excluded the same way as rows the filter rejects.
 */
#ifndef DANN_DIX_FILTER_H
#define DANN_DIX_FILTER_H

#include <stdint.h>

#include "dix.h"
#include "dix_search.h"

/* AUTO picks EXACT at or below this allowed fraction ... */
#define DIX_EXACT_MAX_FRACTION 0.2
/* ... and at most this many allowed rows (the PQ scan's CPU per query). */
#define DIX_EXACT_MAX_ROWS (1u << 20)
/* BEAM grows L to L / selectivity, at most this many times L. */
#define DIX_BEAM_MAX_GROWTH 32u

struct dix_filter_plan {
	enum dann_filter_plan plan;  /* DANN_PLAN_BEAM or DANN_PLAN_EXACT */
	uint64_t allowed;            /* rows that may be returned */
	double selectivity;          /* allowed / n */
	uint32_t L;                  /* BEAM: the grown list size */
	uint32_t rerank;             /* EXACT: rows re-ranked from SSD */
};

/* Counts the rows p's masks allow and picks a plan (want: DANN_PLAN_AUTO
 * or a forced one). Without masks the plan is BEAM at p->L. DANN_EINVAL
 * for an unknown want. */
int dix_filter_choose(const struct dix_index *ix, const struct dix_search_params *p,
		      int want, struct dix_filter_plan *out);

/* The allowed internal ids, ascending, as one malloc'd array. */
int dix_filter_ids(const struct dix_index *ix, const struct dix_search_params *p, uint32_t **ids,
		   uint64_t *n);

/* The exact plan's per-thread state: one I/O ring, re-rank buffers, PQ
 * table; sized on first use and grown when an index or rerank needs more. */
struct dix_exact;

int dix_exact_new(enum dio_backend backend, struct dix_exact **out);
void dix_exact_free(struct dix_exact *x);
const char *dix_exact_io(const struct dix_exact *x);

/* Runs queries of an exact plan over the allowed ids (from dix_filter_ids)
 * with rerank SSD reads each: query i's results to ids[i*k], dists[i*k],
 * found[i], stats[i] (may be NULL); claims queries from *next when next is
 * not NULL, else runs all nq. Read failures name the file and node. */
int dix_exact_run(struct dix_exact *x, const struct dix_index *ix, const float *queries,
		  uint64_t nq, uint32_t k, const uint32_t *allowed, uint64_t nallowed,
		  uint32_t rerank, _Atomic uint64_t *next, uint32_t *ids, float *dists,
		  uint32_t *found, struct dann_search_stats *stats);

/* A batch: chooses the plan (want), then runs BEAM through dix_search_batch
 * or EXACT on `threads` threads; stats[i].plan says which ran. *chosen (may
 * be NULL) gets the plan. */
int dix_filter_batch(const struct dix_index *ix, const float *queries, uint64_t nq,
		     const struct dix_search_params *p, const struct dix_searcher_params *sp,
		     uint32_t threads, int want, uint32_t *ids, float *dists, uint32_t *found,
		     struct dann_search_stats *stats, char *io_desc, size_t io_desc_cap,
		     struct dix_filter_plan *chosen);

#endif
