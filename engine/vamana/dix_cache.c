/*
 * dix_cache.c — storage of the hot-node cache (see dix_cache.h). Which
 * nodes go in is decided by the loader (breadth-first from the entry
 * points, dix_open.c); this file only holds them.
 */
#include "dix_cache.h"

#include <stdlib.h>
#include <string.h>

#include "../error.h"

static uint32_t table_size(uint32_t max_nodes)
{
	uint32_t s = 16;
	/* Load factor <= 1/2 keeps probe chains short. */
	while (s < 2ull * max_nodes)
		s <<= 1;
	return s;
}

size_t dix_cache_bytes_per_node(uint32_t node_bytes)
{
	return node_bytes + 4 * 2 * sizeof(uint32_t); /* table of up to 4 slots per node */
}

int dix_cache_init(struct dix_cache *c, uint32_t node_bytes, uint32_t max_nodes)
{
	uint32_t ts;

	memset(c, 0, sizeof *c);
	c->node_bytes = node_bytes;
	if (max_nodes == 0)
		return 0;
	ts = table_size(max_nodes);
	c->records = malloc((size_t)node_bytes * max_nodes);
	c->slot_id = malloc(sizeof *c->slot_id * ts);
	c->slot_rec = malloc(sizeof *c->slot_rec * ts);
	if (!c->records || !c->slot_id || !c->slot_rec) {
		dix_cache_free(c);
		return dann_fail(DANN_ENOMEM, "node cache: no memory for %u nodes of %u bytes",
				 max_nodes, node_bytes);
	}
	memset(c->slot_id, 0xff, sizeof *c->slot_id * ts);
	c->mask = ts - 1;
	return 0;
}

void dix_cache_add(struct dix_cache *c, uint32_t id, const void *rec)
{
	uint32_t i = dix_cache_hash(id) & c->mask;

	while (c->slot_id[i] != DIX_CACHE_EMPTY)
		i = (i + 1) & c->mask;
	c->slot_id[i] = id;
	c->slot_rec[i] = c->count;
	memcpy(c->records + (size_t)c->count * c->node_bytes, rec, c->node_bytes);
	c->count++;
}

void dix_cache_free(struct dix_cache *c)
{
	free(c->records);
	free(c->slot_id);
	free(c->slot_rec);
	memset(c, 0, sizeof *c);
}
