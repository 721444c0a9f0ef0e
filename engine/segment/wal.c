/*
 * wal.c — appending to the write-ahead log: framing, group commit, file
 * rotation and checkpoints (see wal.h; recovery is in wal_recover.c).
 *
 * Group commit: an appender writes its record into the page cache under
 * w->mu (so records land in LSN order, one after another), then waits until
 * synced_lsn covers its LSN. If no one is syncing, it becomes the leader:
 * it notes the last LSN written, drops the mutex and calls fdatasync; every
 * appender that wrote meanwhile waits on the condvar and is released by the
 * leader's broadcast, so one sync acknowledges them all. Writes go on while
 * the leader syncs; the next leader picks them up.
 *
 * A failed write or sync sets w->failed for good: after a failed fsync the
 * kernel may have dropped the dirty pages, so nothing written after it can
 * be acknowledged; the log is reopened (and its tail recovered) instead.
 */
#include "wal_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "../log.h"

/* pwritev until every byte of iov is written (short writes and EINTR):
 * a header and a payload in two pieces go out in one call without being
 * copied together, which fsu_pwrite_all's single buffer cannot do. */
static int pwritev_all(int fd, struct iovec *iov, int niov, uint64_t off, const char *path)
{
	while (niov > 0) {
		ssize_t n = pwritev(fd, iov, niov, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return dann_fail_errno(DANN_EIO, errno, "%s: write at offset %llu", path,
					       (unsigned long long)off);
		if (n == 0)
			return dann_fail(DANN_EIO, "%s: write at offset %llu wrote nothing", path,
					 (unsigned long long)off);
		off += (uint64_t)n;
		while (niov > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			niov--;
		}
		if (niov > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

void wal_params_default(struct wal_params *p)
{
	memset(p, 0, sizeof *p);
	p->segment_bytes = WAL_DEFAULT_SEGMENT_BYTES;
}

void wal_file_path(const struct wal *w, uint64_t first_lsn, char *out)
{
	snprintf(out, PATH_MAX, "%s/wal-%0*llu.log", w->dir, WAL_NAME_DIGITS, (unsigned long long)first_lsn);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void wal_encode_header(uint8_t hdr[WAL_HDR_BYTES], uint32_t len, uint64_t lsn, uint32_t crc)
{
	put_u32(hdr, len);
	put_u64(hdr + 4, lsn);
	put_u32(hdr + 12, crc);
}

uint32_t wal_lsn_crc(uint64_t lsn)
{
	uint8_t b[8];

	put_u64(b, lsn);
	return crc32c(0, b, sizeof b);
}

int wal_open(const char *dir, const struct wal_params *p, struct wal **out)
{
	struct wal *w;
	int rc;

	*out = NULL;
	if (!dir || !*dir)
		return dann_fail(DANN_EINVAL, "wal_open: no directory given");
	if (strlen(dir) >= sizeof ((struct wal *)0)->dir)
		return dann_fail(DANN_EINVAL, "%s: WAL directory path too long", dir);
	if (!(w = calloc(1, sizeof *w)))
		return dann_fail(DANN_ENOMEM, "wal_open: %s", dir);
	snprintf(w->dir, sizeof w->dir, "%s", dir);
	if (p)
		w->p = *p;
	else
		wal_params_default(&w->p);
	if (w->p.segment_bytes == 0)
		w->p.segment_bytes = WAL_DEFAULT_SEGMENT_BYTES;
	w->fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if ((rc = wal_recover(w)) < 0) {
		wal_close(w);
		return rc;
	}
	w->synced_lsn = atomic_load(&w->last_lsn);
	*out = w;
	return 0;
}

void wal_close(struct wal *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	while (w->syncing)
		pthread_cond_wait(&w->cv, &w->mu);
	/* Every append that returned was synced; a record written by an
	 * appender still waiting cannot exist (no call may run during close),
	 * but a sync here is cheap insurance for the contract. */
	if (w->fd >= 0 && !w->failed && w->synced_lsn < atomic_load(&w->last_lsn))
		if (fdatasync(w->fd) < 0)
			dann_log(DANN_LOG_ERROR, "wal", "%s: fdatasync on close: %s", w->dir, strerror(errno));
	pthread_mutex_unlock(&w->mu);
	if (w->fd >= 0)
		close(w->fd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->files);
	free(w);
}

/* Marks the log failed with the current message (under mu). */
static int fail_log(struct wal *w, int rc)
{
	w->failed = rc;
	snprintf(w->err, sizeof w->err, "%s", dann_errmsg());
	pthread_cond_broadcast(&w->cv);
	return rc;
}

static int refused(struct wal *w)
{
	return dann_fail(DANN_EIO, "%s: the log refuses appends after an earlier failure (%s); reopen it",
			 w->dir, w->err);
}

static int fault(struct wal *w, enum wal_fault_op op)
{
	return w->p.fault ? w->p.fault(w->p.fault_arg, op) : 0;
}

/* fdatasync of fd (the fault hook may make it fail). */
static int sync_fd(struct wal *w, int fd, const char *path)
{
	int e = fault(w, WAL_FAULT_SYNC);

	if (e)
		return dann_fail_errno(DANN_EIO, e, "%s: fdatasync", path);
	return fsu_fdatasync(fd, path);
}

static struct wal_file *cur_file(struct wal *w)
{
	return &w->files[w->nfiles - 1];
}

/* Starts a new file for the record with LSN next (under mu, no leader
 * syncing): syncs the current file so everything in it is durable, creates
 * the new one and syncs the directory so its name survives a crash. */
static int rotate(struct wal *w, uint64_t next)
{
	char path[PATH_MAX];
	struct wal_file *nf;
	int fd, rc;

	wal_file_path(w, cur_file(w)->first_lsn, path);
	if ((rc = sync_fd(w, w->fd, path)) < 0)
		return rc;
	atomic_fetch_add(&w->syncs, 1);
	w->synced_lsn = next - 1;
	pthread_cond_broadcast(&w->cv);
	if (w->nfiles == w->cap_files) {
		size_t cap = w->cap_files ? 2 * w->cap_files : 8;
		struct wal_file *f = realloc(w->files, cap * sizeof *f);
		if (!f)
			return dann_fail(DANN_ENOMEM, "%s: WAL file list", w->dir);
		w->files = f;
		w->cap_files = cap;
	}
	wal_file_path(w, next, path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot create WAL file", path);
	if ((rc = fsu_fsync_dir(w->dir)) < 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	close(w->fd);
	w->fd = fd;
	nf = &w->files[w->nfiles++];
	nf->first_lsn = next;
	nf->last_lsn = next - 1;
	nf->size = 0;
	return 0;
}

/* Writes the record (header + a + b) at the end of the current file, under
 * mu. A failure leaves at most a torn record, cut on the next open. */
static int write_record(struct wal *w, uint64_t lsn, const void *a, size_t alen, const void *b, size_t blen)
{
	struct wal_file *f = cur_file(w);
	uint8_t hdr[WAL_HDR_BYTES];
	char path[PATH_MAX];
	struct iovec iov[3];
	uint32_t crc = wal_lsn_crc(lsn);
	size_t total = WAL_HDR_BYTES + alen + blen;
	int niov = 1, e, rc;

	if (alen)
		crc = crc32c(crc, a, alen);
	if (blen)
		crc = crc32c(crc, b, blen);
	wal_encode_header(hdr, (uint32_t)(alen + blen), lsn, crc);
	iov[0] = (struct iovec){ hdr, WAL_HDR_BYTES };
	if (alen)
		iov[niov++] = (struct iovec){ (void *)a, alen };
	if (blen)
		iov[niov++] = (struct iovec){ (void *)b, blen };
	wal_file_path(w, f->first_lsn, path);
	if ((e = fault(w, WAL_FAULT_WRITE))) {
		/* As a full disk would: part of the record, then the error. */
		struct iovec half = { hdr, WAL_HDR_BYTES / 2 };
		(void)pwritev_all(w->fd, &half, 1, f->size, path);
		return dann_fail_errno(DANN_EIO, e, "%s: write at offset %llu", path, (unsigned long long)f->size);
	}
	if ((rc = pwritev_all(w->fd, iov, niov, f->size, path)) < 0)
		return rc;
	f->size += total;
	f->last_lsn = lsn;
	atomic_store(&w->last_lsn, lsn);
	atomic_fetch_add(&w->appends, 1);
	atomic_fetch_add(&w->bytes, total);
	return 0;
}

/* Waits (under mu) until lsn is durable, leading a sync when no one is. */
static int wait_durable(struct wal *w, uint64_t lsn)
{
	while (w->synced_lsn < lsn && !w->failed) {
		char path[PATH_MAX];
		uint64_t target;
		int fd, rc;

		if (w->syncing) {
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		w->syncing = 1;
		if (w->p.group_wait_us) {
			/* Let more appenders write before the one sync. */
			struct timespec d = { .tv_sec = w->p.group_wait_us / 1000000,
					      .tv_nsec = (long)(w->p.group_wait_us % 1000000) * 1000 };
			pthread_mutex_unlock(&w->mu);
			nanosleep(&d, NULL);
			pthread_mutex_lock(&w->mu);
		}
		/* Rotation waits for !syncing, so fd stays the file that holds
		 * every record up to target until the sync is done. */
		target = atomic_load(&w->last_lsn);
		fd = w->fd;
		wal_file_path(w, cur_file(w)->first_lsn, path);
		pthread_mutex_unlock(&w->mu);
		rc = sync_fd(w, fd, path);
		pthread_mutex_lock(&w->mu);
		w->syncing = 0;
		if (rc < 0) {
			fail_log(w, rc);
			return rc;
		}
		atomic_fetch_add(&w->syncs, 1);
		if (target > w->synced_lsn)
			w->synced_lsn = target;
		pthread_cond_broadcast(&w->cv);
	}
	if (w->synced_lsn < lsn)
		return refused(w);
	return 0;
}

int wal_append2(struct wal *w, const void *a, size_t alen, const void *b, size_t blen, uint64_t *lsn)
{
	uint64_t my;
	int rc;

	if ((alen && !a) || (blen && !b))
		return dann_fail(DANN_EINVAL, "wal_append: NULL payload with nonzero length");
	if (alen > WAL_MAX_RECORD || blen > WAL_MAX_RECORD - alen)
		return dann_fail(DANN_EINVAL, "%s: record of %zu bytes is larger than the limit %u", w->dir,
				 alen + blen, WAL_MAX_RECORD);
	pthread_mutex_lock(&w->mu);
	if (w->failed) {
		rc = refused(w);
		goto out;
	}
	/* Waiting for a leader drops mu, so others may write or rotate
	 * meanwhile: decide again after every wait. */
	while (cur_file(w)->size > 0 && cur_file(w)->size + WAL_HDR_BYTES + alen + blen > w->p.segment_bytes) {
		if (w->syncing) {
			pthread_cond_wait(&w->cv, &w->mu);
		} else if ((rc = rotate(w, atomic_load(&w->last_lsn) + 1)) < 0) {
			fail_log(w, rc);
			goto out;
		}
		if (w->failed) {
			rc = refused(w);
			goto out;
		}
	}
	my = atomic_load(&w->last_lsn) + 1;
	if ((rc = write_record(w, my, a, alen, b, blen)) < 0) {
		fail_log(w, rc);
		goto out;
	}
	if ((rc = wait_durable(w, my)) < 0)
		goto out;
	if (lsn)
		*lsn = my;
out:
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wal_append(struct wal *w, const void *payload, size_t len, uint64_t *lsn)
{
	return wal_append2(w, payload, len, NULL, 0, lsn);
}

int wal_checkpoint(struct wal *w, uint64_t lsn)
{
	char path[PATH_MAX];
	uint64_t *gone = NULL;
	size_t ngone = 0, i;
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	if (lsn > atomic_load(&w->last_lsn)) {
		rc = dann_fail(DANN_EINVAL, "%s: checkpoint at LSN %llu is past the last record %llu", w->dir,
			       (unsigned long long)lsn, (unsigned long long)atomic_load(&w->last_lsn));
		goto out;
	}
	while (ngone + 1 < w->nfiles && w->files[ngone].last_lsn <= lsn)
		ngone++;
	if (ngone && !(gone = malloc(ngone * sizeof *gone))) {
		rc = dann_fail(DANN_ENOMEM, "%s: checkpoint", w->dir);
		goto out;
	}
	for (i = 0; i < ngone; i++)
		gone[i] = w->files[i].first_lsn;
	memmove(w->files, w->files + ngone, (w->nfiles - ngone) * sizeof *w->files);
	w->nfiles -= ngone;
out:
	pthread_mutex_unlock(&w->mu);
	if (rc < 0)
		return rc;
	/* Oldest first, so a crash part-way leaves a contiguous run of files. */
	for (i = 0; i < ngone; i++) {
		wal_file_path(w, gone[i], path);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot remove checkpointed WAL file", path);
			break;
		}
	}
	if (ngone && rc == 0)
		rc = fsu_fsync_dir(w->dir);
	free(gone);
	return rc;
}

int wal_start_after(struct wal *w, uint64_t lsn)
{
	char path[PATH_MAX];
	int fd, rc = 0;

	pthread_mutex_lock(&w->mu);
	if (atomic_load(&w->last_lsn) != 0 || w->nfiles != 1 || w->files[0].first_lsn != 1) {
		rc = dann_fail(DANN_EINVAL, "%s: the WAL holds records up to LSN %llu; it cannot start after %llu",
			       w->dir, (unsigned long long)atomic_load(&w->last_lsn), (unsigned long long)lsn);
		goto out;
	}
	if (lsn == 0)
		goto out;
	wal_file_path(w, 1, path);
	if (unlink(path) != 0 && errno != ENOENT) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot remove", path);
		goto out;
	}
	/* from here on the open file is gone: a failure fails the log */
	if ((rc = fsu_fsync_dir(w->dir)) < 0) {
		fail_log(w, rc);
		goto out;
	}
	wal_file_path(w, lsn + 1, path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		rc = fail_log(w, dann_fail_errno(DANN_EIO, errno, "%s: cannot create WAL file", path));
		goto out;
	}
	if ((rc = fsu_fsync_dir(w->dir)) < 0) {
		close(fd);
		unlink(path);
		fail_log(w, rc);
		goto out;
	}
	close(w->fd);
	w->fd = fd;
	w->files[0] = (struct wal_file){ .first_lsn = lsn + 1, .last_lsn = lsn, .size = 0 };
	w->synced_lsn = lsn;
	atomic_store(&w->last_lsn, lsn);
out:
	pthread_mutex_unlock(&w->mu);
	return rc;
}

uint64_t wal_last_lsn(const struct wal *w)
{
	return atomic_load(&((struct wal *)w)->last_lsn);
}

void wal_stats(const struct wal *w, struct wal_stats *st)
{
	struct wal *m = (struct wal *)w; /* the mutex guards nfiles; the counters are atomic */

	st->appends = atomic_load(&m->appends);
	st->syncs = atomic_load(&m->syncs);
	st->bytes = atomic_load(&m->bytes);
	pthread_mutex_lock(&m->mu);
	st->files = m->nfiles;
	pthread_mutex_unlock(&m->mu);
}
