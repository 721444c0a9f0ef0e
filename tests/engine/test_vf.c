/*
 * test_vf.c — vector files: round trips of every format, streaming through
 * several write buffers, and a crafted file for every way a file can be
 * malformed, each of which must be refused with a message naming the file.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "vf.h"
#include "helpers/tmpdir.h"

static void make_dir(void)
{
	tmpdir_make("vf");
}

TestSuite(vf, .init = make_dir, .fini = tmpdir_remove);

static char *in_dir(const char *name)
{
	return tmpdir_path(name);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	cr_assert_not_null(fp, "%s", path);
	cr_assert_eq(fwrite(p, 1, n, fp), n);
	cr_assert_eq(fclose(fp), 0);
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return (uint64_t)st.st_size;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Deterministic bytes for row i, element j, valid for every element type. */
static void fill(enum dann_dtype t, void *dst, uint64_t first, uint64_t n, uint32_t dim)
{
	for (uint64_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < dim; j++) {
			uint64_t r = first + i;
			size_t k = (size_t)(i * dim + j);
			switch (t) {
			case DANN_DTYPE_F32: ((float *)dst)[k] = (float)r * 0.5f - (float)j * 0.25f; break;
			case DANN_DTYPE_U8: ((uint8_t *)dst)[k] = (uint8_t)(r * 31 + j * 7); break;
			case DANN_DTYPE_I8: ((int8_t *)dst)[k] = (int8_t)(r * 13 + j * 5); break;
			case DANN_DTYPE_I32: ((int32_t *)dst)[k] = (int32_t)(r * 100003 + j) - 5000; break;
			}
		}
}

static const char *const exts[] = { "fbin", "u8bin", "i8bin", "ibin", "fvecs", "bvecs", "ivecs" };

Test(vf, format_follows_the_extension_and_unknown_ones_are_refused)
{
	enum vf_format f;

	for (int i = 0; i < 7; i++) {
		char name[32];
		snprintf(name, sizeof name, "a/b.%s", exts[i]);
		cr_assert_eq(vf_format_from_path(name, &f), 0, "%s", name);
		cr_assert_eq((int)f, i);
		cr_assert_str_eq(vf_format_name(f), exts[i]);
	}
	cr_assert_eq(vf_format_dtype(VF_BVECS), DANN_DTYPE_U8);
	cr_assert_eq(vf_format_dtype(VF_IVECS), DANN_DTYPE_I32);
	cr_assert_eq(vf_format_dtype(VF_I8BIN), DANN_DTYPE_I8);
	cr_assert_eq(vf_format_from_path("data/x.npy", &f), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "data/x.npy") && strstr(dann_errmsg(), ".npy"), "%s",
		  dann_errmsg());
	cr_assert_eq(vf_format_from_path("dir.fbin/noext", &f), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "no file extension"), "%s", dann_errmsg());
}

