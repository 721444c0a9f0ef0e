/*
 * dio_uring.c — the io_uring backend (liburing).
 *
 * Why each choice:
 *   - registered files: the kernel skips the file-table lookup and reference
 *     counting on every read;
 *   - registered (fixed) buffers: pages are pinned once at open instead of
 *     on every read; they count against RLIMIT_MEMLOCK, so a limit too low
 *     for the regions makes this backend unavailable (the brief says: say
 *     so and use the next backend, rather than run a slower io_uring);
 *   - COOP_TASKRUN + TASKRUN_FLAG: completions are posted when the thread
 *     next enters the kernel (every submit does) instead of interrupting it;
 *     a reap that finds the flag set makes one io_uring_enter to post them;
 *   - one io_uring_enter per submitted batch; reaping reads the completion
 *     ring in shared memory, so it makes no system call when completions
 *     are already there;
 *   - the ring's own descriptor is not registered (io_uring_register_ring_fd):
 *     that registration belongs to the calling thread, and a context may be
 *     opened on one thread and used on another;
 *   - SQPOLL (a kernel thread takes submissions) and IOPOLL (busy-polling
 *     NVMe poll queues) trade CPU for latency and need privileges or device
 *     support: off unless asked, and a refusal falls back to the plain ring.
 */
#include "dio_impl.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "../error.h"
#include "../log.h"

#define URING_CQE_BATCH 64u
#define URING_SQPOLL_IDLE_MS 1000u

struct uring_state {
	struct io_uring ring;
	unsigned setup_flags;
};

static unsigned long long memlock_kib(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return ~0ull;
	return (unsigned long long)rl.rlim_cur / 1024;
}

static const char *setup_cause(int rc, char *buf, size_t bytes)
{
	switch (rc) {
	case -ENOSYS: return "this kernel has no io_uring";
	case -EPERM: {
		FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
		int v = 0;

		if (f && fscanf(f, "%d", &v) == 1 && v > 0)
			snprintf(buf, bytes, "kernel.io_uring_disabled is %d", v);
		else
			snprintf(buf, bytes, "most likely a seccomp filter (container runtime)");
		if (f)
			fclose(f);
		return buf;
	}
	case -ENOMEM:
		snprintf(buf, bytes, "the ring's memory exceeds RLIMIT_MEMLOCK of %llu KiB (ulimit -l)", memlock_kib());
		return buf;
	case -EINVAL: return "setup flags not supported by this kernel";
	}
	return "unexpected";
}

/* Sets the ring up, dropping refused optional flags with a warning. */
static int ring_init(struct dio *d, struct uring_state *s, char *why, size_t why_bytes)
{
	const unsigned coop = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	unsigned flags = coop;
	char cause[96];
	int rc;

	if (d->flags & DIO_SQPOLL)
		flags = IORING_SETUP_SQPOLL; /* COOP_TASKRUN is not valid with SQPOLL */
	if (d->flags & DIO_IOPOLL)
		flags |= IORING_SETUP_IOPOLL;
	for (;;) {
		struct io_uring_params p;

		memset(&p, 0, sizeof p);
		p.flags = flags | IORING_SETUP_CQSIZE;
		p.cq_entries = 2 * d->depth;
		p.sq_thread_idle = URING_SQPOLL_IDLE_MS;
		rc = io_uring_queue_init_params(d->depth, &s->ring, &p);
		if (rc == 0)
			break;
		if (flags & (IORING_SETUP_SQPOLL | IORING_SETUP_IOPOLL)) {
			dann_log(DANN_LOG_WARN, "io", "io_uring with%s%s refused (%s); using a plain ring",
				 flags & IORING_SETUP_SQPOLL ? " SQPOLL" : "",
				 flags & IORING_SETUP_IOPOLL ? " IOPOLL" : "", strerror(-rc));
			flags = coop;
			continue;
		}
		if (rc == -EINVAL && (flags & coop)) {
			flags &= ~coop; /* kernels before 5.19 */
			continue;
		}
		snprintf(why, why_bytes, "io_uring_setup(%u entries) failed: %s (%s)", d->depth, strerror(-rc),
			 setup_cause(rc, cause, sizeof cause));
		return rc;
	}
	s->setup_flags = flags;
	return 0;
}

