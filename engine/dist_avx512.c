/*
 * dist_avx512.c — the AVX-512 kernels (F, BW, VL, DQ, VNNI) behind dist.h.
 *
 * One float driver and one integer driver, specialised at compile time by
 * metric and element type (always_inline with constant arguments), so the
 * fifteen table entries share two loop bodies instead of fifteen copies.
 *
 * Float kernels (f32 query against f32, u8 or i8 data) convert the data to
 * float and keep four independent FMA accumulators (64 elements per trip)
 * so the FMA latency is hidden; the last dim % 16 elements are read with
 * masked loads, which never touch memory past the end of either vector.
 *
 * Integer kernels are exact. L2 takes |a - b| as bytes, widens it to 16
 * bits and squares with vpdpwssd. Inner products use vpdpbusd (u8 x s8,
 * four products per int32 lane) with the sign flipped on one side:
 *   u8:  a * b = a * (b - 128) + 128 * a, where b ^ 0x80 is b - 128 as s8;
 *   i8:  a * b = (a + 128) * b - 128 * b, where a ^ 0x80 is a + 128 as u8;
 * and the correction sums (of a or b) come from vpdpbusd against ones.
 * Zero padding from masked loads contributes nothing to any of these sums.
 * Lanes are int32 within blocks of DIST_INT_BLOCK elements (see
 * dist_impl.h) and each block's total is added in int64.
 */
#include "dist_impl.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

enum op { OP_L2, OP_IP, OP_COS };
enum elem { E_F32, E_U8, E_I8 };

/* Floats per vector, vectors per loop trip in the float driver. */
#define FW 16
#define FUNROLL 4
/* Bytes per vector, vectors per loop trip in the integer driver. */
#define IW 64
#define IUNROLL 4

/* ---- float query against f32 / u8 / i8 data ---------------------------- */

static const float *fptr(const void *p, size_t i)
{
	return (const float *)p + i;
}

static const void *bptr(const void *p, size_t i)
{
	return (const uint8_t *)p + i;
}

/* FW elements of data vector p from index i, as floats. */
INLINE __m512 fload(const void *p, size_t i, enum elem e)
{
	switch (e) {
	case E_U8:
		return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(bptr(p, i))));
	case E_I8:
		return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(bptr(p, i))));
	default:
		return _mm512_loadu_ps(fptr(p, i));
	}
}

/* The lanes of m from index i; other lanes are 0 and not read. */
INLINE __m512 fload_mask(const void *p, size_t i, enum elem e, __mmask16 m)
{
	switch (e) {
	case E_U8:
		return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, bptr(p, i))));
	case E_I8:
		return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, bptr(p, i))));
	default:
		return _mm512_maskz_loadu_ps(m, fptr(p, i));
	}
}

/* One accumulator set: s (L2 sum, or dot), and the norms for cosine. */
struct facc {
	__m512 s, na, nb;
};

INLINE void fstep(struct facc *acc, __m512 x, __m512 y, enum op op)
{
	if (op == OP_L2) {
		__m512 d = _mm512_sub_ps(x, y);
		acc->s = _mm512_fmadd_ps(d, d, acc->s);
		return;
	}
	acc->s = _mm512_fmadd_ps(x, y, acc->s);
	if (op == OP_COS) {
		acc->na = _mm512_fmadd_ps(x, x, acc->na);
		acc->nb = _mm512_fmadd_ps(y, y, acc->nb);
	}
}

INLINE float fkernel(const void *a, const void *b, size_t dim, enum elem e, enum op op)
{
	struct facc acc[FUNROLL];
	size_t i = 0;

	for (int u = 0; u < FUNROLL; u++)
		acc[u].s = acc[u].na = acc[u].nb = _mm512_setzero_ps();
	for (; i + FW * FUNROLL <= dim; i += FW * FUNROLL)
		for (int u = 0; u < FUNROLL; u++)
			fstep(&acc[u], _mm512_loadu_ps(fptr(a, i + FW * u)), fload(b, i + FW * u, e), op);
	/* At most FUNROLL - 1 whole vectors remain, then a part of one: each
	 * goes to its own accumulator so short vectors have no long chain. */
	for (int u = 0; u < FUNROLL - 1 && i + FW <= dim; u++, i += FW)
		fstep(&acc[u], _mm512_loadu_ps(fptr(a, i)), fload(b, i, e), op);
	if (i < dim) {
		__mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
		fstep(&acc[FUNROLL - 1], _mm512_maskz_loadu_ps(m, fptr(a, i)), fload_mask(b, i, e, m), op);
	}
	acc[0].s = _mm512_add_ps(_mm512_add_ps(acc[0].s, acc[1].s), _mm512_add_ps(acc[2].s, acc[3].s));
	if (op == OP_L2)
		return _mm512_reduce_add_ps(acc[0].s);
	if (op == OP_IP)
		return -_mm512_reduce_add_ps(acc[0].s);
	acc[0].na = _mm512_add_ps(_mm512_add_ps(acc[0].na, acc[1].na), _mm512_add_ps(acc[2].na, acc[3].na));
	acc[0].nb = _mm512_add_ps(_mm512_add_ps(acc[0].nb, acc[1].nb), _mm512_add_ps(acc[2].nb, acc[3].nb));
	return dist_cos_finish(_mm512_reduce_add_ps(acc[0].s), _mm512_reduce_add_ps(acc[0].na),
			       _mm512_reduce_add_ps(acc[0].nb));
}

/* ---- u8 x u8 and i8 x i8, exact ---------------------------------------- */

