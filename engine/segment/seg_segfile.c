/*
 * seg_segfile.c — writing a new flushed segment: its rows (from a sealed
 * RAM segment, or the live rows of several flushed ones for compaction)
 * into a stage directory beside the final name — vectors, keys, columns —
 * then the disk index built over the vector file with the keys as its id
 * map, then MANIFEST and the rename (dix_stage_commit). A crash leaves no
 * final directory or a complete one; stages are removed at open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error.h"
#include "../fsutil.h"
#include "../vamana/dix_manifest.h"
#include "../vamana/dix_write.h"
#include "seg_files.h"

#define ROWS_PER_WRITE 4096u

/* The MANIFEST must list a segment with every field slot taken: the index
 * files (fewer than 16), and three files per field and the dynamic field. */
_Static_assert(DIX_MANIFEST_MAX >= 16 + 3 * (DANN_MAX_FIELDS + 1), "DIX_MANIFEST_MAX too small for a segment");

static int row_vector(const struct dann_coll *c, const struct seg_rowref *r, void *dst)
{
	if (r->s->disk)
		return seg_disk_vector(c, r->s, r->row, dst);
	seg_mem_vector(c, r->s->mem, r->row, dst);
	return 0;
}

static int write_vectors(const struct dann_coll *c, const char *dir, const struct seg_rowref *refs,
			 uint64_t n)
{
	char path[PATH_MAX];
	int32_t hdr[2] = { (int32_t)n, (int32_t)c->schema.dim };
	uint8_t *buf = NULL;
	int fd = -1, rc;

	if ((rc = seg_join(path, dir, seg_vectors_file(c->schema.dtype))) < 0)
		return rc;
	if (!(buf = malloc(ROWS_PER_WRITE * c->row_bytes)))
		return dann_fail(DANN_ENOMEM, "%s: write buffer", path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot create", path);
		goto out;
	}
	if ((rc = fsu_write_all(fd, path, hdr, sizeof hdr)) < 0)
		goto out;
	for (uint64_t i = 0; i < n; i += ROWS_PER_WRITE) {
		uint64_t m = n - i < ROWS_PER_WRITE ? n - i : ROWS_PER_WRITE;
		for (uint64_t j = 0; j < m; j++)
			if ((rc = row_vector(c, &refs[i + j], buf + j * c->row_bytes)) < 0)
				goto out;
		if ((rc = fsu_write_all(fd, path, buf, m * c->row_bytes)) < 0)
			goto out;
	}
	rc = fsu_fsync(fd, path);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* One column's files: validity, values, and offsets for VARCHAR / JSON. */
static int write_column(const struct dann_coll *c, const char *dir, uint32_t ci,
			const struct seg_rowref *refs, uint64_t n)
{
	size_t esz = seg_field_size(seg_col_type(&c->schema, ci));
	uint8_t *nul = malloc(n ? n : 1), *vals = NULL;
	uint64_t *offs = NULL;
	size_t bytes = 0, cap = 0;
	char name[32];
	int rc = 0;

	if (!nul || !(vals = malloc(esz ? n * esz + 1 : (cap = 4096))) ||
	    (!esz && !(offs = malloc((n + 1) * sizeof *offs)))) {
		rc = dann_fail(DANN_ENOMEM, "%s: column %u", dir, ci);
		goto out;
	}
	if (offs)
		offs[0] = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct seg_val v;
		if ((rc = seg_col_get(c, refs[i].s, ci, refs[i].row, &v)) < 0)
			goto out;
		nul[i] = v.valid ? 1 : 0;
		if (esz) {
			memcpy(vals + i * esz, &v.fixed, esz);
			continue;
		}
		if (bytes + v.len > cap) {
			size_t nc = (bytes + v.len) * 2;
			uint8_t *p = realloc(vals, nc);
			if (!p) {
				free(v.var);
				rc = dann_fail(DANN_ENOMEM, "%s: column %u bytes", dir, ci);
				goto out;
			}
			vals = p;
			cap = nc;
		}
		memcpy(vals + bytes, v.var, v.len);
		bytes += v.len;
		offs[i + 1] = bytes;
		free(v.var);
	}
	seg_col_file(name, ci, SEG_COL_NUL);
	if ((rc = dix_write_small_file(dir, name, nul, n)) < 0)
		goto out;
	seg_col_file(name, ci, SEG_COL_VAL);
	if ((rc = dix_write_small_file(dir, name, vals, esz ? n * esz : bytes)) < 0)
		goto out;
	if (!esz) {
		seg_col_file(name, ci, SEG_COL_OFF);
		rc = dix_write_small_file(dir, name, offs, (n + 1) * sizeof *offs);
	}
out:
	free(nul);
	free(vals);
	free(offs);
	return rc;
}

static void build_params(const struct dann_coll *c, const struct dann_index_params *ip,
			 struct dann_build_params *bp)
{
	dann_build_params_default(bp);
	bp->metric = ip->metric;
	bp->R = ip->R;
	bp->L = ip->L;
	bp->alpha = ip->alpha;
	bp->pq_bytes = ip->pq_bytes;
	bp->opq = ip->opq;
	bp->build_ram_gib = ip->build_ram_gib;
	bp->threads = c->db->p.threads;
}

static int write_stage(struct dann_coll *c, const char *dir, const struct seg_rowref *refs,
		       const int64_t *keys, uint64_t n, const struct dann_index_params *ip)
{
	struct dann_build_params bp;
	char path[PATH_MAX];
	int rc;

	if (atomic_load(&c->db->stopping))
		return dann_fail(DANN_ECANCELED, "%s: the data directory is closing", c->schema.name);
	if ((rc = write_vectors(c, dir, refs, n)) < 0 ||
	    (rc = dix_write_small_file(dir, SEG_KEYS_FILE, keys, n * sizeof *keys)) < 0)
		return rc;
	for (uint32_t ci = 0; ci < seg_ncols(&c->schema); ci++)
		if ((rc = write_column(c, dir, ci, refs, n)) < 0)
			return rc;
	if ((rc = seg_join(path, dir, seg_vectors_file(c->schema.dtype))) < 0)
		return rc;
	build_params(c, ip, &bp);
	return dix_build_dir(path, dir, &bp, (const uint64_t *)keys, &c->db->stopping);
}

int seg_write_segment(struct dann_coll *c, const char *final_dir, const struct seg_rowref *refs,
		      const int64_t *keys, uint64_t n, const char *fp)
{
	struct dann_index_params ip = c->schema.index; /* words set under c->mu; a copy */

	return seg_write_segment_ip(c, final_dir, refs, keys, n, fp, &ip);
}

int seg_write_segment_ip(struct dann_coll *c, const char *final_dir, const struct seg_rowref *refs,
			 const int64_t *keys, uint64_t n, const char *fp,
			 const struct dann_index_params *ip)
{
	struct dix_stage *st = NULL;
	int rc;

	/* A directory left by an earlier attempt in this process that failed
	 * before its catalog step belongs to no one. */
	if ((rc = fsu_rmtree(final_dir)) < 0 || (rc = dix_stage_begin(final_dir, &st)) < 0)
		return rc;
	if ((rc = write_stage(c, dix_stage_dir(st), refs, keys, n, ip)) < 0) {
		fsu_rmtree(dix_stage_dir(st));
		dix_stage_abort(st);
		return dann_fail_wrap(rc, "%s: building segment", c->schema.name);
	}
	seg_failpoint(c->db, fp);
	return dix_stage_commit(st);
}