static int register_all(struct dio *d, struct uring_state *s, char *why, size_t why_bytes)
{
	struct iovec iov[DIO_MAX_BUF_REGIONS];
	size_t total = 0;
	int *fds, rc;

	if (!(fds = malloc(sizeof *fds * d->max_files))) {
		snprintf(why, why_bytes, "out of memory for %u file slots", d->max_files);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < d->max_files; i++)
		fds[i] = d->fds[i];
	rc = io_uring_register_files(&s->ring, fds, d->max_files);
	free(fds);
	if (rc < 0) {
		snprintf(why, why_bytes, "registering %u file slots failed: %s", d->max_files, strerror(-rc));
		return rc;
	}
	if (!d->nbufs)
		return 0;
	for (unsigned i = 0; i < d->nbufs; i++) {
		iov[i].iov_base = d->bufs[i].base;
		iov[i].iov_len = d->bufs[i].bytes;
		total += d->bufs[i].bytes;
	}
	if ((rc = io_uring_register_buffers(&s->ring, iov, d->nbufs)) < 0) {
		if (rc == -ENOMEM || rc == -EPERM)
			snprintf(why, why_bytes,
				 "registering %zu KiB of fixed buffers failed: %s; RLIMIT_MEMLOCK is %llu KiB "
				 "(raise `ulimit -l` or give smaller buffer regions)",
				 total / 1024, strerror(-rc), memlock_kib());
		else
			snprintf(why, why_bytes, "registering %zu KiB of fixed buffers failed: %s", total / 1024,
				 strerror(-rc));
		return rc;
	}
	return 0;
}

static void describe(struct dio *d, struct uring_state *s)
{
	size_t total = 0;

	for (unsigned i = 0; i < d->nbufs; i++)
		total += d->bufs[i].bytes;
	snprintf(d->desc, sizeof d->desc, "io_uring: depth %u, %u registered file slots, %u fixed buffer region%s (%zu KiB)%s%s%s",
		 d->depth, d->max_files, d->nbufs, d->nbufs == 1 ? "" : "s", total / 1024,
		 s->setup_flags & IORING_SETUP_COOP_TASKRUN ? ", COOP_TASKRUN" : "",
		 s->setup_flags & IORING_SETUP_SQPOLL ? ", SQPOLL on" : "",
		 s->setup_flags & IORING_SETUP_IOPOLL ? ", IOPOLL on" : "");
}

static int uring_start(struct dio *d, char *why, size_t why_bytes)
{
	struct uring_state *s = calloc(1, sizeof *s);
	int rc;

	if (!s) {
		snprintf(why, why_bytes, "out of memory");
		return -ENOMEM;
	}
	if ((rc = ring_init(d, s, why, why_bytes)) < 0) {
		free(s);
		return rc;
	}
	if ((rc = register_all(d, s, why, why_bytes)) < 0) {
		io_uring_queue_exit(&s->ring);
		free(s);
		return rc;
	}
	d->bstate = s;
	describe(d, s);
	return 0;
}

static void uring_stop(struct dio *d)
{
	struct uring_state *s = d->bstate;

	if (!s)
		return;
	io_uring_queue_exit(&s->ring);
	free(s);
	d->bstate = NULL;
}

static int uring_file_set(struct dio *d, uint32_t slot, int fd)
{
	struct uring_state *s = d->bstate;
	int rc = io_uring_register_files_update(&s->ring, slot, &fd, 1);

	if (rc < 0)
		return dann_fail(DANN_EIO, "io_uring: updating registered file slot %u to descriptor %d: %s", slot, fd,
				 strerror(-rc));
	return 0;
}

static int uring_flush(struct dio *d)
{
	struct uring_state *s = d->bstate;

	int rc;

	if (!io_uring_sq_ready(&s->ring))
		return 0;
	do {
		rc = io_uring_submit(&s->ring);
		d->stats.enters++;
	} while (rc == -EINTR);
	/* EAGAIN/EBUSY: the kernel is short of resources; the entries stay in
	 * the submission ring and the next flush or reap retries them. */
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
		return dann_fail(DANN_EIO, "io_uring_enter (submit): %s", strerror(-rc));
	return 0;
}