/* int32 lanes: s (L2 sum, or biased dot), biased norms, and the sums of a
 * and b that remove the bias (see the file comment). */
struct iacc {
	__m512i s, na, nb, sa, sb;
};

INLINE void istep(struct iacc *acc, __m512i x, __m512i y, enum elem e, enum op op)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);

	if (op == OP_L2) {
		__m512i d, zero = _mm512_setzero_si512(), lo, hi;
		if (e == E_U8)
			d = _mm512_or_si512(_mm512_subs_epu8(x, y), _mm512_subs_epu8(y, x));
		else /* max - min wraps to |x - y| in 0..255 as a byte */
			d = _mm512_sub_epi8(_mm512_max_epi8(x, y), _mm512_min_epi8(x, y));
		lo = _mm512_unpacklo_epi8(d, zero);
		hi = _mm512_unpackhi_epi8(d, zero);
		acc->s = _mm512_dpwssd_epi32(acc->s, lo, lo);
		acc->s = _mm512_dpwssd_epi32(acc->s, hi, hi);
		return;
	}
	if (e == E_U8) {
		__m512i ys = _mm512_xor_si512(y, flip);
		acc->s = _mm512_dpbusd_epi32(acc->s, x, ys);
		acc->sa = _mm512_dpbusd_epi32(acc->sa, x, ones);
		if (op == OP_COS) {
			acc->na = _mm512_dpbusd_epi32(acc->na, x, _mm512_xor_si512(x, flip));
			acc->nb = _mm512_dpbusd_epi32(acc->nb, y, ys);
			acc->sb = _mm512_dpbusd_epi32(acc->sb, y, ones);
		}
	} else {
		__m512i xu = _mm512_xor_si512(x, flip);
		acc->s = _mm512_dpbusd_epi32(acc->s, xu, y);
		acc->sb = _mm512_dpbusd_epi32(acc->sb, ones, y);
		if (op == OP_COS) {
			acc->na = _mm512_dpbusd_epi32(acc->na, xu, x);
			acc->nb = _mm512_dpbusd_epi32(acc->nb, _mm512_xor_si512(y, flip), y);
			acc->sa = _mm512_dpbusd_epi32(acc->sa, ones, x);
		}
	}
}

/* Sum of the same field over the unrolled accumulators, into one int64;
 * within a block every partial sum fits in int32. */
#define IREDUCE(acc, f)                                                                    \
	((int64_t)_mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(acc[0].f, acc[1].f), \
							    _mm512_add_epi32(acc[2].f, acc[3].f))))

struct isum {
	int64_t s, na, nb, sa, sb;
};

INLINE void iblock(const void *a, const void *b, size_t i, size_t end, enum elem e, enum op op,
		   struct isum *t)
{
	struct iacc acc[IUNROLL];

	for (int u = 0; u < IUNROLL; u++)
		acc[u].s = acc[u].na = acc[u].nb = acc[u].sa = acc[u].sb = _mm512_setzero_si512();
	for (; i + IW * IUNROLL <= end; i += IW * IUNROLL)
		for (int u = 0; u < IUNROLL; u++)
			istep(&acc[u], _mm512_loadu_si512(bptr(a, i + IW * u)),
			      _mm512_loadu_si512(bptr(b, i + IW * u)), e, op);
	/* As in fkernel: the remainder spreads over the accumulators. */
	for (int u = 0; u < IUNROLL - 1 && i + IW <= end; u++, i += IW)
		istep(&acc[u], _mm512_loadu_si512(bptr(a, i)), _mm512_loadu_si512(bptr(b, i)), e, op);
	if (i < end) {
		__mmask64 m = (1ull << (end - i)) - 1;
		istep(&acc[IUNROLL - 1], _mm512_maskz_loadu_epi8(m, bptr(a, i)),
		      _mm512_maskz_loadu_epi8(m, bptr(b, i)), e, op);
	}
	t->s += IREDUCE(acc, s);
	if (op == OP_L2)
		return;
	t->sa += IREDUCE(acc, sa);
	t->sb += IREDUCE(acc, sb);
	if (op == OP_COS) {
		t->na += IREDUCE(acc, na);
		t->nb += IREDUCE(acc, nb);
	}
}

INLINE float ikernel(const void *a, const void *b, size_t dim, enum elem e, enum op op)
{
	struct isum t = { 0, 0, 0, 0, 0 };
	int64_t dot, na, nb;

	for (size_t i = 0; i < dim; i += DIST_INT_BLOCK)
		iblock(a, b, i, dim - i < DIST_INT_BLOCK ? dim : i + DIST_INT_BLOCK, e, op, &t);
	if (op == OP_L2)
		return (float)t.s;
	if (e == E_U8) {
		dot = t.s + 128 * t.sa;
		na = t.na + 128 * t.sa;
		nb = t.nb + 128 * t.sb;
	} else {
		dot = t.s - 128 * t.sb;
		na = t.na - 128 * t.sa;
		nb = t.nb - 128 * t.sb;
	}
	if (op == OP_IP)
		return (float)-dot;
	return dist_cos_finish((double)dot, (double)na, (double)nb);
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

static const struct dist_table avx512_table = {
	.l2 = { l2_f32, l2_u8, l2_i8, l2_f32u8, l2_f32i8 },
	.ip = { ip_f32, ip_u8, ip_i8, ip_f32u8, ip_f32i8 },
	.cos = { cos_f32, cos_u8, cos_i8, cos_f32u8, cos_f32i8 },
};

const struct dist_table *const dist_avx512_table = &avx512_table;
