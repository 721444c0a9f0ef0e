/*
 * pq_kernels_avx2.c — AVX2 versions of the PQ / k-means inner loops (see
 * pq_kernels.h; compiled with AVX2 and FMA enabled).
 *
 * Same shapes as the AVX-512 file with 8 lanes; the last M % 8 codes and
 * the last k % 8 distances of a row go through scalar code rather than a
 * load that could run past the array.
 */
#include <immintrin.h>
#include <math.h>

#include "pq_kernels.h"

static void argmin_rows_avx2(const float *dots, size_t nb, uint32_t k, const float *cnorm,
			     uint32_t *assign, float *best)
{
	const __m256i step = _mm256_set1_epi32(8);
	uint32_t kv = k & ~7u;

	for (size_t i = 0; i < nb; i++) {
		const float *row = dots + i * k;
		__m256 bv = _mm256_set1_ps(INFINITY);
		__m256i bi = _mm256_setzero_si256(), idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
		float lv[8], b = INFINITY;
		uint32_t li[8], bj = 0;

		for (uint32_t j = 0; j < kv; j += 8) {
			__m256 d = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(cnorm + j));
			__m256 lt = _mm256_cmp_ps(d, bv, _CMP_LT_OQ);
			bv = _mm256_blendv_ps(bv, d, lt);
			bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi),
								  _mm256_castsi256_ps(idx), lt));
			idx = _mm256_add_epi32(idx, step);
		}
		_mm256_storeu_ps(lv, bv);
		_mm256_storeu_si256((__m256i *)li, bi);
		for (int l = 0; l < 8; l++)
			if (lv[l] < b || (lv[l] == b && li[l] < bj)) {
				b = lv[l];
				bj = li[l];
			}
		for (uint32_t j = kv; j < k; j++) {
			float d = row[j] + cnorm[j];
			if (d < b) {
				b = d;
				bj = j;
			}
		}
		if (!(b < INFINITY)) { /* every distance overflowed to inf or NaN */
			b = row[0] + cnorm[0];
			bj = 0;
		}
		assign[i] = bj;
		best[i] = b;
	}
}

static inline float hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline float adc_one(const float *table, uint32_t M, const uint8_t *c)
{
	const __m256i step = _mm256_set1_epi32(8 * PQ_KSUB);
	__m256i offs = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
					  _mm256_set1_epi32(PQ_KSUB));
	__m256 acc = _mm256_setzero_ps();
	float tail = 0;
	uint32_t m = 0;

	for (; m + 8 <= M; m += 8) {
		__m256i code = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(c + m)));
		acc = _mm256_add_ps(acc, _mm256_i32gather_ps(table, _mm256_add_epi32(code, offs), 4));
		offs = _mm256_add_epi32(offs, step);
	}
	for (; m < M; m++)
		tail += table[m * PQ_KSUB + c[m]];
	return hsum256(acc) + tail;
}

static void adc_ids_avx2(const float *table, uint32_t M, const uint8_t *codes, const uint32_t *ids,
			 size_t n, float *out)
{
	/* The first lookups of a call have no earlier iteration to prefetch
	 * them: a beam search calls with one node's few dozen neighbours. */
	for (size_t i = 0; i < n && i < PQ_PREFETCH_AHEAD; i++)
		_mm_prefetch((const char *)(codes + (size_t)ids[i] * M), _MM_HINT_T0);
	for (size_t i = 0; i < n; i++) {
		if (i + PQ_PREFETCH_AHEAD < n)
			_mm_prefetch((const char *)(codes + (size_t)ids[i + PQ_PREFETCH_AHEAD] * M),
				     _MM_HINT_T0);
		out[i] = adc_one(table, M, codes + (size_t)ids[i] * M);
	}
}

static void adc_block_avx2(const float *table, uint32_t M, const uint8_t *codes, size_t n,
			   float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = adc_one(table, M, codes + i * M);
}

const struct pq_kernels pq_kernels_avx2 = {
	.argmin_rows = argmin_rows_avx2,
	.adc_ids = adc_ids_avx2,
	.adc_block = adc_block_avx2,
};
