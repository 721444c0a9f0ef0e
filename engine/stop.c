/*
 * stop.c — the cancellation and deadline check (see stop.h).
 */
#include "stop.h"

#include <stdatomic.h>
#include <time.h>

#include "error.h"

uint64_t stop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int stop_check(const struct stop *s, const char *what)
{
	uint64_t t;

	if (!s)
		return 0;
	/* An atomic load: the flag is set by another thread while this one
	 * runs (a plain read of it is a data race, which TSan reports). */
	if ((s->cancel && __atomic_load_n(s->cancel, __ATOMIC_RELAXED)) ||
	    (s->flag && atomic_load_explicit(s->flag, memory_order_relaxed)))
		return dann_fail(DANN_ECANCELED, "%s: canceled by the caller", what);
	if (s->deadline_ns && (t = stop_now_ns()) >= s->deadline_ns)
		return dann_fail(DANN_ETIMEDOUT, "%s: past its deadline by %llu ms", what,
				 (unsigned long long)(t - s->deadline_ns) / 1000000);
	return 0;
}
