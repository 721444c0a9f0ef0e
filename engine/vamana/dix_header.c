/*
 * dix_header.c — validating the header sector of disk.index (see
 * dix_format.h): magic, version, checksum, every field's range, and the
 * geometry and file size that follow from them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../aligned.h"
#include "../crc.h"
#include "../error.h"
#include "dix.h"

const char *dix_layout_name(uint32_t layout)
{
	switch (layout) {
	case DIX_LAYOUT_PLAIN:
		return "plain";
	case DIX_LAYOUT_LOCALITY:
		return "locality";
	case DIX_LAYOUT_SHUFFLE:
		return "shuffle";
	default:
		return "?";
	}
}

int dix_header_check(const char *path, const struct dix_header *h, uint64_t size)
{
	struct dix_header g = *h;
	uint32_t crc;

	if (memcmp(h->magic, DIX_MAGIC, DIX_MAGIC_BYTES))
		return dann_fail(DANN_ECORRUPT, "%s: not a dann disk index (bad magic)", path);
	if (h->version == 1)
		return dann_fail(DANN_EUNSUPPORTED, "%s: format version 1 (no per-sector checksums); "
				 "this build reads version %u: rebuild the index (dann build)",
				 path, DIX_VERSION);
	if (h->version != DIX_VERSION)
		return dann_fail(DANN_EUNSUPPORTED, "%s: format version %u, this build reads %u", path,
				 h->version, DIX_VERSION);
	g.crc = 0;
	if ((crc = crc32c(0, &g, sizeof g)) != h->crc)
		return dann_fail(DANN_ECORRUPT, "%s: header checksum %08x, computed %08x (corrupt)",
				 path, h->crc, crc);
	if (h->metric > DANN_METRIC_COSINE)
		return dann_fail(DANN_ECORRUPT, "%s: metric %u in header", path, h->metric);
	if (h->dtype != DANN_DTYPE_F32 && h->dtype != DANN_DTYPE_U8 && h->dtype != DANN_DTYPE_I8)
		return dann_fail(DANN_ECORRUPT, "%s: element type %u in header", path, h->dtype);
	if (h->dim == 0 || h->dim > 65536)
		return dann_fail(DANN_ECORRUPT, "%s: dimension %u in header, expected 1..65536", path,
				 h->dim);
	if (h->n == 0 || h->n > UINT32_MAX)
		return dann_fail(DANN_ECORRUPT, "%s: %llu points in header", path,
				 (unsigned long long)h->n);
	if (h->R == 0 || h->R > DIX_MAX_R)
		return dann_fail(DANN_ECORRUPT, "%s: R = %u in header, expected 1..%d", path, h->R,
				 DIX_MAX_R);
	if (h->n_entry == 0 || h->n_entry > DIX_MAX_ENTRY)
		return dann_fail(DANN_ECORRUPT, "%s: %u entry points in header", path, h->n_entry);
	for (uint32_t i = 0; i < h->n_entry; i++)
		if (h->entry[i] >= h->n)
			return dann_fail(DANN_ECORRUPT, "%s: entry point %u >= n", path, h->entry[i]);
	if (h->layout > DIX_LAYOUT_SHUFFLE)
		return dann_fail(DANN_ECORRUPT, "%s: layout %u in header", path, h->layout);
	g = *h;
	dix_header_geometry(&g, (uint32_t)dann_dtype_size(h->dtype));
	if (g.node_bytes != h->node_bytes || g.nodes_per_sector != h->nodes_per_sector ||
	    g.sectors_per_node != h->sectors_per_node || g.node_sectors != h->node_sectors ||
	    g.file_bytes != h->file_bytes)
		return dann_fail(DANN_ECORRUPT, "%s: node geometry in header does not follow from "
				 "dim, type and R", path);
	if (size != h->file_bytes)
		return dann_fail(DANN_ECORRUPT, "%s: %llu bytes, header says %llu%s", path,
				 (unsigned long long)size, (unsigned long long)h->file_bytes,
				 size < h->file_bytes ? " (truncated)" : "");
	return 0;
}

int dix_read_header_fd(int fd, const char *path, struct dix_header *h)
{
	char *buf = dann_aligned_alloc(DIX_SECTOR);
	struct stat st;
	ssize_t r;
	int rc = 0;

	if (!buf)
		return DANN_ENOMEM;
	if (fstat(fd, &st) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: stat", path);
		goto out;
	}
	do
		r = pread(fd, buf, DIX_SECTOR, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: reading the header", path);
		goto out;
	}
	if (r < (ssize_t)sizeof *h) {
		rc = dann_fail(DANN_ECORRUPT, "%s: %zd bytes, too short for a header (truncated)",
			       path, r);
		goto out;
	}
	memcpy(h, buf, sizeof *h);
	rc = dix_header_check(path, h, (uint64_t)st.st_size);
out:
	dann_aligned_free(buf);
	return rc;
}

int dix_read_header(const char *dir, struct dix_header *h)
{
	char path[PATH_MAX];
	int fd, rc;

	if (snprintf(path, sizeof path, "%s/%s", dir, DIX_DATA_FILE) >= (int)sizeof path)
		return dann_fail(DANN_EINVAL, "%s: path too long", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "%s: cannot open", path);
	rc = dix_read_header_fd(fd, path, h);
	close(fd);
	return rc;
}

