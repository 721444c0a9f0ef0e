/*
 * cmd_convert.c — `dann convert`: vectors from one file format to another.
 *
 * Inputs are any vector file vf_open reads, or IDX files (Fashion-MNIST,
 * gzipped or plain). Rows stream through two chunk buffers into a
 * vf_writer, so a file of any size converts in a few MiB of memory, and the
 * output appears only when the whole input converted. An element type
 * changes only when no value changes: any value the target type cannot hold
 * exactly stops the conversion with its row and column named.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/error.h"
#include "../engine/vf.h"
#include "cmd.h"
#include "idx.h"

#define CONVERT_CHUNK_BYTES (8u << 20) /* per chunk buffer */

static const char convert_help[] =
	"usage: dann convert --in FILE --out FILE [--limit N]\n"
	"\n"
	"Converts vectors between file formats, streaming in chunks.\n"
	"  --in FILE    .fbin .u8bin .i8bin .ibin .fvecs .bvecs .ivecs, or an IDX file\n"
	"               (Fashion-MNIST *-idx3-ubyte images, gzipped or plain)\n"
	"  --out FILE   the output; its extension picks the format\n"
	"  --limit N    convert only the first N rows\n"
	"\n"
	"Element types change only where no value changes: uint8 and int8 to float32\n"
	"or int32 always; float32 to uint8/int8/int32 only if every value is an\n"
	"integer in range; int32 to float32 only if exact (|v| <= 2^24). IDX images\n"
	"become rows of rows*cols pixels; IDX labels (idx1) convert only to .ibin\n"
	"(count x 1). The output is written to FILE.tmp and renamed when complete.\n";

/* Rows come from a vector file or an IDX file; this hides which. */
struct source {
	const char *path;
	struct vf *vf;
	struct idx *idx;
	enum dann_dtype dtype;
	uint64_t count;
	uint32_t dim;
	const char *kind;
};

static int source_open(const char *path, struct source *s)
{
	enum vf_format fmt;
	int rc;

	memset(s, 0, sizeof *s);
	s->path = path;
	if (vf_format_from_path(path, &fmt) == 0) {
		if ((rc = vf_open(path, &s->vf)) < 0)
			return rc;
		s->dtype = vf_dtype(s->vf);
		s->count = vf_count(s->vf);
		s->dim = vf_dim(s->vf);
		s->kind = vf_format_name(fmt);
		return 0;
	}
	/* Without a vector-file extension the file must be IDX; say so when
	 * its contents are what is wrong, since the name may be the mistake. */
	if ((rc = idx_open(path, &s->idx)) < 0)
		return rc == DANN_ENOTFOUND || rc == DANN_EIO
			? rc : dann_fail_wrap(rc, "no vector file extension, so read as IDX");
	s->dtype = DANN_DTYPE_U8;
	s->count = idx_count(s->idx);
	s->dim = idx_row_elems(s->idx);
	s->kind = idx_ndims(s->idx) == 1 ? "idx1-ubyte labels"
		: idx_ndims(s->idx) == 3 ? "idx3-ubyte images" : "idx2-ubyte";
	return 0;
}

static void source_close(struct source *s)
{
	vf_close(s->vf);
	idx_close(s->idx);
}

/* Reads rows [first, first+n) in order; IDX files only stream forwards. */
static int source_read(struct source *s, uint64_t first, uint64_t n, void *dst)
{
	int rc;

	if (!s->vf)
		return idx_read(s->idx, n, dst);
	vf_advise_willneed(s->vf, first + n, n);
	rc = vf_read(s->vf, first, n, dst);
	vf_advise_dontneed(s->vf, first, n);
	return rc;
}

static double load_elem(enum dann_dtype t, const unsigned char *p, size_t i)
{
	float f;
	int32_t v;

	switch (t) {
	case DANN_DTYPE_F32: memcpy(&f, p + 4 * i, 4); return f;
	case DANN_DTYPE_U8: return p[i];
	case DANN_DTYPE_I8: return (int8_t)p[i];
	case DANN_DTYPE_I32: memcpy(&v, p + 4 * i, 4); return v;
	}
	return NAN;
}

/* Stores v as type t if it is exactly representable; else returns false. */
static bool store_elem(enum dann_dtype t, unsigned char *p, size_t i, double v)
{
	float f;
	int32_t x;

	switch (t) {
	case DANN_DTYPE_F32:
		f = (float)v;
		if ((double)f != v)
			return false;
		memcpy(p + 4 * i, &f, 4);
		return true;
	case DANN_DTYPE_U8:
		if (!(v >= 0 && v <= UINT8_MAX && v == floor(v)))
			return false;
		p[i] = (uint8_t)v;
		return true;
	case DANN_DTYPE_I8:
		if (!(v >= INT8_MIN && v <= INT8_MAX && v == floor(v)))
			return false;
		p[i] = (uint8_t)(int8_t)v;
		return true;
	case DANN_DTYPE_I32:
		if (!(v >= INT32_MIN && v <= INT32_MAX && v == floor(v)))
			return false;
		x = (int32_t)v;
		memcpy(p + 4 * i, &x, 4);
		return true;
	}
	return false;
}

