/*
 * vf_writer.c — writing vector files durably, streamed through a buffer.
 *
 * Rows go to "<path>.tmp" through a fixed buffer, so a file of any size is
 * written with one buffer of memory. On close the *bin header gets its
 * final count, the file is fsynced and renamed over path, and the directory
 * is fsynced: a reader sees the old file or the whole new one, never part.
 * Any failure removes the temporary and leaves path untouched; after a
 * failed append the writer only accepts vf_writer_close / _abort.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "vf.h"
#include "vf_impl.h"

#define VF_WRITE_BUFFER_BYTES (4u << 20) /* > the largest row (65536 x 4 + 4) */
#define VF_TMP_SUFFIX ".tmp"

struct vf_writer {
	char *path;
	char *tmp;
	int fd;
	int failed;          /* first error code of a failed append, else 0 */
	enum vf_format fmt;
	bool vecs;
	uint32_t dim;
	size_t row_bytes;
	uint64_t count;
	unsigned char *buf;
	size_t used;
};

static int write_all(struct vf_writer *w, const void *p, size_t n)
{
	return fsu_write_all(w->fd, w->tmp, p, n);
}

static int flush(struct vf_writer *w)
{
	int rc = write_all(w, w->buf, w->used);
	w->used = 0;
	return rc;
}

static void writer_free(struct vf_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	free(w->tmp);
	free(w->path);
	free(w);
}

int vf_writer_create(const char *path, uint32_t dim, struct vf_writer **out)
{
	struct vf_writer *w;
	size_t len;
	int rc;

	*out = NULL;
	if (!(w = calloc(1, sizeof *w)))
		return dann_fail(DANN_ENOMEM, "vf_writer_create: %s", path ? path : "(null)");
	w->fd = -1;
	if ((rc = vf_format_from_path(path, &w->fmt)) < 0)
		goto fail;
	if (dim == 0 || dim > VF_MAX_DIM) {
		rc = dann_fail(DANN_EINVAL, "%s: dimension %u, expected 1..%d", path, dim, VF_MAX_DIM);
		goto fail;
	}
	w->vecs = vf_format_info(w->fmt)->vecs;
	w->dim = dim;
	w->row_bytes = (size_t)dim * dann_dtype_size(vf_format_dtype(w->fmt));
	len = strlen(path);
	w->path = strdup(path);
	w->tmp = malloc(len + sizeof VF_TMP_SUFFIX);
	w->buf = malloc(VF_WRITE_BUFFER_BYTES);
	if (!w->path || !w->tmp || !w->buf) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for the write buffer", path);
		goto fail;
	}
	memcpy(w->tmp, path, len);
	memcpy(w->tmp + len, VF_TMP_SUFFIX, sizeof VF_TMP_SUFFIX);
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				     "%s: cannot create", w->tmp);
		goto fail;
	}
	if (!w->vecs) {
		/* The count is patched on close; until then a reader of the
		 * temporary sees a valid empty file. */
		int32_t hdr[2] = { 0, (int32_t)dim };
		memcpy(w->buf, hdr, sizeof hdr);
		w->used = sizeof hdr;
	}
	*out = w;
	return 0;
fail:
	if (w->fd >= 0)
		unlink(w->tmp);
	writer_free(w);
	return rc;
}

static int append_bin(struct vf_writer *w, const unsigned char *src, uint64_t n)
{
	uint64_t bytes = n * w->row_bytes;
	int rc;

	if (n > (uint64_t)INT32_MAX - w->count)
		return dann_fail(DANN_EINVAL,
				 "%s: %llu more rows would pass the format's int32 count limit (%d) after %llu rows",
				 w->path, (unsigned long long)n, INT32_MAX, (unsigned long long)w->count);
	while (bytes > 0) {
		size_t room = VF_WRITE_BUFFER_BYTES - w->used;
		size_t take;

		/* Large appends skip the copy once the buffer is empty. */
		if (w->used == 0 && bytes >= VF_WRITE_BUFFER_BYTES) {
			take = (size_t)(bytes - bytes % VF_WRITE_BUFFER_BYTES);
			if ((rc = write_all(w, src, take)) < 0)
				return rc;
		} else {
			take = bytes < room ? (size_t)bytes : room;
			memcpy(w->buf + w->used, src, take);
			w->used += take;
			if (w->used == VF_WRITE_BUFFER_BYTES && (rc = flush(w)) < 0)
				return rc;
		}
		src += take;
		bytes -= take;
	}
	w->count += n;
	return 0;
}

