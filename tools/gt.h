/*
 * gt.h — exact k-nearest-neighbour ground truth.
 *
 * Distances follow dann.h (squared L2, -ip, 1 - cos; smaller is closer) and
 * are exact: a blocked sgemm (OpenBLAS) scores every (query, base) pair in
 * float, and any pair whose sgemm score could, within a proven rounding
 * bound, beat a query's current k-th distance is re-scored with the
 * distance kernel of dist.h on the original elements (exact integer
 * arithmetic for u8/i8 pairs). The heaps hold only re-scored distances, so
 * the result equals a brute-force scan with that kernel, ties included:
 * among equal distances the smaller id wins (topk.h).
 *
 * The base is read a block of rows at a time (gt_params.block_rows), so a
 * base larger than RAM works; queries, the per-query heaps and the result
 * (nq x k ids and distances) stay in RAM.
 *
 * Parallelism (gt_params.parallel): by default OpenMP threads take tiles of
 * queries, each running a single-threaded sgemm on its tile against the
 * block, so cache-sized pieces stay on one core; or sgemm runs threaded on
 * large tiles and OpenMP only filters. Either way OpenBLAS's thread count
 * is set for the run and restored after (blas_scope.h: runs that overlap
 * in one process share one setting and the last restores it), so threads
 * never multiply. gt is a tool (the CLI's `gen`/`gt` and the benchmarks),
 * not part of libdann.
 */
#ifndef DANN_GT_H
#define DANN_GT_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"

#define GT_MAX_K 1000
/* Base rows per block when gt_params.block_rows is 0 (fewer if a block of
 * float rows would pass 256 MiB). */
#define GT_DEFAULT_BLOCK_ROWS 65536

/* Where base rows come from: a count x dim array of dtype, read a range at
 * a time (a vf file, or memory in tests). */
struct gt_base {
	uint64_t count;
	uint32_t dim;
	enum dann_dtype dtype; /* F32, U8 or I8 */
	/* Copies rows [first, first + n) in dtype into dst; 0 or a DANN_E*
	 * code with the message set. */
	int (*read)(void *ctx, uint64_t first, uint64_t n, void *dst);
	/* Optional (may be NULL): rows [first, first + n) are done with. */
	void (*release)(void *ctx, uint64_t first, uint64_t n);
	void *ctx;
};

/* How the two cores share the work (bench/gt.py measures both). */
enum gt_parallel {
	GT_PAR_QUERIES = 0, /* OpenMP over query tiles, single-threaded sgemm each */
	GT_PAR_BLAS = 1,    /* threaded sgemm on big tiles, OpenMP for the filter */
};

struct gt_params {
	uint32_t k;              /* 1..GT_MAX_K, and at most the base count */
	enum dann_metric metric;
	uint64_t block_rows;     /* 0 = GT_DEFAULT_BLOCK_ROWS */
	int threads;             /* 0 = omp_get_max_threads() */
	enum gt_parallel parallel;
	dann_progress_fn progress; /* may be NULL; told base rows done */
	void *progress_arg;
};

/* Computes the k nearest base rows of each of nq queries (nq x dim of
 * qtype: F32, U8 or I8), into ids and dists (nq x k each, ascending by
 * distance, then id). DANN_EINVAL for k out of range, k > base count, or a
 * bad dtype; DANN_ENOMEM; any error of base->read. */
int gt_compute(const struct gt_base *base, const void *queries, enum dann_dtype qtype,
	       uint64_t nq, const struct gt_params *p, uint32_t *ids, float *dists);

/* The file form: reads base_path and query_path (any format vf reads),
 * writes ids to out_path (.ibin, nq x k) and distances beside it
 * (vf_gt_dist_path). DANN_EINVAL naming both files if their dims differ. */
int gt_files(const char *base_path, const char *query_path, const char *out_path,
	     const struct gt_params *p);

#endif