static const char *why_not(enum dann_dtype t, double v)
{
	if (isnan(v) || isinf(v))
		return "not a finite number";
	if (t == DANN_DTYPE_F32)
		return "float32 cannot hold it exactly (|v| > 2^24)";
	if (v != floor(v))
		return "not an integer";
	switch (t) {
	case DANN_DTYPE_U8: return "outside 0..255";
	case DANN_DTYPE_I8: return "outside -128..127";
	default: return "outside the int32 range";
	}
}

/* Converts n rows of dim elements from st at src to dt at dst. first is the
 * input row number of src's first row, for the message. */
static int convert_rows(const struct source *s, enum dann_dtype dt, const char *out_path,
			const void *src, void *dst, uint64_t first, uint64_t n)
{
	size_t total = (size_t)n * s->dim;

	for (size_t i = 0; i < total; i++) {
		double v = load_elem(s->dtype, src, i);
		if (!store_elem(dt, dst, i, v))
			return dann_fail(DANN_EINVAL,
					 "%s: row %llu, column %zu: value %.9g cannot be written as %s to %s: %s",
					 s->path, (unsigned long long)(first + i / s->dim), i % s->dim, v,
					 dann_dtype_name(dt), out_path, why_not(dt, v));
	}
	return 0;
}

static int convert(struct source *s, const char *out_path, uint64_t rows, enum dann_dtype dt)
{
	size_t in_row = (size_t)s->dim * dann_dtype_size(s->dtype);
	size_t out_row = (size_t)s->dim * dann_dtype_size(dt);
	size_t widest = in_row > out_row ? in_row : out_row;
	uint64_t chunk = CONVERT_CHUNK_BYTES / widest ? CONVERT_CHUNK_BYTES / widest : 1;
	bool same = s->dtype == dt;
	unsigned char *in = malloc(chunk * in_row), *out = same ? in : malloc(chunk * out_row);
	struct vf_writer *w = NULL;
	int rc;

	if (!in || !out) {
		rc = dann_fail(DANN_ENOMEM, "no memory for %llu-row chunk buffers",
			       (unsigned long long)chunk);
		goto out;
	}
	if ((rc = vf_writer_create(out_path, s->dim, &w)) < 0)
		goto out;
	for (uint64_t first = 0; first < rows; first += chunk) {
		uint64_t n = rows - first < chunk ? rows - first : chunk;
		if ((rc = source_read(s, first, n, in)) < 0)
			goto out;
		if (!same && (rc = convert_rows(s, dt, out_path, in, out, first, n)) < 0)
			goto out;
		if ((rc = vf_writer_append(w, out, n)) < 0)
			goto out;
	}
	/* A gzipped IDX file's length is only known at its end. */
	if (s->idx && rows == s->count && (rc = idx_finish(s->idx)) < 0)
		goto out;
	rc = vf_writer_close(w);
	w = NULL;
out:
	vf_writer_abort(w);
	if (out != in)
		free(out);
	free(in);
	return rc;
}

static int run_convert(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	unsigned long long limit = UINT64_MAX;
	enum vf_format out_fmt;
	struct source s;
	uint64_t rows;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(convert_help, stdout);
			return 0;
		}
		if (strcmp(a, "--in") && strcmp(a, "--out") && strcmp(a, "--limit"))
			return cmd_usage_error("convert", "unknown argument '%s'", a);
		if (i + 1 >= argc)
			return cmd_usage_error("convert", "%s needs a value", a);
		if (!strcmp(a, "--in"))
			in = argv[++i];
		else if (!strcmp(a, "--out"))
			out = argv[++i];
		else if (cmd_parse_u64("convert", "--limit", argv[++i], INT32_MAX, &limit) < 0)
			return 2;
	}
	if (!in || !out)
		return cmd_usage_error("convert", "both --in FILE and --out FILE are required");
	if ((rc = vf_format_from_path(out, &out_fmt)) < 0)
		return cmd_fail_lib("convert", rc);
	if ((rc = source_open(in, &s)) < 0)
		return cmd_fail_lib("convert", rc);
	if (s.idx && idx_ndims(s.idx) == 1 && out_fmt != VF_IBIN) {
		source_close(&s);
		return cmd_usage_error("convert",
				       "%s is an IDX label file (idx1): labels convert only to .ibin "
				       "(count x 1), not to .%s", in, vf_format_name(out_fmt));
	}
	rows = s.count < limit ? s.count : limit;
	rc = convert(&s, out, rows, vf_format_dtype(out_fmt));
	if (rc == 0)
		printf("%s: %llu rows x %u (%s, %s) from %s (%s)\n", out, (unsigned long long)rows,
		       s.dim, vf_format_name(out_fmt), dann_dtype_name(vf_format_dtype(out_fmt)), in,
		       s.kind);
	source_close(&s);
	return rc < 0 ? cmd_fail_lib("convert", rc) : 0;
}

DANN_COMMAND(convert, "convert vectors between .fbin/.u8bin/.i8bin/.ibin, *vecs and IDX files",
	     run_convert)
