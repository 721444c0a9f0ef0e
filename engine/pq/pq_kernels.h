/*
 * pq_kernels.h — the inner loops of PQ and k-means, per SIMD level.
 *
 * Three loops carry the cost: the argmin over a block of point-to-centroid
 * distances (k-means and encoding), and the ADC sums of table entries for a
 * list of ids or a contiguous block of codes (search). Each exists as a
 * scalar reference (pq_kernels.c, the tests' oracle) and as AVX2 and
 * AVX-512 versions; the level is chosen once, as dist.c chooses its kernels
 * (same CPU checks, same DANN_SIMD=scalar|avx2|avx512 cap).
 *
 * Module-internal: callers outside engine/pq use pq.h and kmeans.h.
 */
#ifndef DANN_PQ_KERNELS_H
#define DANN_PQ_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "dist.h"

/* Table entries per sub-space: 8-bit codes. */
#define PQ_KSUB 256u

/* Lookups ahead that the id-list scans prefetch: a beam search's ids are
 * scattered over the whole code array, so each one is a likely cache miss. */
#define PQ_PREFETCH_AHEAD 8u

struct pq_kernels {
	/* For each row i < nb of dots (k floats per row): assign[i] = the j
	 * minimising dots[i*k+j] + cnorm[j] (lowest j on ties), best[i] = that
	 * minimum. */
	void (*argmin_rows)(const float *dots, size_t nb, uint32_t k, const float *cnorm,
			    uint32_t *assign, float *best);
	/* out[i] = sum over m < M of table[m*256 + codes[ids[i]*M + m]]. */
	void (*adc_ids)(const float *table, uint32_t M, const uint8_t *codes, const uint32_t *ids,
			size_t n, float *out);
	/* out[i] = sum over m < M of table[m*256 + codes[i*M + m]]. */
	void (*adc_block)(const float *table, uint32_t M, const uint8_t *codes, size_t n, float *out);
};

extern const struct pq_kernels pq_kernels_scalar;
extern const struct pq_kernels pq_kernels_avx2;
extern const struct pq_kernels pq_kernels_avx512;

/* The kernels of level l, or NULL if this CPU cannot run them. */
const struct pq_kernels *pq_kernels_at(enum dist_level l);
/* The highest level this CPU runs, capped by DANN_SIMD like dist's
 * (cached after the first call), and its kernels. */
enum dist_level pq_kernels_level(void);
const struct pq_kernels *pq_kernels_best(void);

#endif
