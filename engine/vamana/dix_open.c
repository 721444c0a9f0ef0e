/*
 * dix_open.c — the disk index loader (see dix.h).
 *
 * Order of checks: MANIFEST (the commit record) first, then every file
 * against it, then the header sector's own checksum and fields, then each
 * RAM structure's size against the header. Only after all of that is a
 * byte of the index trusted, so a damaged index fails here, by name, and
 * never inside a search.
 */
#include "dix.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../aligned.h"
#include "../crc.h"
#include "../error.h"
#include "../io/dio.h"
#include "../pq/pq.h"
#include "dix_entry.h"
#include "dix_manifest.h"
#include "dix_warm.h"

static _Atomic uint64_t next_serial;

int dix_block_check(const struct dix_index *ix, const void *block, uint64_t off)
{
	uint32_t want, got;

	if (!ix->verify_blocks)
		return 0;
	want = dix_block_crc_stored(block, ix->read_bytes);
	got = crc32c(0, block, ix->read_bytes - DIX_BLOCK_CRC_BYTES);
	if (got == want)
		return 0;
	return dann_fail(DANN_ECORRUPT, "%s/%s: sector %llu (bytes %llu..%llu) fails its checksum "
			 "(stored %08x, computed %08x): the file is damaged, rebuild the index",
			 ix->dir, DIX_DATA_FILE, (unsigned long long)(off / DIX_SECTOR),
			 (unsigned long long)off, (unsigned long long)(off + ix->read_bytes - 1),
			 want, got);
}

int dix_read_node(const struct dix_index *ix, uint32_t id, void *buf, void *rec)
{
	uint64_t s = dix_slot(ix, id), off = dix_slot_sector_offset(&ix->h, s);
	ssize_t r;
	int rc;

	do
		r = pread(ix->fd, buf, ix->read_bytes, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)ix->read_bytes)
		return r < 0 ? dann_fail_errno(DANN_EIO, errno, "%s/%s: read of node %u", ix->dir,
					       DIX_DATA_FILE, id)
			     : dann_fail(DANN_ECORRUPT, "%s/%s: short read of node %u", ix->dir,
					 DIX_DATA_FILE, id);
	if ((rc = dix_block_check(ix, buf, off)) < 0)
		return rc;
	memcpy(rec, (char *)buf + dix_slot_in_sector(&ix->h, s), ix->h.node_bytes);
	return 0;
}

/* Checks a record read from disk before it enters the cache: degree within
 * R, ids within n. The search checks the same on every read. */
static int record_check(const struct dix_index *ix, uint32_t id, const void *rec)
{
	uint32_t deg = dix_rec_degree(rec, ix->vec_bytes);
	const uint32_t *nb = dix_rec_nbrs(rec, ix->vec_bytes);

	if (deg > ix->h.R)
		goto bad;
	for (uint32_t j = 0; j < deg; j++)
		if (nb[j] >= ix->h.n)
			goto bad;
	return 0;
bad:
	return dann_fail(DANN_ECORRUPT, "%s/%s: record of node %u is corrupt (degree or ids out of range)",
			 ix->dir, DIX_DATA_FILE, id);
}

/* Reads node id into the cache unless it is there; 1 if it was added. */
static int cache_node(struct dix_index *ix, uint32_t id, char *buf, char *rec)
{
	int rc;

	if (dix_cache_get(&ix->cache, id))
		return 0;
	if ((rc = dix_read_node(ix, id, buf, rec)) < 0 || (rc = record_check(ix, id, rec)) < 0)
		return rc;
	dix_cache_add(&ix->cache, id, rec);
	return 1;
}

/* The nodes searches read first, then breadth-first from them, each read
 * once: the header's entry points (the medoid: where a search without
 * seeds starts), then, with an entry graph (dix_entry.h), its sample
 * points, since a seeded search starts at those nearest its query and its
 * first round is then served from RAM. With the visit-count policy the
 * nodes the warm-up searches read most come before all of these
 * (dix_warm.h), and breadth-first fills what budget they leave. */
