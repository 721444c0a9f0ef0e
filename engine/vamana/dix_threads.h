/*
 * dix_threads.h — one batch of queries fanned out over threads: the
 * beam search's batch (dix_search.c) and the filtered exact plan's
 * (dix_filter.c) both run here, so both start, stop and report the same.
 *
 * Threads take queries from one shared counter, so a thread that could
 * not be started only makes the batch slower; the caller's own thread is
 * the first worker. A worker that fails sets the counter past the end,
 * so the others stop after their current queries.
 */
#ifndef DANN_DIX_THREADS_H
#define DANN_DIX_THREADS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* One thread's share of a batch: claims queries from the counter the
 * caller gave dix_run_threads (shared through arg) until none is left,
 * writes a description of its I/O backend into io (io_cap bytes), and
 * frees what it made. 0 or a negative DANN_E* code with its message set
 * (the message must still be set when fn returns). */
typedef int (*dix_thread_fn)(void *arg, char *io, size_t io_cap);

/* Runs fn(arg) on `threads` threads (0 = 1; the caller's is one of
 * them) and waits for all. *next is the queries' shared counter and nq
 * their number: a failing worker stores nq into it. Returns the first
 * failure by thread order (its message restored on the calling thread),
 * DANN_ENOMEM, or DANN_EIO if a thread could not be started (the
 * started ones finish the batch's claimed queries first). The first
 * thread's I/O description goes to io_desc when it is not NULL. */
int dix_run_threads(uint32_t threads, dix_thread_fn fn, void *arg, _Atomic uint64_t *next,
		    uint64_t nq, char *io_desc, size_t io_desc_cap);

#endif
