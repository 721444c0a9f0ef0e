/*
 * blascpu.h — making OpenBLAS use this CPU's fast kernels.
 *
 * OpenBLAS picks its kernels once, when it loads, from the CPU model. A
 * release older than the CPU does not know it and falls back to a generic
 * SSE3 kernel ("Prescott"), 3-4x slower on an AVX-512 machine (Debian
 * bookworm's 0.3.21 does this on Sapphire/Emerald Rapids). The only cure is
 * OPENBLAS_CORETYPE in the environment before the library loads, so a
 * command that leans on sgemm re-executes itself once with it set.
 */
#ifndef DANN_BLASCPU_H
#define DANN_BLASCPU_H

/* The OPENBLAS_CORETYPE this process should run with: "SkylakeX" (or
 * "Haswell") when OpenBLAS chose a generic kernel on a CPU with AVX-512 (or
 * AVX2) and OPENBLAS_CORETYPE is unset; NULL when nothing needs doing. The
 * CLI applies it for every command through runenv_ensure. */
const char *blascpu_wanted_core(void);

#endif