static int cache_fill(struct dix_index *ix, uint64_t max_nodes, enum dix_cache_policy policy)
{
	uint32_t *queue = NULL;
	char *buf = NULL, *rec = NULL;
	uint64_t head = 0, tail = 0, nhot = 0;
	int rc;

	if (max_nodes > ix->h.n)
		max_nodes = ix->h.n;
	if (max_nodes == 0)
		return dix_cache_init(&ix->cache, ix->h.node_bytes, 0);
	queue = malloc(sizeof *queue * max_nodes);
	buf = dann_aligned_alloc(ix->read_bytes);
	rec = malloc(ix->h.node_bytes);
	if (!queue || !buf || !rec) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory to fill the node cache", ix->dir);
		goto out;
	}
	/* The warm-up searches run with the cache still empty. */
	if (policy == DIX_CACHE_VISITS && (rc = dix_warm_visits(ix, max_nodes, queue, &nhot)) < 0)
		goto out;
	if ((rc = dix_cache_init(&ix->cache, ix->h.node_bytes, (uint32_t)max_nodes)) < 0)
		goto out;
	for (uint64_t i = 0; i < nhot; i++)
		if ((rc = cache_node(ix, queue[i], buf, rec)) < 0)
			goto out;
	for (uint32_t e = 0; e < ix->h.n_entry && ix->cache.count < max_nodes; e++) {
		if ((rc = cache_node(ix, ix->h.entry[e], buf, rec)) < 0)
			goto out;
		if (rc)
			queue[tail++] = ix->h.entry[e];
	}
	for (uint64_t e = 0; e < dix_entry_count(ix->entry) && ix->cache.count < max_nodes; e++) {
		uint32_t id = dix_entry_ids(ix->entry)[e];
		if ((rc = cache_node(ix, id, buf, rec)) < 0)
			goto out;
		if (rc)
			queue[tail++] = id;
	}
	rc = 0;
	while (head < tail) {
		uint32_t u = queue[head++];
		const char *r = dix_cache_get(&ix->cache, u);
		uint32_t deg = dix_rec_degree(r, ix->vec_bytes);
		const uint32_t *nb = dix_rec_nbrs(r, ix->vec_bytes);
		for (uint32_t j = 0; j < deg && ix->cache.count < max_nodes; j++) {
			if (dix_cache_get(&ix->cache, nb[j]))
				continue;
			if ((rc = dix_read_node(ix, nb[j], buf, rec)) < 0 ||
			    (rc = record_check(ix, nb[j], rec)) < 0)
				goto out;
			queue[tail++] = nb[j];
			/* r stays valid: the record array never moves. */
			dix_cache_add(&ix->cache, nb[j], rec);
		}
	}
out:
	free(queue);
	free(rec);
	dann_aligned_free(buf);
	return rc;
}

static int load_maps(struct dix_index *ix)
{
	int rc;

	if (ix->h.metric == DANN_METRIC_IP &&
	    (rc = dix_read_small_file(ix->dir, DIX_NORMS_FILE, sizeof *ix->norms * ix->h.n,
				      (void **)&ix->norms)) < 0)
		return rc;

	if ((rc = dix_read_small_file(ix->dir, DIX_IDS_FILE, sizeof *ix->keys * ix->h.n,
				      (void **)&ix->keys)) < 0)
		return rc;
	if (ix->h.layout != DIX_LAYOUT_PLAIN) {
		if ((rc = dix_read_small_file(ix->dir, DIX_SLOTS_FILE, sizeof *ix->slot_of * ix->h.n,
					      (void **)&ix->slot_of)) < 0)
			return rc;
		/* The slot map must be a permutation, or reads would land on
		 * other nodes' records; building its inverse checks that. */
		if (!(ix->id_of_slot = malloc(sizeof *ix->id_of_slot * ix->h.n)))
			return dann_fail(DANN_ENOMEM, "%s: no memory for the slot map", ix->dir);
		memset(ix->id_of_slot, 0xff, sizeof *ix->id_of_slot * ix->h.n);
		for (uint64_t i = 0; i < ix->h.n; i++) {
			if (ix->slot_of[i] >= ix->h.n || ix->id_of_slot[ix->slot_of[i]] != UINT32_MAX)
				return dann_fail(DANN_ECORRUPT, "%s/%s: not a permutation at id %llu",
						 ix->dir, DIX_SLOTS_FILE, (unsigned long long)i);
			ix->id_of_slot[ix->slot_of[i]] = (uint32_t)i;
		}
	}
	return 0;
}

/* O_DIRECT through dio_file_open (which falls back to buffered reads, with
 * a logged warning, where the file system refuses it), or buffered on
 * request. */
