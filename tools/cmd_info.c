/*
 * cmd_info.c — `dann info`: what a file dann reads or writes holds.
 *
 * For each file: its format, element type, count, dimension, size, CRC32C,
 * and whether it is well formed. A malformed file is still described as
 * far as its bytes allow (a *bin header is shown next to the size it
 * implies), then reported with the reader's own message; the exit status is
 * 1 if any file was malformed or unreadable.
 *
 * One branch per kind of target: vector files and IDX files now; a disk
 * index directory and the I/O backend probe get their own branches in
 * info_path and run_info (marked below).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/aligned.h"
#include "../engine/crc.h"
#include "../engine/error.h"
#include "../engine/io/dio.h"
#include "../engine/vf.h"
#include "cmd.h"
#include "idx.h"
#include "info_index.h"

#define INFO_IDX_CHUNK_BYTES (4u << 20)

static const char info_help[] =
	"usage: dann info FILE...\n"
	"       dann info --io\n"
	"\n"
	"Describes each FILE: format, element type, count, dimension, size in bytes,\n"
	"CRC32C of the whole file, and whether it is well formed (for .fbin, .u8bin,\n"
	".i8bin and .ibin, whether the header's count x dim matches the file size).\n"
	"Reads vector files (.fbin .u8bin .i8bin .ibin .fvecs .bvecs .ivecs) and IDX\n"
	"files (gzipped or plain). Exits 1 if any file is malformed or unreadable.\n"
	"\n"
	"--io  tries each disk read backend (io_uring, libaio, pread) for real and\n"
	"      prints which one dann would use and why; DANN_IO=uring|aio|pread\n"
	"      names the first one to try.\n";

static void print_crc(const char *path)
{
	uint32_t crc;

	if (crc32c_file(path, 0, UINT64_MAX, &crc) == 0)
		printf("  crc32c        0x%08x\n", crc);
	else
		printf("  crc32c        unavailable: %s\n", dann_errmsg());
}

/* The *bin header as stored, next to the size it implies, even when
 * vf_open refused the file. */
static void print_bin_header(const char *path, enum vf_format fmt, uint64_t file_bytes)
{
	int32_t hdr[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? pread(fd, hdr, sizeof hdr, 0) : -1;
	uint64_t want;

	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)sizeof hdr) {
		printf("  header        missing: the file is shorter than 8 bytes\n");
		return;
	}
	if (hdr[0] < 0 || hdr[1] <= 0) {
		printf("  header        count %d, dim %d: not a valid header\n", hdr[0], hdr[1]);
		return;
	}
	want = 8 + (uint64_t)hdr[0] * (uint64_t)hdr[1] * dann_dtype_size(vf_format_dtype(fmt));
	printf("  header        count %d, dim %d -> %llu bytes: %s\n", hdr[0], hdr[1],
	       (unsigned long long)want,
	       want == file_bytes ? "matches the file size"
				  : want > file_bytes ? "DOES NOT match the file size (file is short)"
						      : "DOES NOT match the file size (file is long)");
}

static int info_vector_file(const char *path, enum vf_format fmt)
{
	char err[1024] = "";
	struct stat st;
	struct vf *f = NULL;
	int rc;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "dann info: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if ((rc = vf_open(path, &f)) < 0)
		snprintf(err, sizeof err, "%s", dann_errmsg());
	printf("%s\n", path);
	printf("  format        %s\n", vf_format_name(fmt));
	printf("  element type  %s\n", dann_dtype_name(vf_format_dtype(fmt)));
	if (f) {
		printf("  count         %llu\n", (unsigned long long)vf_count(f));
		printf("  dim           %u\n", vf_dim(f));
	}
	printf("  file size     %llu bytes\n", (unsigned long long)st.st_size);
	if (fmt < VF_FVECS)
		print_bin_header(path, fmt, (uint64_t)st.st_size);
	else if (f)
		printf("  rows          every row has dim %u (%zu bytes with its header)\n", vf_dim(f),
		       4 + vf_row_bytes(f));
	print_crc(path);
	vf_close(f);
	if (rc < 0) {
		printf("  status        MALFORMED\n");
		fprintf(stderr, "dann info: %s\n", err);
		return 1;
	}
	printf("  status        ok\n");
	return 0;
}

