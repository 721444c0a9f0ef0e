/*
 * dio.c — the backend-independent half of engine/io (see dio.h).
 *
 * It validates requests, owns the per-read records, turns kernel results
 * into final results (finishing short reads, retrying EINTR/EAGAIN), keeps
 * finished results until the caller reaps them, and picks the backend.
 * Everything is allocated in dio_open; submit and reap only move indices.
 */
#include "dio_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error.h"
#include "../log.h"

static const struct dio_backend_ops *const backends[DIO_NBACKENDS] = {
	[DIO_BACKEND_URING] = &dio_uring_ops,
	[DIO_BACKEND_AIO] = &dio_aio_ops,
	[DIO_BACKEND_PREAD] = &dio_pread_ops,
};

const char *dio_backend_name(enum dio_backend b)
{
	switch (b) {
	case DIO_BACKEND_AUTO: return "auto";
	case DIO_BACKEND_URING: return "uring";
	case DIO_BACKEND_AIO: return "aio";
	case DIO_BACKEND_PREAD: return "pread";
	}
	return "?";
}

int dio_backend_parse(const char *s, enum dio_backend *out)
{
	if (!s)
		return dann_fail(DANN_EINVAL, "I/O backend missing: expected uring, aio or pread");
	if (!strcmp(s, "uring") || !strcmp(s, "io_uring"))
		*out = DIO_BACKEND_URING;
	else if (!strcmp(s, "aio") || !strcmp(s, "libaio"))
		*out = DIO_BACKEND_AIO;
	else if (!strcmp(s, "pread"))
		*out = DIO_BACKEND_PREAD;
	else if (!strcmp(s, "auto"))
		*out = DIO_BACKEND_AUTO;
	else
		return dann_fail(DANN_EINVAL, "unknown I/O backend '%s': expected uring, aio, pread or auto", s);
	return 0;
}

/* The first backend to try, and a phrase saying who chose it. */
static int first_backend(const struct dio_opts *o, enum dio_backend *first, const char **by)
{
	const char *env;
	int rc;

	*first = o->backend;
	*by = "asked for by the caller";
	if (o->backend != DIO_BACKEND_AUTO)
		return 0;
	env = getenv(DIO_ENV);
	*first = DIO_BACKEND_URING;
	*by = "first in the default order";
	if (!env || !*env)
		return 0;
	if ((rc = dio_backend_parse(env, first)) < 0)
		return dann_fail_wrap(rc, "environment variable %s", DIO_ENV);
	*by = "forced by " DIO_ENV;
	if (*first == DIO_BACKEND_AUTO) {
		*first = DIO_BACKEND_URING;
		*by = "first in the default order";
	}
	return 0;
}

static int check_opts(const struct dio_opts *o)
{
	if (o->depth > DIO_MAX_DEPTH)
		return dann_fail(DANN_EINVAL, "I/O depth %u too large: expected 1..%u", o->depth, DIO_MAX_DEPTH);
	if (o->max_files > DIO_MAX_FILES)
		return dann_fail(DANN_EINVAL, "I/O file slots %u too many: expected 1..%u", o->max_files,
				 DIO_MAX_FILES);
	if ((unsigned)o->backend >= DIO_NBACKENDS)
		return dann_fail(DANN_EINVAL, "I/O backend %d unknown", (int)o->backend);
	if (o->flags & ~(DIO_SQPOLL | DIO_IOPOLL))
		return dann_fail(DANN_EINVAL, "I/O flags 0x%x unknown: expected DIO_SQPOLL | DIO_IOPOLL", o->flags);
	if (o->nbufs > DIO_MAX_BUF_REGIONS || (o->nbufs && !o->bufs))
		return dann_fail(DANN_EINVAL, "I/O buffer regions: %u given, expected 0..%u", o->nbufs,
				 DIO_MAX_BUF_REGIONS);
	for (unsigned i = 0; i < o->nbufs; i++) {
		uintptr_t base = (uintptr_t)o->bufs[i].base;
		size_t n = o->bufs[i].bytes;

		if (!base || base % DIO_ALIGN || !n || n % DIO_ALIGN || n > DIO_MAX_READ_BYTES)
			return dann_fail(DANN_EINVAL,
					 "I/O buffer region %u (%p, %zu bytes): expected a %u-aligned address and a "
					 "non-zero multiple of %u bytes up to 1 GiB",
					 i, o->bufs[i].base, n, DIO_ALIGN, DIO_ALIGN);
	}
	return 0;
}

