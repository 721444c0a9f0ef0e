/*
 * dio_impl.h — what the common part of engine/io shares with its backends.
 *
 * The common part (dio.c) owns every per-read record: a fixed array of ops,
 * a stack of free ones and a queue of finished results waiting for
 * dio_reap. A backend only moves attempts to the kernel and back: queue()
 * prepares the attempt an op describes, flush() starts what was queued,
 * reap() hands each kernel result to dio_complete(), which decides whether
 * the read is finished, needs the rest read (short read) or needs a retry.
 *
 * Invariants: ops in use + free ops = depth; an op in use is either in the
 * kernel or queued for it; finished results never exceed depth (ready_cap),
 * which is what bounds dio_submit's backpressure.
 */
#ifndef DANN_DIO_IMPL_H
#define DANN_DIO_IMPL_H

#include <time.h>

#include "dio.h"

/* One read in flight. An attempt reads [base, len) of the request; after a
 * short read, base moves to the last whole sector read so O_DIRECT's
 * alignment still holds for the rest. */
struct dio_op {
	uint64_t tag;
	uint64_t off;
	char *buf;
	uint32_t len;
	uint32_t file;
	uint32_t base;    /* start of the current attempt within the request */
	uint32_t got;     /* bytes known to be read */
	uint16_t retries; /* EINTR/EAGAIN attempts so far */
	int16_t region;   /* registered buffer index, -1 if none */
};

struct dio_backend_ops {
	enum dio_backend id;
	const char *name; /* "io_uring", "libaio", "pread" */
	/* Sets up the backend's kernel state for d (depth, files, buffers).
	 * Returns 0, or a negative errno with why filled in (one sentence naming
	 * the call, the errno and the likely cause). Must undo itself on error. */
	int (*start)(struct dio *d, char *why, size_t why_bytes);
	void (*stop)(struct dio *d);
	/* Points slot at fd (-1 empties it). Returns 0 or a DANN_E* code. */
	int (*file_set)(struct dio *d, uint32_t slot, int fd);
	/* Prepares the current attempt of op idx; space is guaranteed. Returns 0
	 * or a negative errno to finish the read with. */
	int (*queue)(struct dio *d, uint32_t idx);
	/* Starts queued attempts. Returns 0 or DANN_EIO. */
	int (*flush)(struct dio *d);
	/* Hands at most space kernel results to dio_complete. want > 0: blocks
	 * until at least want results were handed over or deadline (absolute
	 * CLOCK_MONOTONIC, NULL: none) passes. Returns results handed over, or
	 * DANN_EIO. */
	int (*reap)(struct dio *d, unsigned space, unsigned want, const struct timespec *deadline);
};

struct dio {
	const struct dio_backend_ops *be;
	void *bstate; /* the backend's own state */
	unsigned depth;
	unsigned flags;
	uint32_t max_files;
	int *fds; /* our duplicate per slot, -1 when empty */

	struct dio_op *ops;
	uint32_t *free_ops; /* stack of free op indices */
	unsigned nfree;

	struct dio_cqe *ready; /* ring buffer of finished results */
	unsigned ready_cap, ready_head, nready;

	struct dio_buf_region bufs[DIO_MAX_BUF_REGIONS];
	unsigned nbufs;

	dio_fault_fn fault;
	dio_start_fault_fn start_fault;
	void *fault_arg;
	int draining; /* dio_close: finished results are dropped */
	unsigned drained;

	struct dio_stats stats;
	char desc[DIO_REASON_BYTES];
};

/* Acts on one kernel result for op idx (see the file comment). */
void dio_complete(struct dio *d, uint32_t idx, int64_t res);

/* Milliseconds from now to deadline, clamped to [0, INT_MAX]. */
long dio_ms_left(const struct timespec *deadline);

extern const struct dio_backend_ops dio_uring_ops;
extern const struct dio_backend_ops dio_aio_ops;
extern const struct dio_backend_ops dio_pread_ops;

#endif
