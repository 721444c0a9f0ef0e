/*
 * dist_avx2.c — the AVX2 + FMA kernels behind dist.h.
 *
 * Same shape as dist_avx512.c: one float driver and one integer driver,
 * specialised at compile time by metric and element type.
 *
 * Float kernels keep four independent FMA accumulators (32 elements per
 * trip). AVX2 has no byte-masked loads, so the last dim % 8 elements of
 * both vectors are copied into zeroed stack buffers and go through the
 * same step once: no read past either vector, and zeros add nothing.
 *
 * Integer kernels are exact. L2 takes |a - b| as bytes, widens it to 16
 * bits and squares with vpmaddwd; inner products and norms widen both
 * sides to 16 bits (zero- or sign-extended) and use vpmaddwd too, since
 * AVX2 has no u8 x u8 or s8 x s8 dot product that cannot saturate. Lanes
 * are int32 within blocks of DIST_INT_BLOCK elements (see dist_impl.h) and
 * each block's total is added in int64; the byte tail goes through a
 * zeroed 32-byte buffer like the float one.
 */
#include "dist_impl.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

enum op { OP_L2, OP_IP, OP_COS };
enum elem { E_F32, E_U8, E_I8 };

/* Floats per vector, vectors per loop trip in the float driver. */
#define FW 8
#define FUNROLL 4 /* the remainder code below assumes 4 */
/* Bytes per vector, vectors per loop trip in the integer driver. */
#define IW 32
#define IUNROLL 4 /* the remainder code below assumes 4 */

static const float *fptr(const void *p, size_t i)
{
	return (const float *)p + i;
}

static const void *bptr(const void *p, size_t i)
{
	return (const uint8_t *)p + i;
}

static size_t elem_size(enum elem e)
{
	return e == E_F32 ? sizeof(float) : 1;
}

static float hsum_ps(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static int32_t hsum_epi32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	return _mm_cvtsi128_si32(s);
}

/* The accumulator set the k-th vector of an integer loop trip (0..3) goes
 * to. The float driver uses four sets to hide the 4-cycle FMA latency
 * (cosine's twelve sums still fit in the sixteen ymm registers); integer
 * sums grow by vpaddd (1 cycle), so one set is enough there. */
INLINE int islot(int k, enum op op)
{
	(void)k;
	(void)op;
	return 0;
}

/* ---- float query against f32 / u8 / i8 data ---------------------------- */

/* FW elements of data vector p from index i, as floats. */
INLINE __m256 fload(const void *p, size_t i, enum elem e)
{
	switch (e) {
	case E_U8:
		return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(bptr(p, i))));
	case E_I8:
		return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(bptr(p, i))));
	default:
		return _mm256_loadu_ps(fptr(p, i));
	}
}

/* One accumulator set: s (L2 sum, or dot), and the norms for cosine. */
struct facc {
	__m256 s, na, nb;
};

INLINE void fstep(struct facc *acc, __m256 x, __m256 y, enum op op)
{
	if (op == OP_L2) {
		__m256 d = _mm256_sub_ps(x, y);
		acc->s = _mm256_fmadd_ps(d, d, acc->s);
		return;
	}
	acc->s = _mm256_fmadd_ps(x, y, acc->s);
	if (op == OP_COS) {
		acc->na = _mm256_fmadd_ps(x, x, acc->na);
		acc->nb = _mm256_fmadd_ps(y, y, acc->nb);
	}
}

