/*
 * crc.c — CRC32C through ISA-L (see crc.h).
 */
#include "crc.h"

#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

#define CRC_CHUNK_BYTES (4u << 20)  /* bytes per read of crc32c_file */
/* ISA-L takes the length as an int (a uint64_t in some builds): every call
 * gets at most 1 GiB, so a buffer of any size (PQ codes at a billion points
 * are tens of GB) is checksummed whole, never modulo 4 GiB. */
#define CRC_CALL_MAX_BYTES (1u << 30)

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* ISA-L's crc32_iscsi takes and returns the raw register; the usual
	 * CRC32C inverts it on the way in and out. */
	crc = ~crc;
	while (len > 0) {
		size_t n = len > CRC_CALL_MAX_BYTES ? CRC_CALL_MAX_BYTES : len;
		crc = crc32_iscsi((unsigned char *)p, (int)n, crc);
		p += n;
		len -= n;
	}
	return ~crc;
}

int crc32c_file(const char *path, uint64_t offset, uint64_t len, uint32_t *out)
{
	unsigned char *buf = NULL;
	uint32_t crc = 0;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "%s: cannot open", path);
	if (!(buf = malloc(CRC_CHUNK_BYTES))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for checksum buffer", path);
		goto out;
	}
	while (len > 0) {
		size_t want = len > CRC_CHUNK_BYTES ? CRC_CHUNK_BYTES : (size_t)len;
		ssize_t got = pread(fd, buf, want, (off_t)offset);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = dann_fail_errno(DANN_EIO, errno, "%s: read at offset %llu", path,
					     (unsigned long long)offset);
			goto out;
		}
		if (got == 0)
			break;
		crc = crc32c(crc, buf, (size_t)got);
		offset += (uint64_t)got;
		if (len != UINT64_MAX)
			len -= (uint64_t)got;
	}
	*out = crc;
out:
	free(buf);
	close(fd);
	return rc;
}
