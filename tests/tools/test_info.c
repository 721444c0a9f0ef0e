/*
 * test_info.c — `dann info`, run as the built CLI: the fields it prints
 * for every kind of file it reads, and how it reports malformed ones.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc.h"
#include "error.h"
#include "helpers/cli.h"
#include "helpers/fmnist_skip.h"
#include "vf.h"
#include "helpers/tmpdir.h"

static void make_dir(void)
{
	tmpdir_make("info");
}

TestSuite(info, .init = make_dir, .fini = tmpdir_remove);

static char *in_dir(const char *name)
{
	return tmpdir_path(name);
}

/* Asserts that out has a line "  <field> <value...>" whose value starts
 * with want. */
static void assert_field(const char *out, const char *field, const char *want)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof key, "  %-13s ", field);
	p = strstr(out, key);
	cr_assert_not_null(p, "no '%s' line in:\n%s", field, out);
	p += strlen(key);
	cr_assert_eq(strncmp(p, want, strlen(want)), 0, "%s is '%.40s', expected '%s'", field, p, want);
}

static char *crc_text(const char *path)
{
	static char buf[16];
	uint32_t crc;

	cr_assert_eq(crc32c_file(path, 0, UINT64_MAX, &crc), 0);
	snprintf(buf, sizeof buf, "0x%08x", crc);
	return buf;
}

Test(info, describes_a_bin_file_with_its_header_size_and_checksum)
{
	const char *path = in_dir("v.u8bin");
	uint8_t rows[30 * 7];
	char *out, *err;

	for (int i = 0; i < 210; i++)
		rows[i] = (uint8_t)i;
	cr_assert_eq(vf_write_file(path, 7, rows, 30), 0);
	cr_assert_eq(cli_run(&out, &err, "info", path, NULL), 0, "%s", err);
	cr_assert(strncmp(out, path, strlen(path)) == 0, "%s", out);
	assert_field(out, "format", "u8bin");
	assert_field(out, "element type", "uint8");
	assert_field(out, "count", "30");
	assert_field(out, "dim", "7");
	assert_field(out, "file size", "218 bytes");
	assert_field(out, "header", "count 30, dim 7 -> 218 bytes: matches the file size");
	assert_field(out, "crc32c", crc_text(path));
	assert_field(out, "status", "ok");
	free(out);
	free(err);
}

Test(info, describes_a_vecs_file_by_its_rows)
{
	const char *path = in_dir("v.ivecs");
	int32_t rows[4 * 3] = { 0 };
	char *out;

	cr_assert_eq(vf_write_file(path, 3, rows, 4), 0);
	cr_assert_eq(cli_run(&out, NULL, "info", path, NULL), 0);
	assert_field(out, "format", "ivecs");
	assert_field(out, "element type", "int32");
	assert_field(out, "count", "4");
	assert_field(out, "dim", "3");
	assert_field(out, "file size", "64 bytes");
	assert_field(out, "rows", "every row has dim 3 (16 bytes");
	assert_field(out, "crc32c", crc_text(path));
	free(out);
}

Test(info, shows_a_header_that_disagrees_with_the_size_and_fails)
{
	const char *path = in_dir("cut.fbin"), *good = in_dir("good.fbin");
	float rows[10 * 4] = { 0 };
	char *out, *err;

	cr_assert_eq(vf_write_file(path, 4, rows, 10), 0);
	cr_assert_eq(vf_write_file(good, 4, rows, 10), 0);
	cr_assert_eq(truncate(path, 100), 0);
	/* Both files are described; the exit status reports the bad one. */
	cr_assert_eq(cli_run(&out, &err, "info", good, path, NULL), 1);
	cr_assert(strstr(out, good) && strstr(out, path), "%s", out);
	assert_field(strstr(out, path), "header",
		     "count 10, dim 4 -> 168 bytes: DOES NOT match the file size (file is short)");
	assert_field(strstr(out, path), "file size", "100 bytes");
	assert_field(strstr(out, path), "status", "MALFORMED");
	assert_field(out, "status", "ok");
	cr_assert(strstr(err, path) && strstr(err, "truncated"), "%s", err);
	free(out);
	free(err);
}

Test(info, describes_the_fashion_mnist_idx_files)
{
	const char *path = fmnist_require("t10k-images-idx3-ubyte.gz");
	char *out, *err;

	cr_assert_eq(cli_run(&out, &err, "info", path, NULL), 0, "%s", err);
	assert_field(out, "format", "idx3-ubyte, gzipped (magic 0x00000803)");
	assert_field(out, "count", "10000");
	assert_field(out, "dim", "784 (28 x 28)");
	assert_field(out, "crc32c", crc_text(path));
	free(out);
	free(err);
}

Test(info, describes_a_plain_idx_file_and_a_bin_file_too_short_for_its_header)
{
	unsigned char idx[8 + 3] = { 0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9 };
	const char *path = in_dir("labels-idx1-ubyte"), *tiny = in_dir("tiny.i8bin");
	char *out, *err;
	FILE *fp = fopen(path, "wb");

	fwrite(idx, 1, sizeof idx, fp);
	fclose(fp);
	cr_assert_eq(cli_run(&out, &err, "info", path, NULL), 0, "%s", err);
	assert_field(out, "format", "idx1-ubyte (magic 0x00000801)");
	assert_field(out, "count", "3");
	assert_field(out, "dim", "1");
	assert_field(out, "file size", "11 bytes");
	free(out);
	free(err);
	fp = fopen(tiny, "wb");
	fwrite(idx, 1, 5, fp);
	fclose(fp);
	cr_assert_eq(cli_run(&out, &err, "info", tiny, NULL), 1);
	assert_field(out, "header", "missing: the file is shorter than 8 bytes");
	assert_field(out, "status", "MALFORMED");
	cr_assert(strstr(err, "tiny.i8bin") && strstr(err, "shorter than the 8-byte header"), "%s", err);
	free(out);
	free(err);
}

Test(info, refuses_directories_unreadable_files_and_unknown_options)
{
	char *err;

	cr_assert_eq(cli_run(NULL, &err, "info", tmpdir_get(), NULL), 1);
	cr_assert(strstr(err, tmpdir_get()) && strstr(err, "directory"), "%s", err);
	free(err);
	cr_assert_eq(cli_run(NULL, &err, "info", in_dir("none.fbin"), NULL), 1);
	cr_assert(strstr(err, "none.fbin"), "%s", err);
	free(err);
	FILE *fp = fopen(in_dir("notes.txt"), "w");
	fputs("hello, world\n", fp);
	fclose(fp);
	cr_assert_eq(cli_run(NULL, &err, "info", in_dir("notes.txt"), NULL), 1);
	cr_assert(strstr(err, "notes.txt") && strstr(err, "not an IDX magic"), "%s", err);
	free(err);
	cr_assert_eq(cli_run(NULL, &err, "info", "--bogus", NULL), 2);
	cr_assert(strstr(err, "--bogus"), "%s", err);
	free(err);
	cr_assert_eq(cli_run(NULL, &err, "info", NULL), 2);
	free(err);
}