static int uring_queue(struct dio *d, uint32_t idx)
{
	struct uring_state *s = d->bstate;
	struct dio_op *op = &d->ops[idx];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe) {
		/* Cannot happen while ops <= SQ entries; be safe anyway. */
		if (uring_flush(d) < 0 || !(sqe = io_uring_get_sqe(&s->ring)))
			return -EBUSY;
	}
	if (op->region >= 0) {
		io_uring_prep_read_fixed(sqe, (int)op->file, op->buf + op->base, op->len - op->base,
					 op->off + op->base, op->region);
		d->stats.fixed_reads++;
	} else {
		io_uring_prep_read(sqe, (int)op->file, op->buf + op->base, op->len - op->base, op->off + op->base);
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, idx);
	return 0;
}

/* Hands the completions already in the ring to dio_complete, at most while
 * finished results have room. Returns how many. With COOP_TASKRUN, reads
 * the device has finished may still wait for the thread to enter the kernel
 * to be posted (the ring's TASKRUN flag says so): may_enter allows one
 * io_uring_enter for that; a caller about to wait passes 0, since its wait
 * enters anyway and one system call is cheaper than two. */
static unsigned drain_cq(struct dio *d, struct uring_state *s, int may_enter)
{
	struct io_uring_cqe *cqes[URING_CQE_BATCH];
	unsigned total = 0;

	for (;;) {
		unsigned room = d->draining ? URING_CQE_BATCH : d->ready_cap - d->nready;
		unsigned n;

		if (!room)
			break;
		if (room > URING_CQE_BATCH)
			room = URING_CQE_BATCH;
		if (!io_uring_cq_ready(&s->ring)) {
			if (!may_enter ||
			    !(IO_URING_READ_ONCE(*s->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
				break;
			d->stats.enters++; /* liburing's peek enters once to post them */
			may_enter = 0;
		}
		n = io_uring_peek_batch_cqe(&s->ring, cqes, room);
		if (!n)
			break;
		for (unsigned i = 0; i < n; i++)
			dio_complete(d, (uint32_t)io_uring_cqe_get_data64(cqes[i]), cqes[i]->res);
		io_uring_cq_advance(&s->ring, n);
		total += n;
	}
	return total;
}

static int uring_reap(struct dio *d, unsigned space, unsigned want, const struct timespec *deadline)
{
	struct uring_state *s = d->bstate;
	unsigned got = 0, inflight = d->depth - d->nfree;
	int rc;

	(void)space; /* drain_cq measures the room itself, requeues take none */
	if ((rc = uring_flush(d)) < 0)
		return rc;
	if (want > inflight)
		want = inflight;
	for (;;) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts;

		got += drain_cq(d, s, got >= want);
		if ((rc = uring_flush(d)) < 0)
			return rc;
		if (got >= want || (!d->draining && d->nready == d->ready_cap))
			break;
		if (deadline) {
			long ms = dio_ms_left(deadline);

			if (!ms)
				break;
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (ms % 1000) * 1000000L;
		}
		/* IOPOLL rings find completions only by entering; this waits
		 * for (and, polling, collects) the ones still missing. */
		rc = io_uring_wait_cqes(&s->ring, &cqe, want - got, deadline ? &ts : NULL, NULL);
		d->stats.enters++;
		if (rc == -ETIME)
			break;
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN)
			return dann_fail(DANN_EIO, "io_uring_enter (wait): %s", strerror(-rc));
	}
	if (!want && (s->setup_flags & IORING_SETUP_IOPOLL) && !got) {
		/* Non-blocking reap on a polled ring: poll the device once. */
		io_uring_get_events(&s->ring);
		d->stats.enters++;
		got += drain_cq(d, s, 0);
	}
	return (int)got;
}

const struct dio_backend_ops dio_uring_ops = {
	.id = DIO_BACKEND_URING,
	.name = "io_uring",
	.start = uring_start,
	.stop = uring_stop,
	.file_set = uring_file_set,
	.queue = uring_queue,
	.flush = uring_flush,
	.reap = uring_reap,
};
