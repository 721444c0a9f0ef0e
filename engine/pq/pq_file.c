/*
 * pq_file.c — the pivots and codes files (layout in pq.h).
 *
 * Both files end with a CRC32C of every byte before it, and a loader
 * accepts a file only if its size is exactly what its header implies, every
 * header field is in range and the checksum matches: a corrupt file is an
 * error naming it, never a wrong answer. Writers go through a temporary
 * name, fsync, rename and a directory fsync, so a crash leaves the old file
 * or the new one. Integers are stored little-endian (the only byte order
 * dann builds for: fsutil.h asserts it), floats as IEEE-754 binary32.
 */
#include "pq_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aligned.h"
#include "crc.h"
#include "error.h"
#include "fsutil.h"

#define PQ_FILE_VERSION 1u     /* codes, and pivots without a rotation */
#define PQ_PIVOTS_VERSION_OPQ 2u /* pivots followed by OPQ's rotation */
#define PQ_PIVOTS_FLAG_ROT 1u    /* pivots_hdr.flags: a rotation follows */
#define PQ_IO_CHUNK (64u << 20) /* bytes per read of the codes */

static const char PIVOTS_MAGIC[8] = { 'D', 'A', 'N', 'N', 'P', 'Q', 'P', 'V' };
static const char CODES_MAGIC[8] = { 'D', 'A', 'N', 'N', 'P', 'Q', 'C', 'D' };

struct pivots_hdr {
	char magic[8];
	uint32_t version;
	uint32_t metric;
	uint32_t dim;
	uint32_t M;
	uint32_t ksub;
	uint32_t flags;    /* version 1: 0; version 2: PQ_PIVOTS_FLAG_ROT */
};

struct codes_hdr {
	char magic[8];
	uint32_t version;
	uint32_t metric;
	uint32_t dim;
	uint32_t M;
	uint64_t n;
};

_Static_assert(sizeof(struct pivots_hdr) == 32, "pivots header is 32 bytes on disk");
_Static_assert(sizeof(struct codes_hdr) == 32, "codes header is 32 bytes on disk");

/* ---- durable writer ------------------------------------------------------ */

struct wfile {
	const char *path;
	char tmp[PATH_MAX];
	int fd;
	uint32_t crc;
};

static int wf_open(struct wfile *w, const char *path)
{
	w->path = path;
	w->crc = 0;
	if ((size_t)snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path) >= sizeof w->tmp)
		return dann_fail(DANN_EINVAL, "%s: path too long", path);
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot create", w->tmp);
	return 0;
}

static int wf_put(struct wfile *w, const void *buf, size_t len)
{
	w->crc = crc32c(w->crc, buf, len);
	return fsu_write_all(w->fd, w->tmp, buf, len);
}

static void wf_abort(struct wfile *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	unlink(w->tmp);
}

/* Appends the CRC, fsyncs, renames over the final name, fsyncs the
 * directory. On failure the temporary is removed. */
static int wf_commit(struct wfile *w)
{
	uint32_t crc = w->crc;
	int rc;

	if ((rc = wf_put(w, &crc, sizeof crc)) < 0)
		goto fail;
	if ((rc = fsu_fsync(w->fd, w->tmp)) < 0)
		goto fail;
	if (close(w->fd) != 0) {
		w->fd = -1;
		rc = dann_fail_errno(DANN_EIO, errno, "%s: close", w->tmp);
		goto fail;
	}
	w->fd = -1;
	/* A failed directory fsync comes after the rename: the temporary is
	 * gone then, and removing it below does nothing. */
	if ((rc = fsu_rename_replace(w->tmp, w->path)) < 0)
		goto fail;
	return 0;
fail:
	wf_abort(w);
	return rc;
}

/* ---- save ------------------------------------------------------------------ */

