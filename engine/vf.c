/*
 * vf.c — opening, validating and reading vector files with pread.
 *
 * A file is never loaded or mapped: rows are read (and converted) range by
 * range into the caller's buffer, so a file larger than RAM can be scanned
 * and nothing of it stays resident in this process. Every header is checked
 * against the file size, and every row header of a *vecs file against the
 * first, before vf_open returns. Reads go through pread rather than a
 * mapping because a mapped file that another process truncates kills the
 * reader with SIGBUS; with pread such a file is an error naming it
 * (DANN_ECORRUPT, "ends at offset ..."). A struct vf never changes after
 * vf_open: any number of threads may read it at once.
 */
#include "vf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "vf_impl.h"

/* Bytes of a *vecs file read per pread while checking its row headers on
 * open: one buffer of this size, whatever the file's size. */
#define VF_SCAN_WINDOW_BYTES (16u << 20)

struct vf {
	char *path;
	int fd;
	uint64_t file_bytes;
	enum vf_format fmt;
	enum dann_dtype dtype;
	uint64_t count;
	uint32_t dim;
	size_t row_bytes;    /* dim * element size */
	size_t stride;       /* bytes from one row's elements to the next's */
	size_t data_off;     /* offset of row 0's elements */
};

static const struct vf_format_info formats[] = {
	[VF_FBIN] = { ".fbin", "fbin", DANN_DTYPE_F32, false },
	[VF_U8BIN] = { ".u8bin", "u8bin", DANN_DTYPE_U8, false },
	[VF_I8BIN] = { ".i8bin", "i8bin", DANN_DTYPE_I8, false },
	[VF_IBIN] = { ".ibin", "ibin", DANN_DTYPE_I32, false },
	[VF_FVECS] = { ".fvecs", "fvecs", DANN_DTYPE_F32, true },
	[VF_BVECS] = { ".bvecs", "bvecs", DANN_DTYPE_U8, true },
	[VF_IVECS] = { ".ivecs", "ivecs", DANN_DTYPE_I32, true },
};
#define NFORMATS (sizeof formats / sizeof formats[0])

const struct vf_format_info *vf_format_info(enum vf_format f)
{
	return (unsigned)f < NFORMATS ? &formats[f] : NULL;
}

int vf_format_from_path(const char *path, enum vf_format *out)
{
	const char *base, *dot;

	if (!path || !*path)
		return dann_fail(DANN_EINVAL, "vector file path is empty");
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	if (!dot || dot == base)
		return dann_fail(DANN_EINVAL,
				 "%s: no file extension to tell the format: expected " VF_EXTENSIONS,
				 path);
	for (size_t i = 0; i < NFORMATS; i++)
		if (!strcasecmp(dot, formats[i].ext)) {
			*out = (enum vf_format)i;
			return 0;
		}
	return dann_fail(DANN_EINVAL, "%s: unknown vector file extension '%s': expected " VF_EXTENSIONS,
			 path, dot);
}

enum dann_dtype vf_format_dtype(enum vf_format f)
{
	const struct vf_format_info *fi = vf_format_info(f);
	return fi ? fi->dtype : DANN_DTYPE_F32;
}

const char *vf_format_name(enum vf_format f)
{
	const struct vf_format_info *fi = vf_format_info(f);
	return fi ? fi->name : "?";
}