static void dio_free(struct dio *d)
{
	if (!d)
		return;
	if (d->fds)
		for (uint32_t i = 0; i < d->max_files; i++)
			if (d->fds[i] >= 0)
				close(d->fds[i]);
	free(d->fds);
	free(d->ops);
	free(d->free_ops);
	free(d->ready);
	free(d);
}

/* Everything but the backend. */
static int dio_alloc(const struct dio_opts *o, struct dio **out)
{
	struct dio *d;
	int rc;

	if ((rc = check_opts(o)) < 0)
		return rc;
	if (!(d = calloc(1, sizeof *d)))
		return dann_fail(DANN_ENOMEM, "I/O context");
	d->depth = o->depth ? o->depth : DIO_DEFAULT_DEPTH;
	d->max_files = o->max_files ? o->max_files : DIO_DEFAULT_FILES;
	d->flags = o->flags;
	d->fault = o->fault;
	d->start_fault = o->start_fault;
	d->fault_arg = o->fault_arg;
	d->nbufs = o->nbufs;
	if (o->nbufs)
		memcpy(d->bufs, o->bufs, sizeof d->bufs[0] * o->nbufs);
	d->ready_cap = d->depth;
	d->fds = malloc(sizeof *d->fds * d->max_files);
	d->ops = calloc(d->depth, sizeof *d->ops);
	d->free_ops = malloc(sizeof *d->free_ops * d->depth);
	d->ready = malloc(sizeof *d->ready * d->ready_cap);
	if (!d->fds || !d->ops || !d->free_ops || !d->ready) {
		unsigned depth = d->depth;

		dio_free(d);
		return dann_fail(DANN_ENOMEM, "I/O context of depth %u", depth);
	}
	for (uint32_t i = 0; i < d->max_files; i++)
		d->fds[i] = -1;
	for (unsigned i = 0; i < d->depth; i++)
		d->free_ops[i] = d->depth - 1 - i;
	d->nfree = d->depth;
	*out = d;
	return 0;
}

/* Starts backend b on d, or says why not in why (0 or a negative errno). */
static int start_backend(struct dio *d, enum dio_backend b, char *why, size_t why_bytes)
{
	why[0] = '\0';
	d->be = backends[b];
	if (d->start_fault && d->start_fault(d->fault_arg, b)) {
		snprintf(why, why_bytes, "refused by the test's start fault");
		return -ENODEV;
	}
	return d->be->start(d, why, why_bytes);
}

int dio_open(const struct dio_opts *opts, struct dio **out)
{
	static const struct dio_opts defaults;
	const struct dio_opts *o = opts ? opts : &defaults;
	enum dio_backend b;
	const char *by;
	char why[DIO_REASON_BYTES];
	struct dio *d;
	int rc;

	if ((rc = first_backend(o, &b, &by)) < 0)
		return rc;
	if ((rc = dio_alloc(o, &d)) < 0)
		return rc;
	for (;; b++) {
		int started = start_backend(d, b, why, sizeof why);
		if (started == 0)
			break;
		/* pread, the last, fails only without memory: then there is no
		 * next backend to try, and the table must not be read past. */
		if (b + 1 >= DIO_NBACKENDS) {
			rc = dann_fail(started == -ENOMEM ? DANN_ENOMEM : DANN_EUNSUPPORTED,
				       "no I/O backend could start; the last, %s: %s", d->be->name, why);
			d->be = NULL;
			dio_free(d);
			return rc;
		}
		dann_log(DANN_LOG_WARN, "io", "%s unavailable: %s; trying %s", d->be->name, why,
			 backends[b + 1]->name);
	}
	dann_log(DANN_LOG_INFO, "io", "%s (%s)", d->desc, by);
	*out = d;
	return 0;
}

unsigned dio_close(struct dio *d)
{
	unsigned drained;

	if (!d)
		return 0;
	d->draining = 1;
	d->drained = d->nready;
	d->nready = 0;
	d->be->flush(d);
	while (d->nfree < d->depth)
		if (d->be->reap(d, d->depth, 1, NULL) < 0) {
			/* The kernel interface broke: waiting cannot finish, and freeing
			 * buffers the kernel may still write would be worse than
			 * leaking them, so the context is left allocated. */
			dann_log(DANN_LOG_ERROR, "io", "closing %s with %u reads in flight: %s", d->be->name,
				 d->depth - d->nfree, dann_errmsg());
			return d->drained;
		}
	drained = d->drained;
	d->be->stop(d);
	dio_free(d);
	return drained;
}