static int save_pivots(const struct pq *pq, const char *path)
{
	/* Version 1 unless there is a rotation: an index built without OPQ
	 * stays readable by a dann that predates it. */
	struct pivots_hdr h = { .version = pq->rot ? PQ_PIVOTS_VERSION_OPQ : PQ_FILE_VERSION,
				.metric = (uint32_t)pq->metric, .dim = pq->dim, .M = pq->M,
				.ksub = PQ_CENTROIDS, .flags = pq->rot ? PQ_PIVOTS_FLAG_ROT : 0 };
	struct wfile w;
	int rc;

	memcpy(h.magic, PIVOTS_MAGIC, sizeof h.magic);
	if ((rc = wf_open(&w, path)) < 0)
		return rc;
	if ((rc = wf_put(&w, &h, sizeof h)) < 0 ||
	    (rc = wf_put(&w, pq->centre, (size_t)pq->dim * sizeof(float))) < 0 ||
	    (rc = wf_put(&w, pq->off, (size_t)(pq->M + 1) * sizeof(uint32_t))) < 0 ||
	    (rc = wf_put(&w, pq->cent, (size_t)PQ_CENTROIDS * pq->dim * sizeof(float))) < 0 ||
	    (pq->rot && (rc = wf_put(&w, pq->rot, (size_t)pq->dim * pq->dim * sizeof(float))) < 0)) {
		wf_abort(&w);
		return rc;
	}
	return wf_commit(&w);
}

static int save_codes(const struct pq *pq, const char *path)
{
	struct codes_hdr h = { .version = PQ_FILE_VERSION, .metric = (uint32_t)pq->metric,
			       .dim = pq->dim, .M = pq->M, .n = pq->n };
	struct wfile w;
	int rc;

	memcpy(h.magic, CODES_MAGIC, sizeof h.magic);
	if ((rc = wf_open(&w, path)) < 0)
		return rc;
	if ((rc = wf_put(&w, &h, sizeof h)) < 0 || (rc = wf_put(&w, pq->codes, pq->n * pq->M)) < 0) {
		wf_abort(&w);
		return rc;
	}
	return wf_commit(&w);
}

int pq_save_files(const struct pq *pq, const char *pivots_path, const char *codes_path)
{
	int rc = save_pivots(pq, pivots_path);

	if (rc == 0 && codes_path) {
		if (!pq->codes)
			return dann_fail(DANN_EINVAL, "%s: the quantizer holds no codes to save", codes_path);
		rc = save_codes(pq, codes_path);
	}
	return rc;
}

static int join(char *buf, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size)
		return dann_fail(DANN_EINVAL, "%s/%s: path too long", dir, name);
	return 0;
}

int pq_save(const struct pq *pq, const char *dir)
{
	char piv[PATH_MAX], cod[PATH_MAX];
	int rc;

	if ((rc = join(piv, sizeof piv, dir, PQ_PIVOTS_FILE)) < 0 ||
	    (rc = join(cod, sizeof cod, dir, PQ_CODES_FILE)) < 0)
		return rc;
	return pq_save_files(pq, piv, pq->codes ? cod : NULL);
}

/* ---- load ------------------------------------------------------------------ */

