/*
 * dist.c — choosing the kernel table for this CPU (see dist.h).
 *
 * The choice is made once and cached; the hot path calls the returned
 * function pointer directly and never comes back here.
 */
#include "dist_impl.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int dist_cpu_has(enum dist_level l)
{
	switch (l) {
	case DIST_SCALAR:
		return 1;
	case DIST_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case DIST_AVX512:
		__builtin_cpu_init();
		/* Every extension the *_avx512.c files (distance and PQ kernels)
		 * are compiled with (CMakeLists.txt): the compiler may use any
		 * of them anywhere in those files. */
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
		       __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma");
	default:
		return 0;
	}
}

static const struct dist_table *table_of(enum dist_level l)
{
	switch (l) {
	case DIST_SCALAR: return &dist_scalar_table;
	case DIST_AVX2: return dist_avx2_table;
	case DIST_AVX512: return dist_avx512_table;
	default: return NULL;
	}
}

int dist_level_supported(enum dist_level l)
{
	return l < DIST_NLEVELS && table_of(l) != NULL && dist_cpu_has(l);
}

const char *dist_level_name(enum dist_level l)
{
	static const char *names[] = { "scalar", "avx2", "avx512" };
	return l < DIST_NLEVELS ? names[l] : "?";
}

enum dist_level dist_level_cap(void)
{
	const char *env = getenv("DANN_SIMD");

	if (env)
		for (int l = DIST_SCALAR; l < DIST_NLEVELS; l++)
			if (!strcmp(env, dist_level_name((enum dist_level)l)))
				return (enum dist_level)l;
	return DIST_AVX512;
}

static enum dist_level detect_level(void)
{
	enum dist_level l;

	for (l = dist_level_cap(); l > DIST_SCALAR; l--)
		if (dist_level_supported(l))
			return l;
	return DIST_SCALAR;
}

enum dist_level dist_best_level(void)
{
	static atomic_int cached = -1;
	int l = atomic_load_explicit(&cached, memory_order_relaxed);

	if (l < 0) {
		l = (int)detect_level();
		atomic_store_explicit(&cached, l, memory_order_relaxed);
	}
	return (enum dist_level)l;
}

static int pair_of(enum dann_dtype q, enum dann_dtype d)
{
	if (q == DANN_DTYPE_F32 && d == DANN_DTYPE_F32) return DIST_F32;
	if (q == DANN_DTYPE_U8 && d == DANN_DTYPE_U8) return DIST_U8;
	if (q == DANN_DTYPE_I8 && d == DANN_DTYPE_I8) return DIST_I8;
	if (q == DANN_DTYPE_F32 && d == DANN_DTYPE_U8) return DIST_F32_U8;
	if (q == DANN_DTYPE_F32 && d == DANN_DTYPE_I8) return DIST_F32_I8;
	return -1;
}

static dist_fn entry(const struct dist_table *t, enum dann_metric m, int pair)
{
	switch (m) {
	case DANN_METRIC_L2: return t->l2[pair];
	case DANN_METRIC_IP: return t->ip[pair];
	case DANN_METRIC_COSINE: return t->cos[pair];
	}
	return NULL;
}

dist_fn dist_kernel_at(enum dist_level level, enum dann_metric metric,
		       enum dann_dtype qtype, enum dann_dtype dtype)
{
	int pair = pair_of(qtype, dtype);

	if (pair < 0 || !dist_level_supported(level))
		return NULL;
	/* Fall back level by level for entries a table leaves NULL. */
	for (int l = (int)level; l >= 0; l--) {
		const struct dist_table *t = table_of((enum dist_level)l);
		dist_fn f = t ? entry(t, metric, pair) : NULL;
		if (f)
			return f;
	}
	return NULL;
}

dist_fn dist_kernel(enum dann_metric metric, enum dann_dtype qtype, enum dann_dtype dtype)
{
	return dist_kernel_at(dist_best_level(), metric, qtype, dtype);
}

float dist_norm2_f32(const float *a, size_t dim)
{
	dist_fn ip = dist_kernel(DANN_METRIC_IP, DANN_DTYPE_F32, DANN_DTYPE_F32);

	return -ip(a, a, dim);
}
