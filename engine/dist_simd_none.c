/*
 * dist_simd_none.c — placeholder-free default: until the AVX2 and AVX-512
 * kernel files are part of the build, those levels report "not built" and
 * dist.c uses the scalar table.
 */
#include "dist_impl.h"

#ifndef DANN_HAVE_AVX2_KERNELS
const struct dist_table *const dist_avx2_table = NULL;
#endif
#ifndef DANN_HAVE_AVX512_KERNELS
const struct dist_table *const dist_avx512_table = NULL;
#endif
