/*
 * pq_kernels.c — the scalar reference kernels and the choice of level (see
 * pq_kernels.h).
 *
 * The scalar versions are written for obvious correctness; the ADC loops
 * still keep four independent sums so that the reference is not needlessly
 * slow on machines without AVX2.
 */
#include "pq_kernels.h"

#include <stdatomic.h>

static void argmin_rows_scalar(const float *dots, size_t nb, uint32_t k, const float *cnorm,
			       uint32_t *assign, float *best)
{
	for (size_t i = 0; i < nb; i++) {
		const float *row = dots + i * k;
		float b = row[0] + cnorm[0];
		uint32_t bj = 0;
		for (uint32_t j = 1; j < k; j++) {
			float d = row[j] + cnorm[j];
			if (d < b) {
				b = d;
				bj = j;
			}
		}
		assign[i] = bj;
		best[i] = b;
	}
}

static float adc_one(const float *table, uint32_t M, const uint8_t *c)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	uint32_t m = 0;

	for (; m + 4 <= M; m += 4) {
		s0 += table[(m + 0) * PQ_KSUB + c[m + 0]];
		s1 += table[(m + 1) * PQ_KSUB + c[m + 1]];
		s2 += table[(m + 2) * PQ_KSUB + c[m + 2]];
		s3 += table[(m + 3) * PQ_KSUB + c[m + 3]];
	}
	for (; m < M; m++)
		s0 += table[m * PQ_KSUB + c[m]];
	return (s0 + s1) + (s2 + s3);
}

static void adc_ids_scalar(const float *table, uint32_t M, const uint8_t *codes,
			   const uint32_t *ids, size_t n, float *out)
{
	/* The first lookups of a call have no earlier iteration to prefetch
	 * them: a beam search calls with one node's few dozen neighbours. */
	for (size_t i = 0; i < n && i < PQ_PREFETCH_AHEAD; i++)
		__builtin_prefetch(codes + (size_t)ids[i] * M);
	for (size_t i = 0; i < n; i++) {
		if (i + PQ_PREFETCH_AHEAD < n)
			__builtin_prefetch(codes + (size_t)ids[i + PQ_PREFETCH_AHEAD] * M);
		out[i] = adc_one(table, M, codes + (size_t)ids[i] * M);
	}
}

static void adc_block_scalar(const float *table, uint32_t M, const uint8_t *codes, size_t n,
			     float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = adc_one(table, M, codes + i * M);
}

const struct pq_kernels pq_kernels_scalar = {
	.argmin_rows = argmin_rows_scalar,
	.adc_ids = adc_ids_scalar,
	.adc_block = adc_block_scalar,
};

const struct pq_kernels *pq_kernels_at(enum dist_level l)
{
	static const struct pq_kernels *const tables[DIST_NLEVELS] = {
		&pq_kernels_scalar, &pq_kernels_avx2, &pq_kernels_avx512,
	};

	return l < DIST_NLEVELS && dist_cpu_has(l) ? tables[l] : NULL;
}

/* The highest level the CPU runs, under the same DANN_SIMD cap and the
 * same CPU check as dist.c's (these kernels are always built, whereas
 * dist_level_supported() also asks whether dist's kernels were). */
static enum dist_level detect_level(void)
{
	for (int l = dist_level_cap(); l > DIST_SCALAR; l--)
		if (dist_cpu_has((enum dist_level)l))
			return (enum dist_level)l;
	return DIST_SCALAR;
}

enum dist_level pq_kernels_level(void)
{
	static atomic_int cached = -1;
	int l = atomic_load_explicit(&cached, memory_order_relaxed);

	if (l < 0) {
		l = (int)detect_level();
		atomic_store_explicit(&cached, l, memory_order_relaxed);
	}
	return (enum dist_level)l;
}

const struct pq_kernels *pq_kernels_best(void)
{
	return pq_kernels_at(pq_kernels_level());
}
