/*
 * dix_graph.h — a built graph's adjacency as the layout reads it: rows in
 * RAM (the in-memory build, tests), or pread one at a time from the graph
 * file the partitioned build wrote, so that the layout of a graph larger
 * than the build's RAM budget keeps only the degrees (4 bytes a node)
 * resident. The file's pages sit in the page cache, which the kernel
 * reclaims, not in the process's RSS (a mapping kept them there: 388 MiB
 * under a 256 MiB budget on 1M x 128).
 */
#ifndef DANN_DIX_GRAPH_H
#define DANN_DIX_GRAPH_H

#include <stdint.h>

struct dix_graph;

/* Fills g from the graph file at path (vamana.h's layout): header checked
 * against n and dim (DANN_ECORRUPT naming the file), degrees read into RAM,
 * the file kept open for dix_graph_nbrs. Release with dix_graph_close. */
int dix_graph_open_file(const char *path, uint64_t n, uint32_t dim, struct dix_graph *g);
/* Releases what dix_graph_open_file took (harmless on an in-memory graph
 * and on a zeroed one). */
void dix_graph_close(struct dix_graph *g);

/* The degree[id] neighbours of node id: a pointer into g's rows when they
 * are in RAM, else buf (room for g->R ids) filled from the file. 0 or
 * DANN_EIO naming the file and node. */
int dix_graph_nbrs(const struct dix_graph *g, uint64_t id, uint32_t *buf, const uint32_t **out);

#endif
