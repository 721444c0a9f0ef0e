/*
 * vamana.h — the Vamana graph (DiskANN, Subramanya et al. NeurIPS 2019):
 * parallel build, in-memory greedy search, and the FreshDiskANN updates
 * (insert after build, delete, consolidate) that growing segments use.
 *
 * Module engine/vamana, vam_ half (the dix_ half, the disk index, starts at
 * dix.h): the graph in RAM and the graph file. vamana.c builds and links,
 * vam_search.c searches, vam_update.c inserts, deletes and consolidates,
 * vam_part.c builds over k-means shards within a memory budget,
 * vam_file.c saves and loads, vam_check.c checks. It ends at a graph of
 * ids; the on-disk node layout is dix_'s. Uses engine/ and engine/pq
 * (k-means for the partition).
 *
 * The graph is a flat array of capacity * R uint32 neighbour slots plus a
 * degree per node; node i's neighbours are slots[i*R .. i*R + degree[i]).
 * The index owns a copy of the vectors (it must, to accept inserts).
 *
 * Metrics (every distance "smaller is closer", as in dann.h):
 *   L2      squared Euclidean; RobustPrune's alpha applies to squared
 *           distances, as in DiskANN's code.
 *   IP      the usual MIPS-to-L2 reduction (Bachrach et al. 2014): each
 *           point x is treated as x' = [x, sqrt(M^2 - |x|^2)] with M the
 *           largest norm at build time, so the graph is the L2 Vamana graph
 *           of the x'; the extra coordinate is kept as one float per point,
 *           not stored in the vectors. A query [q, 0] ranks x' by -q.x, so
 *           search uses the IP kernel and returns -q.x exactly. A point
 *           inserted later with |x| > M raises M (with headroom) and
 *           every extra coordinate is recomputed, so an index that starts
 *           empty (a growing segment) stays exact whatever comes.
 *   COSINE  1 - cos. float32 vectors are normalised on the way in (the
 *           distance becomes 1 + ip, cheaper than the cosine kernel);
 *           uint8/int8 vectors use the cosine kernel directly.
 *
 * Thread safety:
 *   - vam_search may run on any number of threads at once, concurrently
 *     with vam_insert / vam_insert_batch, vam_delete and vam_consolidate.
 *     A search sees each point either not at all or with its vector fully
 *     written; a point whose insert is still running may be missed.
 *   - Neighbour lists are read and written under a per-node spinlock;
 *     growth of the capacity takes a writer lock that briefly stops
 *     searches and inserts.
 *   - vam_consolidate excludes inserts (they wait), not searches.
 *   - vam_check, vam_save and vam_graph need the index quiescent (no
 *     writer running).
 */
#ifndef DANN_VAMANA_H
#define DANN_VAMANA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dann.h"
#include "stop.h"

#define VAM_MAX_R 4096u
#define VAM_MAX_L 100000u

struct vam_params {
	uint32_t R;           /* max degree (default 64) */
	uint32_t L;           /* build list size (default 100); L < R is allowed:
	                         the prune pool is then small, lists stay short */
	float alpha;          /* RobustPrune slack, >= 1 (default 1.2) */
	uint32_t threads;     /* 0 = all cores */
	uint64_t seed;        /* insertion order (default 1) */
	uint32_t passes;      /* 1, or 2 = DiskANN's alpha=1 pass then alpha */
	dann_progress_fn progress; /* optional; called from the calling thread */
	void *progress_arg;
	const struct stop *stop;   /* checked while linking and in the partition's
	                              k-means (NULL: never); DANN_ECANCELED or
	                              DANN_ETIMEDOUT, the graph left unfinished */
	const char *checkpoint_dir; /* partitioned builds (vam_build_file): keep the
	                              shards here, resume from them (vam_ckpt.c) */
};

/* Fills p with the defaults above. */
void vam_params_default(struct vam_params *p);
/* DANN_EINVAL naming the first bad field (R = 0 or > VAM_MAX_R, L = 0 or
 * > VAM_MAX_L, alpha < 1 or not finite, passes not 1 or 2). */
int vam_params_check(const struct vam_params *p);

struct vam;

/* Builds the graph over n rows of dim elements of dtype (F32, U8, I8) at
 * data (copied). n may be 0 (an empty index that inserts grow). */
int vam_build(enum dann_metric metric, enum dann_dtype dtype, uint32_t dim, const void *data,
	      uint64_t n, const struct vam_params *p, struct vam **out);
void vam_free(struct vam *v);

/* Adds one point (dim elements of the index's dtype), linking it into the
 * graph; its id (the next free one) goes to *id. Capacity grows as needed;
 * ids are dense and never reused. */
int vam_insert(struct vam *v, const void *vec, uint32_t *id);
/* Adds n points in parallel (the build's threads); ids first_id .. +n-1. */
int vam_insert_batch(struct vam *v, const void *vecs, uint64_t n, uint32_t *first_id);

/* Marks id deleted: never returned by a search, still traversed until
 * vam_consolidate. DANN_ENOTFOUND for an id not in the index. Deleting
 * twice is allowed. */
int vam_delete(struct vam *v, uint32_t id);
/* FreshDiskANN's delete consolidation: every live node with a deleted
 * out-neighbour d gets (N(p) ∪ N(d)) minus deleted, RobustPruned to R;
 * deleted nodes lose their edges (the entry point, if deleted, stays a
 * routing node and keeps repaired edges). It also gives an in-edge to
 * any live point no longer reachable from the entry point (inserts, like
 * FreshDiskANN's, can strand a few). *repaired (optional) counts the
 * nodes whose lists changed. */
int vam_consolidate(struct vam *v, uint64_t *repaired);