/* Writes count rows in uneven appends, reopens, and checks every accessor. */
static void round_trip(const char *ext, uint64_t count, uint32_t dim, uint64_t piece)
{
	char name[64], tmp[320];
	snprintf(name, sizeof name, "rt_%llu_%u.%s", (unsigned long long)count, dim, ext);
	const char *path = in_dir(name);
	enum vf_format fmt;
	cr_assert_eq(vf_format_from_path(path, &fmt), 0);
	enum dann_dtype t = vf_format_dtype(fmt);
	size_t esize = dann_dtype_size(t), row = dim * esize;
	bool vecs = fmt >= VF_FVECS;
	unsigned char *want = malloc(count * row + 1), *got = malloc(count * row + 1);
	float *conv = malloc((count * dim + 1) * sizeof *conv), *ref = malloc(dim * sizeof *ref);
	struct vf_writer *w;
	struct vf *f;

	fill(t, want, 0, count, dim);
	cr_assert_eq(vf_writer_create(path, dim, &w), 0, "%s", dann_errmsg());
	for (uint64_t i = 0; i < count; i += piece) {
		uint64_t n = count - i < piece ? count - i : piece;
		cr_assert_eq(vf_writer_append(w, want + i * row, n), 0, "%s", dann_errmsg());
	}
	cr_assert_eq(vf_writer_close(w), 0, "%s", dann_errmsg());
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	cr_assert(!exists(tmp), "temporary %s left behind", tmp);
	cr_assert_eq(file_size(path), vecs ? count * (4 + row) : 8 + count * row);

	cr_assert_eq(vf_open(path, &f), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_count(f), count);
	cr_assert_eq(vf_dim(f), dim);
	cr_assert_eq(vf_format(f), fmt);
	cr_assert_eq(vf_dtype(f), t);
	cr_assert_eq(vf_row_bytes(f), row);
	cr_assert_eq(vf_file_bytes(f), file_size(path));
	cr_assert_str_eq(vf_path(f), path);
	cr_assert_eq(vf_read(f, 0, count, got), 0, "%s", dann_errmsg());
	cr_assert_eq(memcmp(got, want, count * row), 0, "%s: rows differ after a round trip", path);
	cr_assert_eq(vf_read_f32(f, 0, count, conv), 0, "%s", dann_errmsg());
	for (uint64_t i = 0; i < count; i += 1 + count / 7) {
		/* Reference conversion, element by element, from the typed array. */
		for (uint32_t j = 0; j < dim; j++) {
			const unsigned char *e = want + i * row + j * esize;
			switch (t) {
			case DANN_DTYPE_F32: memcpy(&ref[j], e, 4); break;
			case DANN_DTYPE_U8: ref[j] = (float)*e; break;
			case DANN_DTYPE_I8: ref[j] = (float)(int8_t)*e; break;
			case DANN_DTYPE_I32: { int32_t v; memcpy(&v, e, 4); ref[j] = (float)v; } break;
			}
		}
		cr_assert_eq(memcmp(conv + i * dim, ref, dim * sizeof *ref), 0, "%s row %llu", path,
			     (unsigned long long)i);
	}
	/* A range read from the middle, after advice, returns the same rows. */
	if (count > 3) {
		vf_advise_willneed(f, 1, 2);
		vf_advise_dontneed(f, 0, count);
		cr_assert_eq(vf_read(f, 1, 2, got), 0);
		cr_assert_eq(memcmp(got, want + row, 2 * row), 0);
	}
	vf_close(f);
	free(want);
	free(got);
	free(conv);
	free(ref);
}

Test(vf, every_format_round_trips_rows_and_converts_them_to_float)
{
	for (int i = 0; i < 7; i++) {
		round_trip(exts[i], 100, 17, 33);
		round_trip(exts[i], 1, 1, 1);
	}
}

Test(vf, a_file_of_several_write_buffers_streams_back_intact)
{
	/* 12000 x 200 floats = 9.6 MB, more than two 4 MiB write buffers, in
	 * pieces that do not divide the buffer; and in one single append. */
	round_trip("fbin", 12000, 200, 777);
	round_trip("fvecs", 12000, 200, 5000);
	round_trip("u8bin", 40000, 300, 40000);
	round_trip("bvecs", 40000, 300, 40000);
}

Test(vf, bin_files_with_count_zero_are_valid_and_empty)
{
	for (int i = 0; i < 4; i++) {
		char name[32];
		struct vf *f;
		float x;

		snprintf(name, sizeof name, "empty.%s", exts[i]);
		const char *path = in_dir(name);
		cr_assert_eq(vf_write_file(path, 9, NULL, 0), 0, "%s", dann_errmsg());
		cr_assert_eq(file_size(path), 8);
		cr_assert_eq(vf_open(path, &f), 0, "%s", dann_errmsg());
		cr_assert_eq(vf_count(f), 0);
		cr_assert_eq(vf_dim(f), 9);
		cr_assert_eq(vf_read(f, 0, 0, NULL), 0);
		cr_assert_eq(vf_read_f32(f, 0, 1, &x), DANN_EINVAL);
		cr_assert(strstr(dann_errmsg(), path), "%s", dann_errmsg());
		vf_close(f);
	}
}