int dio_file_add(struct dio *d, int fd, uint32_t *slot)
{
	uint32_t i;
	int dup_fd, rc;

	for (i = 0; i < d->max_files && d->fds[i] >= 0; i++)
		;
	if (i == d->max_files)
		return dann_fail(DANN_EBUSY, "all %u file slots of the I/O context are in use", d->max_files);
	if ((dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return dann_fail_errno(errno == EBADF ? DANN_EINVAL : DANN_EIO, errno,
				       "adding file descriptor %d to the I/O context", fd);
	if ((rc = d->be->file_set(d, i, dup_fd)) < 0) {
		close(dup_fd);
		return rc;
	}
	d->fds[i] = dup_fd;
	*slot = i;
	return 0;
}

int dio_file_remove(struct dio *d, uint32_t slot)
{
	int rc;

	if (slot >= d->max_files || d->fds[slot] < 0)
		return dann_fail(DANN_EINVAL, "file slot %u is not in use (slots 0..%u)", slot, d->max_files - 1);
	if ((rc = d->be->file_set(d, slot, -1)) < 0)
		return rc;
	close(d->fds[slot]);
	d->fds[slot] = -1;
	return 0;
}

static int check_req(const struct dio *d, const struct dio_req *r, unsigned i)
{
	if (r->file >= d->max_files)
		return dann_fail(DANN_EINVAL, "read %u (tag %llu): file slot %u out of range 0..%u", i,
				 (unsigned long long)r->tag, r->file, d->max_files - 1);
	if (r->off % DIO_ALIGN)
		return dann_fail(DANN_EINVAL, "read %u (tag %llu): offset %llu is not a multiple of %u", i,
				 (unsigned long long)r->tag, (unsigned long long)r->off, DIO_ALIGN);
	if (!r->len || r->len % DIO_ALIGN || r->len > DIO_MAX_READ_BYTES)
		return dann_fail(DANN_EINVAL,
				 "read %u (tag %llu): length %u is not a non-zero multiple of %u up to %u", i,
				 (unsigned long long)r->tag, r->len, DIO_ALIGN, DIO_MAX_READ_BYTES);
	if (!r->buf || (uintptr_t)r->buf % DIO_ALIGN)
		return dann_fail(DANN_EINVAL, "read %u (tag %llu): buffer %p is not %u-aligned", i,
				 (unsigned long long)r->tag, r->buf, DIO_ALIGN);
	if (r->off > (uint64_t)INT64_MAX - r->len)
		return dann_fail(DANN_EINVAL, "read %u (tag %llu): offset %llu + length %u overflows", i,
				 (unsigned long long)r->tag, (unsigned long long)r->off, r->len);
	return 0;
}

static void push_ready(struct dio *d, uint64_t tag, int64_t res)
{
	unsigned tail = d->ready_head + d->nready;

	if (tail >= d->ready_cap)
		tail -= d->ready_cap;
	d->ready[tail].tag = tag;
	d->ready[tail].res = res;
	d->nready++;
}

static int16_t find_region(const struct dio *d, const char *buf, uint32_t len)
{
	for (unsigned i = 0; i < d->nbufs; i++) {
		const char *b = d->bufs[i].base;

		if (buf >= b && len <= d->bufs[i].bytes && (size_t)(buf - b) <= d->bufs[i].bytes - len)
			return (int16_t)i;
	}
	return -1;
}

static void finish(struct dio *d, uint32_t idx, int64_t res)
{
	struct dio_op *op = &d->ops[idx];

	if (d->draining)
		d->drained++;
	else
		push_ready(d, op->tag, res);
	d->free_ops[d->nfree++] = idx;
}

static void requeue(struct dio *d, uint32_t idx)
{
	int rc = d->be->queue(d, idx);

	if (rc < 0)
		finish(d, idx, rc);
}

void dio_complete(struct dio *d, uint32_t idx, int64_t res)
{
	struct dio_op *op = &d->ops[idx];

	if (d->fault) {
		struct dio_req at = { op->tag, op->off + op->base, op->buf + op->base, op->len - op->base,
				      op->file };
		res = d->fault(d->fault_arg, &at, res);
	}
	if (res == -EINTR || res == -EAGAIN) {
		if (op->retries++ < DIO_MAX_RETRIES) {
			d->stats.retried++;
			requeue(d, idx);
			return;
		}
	} else if (res > 0) {
		uint64_t total = op->base + (uint64_t)res;

		if (total >= op->len) {
			res = op->len;
		} else if (total > op->got) {
			/* Short read: the next attempt starts at the last whole
			 * sector, so it stays aligned; a partial sector at end of
			 * file reads the same bytes again and ends the read. */
			op->got = (uint32_t)total;
			op->base = op->got & ~(DIO_ALIGN - 1);
			d->stats.resubmitted++;
			requeue(d, idx);
			return;
		} else {
			res = op->got;
		}
	} else if (res == 0) {
		res = op->got;
	}
	finish(d, idx, res);
}

int dio_submit(struct dio *d, const struct dio_req *reqs, unsigned n)
{
	unsigned i;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = check_req(d, &reqs[i], i)) < 0)
			return rc;
	for (i = 0; i < n; i++) {
		const struct dio_req *r = &reqs[i];
		struct dio_op *op;
		uint32_t idx;

		while (d->nfree == 0) {
			/* Backpressure: every op is in the kernel; wait for one
			 * to finish, unless its result would have nowhere to go. */
			if (d->nready == d->ready_cap)
				goto out;
			if ((rc = d->be->flush(d)) < 0 ||
			    (rc = d->be->reap(d, d->ready_cap - d->nready, 1, NULL)) < 0)
				return rc;
		}
		if (d->fds[r->file] < 0) {
			if (d->nready == d->ready_cap)
				goto out;
			push_ready(d, r->tag, -EBADF);
			d->stats.submitted++;
			continue;
		}
		idx = d->free_ops[--d->nfree];
		op = &d->ops[idx];
		op->tag = r->tag;
		op->off = r->off;
		op->buf = r->buf;
		op->len = r->len;
		op->file = r->file;
		op->base = 0;
		op->got = 0;
		op->retries = 0;
		op->region = find_region(d, r->buf, r->len);
		d->stats.submitted++;
		requeue(d, idx);
	}
out:
	if ((rc = d->be->flush(d)) < 0)
		return rc;
	return (int)i;
}

