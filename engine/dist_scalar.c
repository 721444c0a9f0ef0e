/*
 * dist_scalar.c — the scalar reference kernels.
 *
 * These are the oracle the SIMD kernels are tested against, so they are
 * written for obvious correctness: float sums in double, integer sums in
 * int64, no tricks.
 */
#include "dist_impl.h"

static float l2_f32(const void *a, const void *b, size_t dim)
{
	const float *x = a, *y = b;
	double s = 0;
	for (size_t i = 0; i < dim; i++) {
		double d = (double)x[i] - (double)y[i];
		s += d * d;
	}
	return (float)s;
}

static float ip_f32(const void *a, const void *b, size_t dim)
{
	const float *x = a, *y = b;
	double s = 0;
	for (size_t i = 0; i < dim; i++)
		s += (double)x[i] * (double)y[i];
	return (float)-s;
}

static float cos_f32(const void *a, const void *b, size_t dim)
{
	const float *x = a, *y = b;
	double dot = 0, na = 0, nb = 0;
	for (size_t i = 0; i < dim; i++) {
		dot += (double)x[i] * y[i];
		na += (double)x[i] * x[i];
		nb += (double)y[i] * y[i];
	}
	return dist_cos_finish(dot, na, nb);
}

/* One body per (query type, data type) pair, expanded by a macro so the
 * integer and mixed variants cannot drift apart from each other. */
#define SCALAR_KERNELS(NAME, TA, TB)                                             \
	static float l2_##NAME(const void *a, const void *b, size_t dim)         \
	{                                                                        \
		const TA *x = a;                                                 \
		const TB *y = b;                                                 \
		double s = 0;                                                    \
		for (size_t i = 0; i < dim; i++) {                               \
			double d = (double)x[i] - (double)y[i];                  \
			s += d * d;                                              \
		}                                                                \
		return (float)s;                                                 \
	}                                                                        \
	static float ip_##NAME(const void *a, const void *b, size_t dim)         \
	{                                                                        \
		const TA *x = a;                                                 \
		const TB *y = b;                                                 \
		double s = 0;                                                    \
		for (size_t i = 0; i < dim; i++)                                 \
			s += (double)x[i] * (double)y[i];                        \
		return (float)-s;                                                \
	}                                                                        \
	static float cos_##NAME(const void *a, const void *b, size_t dim)        \
	{                                                                        \
		const TA *x = a;                                                 \
		const TB *y = b;                                                 \
		double dot = 0, na = 0, nb = 0;                                  \
		for (size_t i = 0; i < dim; i++) {                               \
			dot += (double)x[i] * y[i];                              \
			na += (double)x[i] * x[i];                               \
			nb += (double)y[i] * y[i];                               \
		}                                                                \
		return dist_cos_finish(dot, na, nb);                                    \
	}

SCALAR_KERNELS(u8, uint8_t, uint8_t)
SCALAR_KERNELS(i8, int8_t, int8_t)
SCALAR_KERNELS(f32u8, float, uint8_t)
SCALAR_KERNELS(f32i8, float, int8_t)

const struct dist_table dist_scalar_table = {
	.l2 = { l2_f32, l2_u8, l2_i8, l2_f32u8, l2_f32i8 },
	.ip = { ip_f32, ip_u8, ip_i8, ip_f32u8, ip_f32i8 },
	.cos = { cos_f32, cos_u8, cos_i8, cos_f32u8, cos_f32i8 },
};
