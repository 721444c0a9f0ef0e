/*
 * idx.c — streaming reader of IDX files, plain or gzipped (see idx.h).
 *
 * zlib reads both: gzread passes a plain file through unchanged. A plain
 * file's size is checked against its header on open; a gzipped file's size
 * is only known once decompressed, so idx_read reports early ends and
 * idx_finish trailing bytes.
 */
#include "idx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../engine/error.h"
#include "../engine/vf.h"

#define IDX_GZ_BUFFER_BYTES (256u << 10) /* zlib's input buffer; 8 KiB default is slow */
#define IDX_READ_PIECE_BYTES (1u << 30)  /* gzread takes an unsigned int length */

struct idx {
	char *path;
	gzFile gz;
	uint32_t magic;
	unsigned ndims;
	uint32_t dims[IDX_MAX_DIMS];
	uint32_t row_elems;
	int gzipped;
	uint64_t next_row;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads exactly n bytes or fails naming what was being read. */
static int read_exact(struct idx *x, void *dst, uint64_t n, const char *what)
{
	unsigned char *d = dst;
	uint64_t done = 0;

	while (done < n) {
		uint64_t want = n - done < IDX_READ_PIECE_BYTES ? n - done : IDX_READ_PIECE_BYTES;
		int got = gzread(x->gz, d + done, (unsigned)want);
		int zerr;
		const char *zmsg = gzerror(x->gz, &zerr);

		if (got < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR))
			return dann_fail(zerr == Z_ERRNO ? DANN_EIO : DANN_ECORRUPT, "%s: reading %s: %s",
					 x->path, what, zerr == Z_ERRNO ? strerror(errno) : zmsg);
		if (got == 0)
			return dann_fail(DANN_ECORRUPT,
					 "%s: truncated: %s needs %llu bytes, the %sdata ends after %llu",
					 x->path, what, (unsigned long long)n,
					 x->gzipped ? "decompressed " : "", (unsigned long long)done);
		done += (uint64_t)got;
	}
	return 0;
}

static int check_header(struct idx *x, uint64_t file_bytes)
{
	unsigned char b[4 * IDX_MAX_DIMS];
	uint64_t elems = 1, header_bytes;
	int rc;

	if ((rc = read_exact(x, b, 4, "the 4-byte magic")) < 0)
		return rc;
	x->gzipped = !gzdirect(x->gz);
	x->magic = be32(b);
	if (b[0] != 0 || b[1] != 0)
		return dann_fail(DANN_ECORRUPT,
				 "%s: magic 0x%08x is not an IDX magic (expected 0x00000803 for images "
				 "or 0x00000801 for labels)", x->path, x->magic);
	if (b[2] != IDX_MAGIC_UBYTE)
		return dann_fail(DANN_EUNSUPPORTED,
				 "%s: magic 0x%08x: element type 0x%02x, only unsigned byte (0x08) is read",
				 x->path, x->magic, b[2]);
	x->ndims = b[3];
	if (x->ndims < 1 || x->ndims > IDX_MAX_DIMS)
		return dann_fail(DANN_EUNSUPPORTED, "%s: magic 0x%08x: %u dimensions, expected 1 to %d",
				 x->path, x->magic, x->ndims, IDX_MAX_DIMS);
	if ((rc = read_exact(x, b, 4 * x->ndims, "the dimension sizes")) < 0)
		return rc;
	for (unsigned i = 0; i < x->ndims; i++) {
		x->dims[i] = be32(b + 4 * i);
		if (i > 0 && x->dims[i] == 0)
			return dann_fail(DANN_ECORRUPT, "%s: dimension %u has size 0", x->path, i);
		if (i > 0)
			elems *= x->dims[i];
	}
	if (x->dims[0] > INT32_MAX)
		return dann_fail(DANN_ECORRUPT, "%s: count %u is larger than %d", x->path, x->dims[0],
				 INT32_MAX);
	if (elems > VF_MAX_DIM)
		return dann_fail(DANN_EUNSUPPORTED, "%s: rows of %llu elements, at most %d are supported",
				 x->path, (unsigned long long)elems, VF_MAX_DIM);
	x->row_elems = (uint32_t)elems;
	header_bytes = 4 + 4 * (uint64_t)x->ndims;
	if (!x->gzipped && file_bytes != header_bytes + (uint64_t)x->dims[0] * elems)
		return dann_fail(DANN_ECORRUPT,
				 "%s: header says %u rows x %u bytes = %llu bytes with the header, but the "
				 "file has %llu bytes (%s)",
				 x->path, x->dims[0], x->row_elems,
				 (unsigned long long)(header_bytes + (uint64_t)x->dims[0] * elems),
				 (unsigned long long)file_bytes,
				 file_bytes < header_bytes + (uint64_t)x->dims[0] * elems ? "truncated"
											 : "trailing bytes");
	return 0;
}

