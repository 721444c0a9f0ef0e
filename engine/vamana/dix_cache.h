/*
 * dix_cache.h — the hot-node cache of a disk index: the records of the
 * nodes nearest the entry points (breadth-first), held in RAM so that the
 * first rounds of every search read nothing. Read-only once filled, so any
 * number of searching threads share it without locks.
 */
#ifndef DANN_DIX_CACHE_H
#define DANN_DIX_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define DIX_CACHE_EMPTY UINT32_MAX

struct dix_cache {
	uint32_t count;      /* nodes held */
	uint32_t node_bytes;
	char *records;       /* count * node_bytes */
	uint32_t mask;       /* open-addressing table of size mask + 1 */
	uint32_t *slot_id;   /* node id in each table slot, DIX_CACHE_EMPTY if free */
	uint32_t *slot_rec;  /* index into records */
};

/* Bytes of RAM one cached node costs (record + table share), for turning a
 * byte budget into a node count. */
size_t dix_cache_bytes_per_node(uint32_t node_bytes);

/* Allocates room for up to max_nodes records; empty until dix_cache_add. */
int dix_cache_init(struct dix_cache *c, uint32_t node_bytes, uint32_t max_nodes);
/* Copies node id's record in; the caller adds each id at most once and at
 * most max_nodes of them. */
void dix_cache_add(struct dix_cache *c, uint32_t id, const void *rec);
void dix_cache_free(struct dix_cache *c);

static inline uint32_t dix_cache_hash(uint32_t id)
{
	return id * 2654435761u; /* Knuth's multiplicative hash */
}

/* The cached record of id, or NULL. */
static inline const void *dix_cache_get(const struct dix_cache *c, uint32_t id)
{
	if (c->count == 0)
		return NULL;
	for (uint32_t i = dix_cache_hash(id) & c->mask;; i = (i + 1) & c->mask) {
		uint32_t k = c->slot_id[i];
		if (k == id)
			return c->records + (size_t)c->slot_rec[i] * c->node_bytes;
		if (k == DIX_CACHE_EMPTY)
			return NULL;
	}
}

#endif
