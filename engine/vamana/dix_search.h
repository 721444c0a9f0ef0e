/*
 * dix_search.h — beam search over an open disk index (DESIGN.md, "Beam
 * search"; DiskANN, Subramanya et al. 2019, section 3.3).
 *
 * A searcher belongs to one thread: it owns one dio context (one ring) and
 * `inflight` query slots, each a small state machine (start → issue a round
 * of W reads → wait → expand → ... → done), so a single thread keeps many
 * queries' reads queued on the SSD at once. All memory — slot state, PQ
 * tables, candidate lists, read buffers (one registered region) — is made
 * when the searcher is configured for an index and parameters; nothing is
 * allocated per read or per round. A searcher may search any number of
 * open indexes, one call at a time.
 */
#ifndef DANN_DIX_SEARCH_H
#define DANN_DIX_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../io/dio.h"
#include "dix.h"

#define DIX_MAX_L 100000u
#define DIX_MAX_W 64u
#define DIX_MAX_INFLIGHT 1024u

struct dix_search_params {
	uint32_t k;              /* results per query, 1..L */
	uint32_t L;              /* candidate list size */
	uint32_t W;              /* beam width: reads per round, 1..DIX_MAX_W */
	/* Optional bitmaps over internal ids; a point may be returned when its
	 * bit is set in `allowed` (NULL: all; ids >= allowed_bits excluded) and
	 * clear in `deleted` (NULL: none). Both are still traversed. */
	const uint64_t *allowed;
	uint64_t allowed_bits;
	const uint64_t *deleted;
	uint64_t deleted_bits;
	/* The other nodes of each fetched sector (enum dann_sector_expand):
	 * ON expands those that are in, or by PQ distance would enter, the
	 * candidate list; EXACT (Starling's in-block search) takes the exact
	 * distance of every one into the results and expands those that
	 * would enter the list at that distance; AUTO is EXACT for indexes
	 * with a slot map, OFF for the plain order. */
	int sector_expand;
	/* Stop (DANN_ECANCELED) once *cancel is nonzero, or (DANN_ETIMEDOUT)
	 * past deadline_ns on CLOCK_MONOTONIC (0 = none); checked before the
	 * first read and between rounds of the engine loop. */
	const volatile int *cancel;
	uint64_t deadline_ns;
	/* Seeds from the entry graph (dix_entry.h) when the index has one:
	 * -1 auto (2 W), 0 none (the header's entry points), N seeds. */
	int entry_seeds;
	/* How excluded nodes (not allowed, or deleted) take room in the
	 * candidate list. false: like any node, so the list holds L nodes of
	 * which only the allowed can be answers (a caller keeps recall by
	 * growing L). true: they are traversed but not counted into L: the
	 * list holds the L closest allowed candidates and every excluded one
	 * ranked among them, at most list_max entries in all (L..DIX_MAX_L),
	 * so it widens only where the filter is locally selective. */
	bool excluded_uncounted;
	uint32_t list_max;
	/* Optional (NULL: none): n counters, one per internal id; every node
	 * read from disk adds one to its counter (relaxed atomic add, so
	 * threads may share the array). The visit-count cache fill
	 * (dix_warm.c) ranks nodes by it. */
	uint32_t *visits;
	/* Optional (NULL: none): the queries already rotated into the PQ
	 * space of an OPQ index (pq_rotate_queries), row for row; set by
	 * dix_search_batch, which rotates a batch with one matrix product
	 * instead of one matrix-vector product per query. */
	const float *rotated;
};

/* Fills defaults: k 10, L 100, W 4, no filter, sector_expand -1,
 * entry_seeds -1. */
void dix_search_params_default(struct dix_search_params *p);
/* DANN_EINVAL naming the bad field: k = 0, k > L, L > DIX_MAX_L, W = 0 or
 * > DIX_MAX_W, entry_seeds < -1 or > 64, sector_expand outside -1..2, list_max outside L..DIX_MAX_L
 * when excluded_uncounted. */
int dix_search_params_check(const struct dix_search_params *p);

/* Per-query statistics: struct dann_search_stats (dann.h). */

struct dix_searcher_params {
	uint32_t inflight;         /* queries in flight at once, 1..DIX_MAX_INFLIGHT */
	enum dio_backend backend;  /* DIO_BACKEND_AUTO: io_uring, else libaio, else pread */
};

struct dix_searcher;

int dix_searcher_new(const struct dix_searcher_params *p, struct dix_searcher **out);
/* DANN_EINVAL naming both unless inflight x W reads fit one I/O ring
 * (DIO_MAX_DEPTH): checked before a search starts, not when the ring is
 * made. */
