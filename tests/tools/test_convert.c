/*
 * test_convert.c — `dann convert`, run as the built CLI: Fashion-MNIST IDX
 * to vector files checked against the IDX bytes read independently, round
 * trips between every pair of formats, chunked streaming, and refusals of
 * malformed inputs and lossy conversions that leave no output behind.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "error.h"
#include "helpers/cli.h"
#include "helpers/fmnist_skip.h"
#include "vf.h"
#include "helpers/tmpdir.h"

static void make_dir(void)
{
	tmpdir_make("convert");
}

TestSuite(convert, .init = make_dir, .fini = tmpdir_remove);

static char *in_dir(const char *name)
{
	return tmpdir_path(name);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Runs `dann convert --in in --out out [--limit limit]`; returns the exit
 * status, stderr in *err (caller frees) when err is not NULL. */
static int convert(const char *in, const char *out, const char *limit, char **err)
{
	char *e = NULL;
	int st = limit ? cli_run(NULL, &e, "convert", "--in", in, "--out", out, "--limit", limit, NULL)
		       : cli_run(NULL, &e, "convert", "--in", in, "--out", out, NULL);
	if (err)
		*err = e;
	else
		free(e);
	return st;
}

static void assert_converts(const char *in, const char *out, const char *limit)
{
	char *err;
	int st = convert(in, out, limit, &err);
	cr_assert_eq(st, 0, "convert %s -> %s: exit %d: %s", in, out, st, err);
	free(err);
}

/* Expects exit 1, no output (nor its temporary), and stderr containing
 * every one of the given strings. */
static void assert_refused(const char *in, const char *out, const char *want1, const char *want2)
{
	char *err, tmp[300];
	int st = convert(in, out, NULL, &err);

	cr_assert_eq(st, 1, "convert %s -> %s: exit %d: %s", in, out, st, err);
	cr_assert(strstr(err, want1), "stderr lacks '%s': %s", want1, err);
	cr_assert(!want2 || strstr(err, want2), "stderr lacks '%s': %s", want2, err);
	cr_assert(!exists(out), "%s was created", out);
	snprintf(tmp, sizeof tmp, "%s.tmp", out);
	cr_assert(!exists(tmp), "%s was left behind", tmp);
	free(err);
}

