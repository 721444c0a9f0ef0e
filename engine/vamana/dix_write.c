/*
 * dix_write.c — the node file writer (see dix_write.h, dix_format.h).
 *
 * Records are assembled slot by slot into a chunk of whole sectors and
 * written sequentially, so the writer needs O(chunk) memory beyond the
 * graph, whatever the index size.
 */
#include "dix_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "dix_graph.h"
#include "dix_manifest.h"

#define WRITE_CHUNK_SECTORS 1024u /* 4 MiB per write() */

static int check_graph(const struct dix_write_params *p, const struct dix_graph *g)
{
	if (g->n == 0 || g->n > UINT32_MAX)
		return dann_fail(DANN_EINVAL, "disk index: %llu points, expected 1..%u",
				 (unsigned long long)g->n, UINT32_MAX);
	if (g->R == 0 || g->R > DIX_MAX_R)
		return dann_fail(DANN_EINVAL, "disk index: max degree R = %u, expected 1..%d", g->R,
				 DIX_MAX_R);
	if (p->dim == 0 || p->dim > 65536)
		return dann_fail(DANN_EINVAL, "disk index: dimension %u, expected 1..65536", p->dim);
	if (p->dtype != DANN_DTYPE_F32 && p->dtype != DANN_DTYPE_U8 && p->dtype != DANN_DTYPE_I8)
		return dann_fail(DANN_EINVAL, "disk index: element type %s cannot be indexed",
				 dann_dtype_name(p->dtype));
	if ((unsigned)p->metric > DANN_METRIC_COSINE)
		return dann_fail(DANN_EINVAL, "disk index: unknown metric %d", (int)p->metric);
	if (g->n_entry == 0 || g->n_entry > DIX_MAX_ENTRY)
		return dann_fail(DANN_EINVAL, "disk index: %u entry points, expected 1..%d",
				 g->n_entry, DIX_MAX_ENTRY);
	for (uint32_t i = 0; i < g->n_entry; i++)
		if (g->entry[i] >= g->n)
			return dann_fail(DANN_EINVAL, "disk index: entry point %u >= n = %llu",
					 g->entry[i], (unsigned long long)g->n);
	for (uint64_t i = 0; i < g->n; i++) {
		uint32_t buf[DIX_MAX_R];
		const uint32_t *nb;
		int rc;
		if (g->degree[i] > g->R)
			return dann_fail(DANN_EINVAL, "disk index: node %llu has degree %u > R = %u",
					 (unsigned long long)i, g->degree[i], g->R);
		if ((rc = dix_graph_nbrs(g, i, buf, &nb)) < 0)
			return rc;
		for (uint32_t j = 0; j < g->degree[i]; j++)
			if (nb[j] >= g->n)
				return dann_fail(DANN_EINVAL,
						 "disk index: node %llu has neighbour %u >= n = %llu",
						 (unsigned long long)i, nb[j], (unsigned long long)g->n);
	}
	return 0;
}

static void fill_header(struct dix_header *h, const struct dix_write_params *p,
			const struct dix_graph *g)
{
	memset(h, 0, sizeof *h);
	memcpy(h->magic, DIX_MAGIC, DIX_MAGIC_BYTES);
	h->version = DIX_VERSION;
	h->metric = (uint32_t)p->metric;
	h->dtype = (uint32_t)p->dtype;
	h->dim = p->dim;
	h->n = g->n;
	h->R = g->R;
	h->n_entry = g->n_entry;
	memcpy(h->entry, g->entry, sizeof h->entry[0] * g->n_entry);
	h->layout = (uint32_t)p->layout;
	dix_header_geometry(h, (uint32_t)dann_dtype_size(p->dtype));
	h->crc = crc32c(0, h, sizeof *h);
}

/* Writes one record of node id at rec. */
static int fill_record(char *rec, const struct dix_header *h, const struct dix_graph *g,
		       uint64_t id, dix_rows_fn rows, void *rows_arg)
{
	uint32_t vb = dix_vec_bytes(h->dim, (uint32_t)dann_dtype_size(h->dtype));
	uint32_t deg = g->degree[id], buf[DIX_MAX_R];
	const uint32_t *nb;
	int rc;

	if ((rc = rows(rows_arg, id, 1, rec)) < 0 || (rc = dix_graph_nbrs(g, id, buf, &nb)) < 0)
		return rc;
	memcpy(rec + vb, &deg, 4);
	memcpy(rec + vb + 4, nb, (size_t)deg * 4);
	return 0;
}

/* Ends each block of spn sectors in buf (sectors of them) with the CRC32C
 * of the rest of the block (dix_format.h). */
static void seal_blocks(char *buf, uint64_t sectors, uint64_t spn)
{
	size_t block = (size_t)spn * DIX_SECTOR;

	for (uint64_t s = 0; s < sectors; s += spn) {
		char *b = buf + s * DIX_SECTOR;
		uint32_t c = crc32c(0, b, block - DIX_BLOCK_CRC_BYTES);
		memcpy(b + block - DIX_BLOCK_CRC_BYTES, &c, DIX_BLOCK_CRC_BYTES);
	}
}

