/*
 * dix_search_impl.h — what the two engine loops over a searcher's slots
 * share: the batch loop of dix_search.c (queries from an array) and the
 * stream loop of dix_stream.c (tasks from a source). Not a public
 * contract: the searcher, its slots and the steps of one query, for the
 * vamana module's own files only.
 */
#ifndef DANN_DIX_SEARCH_IMPL_H
#define DANN_DIX_SEARCH_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "../stop.h"
#include "../topk.h"
#include "dix_search.h"

#define TAG_SLOT_SHIFT 8 /* tag = slot << 8 | beam position (W <= 64) */

enum qstate { Q_FREE, Q_READY, Q_WAIT };

/* Ids already scored for this query: open addressing, cleared per query. */
struct vset {
	uint32_t *keys;
	uint32_t mask;
	uint32_t count;
};

struct qslot {
	enum qstate state;
	uint64_t qi;
	const float *q;
	float *table;            /* PQ distance table */
	float qnorm2;            /* IP: |q|^2, for the L2-to-IP estimate */
	struct cand_list cl;
	uint32_t live;           /* allowed entries in cl (excluded_uncounted) */
	struct topk best;        /* exact distances of expanded allowed nodes */
	struct vset seen;
	uint32_t beam[DIX_MAX_W];
	/* beam[b]'s record arrives with the read of beam[src[b]] (src[b] ==
	 * b: a read of its own): with sector expansion on, beam nodes that
	 * share a sector share its read */
	uint8_t src[DIX_MAX_W];
	uint8_t bufi[DIX_MAX_W]; /* a reading beam node's buffer (< W) */
	uint32_t nbeam;
	uint32_t pending;        /* reads outstanding */
	char *buf;               /* W * read_bytes inside the registered region */
	uint32_t *nb_ids;        /* scratch: unseen neighbours of one node */
	float *nb_dist;
	struct dann_search_stats st;
	uint64_t t0;
	/* What this slot's query runs on and where its results go: the run's
	 * (dix_search_run) or its own task's (dix_stream_run). */
	const struct dix_index *ix;
	const struct dix_search_params *sp;
	uint32_t file;
	int sector_expand;
	const float *rot;        /* the query rotated for OPQ, or NULL */
	uint32_t *o_ids;
	float *o_dists;
	uint32_t *o_found;
	struct dann_search_stats *o_stats;
	/* Stream only: the task, its file map entry, and the error that
	 * stopped it while reads were still out (0: none). */
	struct dix_task task;
	uint32_t fmap;
	int stop_rc;
	char err[DIX_TASK_ERR_MAX];
};

struct file_map {
	uint64_t serial;         /* index serial (0 = unused) */
	uint32_t slot;           /* dio file slot */
	uint32_t users;          /* stream slots reading it: not evicted while > 0 */
};

struct dix_searcher {
	struct dix_searcher_params p;
	struct dio *dio;
	char io_desc[128];
	struct qslot *slots;
	char *region;
	size_t region_bytes;
	/* What the slots are sized for. */
	uint32_t cap_L, cap_k, cap_W, cap_R, cap_nps, cap_read, cap_table;
	/* The L the visited sets are sized for: an uncounted list's room
	 * (list_max) is a bound, not the usual walk, and a visited set
	 * sized for it would be cleared whole by every query. */
	uint32_t cap_seen;
	struct file_map files[DIO_DEFAULT_FILES];
	uint32_t next_evict;
	struct dio_req *reqs;
	struct dio_cqe *cqes;
	uint32_t nreqs;
	/* State of the current run. */
	const struct dix_index *ix;
	const struct dix_search_params *sp;
	const float *queries;
	uint64_t nq;
	_Atomic uint64_t *next;
	uint64_t next_local;
	uint32_t *out_ids;
	float *out_dists;
	uint32_t *out_found;
	struct dann_search_stats *out_stats;
	int sector_expand;
	uint32_t file;
	struct stop stop;
	/* Stream: a task that did not fit the slots as sized, started once
	 * they are all free. */
	struct dix_task parked;
	bool has_parked;
};

/* Whether s's slots, ring and buffers as sized hold a query of ix with p
 * (never shrinking: a stream serves its largest L without resizing). */
bool dix_sized_for(const struct dix_searcher *s, const struct dix_index *ix,
		   const struct dix_search_params *p);
/* Sizes every slot for ix and p, reallocating only what grew (or shrinks
 * a searcher sized for a far larger L). No slot may be busy. */
int dix_configure(struct dix_searcher *s, const struct dix_index *ix, const struct dix_search_params *p);
/* Sets up slot q for its query (q->ix, sp, q, rot and outputs set): PQ
 * table, list and visited set reset, entry points scored; Q_READY. */
int dix_slot_begin(struct qslot *q);
/* Runs slot q's rounds until it has reads queued in s->reqs (Q_WAIT) or
 * its query is finished (Q_FREE, results in its outputs). */
int dix_slot_advance(struct dix_searcher *s, struct qslot *q, uint32_t slot_index);
/* All of slot q's reads are back: expands the fetched nodes; Q_READY. */
int dix_slot_reads_done(struct dix_searcher *s, struct qslot *q);
/* Submits every queued read (s->reqs) in one go. */
int dix_submit_all(struct dix_searcher *s);

#endif
