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

void blascpu_ensure(int argc, char **argv)
{
	const char *core = openblas_get_corename(), *want = NULL;
	char **args;

	if (getenv("OPENBLAS_CORETYPE") || !core || !generic_core(core))
		return;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
		want = "SkylakeX";
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		want = "Haswell";
	if (!want || !strcasecmp(core, want))
		return;
	if (!(args = calloc((size_t)argc + 2, sizeof *args)))
		return;
	args[0] = "dann";
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	fprintf(stderr, "dann %s: OpenBLAS chose its generic %s kernel for this CPU; "
			"running again with OPENBLAS_CORETYPE=%s\n", argv[0], core, want);
	setenv("OPENBLAS_CORETYPE", want, 1);
	execv("/proc/self/exe", args);
	/* exec failed: carry on with the slow kernel rather than not at all. */
	unsetenv("OPENBLAS_CORETYPE");
	free(args);
}