static int write_nodes_file(const char *path, const struct dix_header *h,
			    const struct dix_write_params *p, const struct dix_graph *g,
			    const uint32_t *id_of_slot, dix_rows_fn rows, void *rows_arg)
{
	size_t chunk_bytes = (size_t)WRITE_CHUNK_SECTORS * DIX_SECTOR;
	uint64_t spn = h->sectors_per_node, nps = h->nodes_per_sector;
	uint64_t slots_per_chunk = spn > 1 ? WRITE_CHUNK_SECTORS / spn : WRITE_CHUNK_SECTORS * nps;
	char *buf = NULL;
	int fd, rc = 0;

	if (slots_per_chunk == 0) { /* a node larger than the chunk */
		slots_per_chunk = 1;
		chunk_bytes = spn * DIX_SECTOR;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot create", path);
	if (!(buf = calloc(1, chunk_bytes))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for the write buffer", path);
		goto out;
	}
	memcpy(buf, h, sizeof *h);
	if ((rc = fsu_write_all(fd, path, buf, DIX_SECTOR)) < 0)
		goto out;
	for (uint64_t s0 = 0; s0 < h->n; s0 += slots_per_chunk) {
		uint64_t s1 = s0 + slots_per_chunk < h->n ? s0 + slots_per_chunk : h->n;
		uint64_t first_sector = dix_slot_sector_offset(h, s0) / DIX_SECTOR;
		uint64_t end_sector = spn > 1 ? first_sector + (s1 - s0) * spn
					      : (s1 - 1) / nps + 2;
		memset(buf, 0, chunk_bytes);
		for (uint64_t s = s0; s < s1; s++) {
			uint64_t off = (dix_slot_sector_offset(h, s) / DIX_SECTOR - first_sector) *
					       DIX_SECTOR + dix_slot_in_sector(h, s);
			uint64_t id = id_of_slot ? id_of_slot[s] : s;
			if ((rc = fill_record(buf + off, h, g, id, rows, rows_arg)) < 0)
				goto out;
		}
		if ((rc = stop_check(p->stop, "build: layout")) < 0)
			goto out;
		seal_blocks(buf, end_sector - first_sector, spn);
		if ((rc = fsu_write_all(fd, path, buf, (end_sector - first_sector) * DIX_SECTOR)) < 0)
			goto out;
		if (p->progress)
			p->progress(p->progress_arg, "layout", s1, h->n);
	}
	rc = fsu_fsync(fd, path);
out:
	free(buf);
	close(fd);
	return rc;
}

int dix_write_nodes(const char *dir, const struct dix_write_params *p, const struct dix_graph *g,
		    dix_rows_fn rows, void *rows_arg)
{
	struct dix_header h;
	uint32_t *slot_of = NULL, *id_of_slot = NULL;
	char path[PATH_MAX];
	int rc;

	if ((rc = check_graph(p, g)) < 0)
		return rc;
	if (p->layout != DIX_LAYOUT_PLAIN && p->layout != DIX_LAYOUT_LOCALITY &&
	    p->layout != DIX_LAYOUT_SHUFFLE)
		return dann_fail(DANN_EINVAL, "disk index: unknown layout %d", (int)p->layout);
	fill_header(&h, p, g);
	if (snprintf(path, sizeof path, "%s/%s", dir, DIX_DATA_FILE) >= (int)sizeof path)
		return dann_fail(DANN_EINVAL, "%s: path too long", dir);
	if (p->layout != DIX_LAYOUT_PLAIN) {
		slot_of = malloc(sizeof *slot_of * g->n);
		id_of_slot = malloc(sizeof *id_of_slot * g->n);
		if (!slot_of || !id_of_slot) {
			rc = dann_fail(DANN_ENOMEM, "disk index: no memory for the slot map of %llu nodes",
				       (unsigned long long)g->n);
			goto out;
		}
		rc = p->layout == DIX_LAYOUT_SHUFFLE
			     ? dix_order_shuffle(g, h.nodes_per_sector, p->stop, slot_of)
			     : dix_order_locality(g, h.nodes_per_sector, slot_of);
		if (rc < 0)
			goto out;
		for (uint64_t i = 0; i < g->n; i++)
			id_of_slot[slot_of[i]] = (uint32_t)i;
		if ((rc = dix_write_small_file(dir, DIX_SLOTS_FILE, slot_of, sizeof *slot_of * g->n)) < 0)
			goto out;
	}
	rc = write_nodes_file(path, &h, p, g, id_of_slot, rows, rows_arg);
out:
	free(slot_of);
	free(id_of_slot);
	return rc;
}

int dix_write_ids(const char *dir, const uint64_t *keys, uint64_t n)
{
	uint64_t *ident = NULL;
	int rc;

	if (!keys) {
		if (!(ident = malloc(sizeof *ident * (n ? n : 1))))
			return dann_fail(DANN_ENOMEM, "%s/%s: no memory", dir, DIX_IDS_FILE);
		for (uint64_t i = 0; i < n; i++)
			ident[i] = i;
		keys = ident;
	}
	rc = dix_write_small_file(dir, DIX_IDS_FILE, keys, sizeof *keys * n);
	free(ident);
	return rc;
}
