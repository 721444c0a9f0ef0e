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
 * Integer kernels are exact and use vpdpbusd (u8 x s8, four products per
 * int32 lane) with the sign of one side flipped (v ^ 0x80):
 *   u8:  a * b = a * (b - 128) + 128 * a, b ^ 0x80 being b - 128 as s8;
 *   i8:  a * b = (a + 128) * b - 128 * b, a ^ 0x80 being a + 128 as u8;
 *   L2:  d = |a - b| as a byte (u8 or i8 alike), d^2 by the u8 rule;
 * the correction sums come from vpdpbusd against ones, in the same lanes,
 * so the bias comes off lane by lane before the one reduction. This beats
 * widening to 16 bits for vpdpwssd: fewer shuffles on the one shuffle port.
 * Zero padding from masked loads adds nothing to any of these sums. Lanes
 * are int32 within blocks of DIST_INT_BLOCK elements (see dist_impl.h) and
 * each block's total is added in int64.
 */
#include "dist_impl.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

enum op { OP_L2, OP_IP, OP_COS };
enum elem { E_F32, E_U8, E_I8 };

/* Floats per vector, vectors per loop trip in the float driver. */
#define FW 16
#define FUNROLL 4 /* the remainder code below assumes 4 */
/* Bytes per vector, vectors per loop trip in the integer driver. */
#define IW 64
#define IUNROLL 4 /* the remainder code below assumes 4 */

/* The accumulator set the k-th vector of an integer loop trip (0..3) goes
 * to. Four sets hide the 5-cycle vpdpbusd latency (the float driver uses
 * four throughout). Cosine keeps five sums per set; there two sets keep
 * the chains shorter than the trip's port time and all sums in registers. */
INLINE int islot(int k, enum op op)
{
	return op == OP_COS ? k % 2 : k;
}

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
	size_t i = 0, rest;

	for (int u = 0; u < FUNROLL; u++)
		acc[u].s = acc[u].na = acc[u].nb = _mm512_setzero_ps();
	for (; i + FW * FUNROLL <= dim; i += FW * FUNROLL)
		for (int u = 0; u < FUNROLL; u++)
			fstep(&acc[u], _mm512_loadu_ps(fptr(a, i + FW * u)), fload(b, i + FW * u, e), op);
	/* At most FUNROLL - 1 whole vectors remain, then a part of one: each
	 * goes to its own accumulator so short vectors have no long chain.
	 * Written out so the accumulators stay in registers. */
	rest = (dim - i) / FW;
	if (rest > 0)
		fstep(&acc[0], _mm512_loadu_ps(fptr(a, i)), fload(b, i, e), op);
	if (rest > 1)
		fstep(&acc[1], _mm512_loadu_ps(fptr(a, i + FW)), fload(b, i + FW, e), op);
	if (rest > 2)
		fstep(&acc[2], _mm512_loadu_ps(fptr(a, i + 2 * FW)), fload(b, i + 2 * FW, e), op);
	i += rest * FW;
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

/* int32 lanes of one accumulator set: the biased sums (s: L2 or dot; na,
 * nb: norms) and the byte sums that remove the bias. Lane j of every field
 * covers the same four bytes, so the bias comes off lane by lane. */
struct iacc {
	__m512i s, na, nb, sa, sb;
};

INLINE void istep(struct iacc *acc, __m512i x, __m512i y, enum elem e, enum op op)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);

	if (op == OP_L2) {
		/* d = |x - y| as a byte; d^2 = d * (d - 128) + 128 * d. */
		__m512i d;
		if (e == E_U8)
			d = _mm512_or_si512(_mm512_subs_epu8(x, y), _mm512_subs_epu8(y, x));
		else /* max - min wraps to |x - y| in 0..255 as a byte */
			d = _mm512_sub_epi8(_mm512_max_epi8(x, y), _mm512_min_epi8(x, y));
		acc->s = _mm512_dpbusd_epi32(acc->s, d, _mm512_xor_si512(d, flip));
		acc->sa = _mm512_dpbusd_epi32(acc->sa, d, ones);
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

/* One field summed over the accumulator sets. */
#define ISUM(acc, f) \
	_mm512_add_epi32(_mm512_add_epi32(acc[0].f, acc[1].f), _mm512_add_epi32(acc[2].f, acc[3].f))

/* The lanes of s with the bias 128 * sum added (sign +1) or taken away
 * (sign -1). Each lane is then an exact partial sum of the block, and
 * within a block every such sum fits in int32. */
INLINE int64_t unbias_sum(__m512i s, __m512i sum, int sign)
{
	__m512i bias = _mm512_slli_epi32(sum, 7);

	s = sign > 0 ? _mm512_add_epi32(s, bias) : _mm512_sub_epi32(s, bias);
	return _mm512_reduce_add_epi32(s);
}

struct isum {
	int64_t s, na, nb;
};

INLINE void iblock(const void *a, const void *b, size_t i, size_t end, enum elem e, enum op op,
		   struct isum *t)
{
	struct iacc acc[IUNROLL];
	size_t rest;
	int sign = op == OP_L2 || e == E_U8 ? 1 : -1;

	for (int u = 0; u < IUNROLL; u++)
		acc[u].s = acc[u].na = acc[u].nb = acc[u].sa = acc[u].sb = _mm512_setzero_si512();
	for (; i + IW * IUNROLL <= end; i += IW * IUNROLL)
		for (int u = 0; u < IUNROLL; u++)
			istep(&acc[islot(u, op)], _mm512_loadu_si512(bptr(a, i + IW * u)),
			      _mm512_loadu_si512(bptr(b, i + IW * u)), e, op);
	/* As in fkernel: the remainder spreads over the accumulators. */
	rest = (end - i) / IW;
	if (rest > 0)
		istep(&acc[islot(0, op)], _mm512_loadu_si512(bptr(a, i)), _mm512_loadu_si512(bptr(b, i)),
		      e, op);
	if (rest > 1)
		istep(&acc[islot(1, op)], _mm512_loadu_si512(bptr(a, i + IW)),
		      _mm512_loadu_si512(bptr(b, i + IW)), e, op);
	if (rest > 2)
		istep(&acc[islot(2, op)], _mm512_loadu_si512(bptr(a, i + 2 * IW)),
		      _mm512_loadu_si512(bptr(b, i + 2 * IW)), e, op);
	i += rest * IW;
	if (i < end) {
		__mmask64 m = (1ull << (end - i)) - 1;
		istep(&acc[islot(IUNROLL - 1, op)], _mm512_maskz_loadu_epi8(m, bptr(a, i)),
		      _mm512_maskz_loadu_epi8(m, bptr(b, i)), e, op);
	}
	/* L2 and u8 products carry -128 * (the u8 side: d, or a for the dot
	 * product); i8 products carry +128 * (the s8 side: b for the dot
	 * product); norms the vector itself. */
	t->s += unbias_sum(ISUM(acc, s), sign > 0 ? ISUM(acc, sa) : ISUM(acc, sb), sign);
	if (op == OP_COS) {
		t->na += unbias_sum(ISUM(acc, na), ISUM(acc, sa), sign);
		t->nb += unbias_sum(ISUM(acc, nb), ISUM(acc, sb), sign);
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

static const struct dist_table avx512_table = {
	.l2 = { l2_f32, l2_u8, l2_i8, l2_f32u8, l2_f32i8 },
	.ip = { ip_f32, ip_u8, ip_i8, ip_f32u8, ip_f32i8 },
	.cos = { cos_f32, cos_u8, cos_i8, cos_f32u8, cos_f32i8 },
};

const struct dist_table *const dist_avx512_table = &avx512_table;
