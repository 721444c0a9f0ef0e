/*
 * vam_file.c — the graph file (layout in vamana.h): save, load, and a
 * writer that takes the graph in row ranges, so the partitioned build can
 * stream a merged graph to disk without holding it.
 *
 * Durability: everything goes to <path>.tmp; the checksum is computed over
 * the written payload, patched into the header, then fsync, rename and a
 * directory fsync, so a reader sees the old file or the whole new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc.h"
#include "error.h"
#include "fsutil.h"
#include "vam_file.h"
#include "vam_impl.h"


struct vam_gw {
	int fd;
	char *path, *tmp;
	struct vam_file_header h;
};

static void encode_header(const struct vam_file_header *h, uint8_t *b)
{
	memset(b, 0, VAM_FILE_HEADER_BYTES);
	memcpy(b, VAM_FILE_MAGIC, 8);
	memcpy(b + 8, &h->version, 4);
	memcpy(b + 12, &h->R, 4);
	memcpy(b + 16, &h->n, 8);
	memcpy(b + 24, &h->medoid, 4);
	memcpy(b + 28, &h->metric, 4);
	memcpy(b + 32, &h->dtype, 4);
	memcpy(b + 36, &h->dim, 4);
	memcpy(b + 40, &h->crc, 4);
}

void vam_gw_abort(struct vam_gw *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp);
	}
	free(w->path);
	free(w->tmp);
	free(w);
}

int vam_gw_create(const char *path, const struct vam_file_header *h, struct vam_gw **out)
{
	struct vam_gw *w = calloc(1, sizeof *w);
	uint8_t hdr[VAM_FILE_HEADER_BYTES];
	int rc;

	*out = NULL;
	if (!w)
		return dann_fail(DANN_ENOMEM, "%s: no memory", path);
	w->fd = -1;
	w->h = *h;
	w->h.version = VAM_FILE_VERSION;
	w->h.crc = 0;
	w->path = strdup(path);
	if (!w->path || asprintf(&w->tmp, "%s.tmp", path) < 0) {
		w->tmp = NULL;
		vam_gw_abort(w);
		return dann_fail(DANN_ENOMEM, "%s: no memory", path);
	}
	if ((w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot create", w->tmp);
		vam_gw_abort(w);
		return rc;
	}
	encode_header(&w->h, hdr);
	if ((rc = fsu_pwrite_all(w->fd, w->tmp, hdr, sizeof hdr, 0)) < 0) {
		vam_gw_abort(w);
		return rc;
	}
	*out = w;
	return 0;
}

int vam_gw_put(struct vam_gw *w, uint64_t first, uint64_t count, const uint32_t *deg,
	       const uint32_t *slots)
{
	uint64_t R = w->h.R, n = w->h.n;
	int rc;

	if (first + count > n)
		return dann_fail(DANN_EINVAL, "%s: rows %llu..%llu past n = %llu", w->tmp,
				 (unsigned long long)first, (unsigned long long)(first + count),
				 (unsigned long long)n);
	if ((rc = fsu_pwrite_all(w->fd, w->tmp, deg, count * 4,
				 VAM_FILE_HEADER_BYTES + first * 4)) < 0)
		return rc;
	return fsu_pwrite_all(w->fd, w->tmp, slots, count * R * 4,
			      VAM_FILE_HEADER_BYTES + n * 4 + first * R * 4);
}

int vam_gw_close(struct vam_gw *w)
{
	uint8_t hdr[VAM_FILE_HEADER_BYTES];
	int rc;

	if ((rc = crc32c_file(w->tmp, VAM_FILE_HEADER_BYTES, UINT64_MAX, &w->h.crc)) < 0)
		goto fail;
	encode_header(&w->h, hdr);
	if ((rc = fsu_pwrite_all(w->fd, w->tmp, hdr, sizeof hdr, 0)) < 0)
		goto fail;
	if ((rc = fsu_fsync(w->fd, w->tmp)) < 0)
		goto fail;
	/* The directory fsync makes the rename durable; its failure is the
	 * caller's error like any other (the temporary is gone by then). */
	if ((rc = fsu_rename_replace(w->tmp, w->path)) < 0)
		goto fail;
	vam_gw_abort(w);
	return 0;
fail:
	vam_gw_abort(w);
	return rc;
}

/* Rows per write when saving: bounds the padded copy to a few MiB. */
#define SAVE_CHUNK_ROWS 8192u

int vam_save(const struct vam *v, const char *path)
{
	struct vam_file_header h = { .R = v->p.R, .n = vam_count(v), .medoid = v->medoid,
				     .metric = v->metric, .dtype = v->dtype, .dim = v->dim };
	struct vam_gw *w;
	uint32_t *buf = malloc(sizeof *buf * SAVE_CHUNK_ROWS * v->p.R);
	int rc;

	if (!buf)
		return dann_fail(DANN_ENOMEM, "%s: no memory", path);
	if ((rc = vam_gw_create(path, &h, &w)) < 0)
		goto out;
	for (uint64_t i = 0; i < h.n; i += SAVE_CHUNK_ROWS) {
		uint64_t m = h.n - i < SAVE_CHUNK_ROWS ? h.n - i : SAVE_CHUNK_ROWS;
		/* Unused slots are zeroed so equal graphs give equal files. */
		memset(buf, 0, sizeof *buf * m * h.R);
		for (uint64_t j = 0; j < m; j++)
			memcpy(buf + j * h.R, v->slots + (i + j) * h.R, sizeof *buf * v->deg[i + j]);
		if ((rc = vam_gw_put(w, i, m, v->deg + i, buf)) < 0) {
			vam_gw_abort(w);
			goto out;
		}
	}
	rc = vam_gw_close(w);
out:
	free(buf);
	return rc;
}