static int open_sized(const char *path, int *fd, uint64_t *size)
{
	struct stat st;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno, "%s: cannot open",
				       path);
	if (fstat(*fd, &st) != 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		return dann_fail_errno(DANN_EIO, e, "%s: stat", path);
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Reads the next len bytes of a file read front to back; *pos advances. */
static int read_next(int fd, const char *path, uint64_t *pos, void *buf, uint64_t len)
{
	int rc = fsu_pread_all(fd, path, buf, (size_t)len, *pos);

	*pos += len;
	return rc;
}

static int check_common(const char *path, const char *magic, const char *want, uint32_t version,
			uint32_t max_version, uint32_t metric, uint32_t dim, uint32_t M)
{
	if (memcmp(magic, want, 8) != 0)
		return dann_fail(DANN_ECORRUPT, "%s: bad magic: not a dann PQ %s file", path,
				 want == PIVOTS_MAGIC ? "pivots" : "codes");
	if (version < PQ_FILE_VERSION || version > max_version)
		return dann_fail(DANN_ECORRUPT, "%s: format version %u, expected %u..%u", path, version,
				 PQ_FILE_VERSION, max_version);
	if (metric > DANN_METRIC_COSINE)
		return dann_fail(DANN_ECORRUPT, "%s: metric %u in header, expected 0..2", path, metric);
	if (dim == 0 || dim > 65536)
		return dann_fail(DANN_ECORRUPT, "%s: dimension %u in header, expected 1..65536", path, dim);
	if (M == 0 || M > dim || M > PQ_MAX_BYTES)
		return dann_fail(DANN_ECORRUPT, "%s: M %u in header, expected 1..%u", path, M,
				 dim < PQ_MAX_BYTES ? dim : PQ_MAX_BYTES);
	return 0;
}

static int check_crc(const char *path, uint32_t got, uint32_t stored)
{
	if (got != stored)
		return dann_fail(DANN_ECORRUPT, "%s: checksum mismatch (stored %08x, computed %08x)", path,
				 stored, got);
	return 0;
}

static int load_pivots(const char *path, struct pq **out)
{
	struct pivots_hdr h;
	struct pq *pq = NULL;
	uint64_t size, want;
	uint32_t crc, stored;
	uint64_t pos = 0;
	int fd, rc;

	if ((rc = open_sized(path, &fd, &size)) < 0)
		return rc;
	if (size < sizeof h + sizeof crc) {
		rc = dann_fail(DANN_ECORRUPT, "%s: %llu bytes, too short for a pivots header", path,
			       (unsigned long long)size);
		goto fail;
	}
	if ((rc = read_next(fd, path, &pos, &h, sizeof h)) < 0 ||
	    (rc = check_common(path, h.magic, PIVOTS_MAGIC, h.version, PQ_PIVOTS_VERSION_OPQ, h.metric,
				h.dim, h.M)) < 0)
		goto fail;
	if (h.flags != (h.version == PQ_PIVOTS_VERSION_OPQ ? PQ_PIVOTS_FLAG_ROT : 0u) ||
	    (h.flags && h.dim > PQ_OPQ_MAX_DIM)) {
		rc = dann_fail(DANN_ECORRUPT, "%s: flags %#x in a version %u header of dim %u", path,
			       h.flags, h.version, h.dim);
		goto fail;
	}
	if (h.ksub != PQ_CENTROIDS) {
		rc = dann_fail(DANN_ECORRUPT, "%s: %u centroids per chunk in header, expected %u", path,
			       h.ksub, PQ_CENTROIDS);
		goto fail;
	}
	want = sizeof h + (uint64_t)h.dim * 4 + (uint64_t)(h.M + 1) * 4 +
	       (uint64_t)PQ_CENTROIDS * h.dim * 4 + sizeof crc +
	       (h.flags ? (uint64_t)h.dim * h.dim * 4 : 0);
	if (size != want) {
		rc = dann_fail(DANN_ECORRUPT, "%s: %llu bytes, expected %llu for dim %u and M %u", path,
			       (unsigned long long)size, (unsigned long long)want, h.dim, h.M);
		goto fail;
	}
	if ((rc = pq_alloc((enum dann_metric)h.metric, h.dim, h.M, &pq)) < 0)
		goto fail;
	if (h.flags && !(pq->rot = malloc((size_t)h.dim * h.dim * sizeof *pq->rot))) {
		rc = dann_fail(DANN_ENOMEM, "%s: rotation of %u x %u", path, h.dim, h.dim);
		goto fail;
	}
	crc = crc32c(0, &h, sizeof h);
	{
		uint32_t *off = malloc((h.M + 1) * sizeof *off);
		if (!off) {
			rc = dann_fail(DANN_ENOMEM, "%s: chunk offsets", path);
			goto fail;
		}
		if ((rc = read_next(fd, path, &pos, pq->centre, (uint64_t)h.dim * 4)) < 0 ||
		    (rc = read_next(fd, path, &pos, off, (uint64_t)(h.M + 1) * 4)) < 0 ||
		    (rc = read_next(fd, path, &pos, pq->cent, (uint64_t)PQ_CENTROIDS * h.dim * 4)) < 0 ||
		    (pq->rot &&
		     (rc = read_next(fd, path, &pos, pq->rot, (uint64_t)h.dim * h.dim * 4)) < 0) ||
		    (rc = read_next(fd, path, &pos, &stored, sizeof stored)) < 0) {
			free(off);
			goto fail;
		}
		crc = crc32c(crc, pq->centre, (size_t)h.dim * 4);
		crc = crc32c(crc, off, (size_t)(h.M + 1) * 4);
		crc = crc32c(crc, pq->cent, (size_t)PQ_CENTROIDS * h.dim * 4);
		if (pq->rot)
			crc = crc32c(crc, pq->rot, (size_t)h.dim * h.dim * 4);
		if ((rc = check_crc(path, crc, stored)) == 0 &&
		    memcmp(off, pq->off, (h.M + 1) * sizeof *off) != 0)
			rc = dann_fail(DANN_ECORRUPT,
				       "%s: chunk offsets do not split %u dims into %u chunks as dann does",
				       path, h.dim, h.M);
		free(off);
		if (rc < 0)
			goto fail;
	}
	close(fd);
	pq_finish_layout(pq);
	*out = pq;
	return 0;
fail:
	close(fd);
	pq_free(pq);
	return rc;
}

static int load_codes(const char *path, struct pq *pq)
{
	struct codes_hdr h;
	uint64_t size, bytes;
	uint32_t crc, stored;
	uint64_t pos = 0;
	int fd, rc;

	if ((rc = open_sized(path, &fd, &size)) < 0)
		return rc;
	if (size < sizeof h + sizeof crc) {
		rc = dann_fail(DANN_ECORRUPT, "%s: %llu bytes, too short for a codes header", path,
			       (unsigned long long)size);
		goto out;
	}
	if ((rc = read_next(fd, path, &pos, &h, sizeof h)) < 0 ||
	    (rc = check_common(path, h.magic, CODES_MAGIC, h.version, PQ_FILE_VERSION, h.metric, h.dim,
				h.M)) < 0)
		goto out;
	if (h.metric != (uint32_t)pq->metric || h.dim != pq->dim || h.M != pq->M) {
		rc = dann_fail(DANN_ECORRUPT,
			       "%s: codes for metric %s, dim %u, M %u do not belong to pivots for %s, %u, %u",
			       path, dann_metric_name((enum dann_metric)h.metric), h.dim, h.M,
			       dann_metric_name(pq->metric), pq->dim, pq->M);
		goto out;
	}
	bytes = size - sizeof h - sizeof crc;
	if (h.n > UINT32_MAX || h.n * h.M != bytes) {
		rc = dann_fail(DANN_ECORRUPT, "%s: %llu points x %u bytes in header, but %llu code bytes in the file",
			       path, (unsigned long long)h.n, h.M, (unsigned long long)bytes);
		goto out;
	}
	if ((rc = pq_alloc_codes(pq, h.n)) < 0)
		goto out;
	crc = crc32c(0, &h, sizeof h);
	for (uint64_t done = 0; done < bytes;) {
		uint64_t len = bytes - done < PQ_IO_CHUNK ? bytes - done : PQ_IO_CHUNK;
		if ((rc = read_next(fd, path, &pos, pq->codes + done, len)) < 0)
			goto out;
		crc = crc32c(crc, pq->codes + done, len);
		done += len;
	}
	if ((rc = read_next(fd, path, &pos, &stored, sizeof stored)) < 0)
		goto out;
	rc = check_crc(path, crc, stored);
out:
	close(fd);
	return rc;
}

int pq_load_files(const char *pivots_path, const char *codes_path, struct pq **out)
{
	struct pq *pq = NULL;
	int rc = load_pivots(pivots_path, &pq);

	if (rc < 0)
		return rc;
	if (codes_path && (rc = load_codes(codes_path, pq)) < 0) {
		pq_free(pq);
		return rc;
	}
	*out = pq;
	return 0;
}

int pq_load(const char *dir, int with_codes, struct pq **out)
{
	char piv[PATH_MAX], cod[PATH_MAX];
	int rc;

	if ((rc = join(piv, sizeof piv, dir, PQ_PIVOTS_FILE)) < 0 ||
	    (rc = join(cod, sizeof cod, dir, PQ_CODES_FILE)) < 0)
		return rc;
	return pq_load_files(piv, with_codes ? cod : NULL, out);
}
