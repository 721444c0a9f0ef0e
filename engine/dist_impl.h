/*
 * dist_impl.h — how the per-level kernel tables plug into dist.c.
 *
 * Each level (scalar, AVX2, AVX-512) fills one table; dist.c picks the
 * table once. A level may leave an entry NULL, in which case the next lower
 * level's kernel is used for that entry.
 */
#ifndef DANN_DIST_IMPL_H
#define DANN_DIST_IMPL_H

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

#endif