/* Streams every row so that a gzipped file's length and CRC are checked. */
static int idx_check_all(struct idx *x)
{
	uint64_t row = idx_row_elems(x), chunk = INFO_IDX_CHUNK_BYTES / row + 1;
	uint8_t *buf = malloc(chunk * row);
	int rc = 0;

	if (!buf)
		return dann_fail(DANN_ENOMEM, "no memory for a %llu-row buffer",
				 (unsigned long long)chunk);
	for (uint64_t done = 0; done < idx_count(x) && rc == 0; done += chunk) {
		uint64_t n = idx_count(x) - done < chunk ? idx_count(x) - done : chunk;
		rc = idx_read(x, n, buf);
	}
	if (rc == 0)
		rc = idx_finish(x);
	free(buf);
	return rc;
}

static int info_idx_file(const char *path)
{
	struct idx *x = NULL;
	struct stat st;
	int rc;

	if ((rc = idx_open(path, &x)) < 0 || (rc = idx_check_all(x)) < 0) {
		fprintf(stderr, "dann info: %s (not a vector file by extension, nor a readable IDX file)\n",
			dann_errmsg());
		idx_close(x);
		return 1;
	}
	printf("%s\n", path);
	printf("  format        idx%u-ubyte%s (magic 0x%08x)\n", idx_ndims(x),
	       idx_gzipped(x) ? ", gzipped" : "", idx_magic(x));
	printf("  element type  %s\n", dann_dtype_name(DANN_DTYPE_U8));
	printf("  count         %u\n", idx_count(x));
	printf("  dim           %u", idx_row_elems(x));
	if (idx_ndims(x) == 3)
		printf(" (%u x %u)", idx_dim_at(x, 1), idx_dim_at(x, 2));
	printf("\n");
	if (stat(path, &st) == 0)
		printf("  file size     %llu bytes\n", (unsigned long long)st.st_size);
	print_crc(path);
	printf("  status        ok\n");
	idx_close(x);
	return 0;
}

/* A buffer arena like a search thread's, so that the probe also finds out
 * whether RLIMIT_MEMLOCK lets io_uring register it. */
#define INFO_IO_PROBE_BUF_BYTES (1u << 20)

/* `dann info --io`: the backend dio_open would choose, and each one's state. */
static int info_io(void)
{
	void *buf = dann_aligned_alloc(INFO_IO_PROBE_BUF_BYTES);
	struct dio_buf_region region = { buf, INFO_IO_PROBE_BUF_BYTES };
	struct dio_opts opts = { .bufs = &region, .nbufs = 1 };
	struct dio_probe p;
	int rc;

	if (!buf)
		return cmd_fail_lib("info", DANN_ENOMEM);
	rc = dio_probe(&opts, &p);
	dann_aligned_free(buf);
	if (rc < 0)
		return cmd_fail_lib("info", rc);
	printf("io backend      %s\n", p.why);
	for (int b = DIO_BACKEND_URING; b < DIO_NBACKENDS; b++)
		printf("  %-13s %s\n", dio_backend_name((enum dio_backend)b), p.reason[b]);
	return 0;
}

static int info_path(const char *path)
{
	enum vf_format fmt;
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		return info_index_dir(path);
	}
	if (vf_format_from_path(path, &fmt) == 0)
		return info_vector_file(path, fmt);
	return info_idx_file(path);
}

static int run_info(int argc, char **argv)
{
	int status = 0, nfiles = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(info_help, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--io")) {
			if (argc != 2)
				return cmd_usage_error("info", "--io takes no FILE");
			return info_io();
		}
		if (argv[i][0] == '-' && argv[i][1])
			return cmd_usage_error("info", "unknown option '%s'", argv[i]);
	}
	for (int i = 1; i < argc; i++) {
		if (nfiles++)
			printf("\n");
		if (info_path(argv[i]) != 0)
			status = 1;
	}
	if (!nfiles)
		return cmd_usage_error("info", "no FILE given");
	return status;
}

DANN_COMMAND(info, "describe vector and IDX files (format, count, dim, size, CRC32C) or the I/O backend (--io)", run_info)