static int32_t load_i32(const unsigned char *p)
{
	int32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* *bin: int32 count, int32 dim, then exactly count*dim elements. */
static int validate_bin(struct vf *f)
{
	size_t esize = dann_dtype_size(f->dtype);
	unsigned char hdr[VF_BIN_HEADER_BYTES];
	int32_t count, dim;
	uint64_t want;
	int rc;

	if (f->file_bytes < VF_BIN_HEADER_BYTES)
		return dann_fail(DANN_ECORRUPT,
				 "%s: file is %llu bytes, shorter than the %u-byte header (int32 count, int32 dim)",
				 f->path, (unsigned long long)f->file_bytes, VF_BIN_HEADER_BYTES);
	if ((rc = fsu_pread_all(f->fd, f->path, hdr, sizeof hdr, 0)) < 0)
		return rc;
	count = load_i32(hdr);
	dim = load_i32(hdr + 4);
	if (count < 0)
		return dann_fail(DANN_ECORRUPT, "%s: count %d in header is negative", f->path, count);
	if (dim <= 0 || dim > VF_MAX_DIM)
		return dann_fail(DANN_ECORRUPT, "%s: dimension %d in header, expected 1..%d", f->path,
				 dim, VF_MAX_DIM);
	/* count < 2^31, dim <= 2^16, esize <= 4: no overflow in 64 bits. */
	want = VF_BIN_HEADER_BYTES + (uint64_t)count * (uint64_t)dim * esize;
	if (want != f->file_bytes)
		return dann_fail(DANN_ECORRUPT,
				 "%s: header says count %d x dim %d x %zu-byte %s = %llu bytes with the header, "
				 "but the file has %llu bytes (%s)",
				 f->path, count, dim, esize, dann_dtype_name(f->dtype),
				 (unsigned long long)want, (unsigned long long)f->file_bytes,
				 want > f->file_bytes ? "truncated" : "trailing bytes after the last row");
	f->count = (uint64_t)count;
	f->dim = (uint32_t)dim;
	f->row_bytes = (size_t)dim * esize;
	f->stride = f->row_bytes;
	f->data_off = VF_BIN_HEADER_BYTES;
	return 0;
}

/* *vecs: rows of (int32 dim, dim elements); every dim equals the first and
 * the last row is complete. Checked row by row so the message can say which
 * row is wrong rather than only that the size does not divide. */
static int validate_vecs(struct vf *f)
{
	size_t esize = dann_dtype_size(f->dtype);
	unsigned char first[VF_VECS_ROW_HEADER_BYTES], *win = NULL;
	uint64_t rows, window_rows;
	int32_t dim;
	int rc = 0;

	if (f->file_bytes < VF_VECS_ROW_HEADER_BYTES)
		return dann_fail(DANN_ECORRUPT,
				 "%s: file is %llu bytes, shorter than one row header (int32 dim)",
				 f->path, (unsigned long long)f->file_bytes);
	if ((rc = fsu_pread_all(f->fd, f->path, first, sizeof first, 0)) < 0)
		return rc;
	dim = load_i32(first);
	if (dim <= 0 || dim > VF_MAX_DIM)
		return dann_fail(DANN_ECORRUPT, "%s: row 0: dimension %d, expected 1..%d", f->path,
				 dim, VF_MAX_DIM);
	f->dim = (uint32_t)dim;
	f->row_bytes = (size_t)dim * esize;
	f->stride = VF_VECS_ROW_HEADER_BYTES + f->row_bytes;
	f->data_off = VF_VECS_ROW_HEADER_BYTES;

	rows = f->file_bytes / f->stride;
	window_rows = VF_SCAN_WINDOW_BYTES / f->stride ? VF_SCAN_WINDOW_BYTES / f->stride : 1;
	if (rows > 0 && !(win = malloc(window_rows * f->stride)))
		return dann_fail(DANN_ENOMEM, "%s: no memory to check its rows", f->path);
	for (uint64_t r0 = 0; r0 < rows && rc == 0; r0 += window_rows) {
		uint64_t m = rows - r0 < window_rows ? rows - r0 : window_rows;
		if ((rc = fsu_pread_all(f->fd, f->path, win, m * f->stride, r0 * f->stride)) < 0)
			break;
		for (uint64_t i = 0; i < m; i++) {
			int32_t d = load_i32(win + i * f->stride);
			if (d != dim) {
				rc = dann_fail(DANN_ECORRUPT, "%s: row %llu: dimension %d, but row 0 has %d",
					       f->path, (unsigned long long)(r0 + i), d, dim);
				break;
			}
		}
	}
	free(win);
	if (rc < 0)
		return rc;
	if (f->file_bytes % f->stride)
		return dann_fail(DANN_ECORRUPT,
				 "%s: row %llu is truncated: %llu of %zu bytes (int32 dim + %d x %zu-byte %s)",
				 f->path, (unsigned long long)rows,
				 (unsigned long long)(f->file_bytes % f->stride), f->stride, dim, esize,
				 dann_dtype_name(f->dtype));
	f->count = rows;
	return 0;
}

int vf_open(const char *path, struct vf **out)
{
	struct vf *f;
	struct stat st;
	int rc;

	*out = NULL;
	if (!(f = calloc(1, sizeof *f)))
		return dann_fail(DANN_ENOMEM, "vf_open: %s", path ? path : "(null)");
	f->fd = -1;
	if ((rc = vf_format_from_path(path, &f->fmt)) < 0)
		goto fail;
	f->dtype = formats[f->fmt].dtype;
	if (!(f->path = strdup(path))) {
		rc = dann_fail(DANN_ENOMEM, "vf_open: %s", path);
		goto fail;
	}
	if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				     "%s: cannot open", path);
		goto fail;
	}
	if (fstat(f->fd, &st) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot stat", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = dann_fail(DANN_EINVAL, "%s: not a regular file", path);
		goto fail;
	}
	f->file_bytes = (uint64_t)st.st_size;
	if (f->file_bytes == 0) {
		rc = dann_fail(DANN_ECORRUPT, "%s: empty file (0 bytes): a .%s file starts with %s", path,
			       formats[f->fmt].name,
			       formats[f->fmt].vecs ? "a row (int32 dim, elements)"
						    : "an 8-byte header (int32 count, int32 dim)");
		goto fail;
	}
	rc = formats[f->fmt].vecs ? validate_vecs(f) : validate_bin(f);
	if (rc < 0)
		goto fail;
	*out = f;
	return 0;
