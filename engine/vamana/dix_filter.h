/*
 * dix_filter.h — filtered search on one disk index: the planner that picks
 * how to search given the fraction of rows a filter allows, and the exact
 * plan for very selective filters.
 *
 * Three plans (measured in bench/run's `filter` stage, see dix_filter.c;
 * AUTO runs EXACT or BEAM_UNCOUNTED):
 *   BEAM   the beam search (dix_search.c) with the allowed/deleted masks:
 *          excluded nodes are still traversed, only allowed ones enter the
 *          top-k; the candidate list grows with 1/selectivity so that about
 *          L allowed nodes are among the candidates. Good while most rows
 *          are allowed.
 *   BEAM_UNCOUNTED  the same walk, but excluded nodes do not count into
 *          L: the list holds the L closest allowed candidates and the
 *          excluded ones among them (dix_search_params.excluded_uncounted),
 *          so it widens by the filter's selectivity near the query rather
 *          than over the whole index.
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

/* The two beam walks side by side (bench_filter, one run per set, 200
 * queries, L swept; SSD reads per query at equal recall@10, interpolated
 * between L steps: 0.95 where both reach it, else the lower of the two
 * best recalls, given in brackets):
 *
 *   allowed                  Fashion-MNIST 60k     dann gen 200k x 128
 *                            BEAM    UNCOUNTED     BEAM    UNCOUNTED
 *   50%  uniform             35.5    34.7          42.5    42.5
 *   20%  uniform             71.0    67.7          64.7    64.2
 *   10%  uniform             120.7   113.3         88.4    84.6
 *   1%   uniform             785.7   763.9         752.0   750.6
 *   0.1% uniform [0.29/0.39] 1485    1500          1525    1506
 *   10%  label==3 [0.34]     568     500           -       -
 *   10%  along the data      569     426 [0.54]    997     786 [0.84]
 *
 * Uniform filters tie (the uncounted list is as long as the grown one,
 * L / s on average); filters that follow the vectors, where the allowed
 * rows near a query are many or few, cost the uncounted walk 12-25%
 * fewer reads. So AUTO's beam plan, in both bands where one runs, is
 * BEAM_UNCOUNTED; BEAM stays as a forced plan to compare against. At or
 * below 20% EXACT reads 10-20 nodes at any selectivity and ran at the
 * beam walks' QPS at 20% and far above them below; at 50% on the 200k
 * set the beam walks ran 3.5-4x its QPS (the PQ scan of 100k rows). */

/* AUTO picks EXACT at or below this allowed fraction ... */
#define DIX_EXACT_MAX_FRACTION 0.2
/* ... and at most this many allowed rows (the PQ scan's CPU per query). */
#define DIX_EXACT_MAX_ROWS (1u << 20)
/* BEAM grows L to L / selectivity, at most this many times L. */
#define DIX_BEAM_MAX_GROWTH 32u
/* BEAM_UNCOUNTED's list may hold this many times BEAM's grown list: room
 * to widen where the filter is locally more selective than on average. */
#define DIX_UNCOUNTED_ROOM 2u

struct dix_filter_plan {
	enum dann_filter_plan plan;  /* BEAM, BEAM_UNCOUNTED or EXACT */
	uint64_t allowed;            /* rows that may be returned */
	double selectivity;          /* allowed / n */
	uint32_t L;                  /* BEAM: the grown list size; else p->L */
	uint32_t list_max;           /* BEAM_UNCOUNTED: entries the list may hold */
	uint32_t rerank;             /* EXACT: rows re-ranked from SSD */
};

/* DANN_EINVAL naming the value unless want is an enum dann_filter_plan. */
int dix_filter_plan_check(int want);

/* Counts the rows p's masks allow and picks a plan (want: DANN_PLAN_AUTO
 * or a forced one). Without masks the plan is BEAM at p->L. DANN_EINVAL
 * for an unknown want. */
int dix_filter_choose(const struct dix_index *ix, const struct dix_search_params *p,
		      int want, struct dix_filter_plan *out);

/* Sets a beam plan's list (L, or excluded_uncounted and list_max) in the
 * search parameters p that dix_filter_choose was given. */
void dix_filter_apply(const struct dix_filter_plan *plan, struct dix_search_params *p);

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
