/*
 * fmnist.c — reading the gzipped idx3 image files of Fashion-MNIST with
 * zlib (header: magic 0x00000803, count, rows, cols, big-endian).
 */
#include "fmnist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "../../engine/error.h"

#define IDX3_MAGIC 0x00000803u

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int fmnist_load_u8(const char *dir, const char *set, uint32_t max_rows, uint8_t **data,
		   uint32_t *n, uint32_t *dim)
{
	char path[PATH_MAX];
	unsigned char h[16];
	uint8_t *buf = NULL;
	gzFile gz;
	uint32_t count, d;
	size_t bytes;
	int rc = 0;

	*data = NULL;
	snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, set);
	if (!(gz = gzopen(path, "rb")))
		return dann_fail(DANN_ENOTFOUND, "%s: cannot open", path);
	if (gzread(gz, h, sizeof h) != (int)sizeof h || be32(h) != IDX3_MAGIC) {
		rc = dann_fail(DANN_ECORRUPT, "%s: not an idx3-ubyte file (bad header)", path);
		goto out;
	}
	count = be32(h + 4);
	d = be32(h + 8) * be32(h + 12);
	if (max_rows && count > max_rows)
		count = max_rows;
	bytes = (size_t)count * d;
	if (!(buf = malloc(bytes ? bytes : 1))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for %u images", path, count);
		goto out;
	}
	for (size_t done = 0; done < bytes;) {
		size_t want = bytes - done > (1u << 30) ? (1u << 30) : bytes - done;
		int r = gzread(gz, buf + done, (unsigned)want);
		if (r <= 0) {
			rc = dann_fail(DANN_ECORRUPT, "%s: truncated after %zu of %zu bytes", path, done,
				       bytes);
			goto out;
		}
		done += (size_t)r;
	}
	*data = buf;
	buf = NULL;
	*n = count;
	*dim = d;
out:
	free(buf);
	gzclose(gz);
	return rc;
}