static int append_vecs(struct vf_writer *w, const unsigned char *src, uint64_t n)
{
	int32_t dim = (int32_t)w->dim;
	size_t stride = VF_VECS_ROW_HEADER_BYTES + w->row_bytes;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		if (VF_WRITE_BUFFER_BYTES - w->used < stride && (rc = flush(w)) < 0)
			return rc;
		memcpy(w->buf + w->used, &dim, sizeof dim);
		memcpy(w->buf + w->used + sizeof dim, src + i * w->row_bytes, w->row_bytes);
		w->used += stride;
		w->count++;
	}
	return 0;
}

int vf_writer_append(struct vf_writer *w, const void *rows, uint64_t n)
{
	int rc;

	if (w->failed)
		return dann_fail(w->failed, "%s: an earlier write failed; the file cannot be finished",
				 w->path);
	if (n == 0)
		return 0;
	if (!rows)
		return dann_fail(DANN_EINVAL, "%s: append of %llu rows from a NULL buffer", w->path,
				 (unsigned long long)n);
	if (n > UINT64_MAX / w->row_bytes)
		return dann_fail(DANN_EINVAL, "%s: append of %llu rows overflows", w->path,
				 (unsigned long long)n);
	rc = w->vecs ? append_vecs(w, rows, n) : append_bin(w, rows, n);
	if (rc < 0 && rc != DANN_EINVAL)
		w->failed = rc; /* part of the rows may be in the file */
	return rc;
}

static int finish(struct vf_writer *w)
{
	int rc;

	if (w->failed)
		return dann_fail(w->failed, "%s: an earlier write failed; the file was not written",
				 w->path);
	if (w->vecs && w->count == 0)
		return dann_fail(DANN_EINVAL,
				 "%s: no rows were written, and a .%s file with no rows cannot record its "
				 "dimension (a *bin format can)",
				 w->path, vf_format_name(w->fmt));
	if ((rc = flush(w)) < 0)
		return rc;
	if (!w->vecs) {
		int32_t count = (int32_t)w->count;
		if ((rc = fsu_pwrite_all(w->fd, w->tmp, &count, sizeof count, 0)) < 0)
			return rc;
	}
	if ((rc = fsu_fsync(w->fd, w->tmp)) < 0)
		return rc;
	if (close(w->fd) < 0) {
		w->fd = -1;
		return dann_fail_errno(DANN_EIO, errno, "%s: close", w->tmp);
	}
	w->fd = -1;
	return fsu_rename_replace(w->tmp, w->path);
}

int vf_writer_close(struct vf_writer *w)
{
	int rc;

	if (!w)
		return dann_fail(DANN_EINVAL, "vf_writer_close: no writer");
	/* After a failed rename the temporary is still there; after a
	 * failed directory fsync it is gone and unlink is a no-op. */
	if ((rc = finish(w)) < 0)
		unlink(w->tmp);
	writer_free(w);
	return rc;
}

void vf_writer_abort(struct vf_writer *w)
{
	if (!w)
		return;
	unlink(w->tmp);
	writer_free(w);
}

int vf_write_file(const char *path, uint32_t dim, const void *rows, uint64_t n)
{
	struct vf_writer *w;
	int rc;

	if ((rc = vf_writer_create(path, dim, &w)) < 0)
		return rc;
	if ((rc = vf_writer_append(w, rows, n)) < 0) {
		vf_writer_abort(w);
		return rc;
	}
	return vf_writer_close(w);
}
