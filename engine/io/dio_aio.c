/*
 * dio_aio.c — the libaio backend: io_submit / io_getevents.
 *
 * Linux native AIO is asynchronous only with O_DIRECT (buffered reads run
 * inside io_submit), which is the engine's normal case. One iocb per op,
 * indexed like the ops, so nothing is allocated per read. io_submit may take
 * fewer iocbs than offered: the rest stay queued and go with the next flush;
 * when it refuses the first one outright, that read alone fails.
 */
#include "dio_impl.h"

#include <errno.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../error.h"

/* Pause before retrying a submission the kernel refused with EAGAIN while
 * none of this context's reads were in flight. */
#define AIO_EAGAIN_PAUSE_NS 1000000L /* 1 ms */

struct aio_state {
	io_context_t ctx;
	struct iocb *iocbs;     /* [depth], iocbs[i] belongs to ops[i] */
	struct iocb **pend;     /* [depth], queued and not yet taken by the kernel */
	unsigned npend;
	unsigned inkernel;      /* taken by io_submit, not yet reaped */
	struct io_event *events; /* [depth] */
};

static void aio_free_state(struct aio_state *s)
{
	if (!s)
		return;
	free(s->iocbs);
	free(s->pend);
	free(s->events);
	free(s);
}

static int aio_start(struct dio *d, char *why, size_t why_bytes)
{
	struct aio_state *s = calloc(1, sizeof *s);
	int rc;

	if (!s || !(s->iocbs = calloc(d->depth, sizeof *s->iocbs)) ||
	    !(s->pend = malloc(sizeof *s->pend * d->depth)) || !(s->events = malloc(sizeof *s->events * d->depth))) {
		aio_free_state(s);
		snprintf(why, why_bytes, "out of memory for %u iocbs", d->depth);
		return -ENOMEM;
	}
	if ((rc = io_setup((int)d->depth, &s->ctx)) < 0) {
		const char *cause = rc == -ENOSYS ? "the kernel has no native AIO"
				  : rc == -EPERM  ? "refused, most likely by a seccomp filter"
				  : rc == -EAGAIN ? "more than /proc/sys/fs/aio-max-nr events in use"
						  : "unexpected";
		snprintf(why, why_bytes, "io_setup(%u) failed: %s (%s)", d->depth, strerror(-rc), cause);
		aio_free_state(s);
		return rc;
	}
	d->bstate = s;
	snprintf(d->desc, sizeof d->desc, "libaio: depth %u", d->depth);
	if (d->flags)
		snprintf(d->desc + strlen(d->desc), sizeof d->desc - strlen(d->desc),
			 "; SQPOLL/IOPOLL ignored (io_uring only)");
	return 0;
}

static void aio_stop(struct dio *d)
{
	struct aio_state *s = d->bstate;

	if (!s)
		return;
	io_destroy(s->ctx);
	aio_free_state(s);
	d->bstate = NULL;
}

static int aio_file_set(struct dio *d, uint32_t slot, int fd)
{
	(void)d;
	(void)slot;
	(void)fd;
	return 0;
}

static int aio_queue(struct dio *d, uint32_t idx)
{
	struct aio_state *s = d->bstate;
	struct dio_op *op = &d->ops[idx];
	struct iocb *cb = &s->iocbs[idx];

	io_prep_pread(cb, d->fds[op->file], op->buf + op->base, op->len - op->base, (long long)(op->off + op->base));
	cb->data = (void *)(uintptr_t)idx;
	s->pend[s->npend++] = cb;
	return 0;
}

static int aio_flush(struct dio *d)
{
	struct aio_state *s = d->bstate;

	while (s->npend) {
		int rc = io_submit(s->ctx, (long)s->npend, s->pend);

		d->stats.enters++;
		if (rc == -EINTR)
			continue;
		if (rc == -EAGAIN && s->inkernel > 0)
			break; /* kernel out of resources: retried after the next reap */
		if (rc == -EAGAIN) {
			/* Nothing of ours in flight will free resources, so the
			 * next reap has nothing to wait for: waiting here would
			 * spin. The first read takes an EAGAIN attempt (bounded
			 * by DIO_MAX_RETRIES, then it fails with -EAGAIN) after
			 * a pause that lets other users of AIO finish. */
			uint32_t idx = (uint32_t)(uintptr_t)s->pend[0]->data;
			struct timespec pause = { 0, AIO_EAGAIN_PAUSE_NS };

			memmove(s->pend, s->pend + 1, sizeof *s->pend * --s->npend);
			nanosleep(&pause, NULL);
			dio_complete(d, idx, -EAGAIN);
			continue;
		}
		if (rc < 0) {
			/* The first iocb was refused (bad descriptor, bad
			 * range): that read fails, the others go on. */
			uint32_t idx = (uint32_t)(uintptr_t)s->pend[0]->data;

			memmove(s->pend, s->pend + 1, sizeof *s->pend * --s->npend);
			dio_complete(d, idx, rc);
			continue;
		}
		s->inkernel += (unsigned)rc;
		s->npend -= (unsigned)rc;
		memmove(s->pend, s->pend + rc, sizeof *s->pend * s->npend);
	}
	return 0;
}

static int aio_reap(struct dio *d, unsigned space, unsigned want, const struct timespec *deadline)
{
	struct aio_state *s = d->bstate;
	struct timespec ts = { 0, 0 };
	unsigned nr = space < d->depth ? space : d->depth;
	int n;

	aio_flush(d);
	if (want > s->inkernel)
		want = s->inkernel;
	if (want > nr)
		want = nr;
	if (!nr || (!s->inkernel))
		return 0;
	if (want && deadline) {
		long ms = dio_ms_left(deadline);

		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
	}
	n = io_getevents(s->ctx, (long)want, (long)nr, s->events, want && !deadline ? NULL : &ts);
	d->stats.enters++;
	if (n == -EINTR)
		return 0;
	if (n < 0)
		return dann_fail(DANN_EIO, "io_getevents: %s", strerror(-n));
	s->inkernel -= (unsigned)n;
	for (int i = 0; i < n; i++) {
		uint32_t idx = (uint32_t)(uintptr_t)s->events[i].data;

		dio_complete(d, idx, (int64_t)(long)s->events[i].res);
	}
	aio_flush(d);
	return n;
}

const struct dio_backend_ops dio_aio_ops = {
	.id = DIO_BACKEND_AIO,
	.name = "libaio",
	.start = aio_start,
	.stop = aio_stop,
	.file_set = aio_file_set,
	.queue = aio_queue,
	.flush = aio_flush,
	.reap = aio_reap,
};
