/*
 * dist_impl.h — how the per-level kernel tables plug into dist.c.
 *
 * Each level (scalar, AVX2, AVX-512) fills one table; dist.c picks the
 * table once. A level may leave an entry NULL, in which case the next lower
 * level's kernel is used for that entry.
 */
#ifndef DANN_DIST_IMPL_H
#define DANN_DIST_IMPL_H

#include <math.h>

#include "dist.h"

/* Index of a (query type, data type) pair in a table row. */
enum dist_pair { DIST_F32 = 0, DIST_U8, DIST_I8, DIST_F32_U8, DIST_F32_I8, DIST_NPAIRS };

struct dist_table {
	dist_fn l2[DIST_NPAIRS];
	dist_fn ip[DIST_NPAIRS];
	dist_fn cos[DIST_NPAIRS];
};

extern const struct dist_table dist_scalar_table;
/* NULL when the build has no kernels for that level. */
extern const struct dist_table *const dist_avx2_table;
extern const struct dist_table *const dist_avx512_table;

/* Integer kernels sum at most this many elements in int32 lanes before
 * moving the block's total into int64. The largest term is 255^2 = 65025
 * (u8 or i8 L2), so a block's total stays below 2^30.01 and every partial
 * sum of it fits in int32 with room to spare, whatever the lane layout. */
#define DIST_INT_BLOCK 16384

/* 1 - cos from a dot product and the two squared norms; 1 when either
 * vector is zero. Every level finishes through here, so integer kernels,
 * whose sums are exact, give the reference's result bit for bit. */
static inline float dist_cos_finish(double dot, double na, double nb)
{
	if (na <= 0 || nb <= 0)
		return 1.0f;
	return (float)(1.0 - dot / sqrt(na * nb));
}

#endif