Test(vf, a_vecs_writer_with_no_rows_refuses_to_make_a_file_it_could_not_read)
{
	struct vf_writer *w;
	const char *path = in_dir("none.fvecs");

	cr_assert_eq(vf_writer_create(path, 4, &w), 0);
	cr_assert_eq(vf_writer_close(w), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), path) && strstr(dann_errmsg(), "no rows"), "%s",
		  dann_errmsg());
	cr_assert(!exists(path));
	cr_assert(!exists(in_dir("none.fvecs.tmp")));
}

Test(vf, reads_past_the_last_row_are_refused)
{
	const char *path = in_dir("r.fbin");
	float rows[6] = { 1, 2, 3, 4, 5, 6 }, out[6];
	struct vf *f;

	cr_assert_eq(vf_write_file(path, 2, rows, 3), 0);
	cr_assert_eq(vf_open(path, &f), 0);
	cr_assert_eq(vf_read(f, 2, 2, out), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), path) && strstr(dann_errmsg(), "3 rows"), "%s",
		  dann_errmsg());
	cr_assert_eq(vf_read(f, 4, 0, out), DANN_EINVAL);
	cr_assert_eq(vf_read(f, 1, UINT64_MAX, out), DANN_EINVAL);
	cr_assert_eq(vf_read(f, 3, 0, out), 0);
	cr_assert_eq(vf_read(f, 2, 1, out), 0);
	cr_assert_eq(out[0], 5);
	cr_assert_eq(out[1], 6);
	vf_close(f);
}

/* vf_read_ids (scattered rows by pread, for the partitioned build's
 * merge) gives the same rows as vf_read, in every format, including runs
 * of consecutive ids read in one go; bad ids are refused by name. */
Test(vf, rows_read_by_id_match_rows_read_by_range)
{
	static const char *const cases[] = { "fbin", "u8bin", "i8bin", "fvecs", "bvecs" };
	const uint32_t dim = 5, n = 40;
	const uint32_t ids[] = { 0, 1, 2, 7, 9, 10, 11, 25, 38, 39 };
	const size_t nid = sizeof ids / sizeof *ids;

	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		char name[32];
		enum vf_format fmt;
		struct vf *f;
		unsigned char rows[40 * 5 * 4], got[10 * 5 * 4], want[5 * 4];

		snprintf(name, sizeof name, "ids.%s", cases[c]);
		const char *path = in_dir(name);
		cr_assert_eq(vf_format_from_path(path, &fmt), 0);
		fill(vf_format_dtype(fmt), rows, 0, n, dim);
		cr_assert_eq(vf_write_file(path, dim, rows, n), 0, "%s", dann_errmsg());
		cr_assert_eq(vf_open(path, &f), 0, "%s", dann_errmsg());
		size_t rb = vf_row_bytes(f);
		memset(got, 0xa5, sizeof got);
		cr_assert_eq(vf_read_ids(f, ids, nid, got), 0, "%s: %s", name, dann_errmsg());
		for (size_t i = 0; i < nid; i++) {
			cr_assert_eq(vf_read(f, ids[i], 1, want), 0);
			cr_expect_eq(memcmp(got + i * rb, want, rb), 0, "%s: row %u differs", name, ids[i]);
		}
		cr_expect_eq(vf_read_ids(f, ids, 0, got), 0, "no ids, nothing to read");
		uint32_t past[] = { 3, 40 }, unsorted[] = { 5, 4 }, repeat[] = { 6, 6 };
		cr_expect_eq(vf_read_ids(f, past, 2, got), DANN_EINVAL);
		cr_expect(strstr(dann_errmsg(), path) && strstr(dann_errmsg(), "row 40"), "%s",
			  dann_errmsg());
		cr_expect_eq(vf_read_ids(f, unsorted, 2, got), DANN_EINVAL);
		cr_expect(strstr(dann_errmsg(), "ascend"), "%s", dann_errmsg());
		cr_expect_eq(vf_read_ids(f, repeat, 2, got), DANN_EINVAL);
		vf_close(f);
	}
}

