/*
 * dio.h — asynchronous sector reads from SSD: one interface, three backends.
 *
 * Module engine/io (prefix dio_): starts at this header; dio.c is the
 * backend-independent core (queueing, retries, short reads, fault hooks),
 * dio_uring.c / dio_aio.c / dio_pread.c the backends behind dio_impl.h,
 * dio_file.c opening files for O_DIRECT. It ends at the bytes of a read:
 * what a sector holds is the caller's (engine/vamana). Uses only engine/.
 *
 * A context (struct dio, "a ring") belongs to one thread at a time. The
 * thread submits batches of reads, each {file slot, offset, length, buffer,
 * tag}, and reaps completions as they arrive, each {tag, result}; results
 * come back in completion order, not submission order. Nothing on the path
 * of a read allocates: every per-read record is made at dio_open.
 *
 * Backends, chosen once at dio_open:
 *   io_uring  (liburing) registered files, registered (fixed) buffers for
 *             reads that land in the regions given at open, one system call
 *             per submitted batch, completions reaped from the shared ring
 *             without a system call when they are already there; SQPOLL and
 *             IOPOLL on request only;
 *   libaio    io_submit / io_getevents;
 *   pread     synchronous: a read runs during dio_submit and its completion
 *             waits for dio_reap. For sandboxes where neither async API works.
 * Order of choice: $DANN_IO (uring | aio | pread) or dio_opts.backend names
 * the first one to try; io_uring, then libaio, then pread otherwise. A backend
 * that cannot start (ENOSYS: kernel without it; EPERM: seccomp in container
 * runtimes or kernel.io_uring_disabled; ENOMEM: RLIMIT_MEMLOCK too low for the
 * registered buffers) is reported through dann_log, naming which and why,
 * and the next one is used.
 *
 * The contract every backend keeps:
 *   - offsets, lengths and buffer addresses are multiples of DIO_ALIGN; a
 *     batch with a request that is not is rejected whole (DANN_EINVAL naming
 *     the request and the value) and nothing of it is queued;
 *   - a result is the number of bytes read, equal to the length except at
 *     end of file (0 at or past it), or a negative errno for that request
 *     alone; the context stays usable after any per-request error;
 *   - short reads are completed by reading the rest; EINTR and EAGAIN are
 *     retried (up to DIO_MAX_RETRIES times per read);
 *   - more reads than the depth: dio_submit waits for completions to make
 *     room (they are kept for dio_reap) instead of failing;
 *   - dio_close waits for reads still in flight, so their buffers may be
 *     freed as soon as it returns.
 *
 * Use by a search thread that keeps many queries in flight:
 *   open:   one buffer arena (dann_aligned_alloc) given as dio_opts.bufs,
 *           dio_open, dio_file_add(index fd) -> slot;
 *   round:  dio_submit(d, reqs, W) with tag = (query << 16) | beam position;
 *   loop:   n = dio_reap(d, cqes, max, 0, 0) takes whatever has finished,
 *           without waiting; dio_reap(d, cqes, max, 1, -1) when the thread
 *           has nothing else to do; each cqe's tag says which query to step.
 */
#ifndef DANN_DIO_H
#define DANN_DIO_H

#include <stddef.h>
#include <stdint.h>

#include "../dann.h"

#define DIO_ALIGN 4096u             /* offsets, lengths, buffers: multiples of this */
#define DIO_DEFAULT_DEPTH 256u      /* reads in flight per context */
#define DIO_MAX_DEPTH 32768u
#define DIO_DEFAULT_FILES 16u       /* file slots per context */
#define DIO_MAX_FILES 4096u
#define DIO_MAX_READ_BYTES (1u << 30) /* one request reads at most 1 GiB */
#define DIO_MAX_BUF_REGIONS 16u
#define DIO_MAX_RETRIES 64u         /* EINTR/EAGAIN attempts per read */
#define DIO_ENV "DANN_IO"           /* forces the first backend to try */