INLINE float fkernel(const void *a, const void *b, size_t dim, enum elem e, enum op op)
{
	struct facc acc[FUNROLL];
	size_t i = 0, rest;

	for (int u = 0; u < FUNROLL; u++)
		acc[u].s = acc[u].na = acc[u].nb = _mm256_setzero_ps();
	for (; i + FW * FUNROLL <= dim; i += FW * FUNROLL)
		for (int u = 0; u < FUNROLL; u++)
			fstep(&acc[u], _mm256_loadu_ps(fptr(a, i + FW * u)), fload(b, i + FW * u, e), op);
	/* At most FUNROLL - 1 whole vectors remain, then a part of one: each
	 * goes to its own accumulator so short vectors have no long chain.
	 * Written out so the accumulators stay in registers. */
	rest = (dim - i) / FW;
	if (rest > 0)
		fstep(&acc[0], _mm256_loadu_ps(fptr(a, i)), fload(b, i, e), op);
	if (rest > 1)
		fstep(&acc[1], _mm256_loadu_ps(fptr(a, i + FW)), fload(b, i + FW, e), op);
	if (rest > 2)
		fstep(&acc[2], _mm256_loadu_ps(fptr(a, i + 2 * FW)), fload(b, i + 2 * FW, e), op);
	i += rest * FW;
	if (i < dim) {
		float xt[FW] = { 0 }, yt[FW] = { 0 }; /* yt: FW elements of any type */

		memcpy(xt, fptr(a, i), (dim - i) * sizeof(float));
		memcpy(yt, bptr(b, i * elem_size(e)), (dim - i) * elem_size(e));
		fstep(&acc[FUNROLL - 1], _mm256_loadu_ps(xt), fload(yt, 0, e), op);
	}
	acc[0].s = _mm256_add_ps(_mm256_add_ps(acc[0].s, acc[1].s), _mm256_add_ps(acc[2].s, acc[3].s));
	if (op == OP_L2)
		return hsum_ps(acc[0].s);
	if (op == OP_IP)
		return -hsum_ps(acc[0].s);
	acc[0].na = _mm256_add_ps(_mm256_add_ps(acc[0].na, acc[1].na), _mm256_add_ps(acc[2].na, acc[3].na));
	acc[0].nb = _mm256_add_ps(_mm256_add_ps(acc[0].nb, acc[1].nb), _mm256_add_ps(acc[2].nb, acc[3].nb));
	return dist_cos_finish(hsum_ps(acc[0].s), hsum_ps(acc[0].na), hsum_ps(acc[0].nb));
}

/* ---- u8 x u8 and i8 x i8, exact ---------------------------------------- */

struct iacc {
	__m256i s, na, nb;
};

/* Bytes 0-7 and 16-23 (lo) or 8-15 and 24-31 (hi) of v as 16-bit lanes;
 * both operands are split the same way, so products still pair up. */
INLINE __m256i widen_lo(__m256i v, enum elem e)
{
	if (e == E_U8)
		return _mm256_unpacklo_epi8(v, _mm256_setzero_si256());
	return _mm256_srai_epi16(_mm256_unpacklo_epi8(v, v), 8);
}

INLINE __m256i widen_hi(__m256i v, enum elem e)
{
	if (e == E_U8)
		return _mm256_unpackhi_epi8(v, _mm256_setzero_si256());
	return _mm256_srai_epi16(_mm256_unpackhi_epi8(v, v), 8);
}

INLINE __m256i madd2(__m256i acc, __m256i xl, __m256i yl, __m256i xh, __m256i yh)
{
	return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(xl, yl), _mm256_madd_epi16(xh, yh)));
}

INLINE void istep(struct iacc *acc, __m256i x, __m256i y, enum elem e, enum op op)
{
	__m256i xl, xh, yl, yh;

	if (op == OP_L2) {
		__m256i d;
		if (e == E_U8)
			d = _mm256_or_si256(_mm256_subs_epu8(x, y), _mm256_subs_epu8(y, x));
		else /* max - min wraps to |x - y| in 0..255 as a byte */
			d = _mm256_sub_epi8(_mm256_max_epi8(x, y), _mm256_min_epi8(x, y));
		xl = widen_lo(d, E_U8);
		xh = widen_hi(d, E_U8);
		acc->s = madd2(acc->s, xl, xl, xh, xh);
		return;
	}
	xl = widen_lo(x, e);
	xh = widen_hi(x, e);
	yl = widen_lo(y, e);
	yh = widen_hi(y, e);
	acc->s = madd2(acc->s, xl, yl, xh, yh);
	if (op == OP_COS) {
		acc->na = madd2(acc->na, xl, xl, xh, xh);
		acc->nb = madd2(acc->nb, yl, yl, yh, yh);
	}
}

/* Sum of the same field over the unrolled accumulators, into one int64;
 * within a block every partial sum fits in int32. */
#define IREDUCE(acc, f)                                                                  \
	((int64_t)hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(acc[0].f, acc[1].f),      \
					      _mm256_add_epi32(acc[2].f, acc[3].f))))

struct isum {
	int64_t s, na, nb;
};