/* Allowed-ids filter for a search: a point is a candidate for the result
 * when (bits == NULL or its bit is set, ids >= nbits excluded) and
 * (fn == NULL or fn(arg, id)). Filtered and deleted points are still
 * traversed. */
struct vam_filter {
	const uint64_t *bits;
	uint64_t nbits;
	bool (*fn)(void *arg, uint32_t id);
	void *arg;
};

struct vam_search_stats {
	uint32_t hops;      /* nodes expanded */
	uint32_t ndist;     /* distances computed */
};

/* Greedy search with list size L from the entry point for the k nearest
 * allowed, non-deleted points to query (dim float32s). Writes up to k
 * (id, exact distance) pairs ascending into ids/dists and their number to
 * *found (less than k only if fewer points pass the filter nearby).
 * filter and stats may be NULL. DANN_EINVAL for k = 0, L < k, L > VAM_MAX_L. */
int vam_search(struct vam *v, const float *query, uint32_t k, uint32_t L,
	       const struct vam_filter *filter, uint32_t *ids, float *dists, uint32_t *found,
	       struct vam_search_stats *stats);

/* Graph invariants, for tests and `dann info`. */
struct vam_stats {
	uint64_t n;             /* points */
	uint64_t deleted;
	uint32_t R;
	uint32_t medoid;
	uint32_t max_degree;
	uint32_t min_degree;    /* over live points */
	double mean_degree;     /* over live points */
	uint64_t self_loops;
	uint64_t duplicate_edges;
	uint64_t bad_ids;       /* neighbour ids >= n */
	uint64_t edges_to_deleted;
	uint64_t unreachable;   /* live points not reachable from the medoid */
};
int vam_check(const struct vam *v, struct vam_stats *st);

/* Accessors. The graph arrays stay owned by v and valid until the next
 * insert or vam_free. */
uint64_t vam_count(const struct vam *v);
uint32_t vam_dim(const struct vam *v);
uint32_t vam_R(const struct vam *v);
uint32_t vam_medoid(const struct vam *v);
void vam_graph(const struct vam *v, const uint32_t **slots, const uint32_t **degrees);
bool vam_is_deleted(const struct vam *v, uint32_t id);

/*
 * Graph file (little-endian), written to <path>.tmp, fsynced, renamed:
 *   header (VAM_FILE_HEADER_BYTES): magic "DANNVAMG", u32 version, u32 R,
 *     u64 n, u32 medoid, u32 metric, u32 dtype, u32 dim, u32 crc32c of
 *     everything after the header, zero padding;
 *   u32 degree[n];
 *   u32 slots[n * R] (unused slots are zero).
 * Deletion marks are not saved: save after vam_consolidate.
 */
#define VAM_FILE_MAGIC "DANNVAMG"
#define VAM_FILE_VERSION 1u
#define VAM_FILE_HEADER_BYTES 64u

struct vam_file_header {
	uint32_t version, R;
	uint64_t n;
	uint32_t medoid, metric, dtype, dim, crc;
};

int vam_save(const struct vam *v, const char *path);
/* Reads a graph file's header, checking magic, version and size. */
int vam_file_read_header(const char *path, struct vam_file_header *h);
/* Loads a graph file (CRC verified) with its n vectors (copied; the file's
 * metric, dtype and dim must match the arguments) as a searchable index.
 * p supplies threads/L/alpha for later inserts (NULL = defaults with the
 * file's R). */
int vam_load(const char *path, enum dann_metric metric, enum dann_dtype dtype, uint32_t dim,
	     const void *vectors, uint64_t n, const struct vam_params *p, struct vam **out);

/*
 * Builds the graph of the vectors in vec_path (any vf.h format but ids)
 * and writes it to graph_path as a graph file. When the in-memory build
 * (vam_build_bytes) exceeds build_ram_bytes (0 = no limit), the data is
 * partitioned with k-means into shards (each point in its 2 nearest),
 * each shard built in turn within the budget, and the shard graphs merged
 * on disk (see vam_part.c); shard files go to a temporary directory under
 * tmpdir (NULL = graph_path's directory) and are removed. With
 * p->checkpoint_dir they go there instead and stay when the build fails or
 * stops, and a later call with the same file and parameters resumes at the
 * first shard not built (vam_ckpt.c); the directory goes once the build
 * succeeds. st may be NULL.
 * Memory: each shard build uses at most 80% of the budget, the merge at
 * most half of it (neighbour rows are read by pread into one buffer), the
 * streaming passes a sixteenth; on top come the
 * process's own ~10 MiB and, in the k-means phase only, km_train's working
 * set (OpenBLAS buffers), which sets the peak when the budget is small.
 * Measured: 1M x 128 under 256 MiB peaks at 159 MiB; tests/vamana/
 * test_vamana_part_rss.c holds a 12 MiB budget to within 10 MiB.
 */
struct vam_file_stats {
	uint64_t est_bytes;        /* estimated in-memory build size */
	uint32_t shards;           /* 0 when built in one piece */
	uint64_t max_shard_points;
	uint64_t truncated;        /* merged unions over R, pruned back to R */
	uint32_t resumed_shards;   /* shard graphs taken from the checkpoint */
	double resumed_seconds;    /* what those took to build, in earlier runs */
};
int vam_build_file(const char *vec_path, enum dann_metric metric, const struct vam_params *p,
		   uint64_t build_ram_bytes, const char *tmpdir, const char *graph_path,
		   struct vam_file_stats *st);
/* Bytes an in-memory build of n points needs (vectors, graph, locks,
 * visited sets of p->threads threads). */
uint64_t vam_build_bytes(uint64_t n, uint32_t dim, enum dann_dtype dtype, enum dann_metric metric,
			 const struct vam_params *p);

#endif