enum dio_backend {
	DIO_BACKEND_AUTO = 0, /* $DANN_IO if set, else io_uring first */
	DIO_BACKEND_URING = 1,
	DIO_BACKEND_AIO = 2,
	DIO_BACKEND_PREAD = 3,
};
#define DIO_NBACKENDS 4

/* dio_opts.flags (io_uring only; ignored with a note by the others). */
#define DIO_SQPOLL 0x1u /* a kernel thread polls the submission queue */
#define DIO_IOPOLL 0x2u /* busy-poll the device for completions (NVMe poll queues) */

/* A memory region that reads may land in; with io_uring it is registered as
 * a fixed buffer, which spares the kernel pinning pages on every read. */
struct dio_buf_region {
	void *base;   /* DIO_ALIGN-aligned */
	size_t bytes; /* multiple of DIO_ALIGN, at most 1 GiB */
};

/* One read. file is a slot from dio_file_add; the ring never reads or
 * writes buf outside [buf, buf + len) and owns it until the completion with
 * this tag has been reaped (or dio_close has returned). */
struct dio_req {
	uint64_t tag;  /* returned as is with the completion */
	uint64_t off;  /* byte offset in the file, multiple of DIO_ALIGN */
	void *buf;     /* DIO_ALIGN-aligned */
	uint32_t len;  /* 1..DIO_MAX_READ_BYTES, multiple of DIO_ALIGN */
	uint32_t file; /* slot < dio_opts.max_files */
};

/* One completion: res >= 0 is the byte count (< len only at end of file),
 * res < 0 a negative errno (-EBADF for an empty slot, -EIO from the device). */
struct dio_cqe {
	uint64_t tag;
	int64_t res;
};

/* Fault injection for tests: called with each attempt's kernel result before
 * the ring acts on it, returns the result to act on. attempt describes the
 * part of the request this attempt read (after a short read, the rest). A
 * hook may scribble over attempt->buf to make a faked short read or error
 * visible in the bytes. NULL in production. */
typedef int64_t (*dio_fault_fn)(void *arg, const struct dio_req *attempt, int64_t res);
/* Fault injection for tests: called before backend b starts; nonzero makes
 * it fail to start as if the kernel had refused it. NULL in production. */
typedef int (*dio_start_fault_fn)(void *arg, enum dio_backend b);

struct dio_opts {
	enum dio_backend backend;            /* first backend to try */
	unsigned depth;                      /* 0: DIO_DEFAULT_DEPTH */
	unsigned max_files;                  /* 0: DIO_DEFAULT_FILES */
	unsigned flags;                      /* DIO_SQPOLL | DIO_IOPOLL */
	const struct dio_buf_region *bufs;   /* optional; copied at open */
	unsigned nbufs;                      /* <= DIO_MAX_BUF_REGIONS */
	dio_fault_fn fault;                  /* tests only */
	dio_start_fault_fn start_fault;      /* tests only */
	void *fault_arg;                     /* passed to both hooks */
};

struct dio;

/* Counters of one context since dio_open. */
struct dio_stats {
	uint64_t submitted;   /* requests accepted by dio_submit */
	uint64_t completed;   /* completions handed to dio_reap's caller */
	uint64_t failed;      /* of those, with res < 0 */
	uint64_t resubmitted; /* attempts after a short read */
	uint64_t retried;     /* attempts after EINTR/EAGAIN */
	uint64_t fixed_reads; /* io_uring reads through a registered buffer */
	uint64_t enters;      /* system calls made to submit or wait */
};

/* Opens a context. opts NULL means all defaults. Fails with DANN_EINVAL for
 * bad options or a bad $DANN_IO, DANN_ENOMEM; a backend that cannot start is
 * not a failure (the next one is used and the log says why) unless it is
 * the last (pread, which fails only without memory): then DANN_ENOMEM, or
 * DANN_EUNSUPPORTED, with its reason. */