static __m256i iload(const void *p, size_t i)
{
	return _mm256_loadu_si256(bptr(p, i));
}

INLINE void iblock(const void *a, const void *b, size_t i, size_t end, enum elem e, enum op op,
		   struct isum *t)
{
	struct iacc acc[IUNROLL];
	size_t rest;

	for (int u = 0; u < IUNROLL; u++)
		acc[u].s = acc[u].na = acc[u].nb = _mm256_setzero_si256();
	for (; i + IW * IUNROLL <= end; i += IW * IUNROLL)
		for (int u = 0; u < IUNROLL; u++)
			istep(&acc[islot(u, op)], iload(a, i + IW * u), iload(b, i + IW * u), e, op);
	/* As in fkernel: the remainder spreads over the accumulators. */
	rest = (end - i) / IW;
	if (rest > 0)
		istep(&acc[islot(0, op)], iload(a, i), iload(b, i), e, op);
	if (rest > 1)
		istep(&acc[islot(1, op)], iload(a, i + IW), iload(b, i + IW), e, op);
	if (rest > 2)
		istep(&acc[islot(2, op)], iload(a, i + 2 * IW), iload(b, i + 2 * IW), e, op);
	i += rest * IW;
	if (i < end) {
		uint8_t xt[IW] = { 0 }, yt[IW] = { 0 };

		memcpy(xt, bptr(a, i), end - i);
		memcpy(yt, bptr(b, i), end - i);
		istep(&acc[islot(IUNROLL - 1, op)], iload(xt, 0), iload(yt, 0), e, op);
	}
	t->s += IREDUCE(acc, s);
	if (op == OP_COS) {
		t->na += IREDUCE(acc, na);
		t->nb += IREDUCE(acc, nb);
	}
}

INLINE float ikernel(const void *a, const void *b, size_t dim, enum elem e, enum op op)
{
	struct isum t = { 0, 0, 0 };

	for (size_t i = 0; i < dim; i += DIST_INT_BLOCK)
		iblock(a, b, i, dim - i < DIST_INT_BLOCK ? dim : i + DIST_INT_BLOCK, e, op, &t);
	if (op == OP_L2)
		return (float)t.s;
	if (op == OP_IP)
		return (float)-t.s;
	return dist_cos_finish((double)t.s, (double)t.na, (double)t.nb);
}

/* ---- the table ---------------------------------------------------------- */

#define FLOAT_KERNEL(name, e, op)                                        \
	static float name(const void *a, const void *b, size_t dim)      \
	{                                                                \
		return fkernel(a, b, dim, e, op);                        \
	}
#define INT_KERNEL(name, e, op)                                          \
	static float name(const void *a, const void *b, size_t dim)      \
	{                                                                \
		return ikernel(a, b, dim, e, op);                        \
	}

FLOAT_KERNEL(l2_f32, E_F32, OP_L2)
FLOAT_KERNEL(ip_f32, E_F32, OP_IP)
FLOAT_KERNEL(cos_f32, E_F32, OP_COS)
FLOAT_KERNEL(l2_f32u8, E_U8, OP_L2)
FLOAT_KERNEL(ip_f32u8, E_U8, OP_IP)
FLOAT_KERNEL(cos_f32u8, E_U8, OP_COS)
FLOAT_KERNEL(l2_f32i8, E_I8, OP_L2)
FLOAT_KERNEL(ip_f32i8, E_I8, OP_IP)
FLOAT_KERNEL(cos_f32i8, E_I8, OP_COS)
INT_KERNEL(l2_u8, E_U8, OP_L2)
INT_KERNEL(ip_u8, E_U8, OP_IP)
INT_KERNEL(cos_u8, E_U8, OP_COS)
INT_KERNEL(l2_i8, E_I8, OP_L2)
INT_KERNEL(ip_i8, E_I8, OP_IP)
INT_KERNEL(cos_i8, E_I8, OP_COS)

static const struct dist_table avx2_table = {
	.l2 = { l2_f32, l2_u8, l2_i8, l2_f32u8, l2_f32i8 },
	.ip = { ip_f32, ip_u8, ip_i8, ip_f32u8, ip_f32i8 },
	.cos = { cos_f32, cos_u8, cos_i8, cos_f32u8, cos_f32i8 },
};

const struct dist_table *const dist_avx2_table = &avx2_table;
