/*
 * dix_write.h — writing the node file (disk.index), the id map and the
 * slot map of a disk index into a directory (normally a stage, see
 * dix_manifest.h), and the locality-aware node order.
 */
#ifndef DANN_DIX_WRITE_H
#define DANN_DIX_WRITE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../dann.h"
#include "../stop.h"
#include "dix_format.h"

/* Source of the full vectors: copies rows [first, first+n) in the stored
 * dtype, dim elements each, into dst. 0 or a DANN_E* code. */
typedef int (*dix_rows_fn)(void *arg, uint64_t first, uint64_t n, void *dst);

/* A vf-backed row source: pass a struct vf * as arg. */
int dix_rows_from_vf(void *vf, uint64_t first, uint64_t n, void *dst);

struct dix_graph_file;

/* A built graph as the Vamana builder leaves it: row i of nbrs (R ids)
 * holds degree[i] valid neighbours of node i. With file set (see
 * dix_graph.h) the rows stay in the graph file and nbrs is unused; read a
 * row with dix_graph_nbrs either way. */
struct dix_graph {
	uint64_t n;
	uint32_t R;
	const uint32_t *nbrs;   /* n * R, or NULL with file */
	const uint32_t *degree; /* n */
	struct dix_graph_file *file; /* NULL: rows in nbrs */
	uint32_t n_entry;       /* 1..DIX_MAX_ENTRY; entry[0] is the medoid */
	uint32_t entry[DIX_MAX_ENTRY];
};

struct dix_write_params {
	enum dann_metric metric;
	enum dann_dtype dtype;
	uint32_t dim;
	enum dix_layout layout;
	dann_progress_fn progress; /* may be NULL; phase "layout" */
	void *progress_arg;
	const struct stop *stop;   /* checked per chunk written (NULL: never) */
};

/* Writes dir/disk.index (and dir/slots.bin with the locality layout) for
 * graph g over the vectors from rows. Checks the graph first (degrees <= R,
 * ids and entry points < n, 1 <= n < 2^32): DANN_EINVAL naming the bad
 * node. Files are fsynced; a failure leaves partial files that the caller's
 * stage removes. */
int dix_write_nodes(const char *dir, const struct dix_write_params *p, const struct dix_graph *g,
		    dix_rows_fn rows, void *rows_arg);

/* Writes dir/ids.bin: the primary key of each internal id; keys == NULL
 * writes the identity map (key i for id i). */
int dix_write_ids(const char *dir, const uint64_t *keys, uint64_t n);

/* Builds a disk index of the vectors in data_path into the existing
 * directory dir (a stage the caller owns and commits), with keys[i] (NULL:
 * i) as the primary key of row i in the id map. dann_index_build is this
 * plus the stage; the segment layer uses it to put its own files beside
 * the index under one MANIFEST. A set *cancel (may be NULL) stops the
 * build between its phases with DANN_ECANCELED. */
int dix_build_dir(const char *data_path, const char *dir, const struct dann_build_params *p,
		  const uint64_t *keys, const _Atomic bool *cancel);
/* The locality-aware order (after Starling's block shuffling): walks the
 * graph breadth-first from the entry points; each sector is opened by the
 * next unplaced node and filled with unplaced neighbours of the nodes
 * already in it, then with the next nodes of the walk. Fills slot_of[id]
 * (a permutation of 0..n-1). 0, DANN_ENOMEM, or a graph file's read
 * error (dix_graph_nbrs). */
int dix_order_locality(const struct dix_graph *g, uint32_t nodes_per_sector, uint32_t *slot_of);
/* Block shuffling (Starling's block neighbour frequency): the locality
 * order, then passes that move each node to the sector holding most of its
 * neighbours by swapping it with that sector's best member, when the swap
 * raises the count of same-sector edges. Fills slot_of (a permutation);
 * 0, DANN_ENOMEM, a graph file's read error, or stop's code. */
int dix_order_shuffle(const struct dix_graph *g, uint32_t nodes_per_sector, const struct stop *stop,
		      uint32_t *slot_of);

#endif