int dio_open(const struct dio_opts *opts, struct dio **out);

/* Waits for every read still in flight (their results are dropped), then
 * frees the context and its file slots. NULL is a no-op. Returns the number
 * of reads that were drained. */
unsigned dio_close(struct dio *d);

/* Puts a duplicate of fd in a free slot; the context reads through its own
 * duplicate, so the caller may close fd at once. DANN_EINVAL if fd is not an
 * open descriptor, DANN_EBUSY if all slots are taken. */
int dio_file_add(struct dio *d, int fd, uint32_t *slot);

/* Empties a slot; reads already submitted to it still complete, later ones
 * fail with -EBADF. DANN_EINVAL for a slot out of range or already empty. */
int dio_file_remove(struct dio *d, uint32_t slot);

/* Queues n reads and starts them (one system call per batch with io_uring).
 * When all depth reads are in flight it waits for some to finish and keeps
 * their results for dio_reap. Returns the number accepted: n, unless depth
 * finished results are already waiting to be reaped with the ring full, in
 * which case only the first k < n are accepted and the caller reaps before
 * submitting the rest (k may be 0). A request on an empty slot is accepted
 * and completes with -EBADF. Negative DANN_EINVAL if any request is
 * malformed (nothing is queued then), DANN_EIO if the kernel interface
 * itself fails. */
int dio_submit(struct dio *d, const struct dio_req *reqs, unsigned n);

/* Moves up to max completions into out and returns how many. Waits until at
 * least min are available (min is clamped to the reads outstanding) or
 * timeout_ms has passed (negative: no limit); min 0 never blocks and, with
 * io_uring, makes no system call when completions are already posted.
 * Negative DANN_EIO only if the kernel interface itself fails. */
int dio_reap(struct dio *d, struct dio_cqe *out, unsigned max, unsigned min, int timeout_ms);

/* Reads submitted and not yet reaped (in flight or completed). */
unsigned dio_pending(const struct dio *d);

/* The backend this context runs on, and a one-line description of it and
 * its features ("io_uring: depth 256, 1 fixed buffer region, COOP_TASKRUN"). */
enum dio_backend dio_backend_of(const struct dio *d);
const char *dio_describe(const struct dio *d);
void dio_stats_get(const struct dio *d, struct dio_stats *out);

/* "auto", "uring", "aio", "pread". */
const char *dio_backend_name(enum dio_backend b);
/* Parses the names above (also "io_uring", "libaio"); DANN_EINVAL naming
 * the text and the accepted values otherwise. */
int dio_backend_parse(const char *s, enum dio_backend *out);

/* What dio_open would choose with these options, and why, without keeping
 * anything open: each backend is tried for real (a ring set up, registered
 * buffers of opts->bufs' size, an aio context) and torn down. */
#define DIO_REASON_BYTES 256
struct dio_probe {
	enum dio_backend chosen;
	char why[DIO_REASON_BYTES];                  /* the sentence `dann info --io` prints */
	int available[DIO_NBACKENDS];                /* by enum value; [0] unused */
	char reason[DIO_NBACKENDS][DIO_REASON_BYTES]; /* "ok: ..." or why not */
};
int dio_probe(const struct dio_opts *opts, struct dio_probe *out);

/* A file opened for direct reads: O_DIRECT, or buffered when the filesystem
 * refuses O_DIRECT (the log warns once per process and says which file). */
struct dio_file {
	int fd;
	int direct;     /* 1 if O_DIRECT is on */
	uint64_t bytes; /* size at open */
};

/* Opens path read-only. DANN_ENOTFOUND if it does not exist, DANN_EIO for
 * other failures, each naming the path. */
int dio_file_open(const char *path, struct dio_file *out);
/* Closes the descriptor and sets fd to -1; a struct with fd < 0 is left
 * alone, so closing twice is safe. */
void dio_file_close(struct dio_file *f);

#endif
