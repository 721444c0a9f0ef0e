/*
 * dix_order.c — the locality-aware node order (see dix_write.h).
 *
 * Starling (Wang et al., SIGMOD 2024) shows that a beam search reading a
 * whole sector gets more from it when the sector's other nodes are the
 * target's graph neighbours. This is its cheapest variant, one greedy pass:
 * open a sector with the next node of a breadth-first walk, fill it with
 * the unplaced neighbours of the nodes already in it (breadth-first inside
 * the sector), and only when none are left take the next walk node. The
 * walk starts at the entry points, so the hot region near them is compact.
 */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "dix_graph.h"
#include "dix_write.h"

#define UNPLACED UINT32_MAX

int dix_order_locality(const struct dix_graph *g, uint32_t nodes_per_sector, uint32_t *slot_of)
{
	uint32_t *walk = malloc(sizeof *walk * g->n);  /* BFS order of the whole graph */
	uint8_t *seen = calloc(g->n, 1);
	uint32_t sector[DIX_SECTOR / 4];               /* ids placed in the open sector */
	uint32_t buf[DIX_MAX_R];                       /* a row read from a graph file */
	uint64_t nwalk = 0, head = 0, next_slot = 0, w = 0;
	int rc = 0;

	if (!walk || !seen) {
		free(walk);
		free(seen);
		return dann_fail(DANN_ENOMEM, "locality order: no memory for %llu nodes",
				 (unsigned long long)g->n);
	}
	if (nodes_per_sector > DIX_SECTOR / 4)
		nodes_per_sector = DIX_SECTOR / 4;
	/* Breadth-first walk from the entry points; unreachable nodes follow
	 * in id order, each starting a new walk. */
	for (uint64_t root = 0, e = 0; nwalk < g->n;) {
		uint32_t start;
		if (e < g->n_entry)
			start = g->entry[e++];
		else if (!seen[root])
			start = (uint32_t)root++;
		else {
			root++;
			continue;
		}
		if (seen[start])
			continue;
		seen[start] = 1;
		walk[nwalk++] = start;
		while (head < nwalk) {
			uint32_t u = walk[head++];
			const uint32_t *nb;
			if ((rc = dix_graph_nbrs(g, u, buf, &nb)) < 0)
				goto out;
			for (uint32_t j = 0; j < g->degree[u]; j++)
				if (!seen[nb[j]]) {
					seen[nb[j]] = 1;
					walk[nwalk++] = nb[j];
				}
		}
	}
	for (uint64_t i = 0; i < g->n; i++)
		slot_of[i] = UNPLACED;
	while (next_slot < g->n) {
		uint32_t fill = 0, scan = 0;
		while (slot_of[walk[w]] != UNPLACED)
			w++;
		sector[fill++] = walk[w];
		slot_of[walk[w]] = (uint32_t)next_slot++;
		/* Neighbours of the sector's nodes, nearest-first as the graph lists
		 * them (RobustPrune keeps them roughly by distance). */
		while (fill < nodes_per_sector && scan < fill && next_slot < g->n) {
			uint32_t u = sector[scan++];
			const uint32_t *nb;
			if ((rc = dix_graph_nbrs(g, u, buf, &nb)) < 0)
				goto out;
			for (uint32_t j = 0; j < g->degree[u] && fill < nodes_per_sector; j++)
				if (slot_of[nb[j]] == UNPLACED) {
					sector[fill++] = nb[j];
					slot_of[nb[j]] = (uint32_t)next_slot++;
				}
		}
		/* Neighbours ran out: top the sector up from the walk. */
		while (fill < nodes_per_sector && next_slot < g->n) {
			while (slot_of[walk[w]] != UNPLACED)
				w++;
			sector[fill++] = walk[w];
			slot_of[walk[w]] = (uint32_t)next_slot++;
		}
	}
out:
	free(walk);
	free(seen);
	return rc;
}