/* Crafts path from bytes, expects vf_open to fail with code and a message
 * that names the file and contains what. */
static void expect_refused(const char *name, const void *bytes, size_t n, int code, const char *what)
{
	const char *path = in_dir(name);
	struct vf *f = (struct vf *)1;
	int rc;

	write_bytes(path, bytes, n);
	rc = vf_open(path, &f);
	cr_assert_eq(rc, code, "%s: got %d (%s)", name, rc, dann_errmsg());
	cr_assert_null(f);
	cr_assert(strstr(dann_errmsg(), path), "message does not name the file: %s", dann_errmsg());
	cr_assert(strstr(dann_errmsg(), what), "message lacks '%s': %s", what, dann_errmsg());
}

Test(vf, malformed_bin_files_are_corrupt_with_the_file_and_field_named)
{
	int32_t h[2 + 8];

	for (int i = 0; i < 4; i++) {
		char name[64];
		size_t esize = i == 0 || i == 3 ? 4 : 1;
#define NAME(s) (snprintf(name, sizeof name, "%s.%s", s, exts[i]), name)
		expect_refused(NAME("empty"), "", 0, DANN_ECORRUPT, "empty file");
		expect_refused(NAME("short"), "\1\0\0\0\2", 5, DANN_ECORRUPT, "shorter than the 8-byte header");
		h[0] = -1, h[1] = 4;
		expect_refused(NAME("negcount"), h, 8, DANN_ECORRUPT, "count -1");
		h[0] = 0, h[1] = 0;
		expect_refused(NAME("dim0"), h, 8, DANN_ECORRUPT, "dimension 0");
		h[1] = -3;
		expect_refused(NAME("dimneg"), h, 8, DANN_ECORRUPT, "dimension -3");
		h[1] = VF_MAX_DIM + 1;
		expect_refused(NAME("dimbig"), h, 8, DANN_ECORRUPT, "dimension 65537");
		/* 2 rows of dim 3 need 6 elements; give one byte less, and one more. */
		h[0] = 2, h[1] = 3;
		memset(h + 2, 0, sizeof h - 8);
		expect_refused(NAME("trunc"), h, 8 + 6 * esize - 1, DANN_ECORRUPT, "truncated");
		expect_refused(NAME("trail"), h, 8 + 6 * esize + 1, DANN_ECORRUPT, "trailing bytes");
		/* Header counts the rows of a different dim: sizes disagree. */
		h[0] = 3, h[1] = 2;
		expect_refused(NAME("mismatch"), h, 8 + 5 * esize, DANN_ECORRUPT, "count 3 x dim 2");
#undef NAME
	}
}

Test(vf, malformed_vecs_files_are_corrupt_with_the_row_named)
{
	int32_t r[3 * 3];

	for (int i = 4; i < 7; i++) {
		char name[64];
		size_t esize = i == 5 ? 1 : 4, stride = 4 + 2 * esize;
		unsigned char buf[64] = { 0 };
		int32_t d;
#define NAME(s) (snprintf(name, sizeof name, "%s.%s", s, exts[i]), name)
		expect_refused(NAME("empty"), "", 0, DANN_ECORRUPT, "empty file");
		expect_refused(NAME("short"), "\2\0\0", 3, DANN_ECORRUPT, "shorter than one row header");
		r[0] = 0;
		expect_refused(NAME("dim0"), r, 4 + esize, DANN_ECORRUPT, "row 0: dimension 0");
		r[0] = -7;
		expect_refused(NAME("dimneg"), r, 4 + esize, DANN_ECORRUPT, "row 0: dimension -7");
		r[0] = 70000;
		expect_refused(NAME("dimbig"), r, 4 + esize, DANN_ECORRUPT, "dimension 70000");
		/* Three rows of dim 2, the third claiming dim 5. */
		for (int k = 0; k < 3; k++) {
			d = k == 2 ? 5 : 2;
			memcpy(buf + k * stride, &d, 4);
		}
		expect_refused(NAME("mixed"), buf, 3 * stride, DANN_ECORRUPT, "row 2: dimension 5, but row 0 has 2");
		d = 2;
		memcpy(buf + 2 * stride, &d, 4);
		expect_refused(NAME("trunc"), buf, 3 * stride - 1, DANN_ECORRUPT, "row 2 is truncated");
		expect_refused(NAME("trunchdr"), buf, 2 * stride + 2, DANN_ECORRUPT, "row 2 is truncated");
#undef NAME
	}
}