int dix_searcher_depth_check(uint32_t inflight, uint32_t W);
void dix_searcher_free(struct dix_searcher *s);
/* The I/O backend in use and its description ("" before the first search). */
const char *dix_searcher_io(const struct dix_searcher *s);
/* Bytes of per-query memory the searcher holds now (slots, lists, visited
 * sets, tables, read buffers): a searcher sized for a large L shrinks
 * back when run with an L at most a quarter of it. */
uint64_t dix_searcher_bytes(const struct dix_searcher *s);

/* Searches nq queries (nq * dim float32s, row-major) on ix. Query i's
 * results go to ids[i*k ..] (internal ids) and dists[i*k ..] ascending by
 * exact distance, its count to found[i] (< k only if fewer allowed points
 * were reached), its statistics to stats[i] (stats may be NULL). If `next`
 * is not NULL the queries are claimed from it (*next is the next unclaimed
 * index, shared by several threads); otherwise all nq are run.
 * DANN_EIO/DANN_ECORRUPT naming the file and node if a read fails or a
 * record is damaged; DANN_EINVAL for bad parameters. */
int dix_search_run(struct dix_searcher *s, const struct dix_index *ix, const float *queries,
		   uint64_t nq, const struct dix_search_params *p, _Atomic uint64_t *next,
		   uint32_t *ids, float *dists, uint32_t *found, struct dann_search_stats *stats);

/* ---- continuous admission (dix_stream_run) ----
 *
 * A stream keeps the slots full from a source instead of a fixed array:
 * whenever a slot frees, the engine asks the source for the next task (a
 * query on any open index, with its own parameters, deadline and cancel
 * flag) and tells it when each task is done. Tasks of several indexes and
 * parameters share the slots; one that the slots are not sized for waits
 * until all slots are free, then the searcher is resized for it. */

#define DIX_TASK_ERR_MAX 256

struct dix_task {
	const struct dix_index *ix;
	struct dix_search_params p;  /* its own: p.cancel and p.deadline_ns stop this task only */
	const float *query;          /* ix's dim floats; kept by the source until done */
	uint32_t *ids;               /* p.k results, as dix_search_run's for one query */
	float *dists;
	uint32_t *found;
	struct dann_search_stats *stats; /* may be NULL */
	void *cookie;                /* the source's */
};

struct dix_source {
	/* Fills *t with the next task: 1; nothing to start now: 0; < 0 ends
	 * the run with that error. Called on the searcher's thread. */
	int (*next)(void *arg, struct dix_task *t);
	/* t is finished: rc 0 with its results in its outputs, or its error
	 * (DANN_ETIMEDOUT / DANN_ECANCELED when its deadline or cancel flag
	 * stopped it, DANN_EIO ... with msg). Called once per task the source
	 * gave, on the searcher's thread; t is the engine's copy. */
	void (*done)(void *arg, struct dix_task *t, int rc, const char *msg);
	void *arg;
};

struct dann_index;
struct dann_search_params;
/* The stream task of one query on di with p, as dann_search would run it
 * (the same checks and filter plan; p's cancel and deadline): 1 with t's
 * ix and p set, the rest zero (the caller sets query, outputs, cookie); 0
 * if dann_search would take the exact plan, which a stream does not run
 * (the caller calls dann_search); < 0 for bad parameters. (dix_api.c) */
int dix_task_of(struct dann_index *di, const struct dann_search_params *p, struct dix_task *t);

/* Runs tasks from src until no slot is busy and src->next has none (then
 * 0), keeping up to `inflight` in flight. A task's failure goes to its
 * done and the run goes on; only a failure of the ring itself ends the
 * run (< 0), after every task it held was given to done with that error.
 * Never blocks while there is nothing in flight: a caller with no task
 * waits for one itself, then calls again. */
int dix_stream_run(struct dix_searcher *s, const struct dix_source *src);

/* Runs the queries on `threads` threads, each with its own searcher of
 * `sp` (threads 0 = 1). Same outputs as dix_search_run; the I/O backend's
 * description goes to io_desc if not NULL. */
int dix_search_batch(const struct dix_index *ix, const float *queries, uint64_t nq,
		     const struct dix_search_params *p, const struct dix_searcher_params *sp,
		     uint32_t threads, uint32_t *ids, float *dists, uint32_t *found,
		     struct dann_search_stats *stats, char *io_desc, size_t io_desc_cap);

#endif
