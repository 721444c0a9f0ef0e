/*
 * blascpu.c — re-executing with OPENBLAS_CORETYPE when OpenBLAS guessed a
 * generic kernel (see blascpu.h).
 */
#include "blascpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

/* Kernels OpenBLAS falls back to when it does not recognise the CPU. */
static int generic_core(const char *name)
{
	static const char *generic[] = { "Prescott", "Core2", "Nehalem", "Sandybridge", "Katmai" };

	for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
		if (!strcasecmp(name, generic[i]))
			return 1;
	return 0;
}

const char *blascpu_wanted_core(void)
{
	const char *core = openblas_get_corename();

	if (getenv("OPENBLAS_CORETYPE") || !core || !generic_core(core))
		return NULL;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
		return strcasecmp(core, "SkylakeX") ? "SkylakeX" : NULL;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return strcasecmp(core, "Haswell") ? "Haswell" : NULL;
	return NULL;
}