Test(vf, missing_files_directories_and_unknown_extensions_are_refused)
{
	struct vf *f;

	cr_assert_eq(vf_open(in_dir("absent.fbin"), &f), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "absent.fbin"), "%s", dann_errmsg());
	cr_assert_eq(mkdir(in_dir("adir.fbin"), 0700), 0);
	cr_assert_eq(vf_open(in_dir("adir.fbin"), &f), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "not a regular file"), "%s", dann_errmsg());
	write_bytes(in_dir("x.bin"), "\1\0\0\0\1\0\0\0\0\0\0\0", 12);
	cr_assert_eq(vf_open(in_dir("x.bin"), &f), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "x.bin") && strstr(dann_errmsg(), "extension"), "%s",
		  dann_errmsg());
}

Test(vf, writer_refuses_bad_dimensions_and_missing_directories)
{
	struct vf_writer *w = (struct vf_writer *)1;

	cr_assert_eq(vf_writer_create(in_dir("d.fbin"), 0, &w), DANN_EINVAL);
	cr_assert_null(w);
	cr_assert(strstr(dann_errmsg(), "dimension 0"), "%s", dann_errmsg());
	cr_assert_eq(vf_writer_create(in_dir("d.fbin"), VF_MAX_DIM + 1, &w), DANN_EINVAL);
	cr_assert_eq(vf_writer_create(in_dir("d.txt"), 3, &w), DANN_EINVAL);
	cr_assert_eq(vf_writer_create(in_dir("nodir/d.fbin"), 3, &w), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "nodir/d.fbin.tmp"), "%s", dann_errmsg());
	cr_assert(!exists(in_dir("d.fbin.tmp")));
}

Test(vf, an_aborted_or_failed_writer_leaves_the_old_file_untouched)
{
	const char *path = in_dir("keep.u8bin");
	uint8_t old[4] = { 1, 2, 3, 4 }, neu[6] = { 9, 9, 9, 9, 9, 9 }, got[4];
	struct vf_writer *w;
	struct vf *f;

	cr_assert_eq(vf_write_file(path, 2, old, 2), 0);
	cr_assert_eq(vf_writer_create(path, 3, &w), 0);
	cr_assert_eq(vf_writer_append(w, neu, 2), 0);
	cr_assert(exists(in_dir("keep.u8bin.tmp")));
	vf_writer_abort(w);
	cr_assert(!exists(in_dir("keep.u8bin.tmp")));
	cr_assert_eq(vf_open(path, &f), 0);
	cr_assert_eq(vf_dim(f), 2);
	cr_assert_eq(vf_read(f, 0, 2, got), 0);
	cr_assert_eq(memcmp(got, old, 4), 0);
	vf_close(f);
}