static void deadline_after(struct timespec *t, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += timeout_ms / 1000;
	t->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

long dio_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (long)ms;
}

int dio_reap(struct dio *d, struct dio_cqe *out, unsigned max, unsigned min, int timeout_ms)
{
	struct timespec deadline, *dl = NULL;
	unsigned outstanding = d->nready + (d->depth - d->nfree);
	unsigned n;
	int rc;

	if (min > outstanding)
		min = outstanding;
	if (min > max)
		min = max;
	if (timeout_ms == 0)
		min = 0;
	if (timeout_ms > 0) {
		deadline_after(&deadline, timeout_ms);
		dl = &deadline;
	}
	for (;;) {
		unsigned want = min > d->nready ? min - d->nready : 0;

		if (d->nready >= max || d->nready == d->ready_cap)
			break;
		if ((rc = d->be->reap(d, d->ready_cap - d->nready, want, dl)) < 0)
			return rc;
		if (d->nready >= min || (dl && dio_ms_left(dl) == 0))
			break;
	}
	n = d->nready < max ? d->nready : max;
	for (unsigned i = 0; i < n; i++) {
		out[i] = d->ready[d->ready_head];
		d->stats.failed += out[i].res < 0;
		if (++d->ready_head == d->ready_cap)
			d->ready_head = 0;
	}
	d->nready -= n;
	d->stats.completed += n;
	return (int)n;
}

unsigned dio_pending(const struct dio *d)
{
	return d->nready + (d->depth - d->nfree);
}

enum dio_backend dio_backend_of(const struct dio *d)
{
	return d->be->id;
}

const char *dio_describe(const struct dio *d)
{
	return d->desc;
}

void dio_stats_get(const struct dio *d, struct dio_stats *out)
{
	*out = d->stats;
}

int dio_probe(const struct dio_opts *opts, struct dio_probe *out)
{
	static const struct dio_opts defaults;
	const struct dio_opts *o = opts ? opts : &defaults;
	enum dio_backend first;
	const char *by;
	struct dio *d;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = first_backend(o, &first, &by)) < 0)
		return rc;
	if ((rc = dio_alloc(o, &d)) < 0)
		return rc;
	for (int b = DIO_BACKEND_URING; b < DIO_NBACKENDS; b++) {
		char *why = out->reason[b];

		if (start_backend(d, (enum dio_backend)b, why, DIO_REASON_BYTES) == 0) {
			out->available[b] = 1;
			snprintf(why, DIO_REASON_BYTES, "ok: %.240s", d->desc);
			d->be->stop(d);
		}
		if (!out->chosen && b >= (int)first && out->available[b])
			out->chosen = (enum dio_backend)b;
	}
	dio_free(d);
	if (out->chosen == first)
		snprintf(out->why, sizeof out->why, "%s: %s, and available", backends[first]->name, by);
	else
		snprintf(out->why, sizeof out->why, "%s: %s (%s) is unavailable: %.150s",
			 backends[out->chosen]->name, backends[first]->name, by, out->reason[first]);
	return 0;
}