static int read_header_fd(int fd, const char *path, struct vam_file_header *h)
{
	uint8_t b[VAM_FILE_HEADER_BYTES];
	off_t size = lseek(fd, 0, SEEK_END);
	int rc;

	if (size < (off_t)VAM_FILE_HEADER_BYTES)
		return dann_fail(DANN_ECORRUPT, "%s: %lld bytes, shorter than the %u-byte header", path,
				 (long long)size, VAM_FILE_HEADER_BYTES);
	if ((rc = fsu_pread_all(fd, path, b, sizeof b, 0)) < 0)
		return rc;
	if (memcmp(b, VAM_FILE_MAGIC, 8))
		return dann_fail(DANN_ECORRUPT, "%s: bad magic, not a dann graph file", path);
	memcpy(&h->version, b + 8, 4);
	memcpy(&h->R, b + 12, 4);
	memcpy(&h->n, b + 16, 8);
	memcpy(&h->medoid, b + 24, 4);
	memcpy(&h->metric, b + 28, 4);
	memcpy(&h->dtype, b + 32, 4);
	memcpy(&h->dim, b + 36, 4);
	memcpy(&h->crc, b + 40, 4);
	if (h->version != VAM_FILE_VERSION)
		return dann_fail(DANN_ECORRUPT, "%s: format version %u, expected %u", path, h->version,
				 VAM_FILE_VERSION);
	if (h->R == 0 || h->R > VAM_MAX_R)
		return dann_fail(DANN_ECORRUPT, "%s: R = %u in header, expected 1..%u", path, h->R,
				 VAM_MAX_R);
	if (h->n > UINT32_MAX || (h->n && h->medoid >= h->n))
		return dann_fail(DANN_ECORRUPT, "%s: n = %llu, medoid = %u in header", path,
				 (unsigned long long)h->n, h->medoid);
	uint64_t want = VAM_FILE_HEADER_BYTES + h->n * 4 + h->n * h->R * 4;
	if ((uint64_t)size != want)
		return dann_fail(DANN_ECORRUPT, "%s: %lld bytes, header (n = %llu, R = %u) says %llu",
				 path, (long long)size, (unsigned long long)h->n, h->R,
				 (unsigned long long)want);
	return 0;
}

int vam_file_read_header(const char *path, struct vam_file_header *h)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno, "%s", path);
	rc = read_header_fd(fd, path, h);
	close(fd);
	return rc;
}

int vam_load(const char *path, enum dann_metric metric, enum dann_dtype dtype, uint32_t dim,
	     const void *vectors, uint64_t n, const struct vam_params *p, struct vam **out)
{
	struct vam_file_header h;
	struct vam_params dp;
	struct vam *v = NULL;
	uint32_t crc, *deg = NULL;
	int fd, rc;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno, "%s", path);
	if ((rc = read_header_fd(fd, path, &h)) < 0)
		goto out;
	if (h.n != n || h.dim != dim || h.metric != (uint32_t)metric || h.dtype != (uint32_t)dtype) {
		rc = dann_fail(DANN_EINVAL,
			       "%s: graph of %llu x %u %s (%s), given %llu x %u %s vectors (%s)", path,
			       (unsigned long long)h.n, h.dim, dann_dtype_name(h.dtype),
			       dann_metric_name(h.metric), (unsigned long long)n, dim,
			       dann_dtype_name(dtype), dann_metric_name(metric));
		goto out;
	}
	if ((rc = crc32c_file(path, VAM_FILE_HEADER_BYTES, UINT64_MAX, &crc)) < 0)
		goto out;
	if (crc != h.crc) {
		rc = dann_fail(DANN_ECORRUPT, "%s: checksum %08x, header says %08x", path, crc, h.crc);
		goto out;
	}
	if (p)
		dp = *p;
	else
		vam_params_default(&dp);
	dp.R = h.R;
	if ((rc = vam_create(metric, dtype, dim, n, &dp, &v)) < 0)
		goto out;
	deg = v->deg;
	if ((rc = fsu_pread_all(fd, path, deg, n * 4, VAM_FILE_HEADER_BYTES)) < 0 ||
	    (rc = fsu_pread_all(fd, path, v->slots, n * h.R * 4, VAM_FILE_HEADER_BYTES + n * 4)) < 0)
		goto out;
	for (uint64_t i = 0; i < n; i++) {
		if (deg[i] > h.R) {
			rc = dann_fail(DANN_ECORRUPT, "%s: node %llu has degree %u, R = %u", path,
				       (unsigned long long)i, deg[i], h.R);
			goto out;
		}
		for (uint32_t j = 0; j < deg[i]; j++)
			if (v->slots[i * h.R + j] >= n) {
				rc = dann_fail(DANN_ECORRUPT, "%s: node %llu lists neighbour %u, n = %llu",
					       path, (unsigned long long)i, v->slots[i * h.R + j],
					       (unsigned long long)n);
				goto out;
			}
	}
	if (n)
		memcpy(v->vecs, vectors, n * v->row_bytes);
	vam_load_finish(v, n, h.medoid);
out:
	close(fd);
	if (rc < 0) {
		vam_free(v);
		return rc;
	}
	*out = v;
	return 0;
}