Test(vf, a_write_error_fails_the_writer_and_leaves_no_file)
{
	/* Fault injection: a file size limit makes write() fail with EFBIG
	 * partway through (the test runs in its own Criterion process). */
	struct rlimit lim = { 1 << 20, 1 << 20 };
	const char *path = in_dir("big.fbin");
	size_t n = 400000, dim = 8; /* 12.8 MB: past the 4 MiB write buffer */
	float *rows = calloc(n * dim, sizeof *rows);
	struct vf_writer *w;
	int rc;

	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(vf_writer_create(path, (uint32_t)dim, &w), 0);
	rc = vf_writer_append(w, rows, n);
	cr_assert_eq(rc, DANN_EIO, "%d %s", rc, dann_errmsg());
	cr_assert(strstr(dann_errmsg(), "big.fbin.tmp: write"), "%s", dann_errmsg());
	cr_assert_eq(vf_writer_append(w, rows, 1), DANN_EIO);
	cr_assert_eq(vf_writer_close(w), DANN_EIO);
	cr_assert(!exists(path));
	cr_assert(!exists(in_dir("big.fbin.tmp")));
	/* 2 MB fits the buffer: the append succeeds, the flush on close fails. */
	cr_assert_eq(vf_writer_create(path, (uint32_t)dim, &w), 0);
	cr_assert_eq(vf_writer_append(w, rows, 65536), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_writer_close(w), DANN_EIO);
	cr_assert(strstr(dann_errmsg(), "big.fbin.tmp: write"), "%s", dann_errmsg());
	cr_assert(!exists(path));
	cr_assert(!exists(in_dir("big.fbin.tmp")));
	free(rows);
}

Test(vf, ground_truth_distances_sit_beside_the_ids_as_dist_fbin)
{
	char out[64];

	cr_assert_eq(vf_gt_dist_path("runs/gt.ibin", out, sizeof out), 0);
	cr_assert_str_eq(out, "runs/gt.dist.fbin");
	cr_assert_eq(vf_gt_dist_path("a.ibin", out, 12), 0);
	cr_assert_str_eq(out, "a.dist.fbin");
	cr_assert_eq(vf_gt_dist_path("a.ibin", out, 11), DANN_EINVAL);
	cr_assert_eq(vf_gt_dist_path("gt.fbin", out, sizeof out), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "gt.fbin"), "%s", dann_errmsg());
	cr_assert_eq(vf_gt_dist_path(".ibin", out, sizeof out), DANN_EINVAL);
}

/* Another process cuts the file short under an open reader: every read
 * path returns an error naming the file. Through a MAP_SHARED mapping the
 * same reads died of SIGBUS. */
static void check_truncated_under_reader(const char *name)
{
	enum { ROWS = 3000, DIM = 64 };
	const char *path = in_dir(name);
	float *rows = calloc((size_t)ROWS * DIM, sizeof *rows), *got;
	uint32_t ids[2] = { 10, ROWS - 1 };
	struct vf *f;

	cr_assert_not_null(rows);
	cr_assert_not_null(got = malloc(sizeof *got * (size_t)ROWS * DIM));
	for (size_t i = 0; i < (size_t)ROWS * DIM; i++)
		rows[i] = (float)i;
	cr_assert_eq(vf_write_file(path, DIM, rows, ROWS), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_open(path, &f), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_read(f, ROWS - 2, 2, got), 0, "%s", dann_errmsg());
	cr_assert_eq(truncate(path, 4096), 0);
	cr_assert_eq(vf_read(f, 0, ROWS, got), DANN_ECORRUPT, "%s", name);
	cr_assert_not_null(strstr(dann_errmsg(), path), "%s", dann_errmsg());
	cr_assert_eq(vf_read(f, ROWS - 1, 1, got), DANN_ECORRUPT, "%s", name);
	cr_assert_eq(vf_read_f32(f, 100, 50, got), DANN_ECORRUPT, "%s", name);
	cr_assert_not_null(strstr(dann_errmsg(), path), "%s", dann_errmsg());
	cr_assert_eq(vf_read_ids(f, ids, 2, got), DANN_ECORRUPT, "%s", name);
	cr_assert_not_null(strstr(dann_errmsg(), path), "%s", dann_errmsg());
	cr_assert_eq(vf_read(f, 0, 4, got), 0, "rows still in the file read as before");
	cr_assert_eq(memcmp(got, rows, sizeof *got * 4 * DIM), 0);
	vf_close(f);
	free(got);
	free(rows);
}

Test(vf, a_file_truncated_under_an_open_reader_is_an_error_not_a_crash)
{
	check_truncated_under_reader("cut.fbin");
	check_truncated_under_reader("cut.fvecs");
}