int idx_open(const char *path, struct idx **out)
{
	struct idx *x;
	struct stat st;
	int fd = -1, rc;

	*out = NULL;
	if (!(x = calloc(1, sizeof *x)) || !(x->path = strdup(path))) {
		free(x);
		return dann_fail(DANN_ENOMEM, "idx_open: %s", path);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				     "%s: cannot open", path);
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = dann_fail(DANN_EINVAL, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size == 0) {
		rc = dann_fail(DANN_ECORRUPT, "%s: empty file (0 bytes)", path);
		goto fail;
	}
	if (!(x->gz = gzdopen(fd, "rb"))) {
		rc = dann_fail(DANN_ENOMEM, "%s: cannot start zlib", path);
		goto fail;
	}
	fd = -1; /* gzclose closes it */
	gzbuffer(x->gz, IDX_GZ_BUFFER_BYTES);
	if ((rc = check_header(x, (uint64_t)st.st_size)) < 0)
		goto fail;
	*out = x;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	idx_close(x);
	return rc;
}

void idx_close(struct idx *x)
{
	if (!x)
		return;
	if (x->gz)
		gzclose(x->gz);
	free(x->path);
	free(x);
}

unsigned idx_ndims(const struct idx *x) { return x->ndims; }
uint32_t idx_dim_at(const struct idx *x, unsigned i) { return i < x->ndims ? x->dims[i] : 0; }
uint32_t idx_count(const struct idx *x) { return x->dims[0]; }
uint32_t idx_row_elems(const struct idx *x) { return x->row_elems; }
uint32_t idx_magic(const struct idx *x) { return x->magic; }
int idx_gzipped(const struct idx *x) { return x->gzipped; }

int idx_read(struct idx *x, uint64_t n, uint8_t *dst)
{
	char what[96];
	int rc;

	if (n > x->dims[0] - x->next_row)
		return dann_fail(DANN_EINVAL, "%s: %llu rows requested after row %llu, the file has %u",
				 x->path, (unsigned long long)n, (unsigned long long)x->next_row,
				 x->dims[0]);
	snprintf(what, sizeof what, "rows %llu..%llu", (unsigned long long)x->next_row,
		 (unsigned long long)(x->next_row + n - 1));
	if ((rc = read_exact(x, dst, n * x->row_elems, what)) < 0)
		return rc;
	x->next_row += n;
	return 0;
}

int idx_finish(struct idx *x)
{
	unsigned char extra;
	int got, zerr;
	const char *zmsg;

	if (x->next_row != x->dims[0])
		return dann_fail(DANN_EINVAL, "%s: finished after row %llu of %u", x->path,
				 (unsigned long long)x->next_row, x->dims[0]);
	got = gzread(x->gz, &extra, 1);
	zmsg = gzerror(x->gz, &zerr);
	/* Reading to the end also checks the gzip trailer (CRC-32 and length);
	 * Z_BUF_ERROR here means the stream stops before it. */
	if (got < 0 || zerr != Z_OK)
		return dann_fail(DANN_ECORRUPT, "%s: after the last row: %s", x->path,
				 zerr == Z_BUF_ERROR ? "gzip stream ends before its trailer" : zmsg);
	if (got > 0)
		return dann_fail(DANN_ECORRUPT, "%s: trailing bytes after the last of %u rows", x->path,
				 x->dims[0]);
	return 0;
}
