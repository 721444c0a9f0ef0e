/*
 * pq_kernels_avx512.c — AVX-512 versions of the PQ / k-means inner loops
 * (see pq_kernels.h; compiled with AVX-512 F/BW/VL enabled).
 *
 * ADC: one point's M codes are widened 16 at a time to int32 offsets
 * (m * 256 + code) and its table entries fetched with one gather; masked
 * loads handle M not divisible by 16 without reading past the codes.
 * Argmin: 16 running minima with their indices, merged once per row.
 */
#include <immintrin.h>
#include <math.h>

#include "pq_kernels.h"

static void argmin_rows_avx512(const float *dots, size_t nb, uint32_t k, const float *cnorm,
			       uint32_t *assign, float *best)
{
	const __m512i step = _mm512_set1_epi32(16);
	const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	uint32_t kv = k & ~15u;
	__mmask16 tail = (__mmask16)((1u << (k & 15)) - 1);

	for (size_t i = 0; i < nb; i++) {
		const float *row = dots + i * k;
		__m512 bv = _mm512_set1_ps(INFINITY);
		__m512i bi = _mm512_setzero_si512(), idx = lane;
		__mmask16 eq;
		float b;
		uint32_t j;

		for (j = 0; j < kv; j += 16) {
			__m512 d = _mm512_add_ps(_mm512_loadu_ps(row + j), _mm512_loadu_ps(cnorm + j));
			__mmask16 lt = _mm512_cmp_ps_mask(d, bv, _CMP_LT_OQ);
			bv = _mm512_mask_mov_ps(bv, lt, d);
			bi = _mm512_mask_mov_epi32(bi, lt, idx);
			idx = _mm512_add_epi32(idx, step);
		}
		if (tail) {
			__m512 d = _mm512_add_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(INFINITY), tail, row + j),
						 _mm512_maskz_loadu_ps(tail, cnorm + j));
			__mmask16 lt = _mm512_mask_cmp_ps_mask(tail, d, bv, _CMP_LT_OQ);
			bv = _mm512_mask_mov_ps(bv, lt, d);
			bi = _mm512_mask_mov_epi32(bi, lt, idx);
		}
		b = _mm512_reduce_min_ps(bv);
		eq = _mm512_cmp_ps_mask(bv, _mm512_set1_ps(b), _CMP_EQ_OQ);
		if (!eq) { /* every distance overflowed to inf or NaN */
			assign[i] = 0;
			best[i] = row[0] + cnorm[0];
			continue;
		}
		assign[i] = (uint32_t)_mm512_mask_reduce_min_epu32(eq, bi);
		best[i] = b;
	}
}

static inline float adc_one(const float *table, uint32_t M, const uint8_t *c, __m512i offs0)
{
	const __m512i step = _mm512_set1_epi32(16 * PQ_KSUB);
	__m512 acc = _mm512_setzero_ps();
	__m512i offs = offs0;
	uint32_t m = 0;

	for (; m + 16 <= M; m += 16) {
		__m512i code = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(c + m)));
		acc = _mm512_add_ps(acc, _mm512_i32gather_ps(_mm512_add_epi32(code, offs), table, 4));
		offs = _mm512_add_epi32(offs, step);
	}
	if (m < M) {
		__mmask16 mk = (__mmask16)((1u << (M - m)) - 1);
		__m512i code = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mk, c + m));
		__m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk,
						    _mm512_add_epi32(code, offs), table, 4);
		acc = _mm512_add_ps(acc, g);
	}
	return _mm512_reduce_add_ps(acc);
}

static __m512i lane_offsets(void)
{
	return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
				  _mm512_set1_epi32(PQ_KSUB));
}

static void adc_ids_avx512(const float *table, uint32_t M, const uint8_t *codes,
			   const uint32_t *ids, size_t n, float *out)
{
	__m512i offs = lane_offsets();

	/* The first lookups of a call have no earlier iteration to prefetch
	 * them: a beam search calls with one node's few dozen neighbours. */
	for (size_t i = 0; i < n && i < PQ_PREFETCH_AHEAD; i++)
		_mm_prefetch((const char *)(codes + (size_t)ids[i] * M), _MM_HINT_T0);
	for (size_t i = 0; i < n; i++) {
		if (i + PQ_PREFETCH_AHEAD < n)
			_mm_prefetch((const char *)(codes + (size_t)ids[i + PQ_PREFETCH_AHEAD] * M),
				     _MM_HINT_T0);
		out[i] = adc_one(table, M, codes + (size_t)ids[i] * M, offs);
	}
}

static void adc_block_avx512(const float *table, uint32_t M, const uint8_t *codes, size_t n,
			     float *out)
{
	__m512i offs = lane_offsets();

	for (size_t i = 0; i < n; i++)
		out[i] = adc_one(table, M, codes + i * M, offs);
}

const struct pq_kernels pq_kernels_avx512 = {
	.argmin_rows = argmin_rows_avx512,
	.adc_ids = adc_ids_avx512,
	.adc_block = adc_block_avx512,
};
