/*
 * runenv.h — the process environment the dann CLI runs best in.
 *
 * Two libraries read their settings only once, when they load, so the CLI
 * fixes the environment and re-executes itself once before any command
 * runs:
 *   - OMP_WAIT_POLICY=passive: idle OpenMP workers sleep instead of
 *     spinning. Spinning workers steal the cores that search threads and
 *     other processes need; on a busy 2-core machine they made a build 10x
 *     slower. An explicit setting in the environment is kept.
 *   - OPENBLAS_CORETYPE, when OpenBLAS did not recognise the CPU and chose a
 *     generic kernel (see blascpu.h).
 */
#ifndef DANN_RUNENV_H
#define DANN_RUNENV_H

/* Sets what is missing and re-executes the binary with the same argv;
 * returns when nothing needed doing, after the re-exec (DANN_RUNENV_DONE
 * marks it, so it happens at most once), or if exec failed. */
void runenv_ensure(char **argv);

#endif
