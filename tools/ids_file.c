/*
 * ids_file.c — reading and writing key files (see ids_file.h).
 */
#include "ids_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/dann.h"
#include "../engine/error.h"
#include "../engine/vf.h"

#define IDS_I64_HEADER_BYTES 8

static int load_vf(const char *path, int64_t **out, uint64_t *n)
{
	int32_t *v = NULL;
	struct vf *f;
	int rc;

	if ((rc = vf_open(path, &f)) < 0)
		return rc;
	if (vf_dtype(f) != DANN_DTYPE_I32) {
		rc = dann_fail(DANN_EINVAL, "%s: a key file must hold int32 ids (.ibin/.ivecs) or be given "
					    "with --ids-i64", path);
		goto out;
	}
	if (vf_dim(f) != 1) {
		rc = dann_fail(DANN_EINVAL, "%s: %u ids per row, a key file has one", path, vf_dim(f));
		goto out;
	}
	*n = vf_count(f);
	if (!(v = malloc(sizeof *v * (*n ? *n : 1))) || !(*out = malloc(sizeof **out * (*n ? *n : 1)))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for %llu keys", path, (unsigned long long)*n);
		goto out;
	}
	if ((rc = vf_read(f, 0, *n, v)) < 0) {
		free(*out);
		*out = NULL;
		goto out;
	}
	for (uint64_t i = 0; i < *n; i++)
		(*out)[i] = v[i];
out:
	free(v);
	vf_close(f);
	return rc;
}

static int64_t get_i64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static int load_i64(const char *path, int64_t **out, uint64_t *n)
{
	unsigned char hdr[IDS_I64_HEADER_BYTES], *buf = NULL;
	struct stat st;
	int64_t count;
	FILE *f;
	int rc = 0;

	if (!(f = fopen(path, "rb")))
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno, "%s", path);
	if (fstat(fileno(f), &st) < 0 || fread(hdr, 1, sizeof hdr, f) != sizeof hdr) {
		rc = dann_fail(DANN_ECORRUPT, "%s: shorter than the 8-byte key count of an int64 key file", path);
		goto out;
	}
	count = get_i64(hdr);
	if (count < 0 || (uint64_t)count > ((uint64_t)st.st_size - IDS_I64_HEADER_BYTES) / 8 ||
	    (uint64_t)st.st_size != IDS_I64_HEADER_BYTES + 8 * (uint64_t)count) {
		rc = dann_fail(DANN_ECORRUPT, "%s: header says %lld keys, the file holds %llu bytes (expected "
					      "8 + 8 x count)", path, (long long)count, (unsigned long long)st.st_size);
		goto out;
	}
	*n = (uint64_t)count;
	if (!(buf = malloc(8 * (*n ? *n : 1))) || !(*out = malloc(sizeof **out * (*n ? *n : 1)))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for %llu keys", path, (unsigned long long)*n);
		goto out;
	}
	if (fread(buf, 8, *n, f) != *n) {
		free(*out);
		*out = NULL;
		rc = dann_fail(DANN_EIO, "%s: read of %llu keys failed", path, (unsigned long long)*n);
		goto out;
	}
	for (uint64_t i = 0; i < *n; i++)
		(*out)[i] = get_i64(buf + 8 * i);
out:
	free(buf);
	fclose(f);
	return rc;
}

int ids_file_load(const char *path, int i64, int64_t **out, uint64_t *n)
{
	*out = NULL;
	*n = 0;
	return i64 ? load_i64(path, out, n) : load_vf(path, out, n);
}

int ids_file_write_i64(const char *path, const int64_t *keys, uint64_t n)
{
	unsigned char b[8];
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (!f)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot create", path);
	for (uint64_t i = 0; i <= n && rc == 0; i++) {
		uint64_t v = i == 0 ? n : (uint64_t)keys[i - 1];
		for (int j = 0; j < 8; j++)
			b[j] = (uint8_t)(v >> (8 * j));
		if (fwrite(b, 1, 8, f) != 8)
			rc = dann_fail_errno(DANN_EIO, errno, "%s: write", path);
	}
	if (fclose(f) != 0 && rc == 0)
		rc = dann_fail_errno(DANN_EIO, errno, "%s: close", path);
	return rc;
}