fail:
	vf_close(f);
	return rc;
}

void vf_close(struct vf *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

uint64_t vf_count(const struct vf *f) { return f->count; }
uint32_t vf_dim(const struct vf *f) { return f->dim; }
enum vf_format vf_format(const struct vf *f) { return f->fmt; }
enum dann_dtype vf_dtype(const struct vf *f) { return f->dtype; }
const char *vf_path(const struct vf *f) { return f->path; }
uint64_t vf_file_bytes(const struct vf *f) { return f->file_bytes; }
size_t vf_row_bytes(const struct vf *f) { return f->row_bytes; }

static uint64_t row_off(const struct vf *f, uint64_t i)
{
	return f->data_off + i * f->stride;
}

static int check_range(const struct vf *f, uint64_t first, uint64_t n)
{
	if (first > f->count || n > f->count - first)
		return dann_fail(DANN_EINVAL, "%s: rows [%llu, %llu) requested, but the file has %llu rows",
				 f->path, (unsigned long long)first,
				 (unsigned long long)(first + n), (unsigned long long)f->count);
	return 0;
}

int vf_read(const struct vf *f, uint64_t first, uint64_t n, void *dst)
{
	unsigned char *d = dst;
	int rc;

	if ((rc = check_range(f, first, n)) < 0)
		return rc;
	if (n == 0)
		return 0;
	if (!formats[f->fmt].vecs)
		return fsu_pread_all(f->fd, f->path, d, (size_t)n * f->row_bytes, row_off(f, first));
	for (uint64_t i = 0; i < n; i++)
		if ((rc = fsu_pread_all(f->fd, f->path, d + i * f->row_bytes, f->row_bytes,
					row_off(f, first + i))) < 0)
			return rc;
	return 0;
}

int vf_read_ids(const struct vf *f, const uint32_t *ids, uint64_t n, void *dst)
{
	unsigned char *d = dst;

	for (uint64_t i = 0; i < n; i++) {
		if (ids[i] >= f->count)
			return dann_fail(DANN_EINVAL, "%s: row %u requested, but the file has %llu rows",
					 f->path, ids[i], (unsigned long long)f->count);
		if (i > 0 && ids[i] <= ids[i - 1])
			return dann_fail(DANN_EINVAL, "%s: row ids must ascend (%u after %u)", f->path,
					 ids[i], ids[i - 1]);
	}
	for (uint64_t i = 0; i < n;) {
		/* A run of consecutive rows of a *bin file is one read. */
		uint64_t run = 1;
		if (!formats[f->fmt].vecs)
			while (i + run < n && ids[i + run] == ids[i] + run)
				run++;
		size_t want = (size_t)run * f->row_bytes;
		int rc = fsu_pread_all(f->fd, f->path, d, want, row_off(f, ids[i]));
		if (rc < 0)
			return rc;
		d += want;
		i += run;
	}
	return 0;
}

/* Converts n elements of type t at src (any alignment) to float. */
static void to_f32(enum dann_dtype t, const unsigned char *src, size_t n, float *dst)
{
	switch (t) {
	case DANN_DTYPE_F32:
		memcpy(dst, src, n * sizeof *dst);
		break;
	case DANN_DTYPE_U8:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)src[i];
		break;
	case DANN_DTYPE_I8:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)(int8_t)src[i];
		break;
	case DANN_DTYPE_I32:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)load_i32(src + 4 * i);
		break;
	}
}

/* Bytes of packed elements widened per step of widen_in_place. */
#define VF_WIDEN_CHUNK_BYTES 4096u

/* Converts n elements of type t, stored packed at the end of the n floats
 * at dst, to float in place. Chunk by chunk, front to back: a chunk is
 * copied out before its floats are written, and the floats of elements
 * [0, i) end at byte 4i, never past the first unread element (byte
 * (4-esize)n + i*esize, as i <= n), so nothing is overwritten before it is
 * read. The copy also keeps the conversion loop free of aliasing, so it
 * vectorizes. */
static void widen_in_place(enum dann_dtype t, float *dst, size_t n)
{
	size_t esize = dann_dtype_size(t), per = VF_WIDEN_CHUNK_BYTES / esize;
	const unsigned char *src = (const unsigned char *)dst + n * (sizeof *dst - esize);
	unsigned char chunk[VF_WIDEN_CHUNK_BYTES];

	if (t == DANN_DTYPE_F32)
		return;
	for (size_t i = 0; i < n; i += per) {
		size_t m = n - i < per ? n - i : per;
		memcpy(chunk, src + i * esize, m * esize);
		to_f32(t, chunk, m, dst + i);
	}
}