/* The decompressed bytes of a gzipped file, read with zlib directly. */
static unsigned char *gunzip_all(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	size_t cap = 1 << 20, n = 0;
	unsigned char *buf = malloc(cap);
	int got;

	cr_assert_not_null(gz, "%s", path);
	while ((got = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
		n += (size_t)got;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	cr_assert_eq(got, 0);
	gzclose(gz);
	*len = n;
	return buf;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

Test(convert, fashion_mnist_images_become_60000_by_784_u8bin_equal_to_the_idx_pixels)
{
	const char *gz = fmnist_require("train-images-idx3-ubyte.gz");
	const char *out = in_dir("train.u8bin");
	unsigned char *idx;
	uint8_t *rows;
	size_t len;
	struct vf *f;

	assert_converts(gz, out, NULL);
	cr_assert_eq(vf_open(out, &f), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_count(f), 60000);
	cr_assert_eq(vf_dim(f), 784);
	idx = gunzip_all(gz, &len);
	cr_assert_eq(be32(idx), 0x00000803);
	cr_assert_eq(len, 16 + 60000u * 784);
	cr_assert_not_null(rows = malloc(60000u * 784));
	cr_assert_eq(vf_read(f, 0, 60000, rows), 0, "%s", dann_errmsg());
	/* One pixel by hand (last image, row 14, column 8), then all of them. */
	cr_assert_eq(rows[59999 * 784 + 14 * 28 + 8], idx[16 + 59999 * 784 + 14 * 28 + 8]);
	cr_assert_eq(memcmp(rows, idx + 16, 60000u * 784), 0);
	vf_close(f);
	free(rows);
	free(idx);
}

Test(convert, fashion_mnist_to_fbin_gives_pixels_as_floats_and_limit_keeps_the_first_rows)
{
	const char *gz = fmnist_require("t10k-images-idx3-ubyte.gz");
	const char *out = in_dir("test.fbin");
	unsigned char *idx;
	float *got;
	size_t len;
	struct vf *f;

	assert_converts(gz, out, "1500");
	cr_assert_eq(vf_open(out, &f), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_count(f), 1500);
	cr_assert_eq(vf_dim(f), 784);
	idx = gunzip_all(gz, &len);
	got = malloc(1500 * 784 * sizeof *got);
	cr_assert_eq(vf_read(f, 0, 1500, got), 0);
	for (size_t i = 0; i < 1500 * 784; i++)
		cr_assert_eq(got[i], (float)idx[16 + i], "element %zu", i);
	vf_close(f);
	free(got);
	free(idx);
}

Test(convert, fashion_mnist_labels_become_an_ibin_column_and_nothing_else)
{
	const char *gz = fmnist_require("t10k-labels-idx1-ubyte.gz");
	const char *out = in_dir("labels.ibin");
	unsigned char *idx;
	int32_t *got;
	size_t len;
	struct vf *f;

	assert_converts(gz, out, NULL);
	cr_assert_eq(vf_open(out, &f), 0, "%s", dann_errmsg());
	idx = gunzip_all(gz, &len);
	cr_assert_eq(be32(idx), 0x00000801);
	cr_assert_eq(vf_count(f), be32(idx + 4));
	cr_assert_eq(vf_dim(f), 1);
	got = malloc(vf_count(f) * sizeof *got);
	cr_assert_eq(vf_read(f, 0, vf_count(f), got), 0);
	for (size_t i = 0; i < vf_count(f); i++)
		cr_assert_eq(got[i], idx[8 + i], "label %zu", i);
	vf_close(f);
	free(got);
	free(idx);

	char *err;
	cr_assert_eq(convert(gz, in_dir("labels.fbin"), NULL, &err), 2);
	cr_assert(strstr(err, gz) && strstr(err, "label file"), "%s", err);
	cr_assert(!exists(in_dir("labels.fbin")));
	free(err);
}

/* n rows of dim elements of type t; values chosen to fit every integer
 * type when small is set (0..100), else spanning the type's range. */
static void *make_rows(enum dann_dtype t, uint64_t n, uint32_t dim, bool small)
{
	size_t total = (size_t)n * dim;
	unsigned char *p = malloc(total * dann_dtype_size(t));
	unsigned seed = 12345;

	for (size_t i = 0; i < total; i++) {
		int r = rand_r(&seed);
		switch (t) {
		case DANN_DTYPE_F32: ((float *)p)[i] = small ? (float)(r % 101) : (float)r / 1e6f - 1000.f; break;
		case DANN_DTYPE_U8: p[i] = (uint8_t)(small ? r % 101 : r); break;
		case DANN_DTYPE_I8: p[i] = (uint8_t)(small ? r % 101 : r); break;
		case DANN_DTYPE_I32: ((int32_t *)p)[i] = small ? r % 101 : r - RAND_MAX / 2; break;
		}
	}
	return p;
}

static void write_rows(const char *path, const void *rows, uint64_t n, uint32_t dim)
{
	cr_assert_eq(vf_write_file(path, dim, rows, n), 0, "%s", dann_errmsg());
}

/* Reads path whole in its own type and compares with want. */
static void assert_holds(const char *path, const void *want, uint64_t n, uint32_t dim)
{
	struct vf *f;
	void *got;

	cr_assert_eq(vf_open(path, &f), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_count(f), n, "%s", path);
	cr_assert_eq(vf_dim(f), dim, "%s", path);
	got = malloc(n * vf_row_bytes(f) + 1);
	cr_assert_eq(vf_read(f, 0, n, got), 0);
	cr_assert_eq(memcmp(got, want, n * vf_row_bytes(f)), 0, "%s differs", path);
	free(got);
	vf_close(f);
}

Test(convert, every_format_pair_of_one_element_type_round_trips_exactly)
{
	static const char *const pairs[][2] = {
		{ "fbin", "fvecs" }, { "u8bin", "bvecs" }, { "ibin", "ivecs" },
	};
	static const enum dann_dtype types[] = { DANN_DTYPE_F32, DANN_DTYPE_U8, DANN_DTYPE_I32 };

	for (int i = 0; i < 3; i++) {
		char a[32], b[32], c[32];
		void *rows = make_rows(types[i], 321, 37, false);

		snprintf(a, sizeof a, "a.%s", pairs[i][0]);
		snprintf(b, sizeof b, "b.%s", pairs[i][1]);
		snprintf(c, sizeof c, "c.%s", pairs[i][0]);
		write_rows(in_dir(a), rows, 321, 37);
		assert_converts(in_dir(a), in_dir(b), NULL);
		assert_holds(in_dir(b), rows, 321, 37);
		assert_converts(in_dir(b), in_dir(c), NULL);
		assert_holds(in_dir(c), rows, 321, 37);
		free(rows);
	}
}

Test(convert, integer_types_widen_to_float_and_narrow_back_when_every_value_fits)
{
	static const char *const exts[] = { "u8bin", "i8bin", "ibin", "bvecs", "ivecs" };
	static const enum dann_dtype types[] = { DANN_DTYPE_U8, DANN_DTYPE_I8, DANN_DTYPE_I32,
						 DANN_DTYPE_U8, DANN_DTYPE_I32 };

	for (int i = 0; i < 5; i++) {
		char a[32], back[32];
		bool small = i == 2 || i == 4; /* int32 -> float exact below 2^24 */
		void *rows = make_rows(types[i], 200, 19, small);
		float *want = malloc(200 * 19 * sizeof *want);
		struct vf *f;

		snprintf(a, sizeof a, "w%d.%s", i, exts[i]);
		snprintf(back, sizeof back, "back%d.%s", i, exts[i]);
		write_rows(in_dir(a), rows, 200, 19);
		cr_assert_eq(vf_open(in_dir(a), &f), 0);
		cr_assert_eq(vf_read_f32(f, 0, 200, want), 0);
		vf_close(f);
		assert_converts(in_dir(a), in_dir("wide.fbin"), NULL);
		assert_holds(in_dir("wide.fbin"), want, 200, 19);
		assert_converts(in_dir("wide.fbin"), in_dir(back), NULL);
		assert_holds(in_dir(back), rows, 200, 19);
		free(rows);
		free(want);
	}
	/* Small values fit every type: u8 -> i8 -> ibin -> u8bin. */
	void *small = make_rows(DANN_DTYPE_U8, 50, 8, true);
	write_rows(in_dir("s.u8bin"), small, 50, 8);
	assert_converts(in_dir("s.u8bin"), in_dir("s.i8bin"), NULL);
	assert_converts(in_dir("s.i8bin"), in_dir("s.ibin"), NULL);
	assert_converts(in_dir("s.ibin"), in_dir("s2.u8bin"), NULL);
	assert_holds(in_dir("s2.u8bin"), small, 50, 8);
	free(small);
}

Test(convert, lossy_conversions_are_refused_naming_the_first_bad_row_and_column)
{
	float f[3 * 4] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9.5f, 10, 300 };
	uint8_t u[2 * 2] = { 1, 2, 3, 200 };
	int32_t big[2] = { 1, (1 << 24) + 1 };

	write_rows(in_dir("f.fbin"), f, 3, 4);
	assert_refused(in_dir("f.fbin"), in_dir("f.u8bin"), "row 2, column 1: value 9.5", "not an integer");
	f[9] = 9;
	write_rows(in_dir("f.fbin"), f, 3, 4);
	assert_refused(in_dir("f.fbin"), in_dir("f.i8bin"), "row 2, column 3: value 300", "outside -128..127");
	write_rows(in_dir("u.u8bin"), u, 2, 2);
	assert_refused(in_dir("u.u8bin"), in_dir("u.i8bin"), "row 1, column 1: value 200", "u.u8bin");
	write_rows(in_dir("big.ibin"), big, 1, 2);
	assert_refused(in_dir("big.ibin"), in_dir("big.fbin"), "row 0, column 1: value 16777217",
		       "float32 cannot hold it exactly");
	f[0] = NAN;
	write_rows(in_dir("nan.fbin"), f, 3, 4);
	assert_refused(in_dir("nan.fbin"), in_dir("nan.ibin"), "row 0, column 0", "not a finite number");
}

Test(convert, a_file_of_several_chunks_streams_through_intact)
{
	/* 40000 x 128 u8 -> float rows of 512 bytes: 16384 rows per 8 MiB
	 * chunk, so three chunks, the last one partial. */
	void *rows = make_rows(DANN_DTYPE_U8, 40000, 128, false);

	write_rows(in_dir("many.u8bin"), rows, 40000, 128);
	assert_converts(in_dir("many.u8bin"), in_dir("many.fbin"), NULL);
	assert_converts(in_dir("many.fbin"), in_dir("many.bvecs"), NULL);
	assert_holds(in_dir("many.bvecs"), rows, 40000, 128);
	assert_converts(in_dir("many.bvecs"), in_dir("part.u8bin"), "20001");
	assert_holds(in_dir("part.u8bin"), rows, 20001, 128);
	free(rows);
}

Test(convert, empty_bin_files_convert_to_bin_but_not_to_vecs)
{
	struct vf *f;

	cr_assert_eq(vf_write_file(in_dir("e.fbin"), 5, NULL, 0), 0);
	assert_converts(in_dir("e.fbin"), in_dir("e.u8bin"), NULL);
	cr_assert_eq(vf_open(in_dir("e.u8bin"), &f), 0);
	cr_assert_eq(vf_count(f), 0);
	cr_assert_eq(vf_dim(f), 5);
	vf_close(f);
	assert_refused(in_dir("e.fbin"), in_dir("e.fvecs"), "no rows", "e.fvecs");
	void *rows = make_rows(DANN_DTYPE_F32, 10, 3, false);
	write_rows(in_dir("ten.fbin"), rows, 10, 3);
	assert_converts(in_dir("ten.fbin"), in_dir("zero.ibin"), "0");
	free(rows);
}

/* Writes an IDX file: magic, big-endian dims, then data; gzipped or not. */
static void write_idx(const char *path, bool gz, uint32_t magic, const uint32_t *dims,
		      unsigned ndims, const void *data, size_t len)
{
	unsigned char hdr[4 + 4 * 4];
	size_t n = 0;

	for (int i = 3; i >= 0; i--)
		hdr[n++] = (unsigned char)(magic >> (8 * i));
	for (unsigned d = 0; d < ndims; d++)
		for (int i = 3; i >= 0; i--)
			hdr[n++] = (unsigned char)(dims[d] >> (8 * i));
	if (gz) {
		gzFile g = gzopen(path, "wb");
		cr_assert_not_null(g);
		cr_assert_eq(gzwrite(g, hdr, (unsigned)n), (int)n);
		if (len)
			cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
		cr_assert_eq(gzclose(g), Z_OK);
	} else {
		FILE *fp = fopen(path, "wb");
		cr_assert_eq(fwrite(hdr, 1, n, fp), n);
		if (len)
			cr_assert_eq(fwrite(data, 1, len, fp), len);
		fclose(fp);
	}
}

Test(convert, small_idx_files_plain_and_gzipped_convert_row_for_row)
{
	uint32_t dims[3] = { 6, 2, 3 };
	uint8_t pix[36];

	for (int i = 0; i < 36; i++)
		pix[i] = (uint8_t)(i * 7);
	write_idx(in_dir("img-idx3-ubyte"), false, 0x803, dims, 3, pix, 36);
	write_idx(in_dir("img-idx3-ubyte.gz"), true, 0x803, dims, 3, pix, 36);
	assert_converts(in_dir("img-idx3-ubyte"), in_dir("plain.u8bin"), NULL);
	assert_holds(in_dir("plain.u8bin"), pix, 6, 6);
	assert_converts(in_dir("img-idx3-ubyte.gz"), in_dir("gz.bvecs"), NULL);
	assert_holds(in_dir("gz.bvecs"), pix, 6, 6);
}

Test(convert, malformed_idx_files_are_refused_naming_the_file_and_field)
{
	uint32_t dims[3] = { 4, 2, 2 }, zero[3] = { 4, 0, 2 };
	uint8_t pix[17] = { 0 };
	char *name;

	write_idx(name = in_dir("magic-idx"), false, 0x01000803, dims, 3, pix, 16);
	assert_refused(name, in_dir("o.u8bin"), "magic 0x01000803 is not an IDX magic", name);
	write_idx(name = in_dir("type-idx"), false, 0x0D03, dims, 3, pix, 16);
	assert_refused(name, in_dir("o.u8bin"), "element type 0x0d", name);
	write_idx(name = in_dir("ndim-idx"), false, 0x0805, dims, 3, pix, 16);
	assert_refused(name, in_dir("o.u8bin"), "5 dimensions", name);
	write_idx(name = in_dir("zero-idx"), false, 0x0803, zero, 3, pix, 16);
	assert_refused(name, in_dir("o.u8bin"), "dimension 1 has size 0", name);
	write_idx(name = in_dir("trunc-idx"), false, 0x0803, dims, 3, pix, 15);
	assert_refused(name, in_dir("o.u8bin"), "truncated", name);
	write_idx(name = in_dir("trail-idx"), false, 0x0803, dims, 3, pix, 17);
	assert_refused(name, in_dir("o.u8bin"), "trailing bytes", name);
	write_idx(name = in_dir("trunc-idx.gz"), true, 0x0803, dims, 3, pix, 15);
	assert_refused(name, in_dir("o.u8bin"), "truncated", name);
	write_idx(name = in_dir("trail-idx.gz"), true, 0x0803, dims, 3, pix, 17);
	assert_refused(name, in_dir("o.u8bin"), "trailing bytes", name);
	write_idx(name = in_dir("hdr-idx"), false, 0x0803, dims, 1, NULL, 0);
	assert_refused(name, in_dir("o.u8bin"), "truncated", "dimension sizes");
	FILE *fp = fopen(name = in_dir("empty-idx"), "wb");
	fclose(fp);
	assert_refused(name, in_dir("o.u8bin"), "empty file", name);
}

Test(convert, a_gzip_stream_cut_short_is_refused)
{
	uint32_t dims[3] = { 50, 28, 28 };
	uint8_t *pix = make_rows(DANN_DTYPE_U8, 50, 784, false);
	const char *name = in_dir("cut-idx.gz");
	struct stat st;

	write_idx(name, true, 0x0803, dims, 3, pix, 50 * 784);
	/* Cutting the last 4 bytes (the length in the gzip trailer) leaves every
	 * row readable: only reading to the end shows the damage. */
	cr_assert_eq(stat(name, &st), 0);
	cr_assert_eq(truncate(name, st.st_size - 4), 0);
	assert_refused(name, in_dir("cut.u8bin"), "gzip stream ends before its trailer", name);
	cr_assert_eq(truncate(name, st.st_size / 2), 0);
	assert_refused(name, in_dir("cut.u8bin"), "truncated", name);
	free(pix);
}

Test(convert, malformed_vector_inputs_and_bad_arguments_are_refused)
{
	int32_t hdr[2] = { 10, 4 };
	char *err;

	FILE *fp = fopen(in_dir("short.fbin"), "wb");
	fwrite(hdr, 4, 2, fp);
	fclose(fp);
	assert_refused(in_dir("short.fbin"), in_dir("o.u8bin"), "short.fbin", "truncated");
	assert_refused(in_dir("absent.fbin"), in_dir("o.u8bin"), "absent.fbin", "No such file");
	write_rows(in_dir("ok.fbin"), hdr, 1, 2);
	assert_refused(in_dir("ok.fbin"), in_dir("o.csv"), "o.csv", "unknown vector file extension");

	cr_assert_eq(cli_run(NULL, &err, "convert", "--in", in_dir("ok.fbin"), NULL), 2);
	cr_assert(strstr(err, "--out"), "%s", err);
	free(err);
	cr_assert_eq(cli_run(NULL, &err, "convert", "--frobnicate", NULL), 2);
	cr_assert(strstr(err, "--frobnicate"), "%s", err);
	free(err);
	cr_assert_eq(cli_run(NULL, &err, "convert", "--in", in_dir("ok.fbin"), "--out",
			     in_dir("o.u8bin"), "--limit", "ten", NULL), 2);
	cr_assert(strstr(err, "--limit") && strstr(err, "ten"), "%s", err);
	free(err);
	cr_assert_eq(cli_run(&err, NULL, "convert", "--help", NULL), 0);
	cr_assert(strstr(err, "usage: dann convert"), "%s", err);
	free(err);
}
