/*
 * topk.h — the two ordered containers every search uses.
 *
 * topk: a bounded max-heap keeping the k smallest (distance, id) pairs seen;
 *   O(log k) per push, sorted ascending on demand. Used by exact scans,
 *   ground truth and result merging.
 * cand: the candidate list of greedy/beam search (DiskANN's "L"): at most L
 *   entries sorted by distance, each with a visited flag, and a cursor to the
 *   closest unvisited one. Inserting a new candidate closer than the cursor
 *   moves the cursor back, so "next unvisited" stays O(1) amortised.
 *
 * Both are inline-friendly plain structs because they sit on the hot path;
 * their arrays are owned by the struct (init/destroy).
 */
#ifndef DANN_TOPK_H
#define DANN_TOPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct topk {
	uint32_t k;    /* capacity */
	uint32_t n;    /* entries held, <= k */
	float *dist;   /* max-heap on dist while pushing */
	uint32_t *id;
};

/* Allocates room for k >= 1 entries; DANN_EINVAL for k == 0. */
int topk_init(struct topk *t, uint32_t k);
void topk_destroy(struct topk *t);
/* Empties the heap, keeping its storage. */
static inline void topk_reset(struct topk *t) { t->n = 0; }
/* The largest distance held once full, else +inf: a point at or beyond it
 * cannot enter. */
float topk_bound(const struct topk *t);
/* Offers (id, dist); kept if among the k smallest so far. Ties keep the
 * earlier entry. */
void topk_push(struct topk *t, uint32_t id, float dist);
/* topk_push for an id that may have been offered before with the same
 * distance: ignored if already held (a scan of the k entries, made only
 * when it would enter). */
void topk_push_unique(struct topk *t, uint32_t id, float dist);
/* Sorts the held entries ascending by (dist, id) in place; the heap is no
 * longer a heap afterwards (reset before pushing again). Returns n. */
uint32_t topk_sort(struct topk *t);

struct cand {
	uint32_t id;
	float dist;
	uint32_t visited; /* 0 or 1; a word so the struct stays 12 bytes */
};

struct cand_list {
	uint32_t cap;    /* L */
	uint32_t size;
	uint32_t cursor; /* index of the first possibly-unvisited entry */
	struct cand *c;  /* sorted ascending by (dist, id) */
};

/* Allocates a list of capacity L >= 1. */
int cand_init(struct cand_list *cl, uint32_t L);
void cand_destroy(struct cand_list *cl);
static inline void cand_reset(struct cand_list *cl) { cl->size = 0; cl->cursor = 0; }
/* Inserts (id, dist) unvisited if it ranks within the first L; returns its
 * position, or -1 if it did not fit. The caller ensures an id is inserted
 * at most once (e.g. with a visited set); duplicates are not detected. */
int cand_insert(struct cand_list *cl, uint32_t id, float dist);
/* Index of the closest unvisited entry, or -1 if all are visited. Does not
 * mark it. */
int cand_next_unvisited(struct cand_list *cl);
/* Marks entry i visited. */
static inline void cand_mark(struct cand_list *cl, int i) { cl->c[i].visited = 1; }
/* True if every entry is visited (the search's stopping rule). */
static inline bool cand_done(struct cand_list *cl) { return cand_next_unvisited(cl) < 0; }

#endif