/* Reads rows [first, first+n) of elements into the tail of dst (n*dim
 * floats) and widens them there, so no second buffer is needed. */
static int read_f32_rows(const struct vf *f, uint64_t first, uint64_t n, float *dst)
{
	size_t elems = (size_t)n * f->dim;
	unsigned char *tail = (unsigned char *)dst + elems * sizeof *dst - (size_t)n * f->row_bytes;
	int rc;

	if ((rc = fsu_pread_all(f->fd, f->path, tail, (size_t)n * f->row_bytes, row_off(f, first))) < 0)
		return rc;
	widen_in_place(f->dtype, dst, elems);
	return 0;
}

int vf_read_f32(const struct vf *f, uint64_t first, uint64_t n, float *dst)
{
	int rc;

	if ((rc = check_range(f, first, n)) < 0)
		return rc;
	if (n == 0)
		return 0;
	if (!formats[f->fmt].vecs)
		return read_f32_rows(f, first, n, dst);
	for (uint64_t i = 0; i < n; i++)
		if ((rc = read_f32_rows(f, first + i, 1, dst + i * f->dim)) < 0)
			return rc;
	return 0;
}

int vf_read_f32_ids(const struct vf *f, const uint64_t *ids, uint64_t n, float *dst)
{
	enum { BATCH = 256 };
	uint32_t id32[BATCH];
	unsigned char *raw;
	int rc = 0;

	if (n == 0)
		return 0;
	if (!(raw = malloc((size_t)BATCH * f->row_bytes)))
		return dann_fail(DANN_ENOMEM, "%s: no memory to read %u rows", f->path, (unsigned)BATCH);
	for (uint64_t b = 0; b < n && rc == 0; b += BATCH) {
		uint64_t m = n - b < BATCH ? n - b : BATCH;
		for (uint64_t i = 0; i < m && rc == 0; i++) {
			if (ids[b + i] >= f->count)
				rc = dann_fail(DANN_EINVAL, "%s: row %llu requested, but the file has %llu rows",
					       f->path, (unsigned long long)ids[b + i],
					       (unsigned long long)f->count);
			id32[i] = (uint32_t)ids[b + i];
		}
		if (rc == 0 && b > 0 && ids[b] <= ids[b - 1])
			rc = dann_fail(DANN_EINVAL, "%s: row ids must ascend (%llu after %llu)", f->path,
				       (unsigned long long)ids[b], (unsigned long long)ids[b - 1]);
		if (rc == 0 && (rc = vf_read_ids(f, id32, m, raw)) == 0)
			to_f32(f->dtype, raw, (size_t)m * f->dim, dst + b * f->dim);
	}
	free(raw);
	return rc;
}

void vf_advise_willneed(const struct vf *f, uint64_t first, uint64_t n)
{
	uint64_t start, end;

	if (first >= f->count || n == 0)
		return;
	if (n > f->count - first)
		n = f->count - first;
	start = row_off(f, first) - (formats[f->fmt].vecs ? VF_VECS_ROW_HEADER_BYTES : 0);
	end = start + n * f->stride;
	/* A hint: readahead that fails costs nothing but speed. */
	(void)posix_fadvise(f->fd, (off_t)start, (off_t)(end - start), POSIX_FADV_WILLNEED);
}

void vf_advise_dontneed(const struct vf *f, uint64_t first, uint64_t n)
{
	/* Rows are read with pread, so nothing of the file is resident in this
	 * process to let go of; the shared page cache is the kernel's to evict
	 * (dropping it here would make the build's next pass reread the disk). */
	(void)f, (void)first, (void)n;
}

int vf_gt_dist_path(const char *ibin_path, char *out, size_t cap)
{
	static const char ext[] = ".ibin", dist_ext[] = ".dist.fbin";
	size_t len = ibin_path ? strlen(ibin_path) : 0;
	size_t stem = len - (sizeof ext - 1);

	if (len < sizeof ext || strcasecmp(ibin_path + stem, ext) != 0)
		return dann_fail(DANN_EINVAL,
				 "%s: ground-truth ids file must end in .ibin (distances go beside it as .dist.fbin)",
				 ibin_path ? ibin_path : "(null)");
	if (stem + sizeof dist_ext > cap)
		return dann_fail(DANN_EINVAL, "%s: distances file name needs %zu bytes, buffer has %zu",
				 ibin_path, stem + sizeof dist_ext, cap);
	memcpy(out, ibin_path, stem);
	memcpy(out + stem, dist_ext, sizeof dist_ext);
	return 0;
}
