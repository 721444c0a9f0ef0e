/*
 * dix_graph.c — a built graph's adjacency for the layout, in RAM or read
 * from the graph file by pread (see dix_graph.h).
 *
 * The locality order walks the graph breadth-first, so its reads are
 * random; each is one pread of degree[id] ids (a few hundred bytes) that
 * the page cache serves after the first pass. Only the degrees (4 bytes a
 * node) stay in the process.
 */
#include "dix_graph.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error.h"
#include "dix_write.h"
#include "vamana.h"

struct dix_graph_file {
	int fd;
	uint64_t rows_offset; /* byte offset of row 0 (u32 slots[R] per node) */
	char path[];
};

/* pread until done: a short read of a regular file means it was cut. */
static int read_at(int fd, const char *path, void *buf, size_t bytes, uint64_t off)
{
	char *p = buf;

	while (bytes > 0) {
		ssize_t got = pread(fd, p, bytes, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return dann_fail_errno(DANN_EIO, errno, "%s: read at byte %llu", path,
					       (unsigned long long)off);
		if (got == 0)
			return dann_fail(DANN_ECORRUPT, "%s: ends before byte %llu", path,
					 (unsigned long long)(off + bytes));
		p += got;
		off += (uint64_t)got;
		bytes -= (size_t)got;
	}
	return 0;
}

int dix_graph_open_file(const char *path, uint64_t n, uint32_t dim, struct dix_graph *g)
{
	struct dix_graph_file *gf = NULL;
	struct vam_file_header h;
	uint32_t *degree = NULL;
	size_t plen = strlen(path) + 1;
	int rc;

	memset(g, 0, sizeof *g);
	if ((rc = vam_file_read_header(path, &h)) < 0)
		return rc;
	if (h.n != n || h.dim != dim)
		return dann_fail(DANN_ECORRUPT, "%s: graph of %llu x %u, data %llu x %u", path,
				 (unsigned long long)h.n, h.dim, (unsigned long long)n, dim);
	if (!(gf = malloc(sizeof *gf + plen)) || !(degree = malloc(sizeof *degree * (h.n ? h.n : 1)))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for the degrees of %llu nodes", path,
			       (unsigned long long)h.n);
		goto fail;
	}
	memcpy(gf->path, path, plen);
	gf->rows_offset = VAM_FILE_HEADER_BYTES + (uint64_t)h.n * 4;
	if ((gf->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot open", path);
		goto fail;
	}
	if ((rc = read_at(gf->fd, path, degree, sizeof *degree * h.n, VAM_FILE_HEADER_BYTES)) < 0) {
		close(gf->fd);
		goto fail;
	}
	g->n = h.n;
	g->R = h.R;
	g->degree = degree;
	g->file = gf;
	g->n_entry = 1;
	g->entry[0] = h.medoid;
	return 0;
fail:
	free(degree);
	free(gf);
	return rc;
}

void dix_graph_close(struct dix_graph *g)
{
	if (!g->file)
		return;
	close(g->file->fd);
	free(g->file);
	free((void *)g->degree);
	g->file = NULL;
	g->degree = NULL;
}

int dix_graph_nbrs(const struct dix_graph *g, uint64_t id, uint32_t *buf, const uint32_t **out)
{
	const struct dix_graph_file *gf = g->file;
	int rc;

	if (!gf) {
		*out = g->nbrs + id * g->R;
		return 0;
	}
	/* Degrees were checked against R before any row is read (check_graph,
	 * or the caller); a larger one would overrun buf. */
	if (g->degree[id] > g->R)
		return dann_fail(DANN_ECORRUPT, "%s: node %llu has degree %u > R = %u", gf->path,
				 (unsigned long long)id, g->degree[id], g->R);
	if ((rc = read_at(gf->fd, gf->path, buf, (size_t)g->degree[id] * 4,
			  gf->rows_offset + id * g->R * 4)) < 0)
		return rc;
	*out = buf;
	return 0;
}
