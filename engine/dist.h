/*
 * dist.h — distance kernels: squared L2, inner product and cosine over
 * float32, uint8 and int8 vectors, and float32 queries against uint8/int8
 * data.
 *
 * Every kernel exists as a scalar reference (the tests' oracle) and as
 * AVX2 and AVX-512 versions; the best level this CPU supports is chosen
 * once, at first use, and kept in a table. All kernels take unaligned
 * pointers and any dim >= 1, and follow dann.h's convention: smaller is
 * closer (IP returns -dot, cosine returns 1 - cos, and 1 if either vector
 * is zero).
 *
 * Integer kernels are exact: int32 lane sums overflow past 33025 u8 L2
 * terms, so they sum blocks of at most 32768 elements in int32 and the
 * blocks in int64, which covers every dim the file readers accept (65536).
 */
#ifndef DANN_DIST_H
#define DANN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"

/* A distance between a and b of `dim` elements; the element types are fixed
 * by the kernel (see dist_kernel). */
typedef float (*dist_fn)(const void *a, const void *b, size_t dim);

enum dist_level {
	DIST_SCALAR = 0,
	DIST_AVX2 = 1,
	DIST_AVX512 = 2,
	DIST_NLEVELS
};

/* The highest level this CPU and build support (cached after first call).
 * DANN_SIMD=scalar|avx2|avx512 in the environment lowers it, for tests and
 * benchmarks. */
enum dist_level dist_best_level(void);
const char *dist_level_name(enum dist_level l);
/* 1 if the CPU supports level l and this build has dist's kernels for it. */
int dist_level_supported(enum dist_level l);
/* 1 if the CPU has every instruction-set extension the level's kernels
 * (dist_* and pq_*) are compiled with, else 0: the one CPU check for all
 * SIMD kernel tables. */
int dist_cpu_has(enum dist_level l);
/* The DANN_SIMD cap (AVX512 when unset or unknown): every kernel table
 * chooses at most this level. */
enum dist_level dist_level_cap(void);

/* The kernel for metric between an `a` of type qtype and a `b` of type
 * dtype, at the given level. Supported (qtype, dtype) pairs: (f32, f32),
 * (u8, u8), (i8, i8), (f32, u8), (f32, i8). NULL for any other pair or an
 * unsupported level. */
dist_fn dist_kernel_at(enum dist_level level, enum dann_metric metric,
		       enum dann_dtype qtype, enum dann_dtype dtype);

/* dist_kernel_at(dist_best_level(), ...). */
dist_fn dist_kernel(enum dann_metric metric, enum dann_dtype qtype, enum dann_dtype dtype);

/* 0 if the nq queries of dim float32s at q are all finite, else
 * DANN_EINVAL naming who (the calling component, "dann_search"), the
 * query, the component and its value: a NaN or Inf query has no nearest
 * neighbours and would give NaN distances. */
int dist_check_queries(const char *who, const float *q, uint64_t nq, uint32_t dim);

/* Squared L2 norm of a float vector, at the best level. */
float dist_norm2_f32(const float *a, size_t dim);

#endif