static int open_data(struct dix_index *ix, bool buffered)
{
	char path[PATH_MAX + 16];
	struct dio_file df;
	int rc;

	if (snprintf(path, sizeof path, "%s/%s", ix->dir, DIX_DATA_FILE) >= (int)sizeof path)
		return dann_fail(DANN_EINVAL, "%s: path too long", ix->dir);
	if (buffered) {
		ix->direct = false;
		if ((ix->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
					       "%s: cannot open", path);
	} else {
		if ((rc = dio_file_open(path, &df)) < 0)
			return rc;
		ix->fd = df.fd;
		ix->direct = df.direct != 0;
	}
	return dix_read_header_fd(ix->fd, path, &ix->h);
}

/* Nodes the cache may hold: the smallest of the bounds set (a node count,
 * bytes, a fraction of the node file); 0 when none is. */
static int cache_budget(const struct dix_index *ix, const struct dix_open_params *p, uint64_t *nodes)
{
	size_t per_node = dix_cache_bytes_per_node(ix->h.node_bytes);
	uint64_t n = p->cache_nodes, by;
	struct stat st;

	if (!(p->cache_frac >= 0 && p->cache_frac <= 1))
		return dann_fail(DANN_EINVAL, "%s: cache fraction %g, expected 0..1", ix->dir, p->cache_frac);
	if (p->cache_bytes) {
		by = p->cache_bytes / per_node;
		if (!n || by < n)
			n = by;
	}
	if (p->cache_frac > 0) {
		if (fstat(ix->fd, &st) < 0)
			return dann_fail_errno(DANN_EIO, errno, "%s/%s: cannot stat", ix->dir, DIX_DATA_FILE);
		by = (uint64_t)(p->cache_frac * (double)st.st_size) / per_node;
		if (!n || by < n)
			n = by;
	}
	*nodes = n;
	return 0;
}

int dix_open(const char *dir, const struct dix_open_params *p, struct dix_index **out)
{
	static const struct dix_open_params defaults;
	struct dix_manifest m;
	struct dix_index *ix;
	uint64_t cache_nodes = 0;
	int rc;

	*out = NULL;
	if (!p)
		p = &defaults;
	if (!(ix = calloc(1, sizeof *ix)))
		return dann_fail(DANN_ENOMEM, "%s: no memory", dir);
	ix->fd = -1;
	ix->serial = atomic_fetch_add(&next_serial, 1) + 1;
	if (snprintf(ix->dir, sizeof ix->dir, "%s", dir) >= (int)sizeof ix->dir) {
		rc = dann_fail(DANN_EINVAL, "%s: path too long", dir);
		goto fail;
	}
	if ((rc = dix_manifest_read(dir, &m)) < 0)
		goto fail;
	if (!dix_manifest_find(&m, DIX_DATA_FILE) || !dix_manifest_find(&m, DIX_IDS_FILE)) {
		rc = dann_fail(DANN_ECORRUPT, "%s/%s: does not list %s and %s", dir, DIX_MANIFEST_FILE,
			       DIX_DATA_FILE, DIX_IDS_FILE);
		goto fail;
	}
	if ((rc = dix_manifest_verify(dir, &m, p->verify_all ? NULL : DIX_DATA_FILE)) < 0 ||
	    (rc = open_data(ix, p->buffered)) < 0 || (rc = load_maps(ix)) < 0)
		goto fail;
	ix->vec_bytes = dix_vec_bytes(ix->h.dim, (uint32_t)dann_dtype_size(ix->h.dtype));
	ix->read_bytes = dix_read_bytes(&ix->h);
	ix->verify_blocks = true;
	if (!(ix->dist = dist_kernel(ix->h.metric, DANN_DTYPE_F32, ix->h.dtype))) {
		rc = dann_fail(DANN_EUNSUPPORTED, "%s: no distance kernel for %s over %s", dir,
			       dann_metric_name(ix->h.metric), dann_dtype_name(ix->h.dtype));
		goto fail;
	}
	if ((rc = pq_load(dir, 1, &ix->pq)) < 0)
		goto fail;
	if (pq_count(ix->pq) != ix->h.n || pq_dim(ix->pq) != ix->h.dim) {
		rc = dann_fail(DANN_ECORRUPT, "%s: PQ files hold %llu codes of dim %u, the index %llu of dim %u",
			       dir, (unsigned long long)pq_count(ix->pq), pq_dim(ix->pq),
			       (unsigned long long)ix->h.n, ix->h.dim);
		goto fail;
	}
	if ((rc = dix_entry_load(dir, (enum dann_metric)ix->h.metric, (enum dann_dtype)ix->h.dtype,
				 ix->h.dim, ix->h.n, &ix->entry)) < 0)
		goto fail;
	if ((rc = cache_budget(ix, p, &cache_nodes)) < 0 ||
	    (rc = cache_fill(ix, cache_nodes, p->cache_policy)) < 0)
		goto fail;
	*out = ix;
	return 0;
fail:
	dix_close(ix);
	return rc;
}

void dix_close(struct dix_index *ix)
{
	if (!ix)
		return;
	if (ix->fd >= 0)
		close(ix->fd);
	free(ix->keys);
	free(ix->slot_of);
	free(ix->id_of_slot);
	free(ix->norms);
	pq_free(ix->pq);
	dix_entry_free(ix->entry);
	dix_cache_free(&ix->cache);
	free(ix);
}

uint64_t dix_ram_bytes(const struct dix_index *ix)
{
	uint64_t b = sizeof *ix + sizeof *ix->keys * ix->h.n;

	if (ix->slot_of)
		b += 2 * sizeof *ix->slot_of * ix->h.n;
	if (ix->norms)
		b += sizeof *ix->norms * ix->h.n;
	b += (uint64_t)ix->cache.count * dix_cache_bytes_per_node(ix->h.node_bytes);
	b += pq_count(ix->pq) * pq_bytes(ix->pq) +
	     (uint64_t)PQ_CENTROIDS * ix->h.dim * sizeof(float); /* pivots */
	if (pq_rotation(ix->pq))
		b += (uint64_t)ix->h.dim * ix->h.dim * sizeof(float); /* OPQ's rotation */
	b += dix_entry_ram_bytes(ix->entry);
	return b;
}
