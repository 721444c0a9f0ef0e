/*
 * dio_pread.c — the synchronous backend: pread(2), one read at a time.
 *
 * For kernels or sandboxes where neither io_uring nor libaio works. It keeps
 * the asynchronous contract: dio_submit runs the reads (as many as there is
 * room for finished results) and dio_reap returns them. Queue depth is
 * effectively 1, which is the price of having no async API.
 */
#include "dio_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A FIFO of op indices waiting to run; at most depth of them. */
struct pread_state {
	uint32_t *q;
	unsigned head, n;
};

static int pread_start(struct dio *d, char *why, size_t why_bytes)
{
	struct pread_state *s = calloc(1, sizeof *s);

	if (!s || !(s->q = malloc(sizeof *s->q * d->depth))) {
		free(s);
		snprintf(why, why_bytes, "out of memory for %u queued reads", d->depth);
		return -ENOMEM;
	}
	d->bstate = s;
	snprintf(d->desc, sizeof d->desc, "pread: synchronous reads, depth %u accepted, 1 in flight", d->depth);
	if (d->flags)
		snprintf(d->desc + strlen(d->desc), sizeof d->desc - strlen(d->desc),
			 "; SQPOLL/IOPOLL ignored (io_uring only)");
	return 0;
}

static void pread_stop(struct dio *d)
{
	struct pread_state *s = d->bstate;

	if (s)
		free(s->q);
	free(s);
	d->bstate = NULL;
}

static int pread_file_set(struct dio *d, uint32_t slot, int fd)
{
	(void)d;
	(void)slot;
	(void)fd;
	return 0;
}

static int pread_queue(struct dio *d, uint32_t idx)
{
	struct pread_state *s = d->bstate;
	unsigned tail = s->head + s->n;

	if (tail >= d->depth)
		tail -= d->depth;
	s->q[tail] = idx;
	s->n++;
	return 0;
}

/* Runs queued reads while their results have somewhere to go. A retry or
 * the rest of a short read goes to the back of the queue and runs in the
 * same loop. */
static int pread_run(struct dio *d, unsigned space)
{
	struct pread_state *s = d->bstate;
	int done = 0;

	while (s->n && d->nready < d->ready_cap && space) {
		uint32_t idx = s->q[s->head];
		struct dio_op *op = &d->ops[idx];
		unsigned before = d->nready;
		ssize_t r;

		if (++s->head == d->depth)
			s->head = 0;
		s->n--;
		r = pread(d->fds[op->file], op->buf + op->base, op->len - op->base, (off_t)(op->off + op->base));
		d->stats.enters++;
		dio_complete(d, idx, r < 0 ? -errno : r);
		done++;
		if (d->nready > before)
			space--;
	}
	return done;
}

static int pread_flush(struct dio *d)
{
	pread_run(d, d->ready_cap - d->nready);
	return 0;
}

static int pread_reap(struct dio *d, unsigned space, unsigned want, const struct timespec *deadline)
{
	(void)want;
	(void)deadline;
	return pread_run(d, space);
}

const struct dio_backend_ops dio_pread_ops = {
	.id = DIO_BACKEND_PREAD,
	.name = "pread",
	.start = pread_start,
	.stop = pread_stop,
	.file_set = pread_file_set,
	.queue = pread_queue,
	.flush = pread_flush,
	.reap = pread_reap,
};
