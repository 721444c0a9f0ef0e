/*
 * stop.h — cancellation and deadlines for long operations (builds): a
 * caller's flag and a CLOCK_MONOTONIC deadline, checked between phases
 * and every so often inside long loops, so that a server can stop a build
 * it no longer wants without killing the process.
 */
#ifndef DANN_STOP_H
#define DANN_STOP_H

#include <stdbool.h>
#include <stdint.h>

struct stop {
	const volatile int *cancel; /* nonzero: stop (NULL: never); read atomically */
	const _Atomic bool *flag;   /* the segment layer's stop flag (NULL: none) */
	uint64_t deadline_ns;       /* CLOCK_MONOTONIC; 0 = none */
};

/* 0 to go on; DANN_ECANCELED or DANN_ETIMEDOUT with a message naming
 * `what` (the operation and phase) to stop. s may be NULL (never stops). */
int stop_check(const struct stop *s, const char *what);

/* Nanoseconds on CLOCK_MONOTONIC, the clock deadlines are set on. */
uint64_t stop_now_ns(void);

#endif
