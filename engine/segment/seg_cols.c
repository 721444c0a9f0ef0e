/*
 * seg_cols.c — reading one scalar value of a row, from a RAM segment's
 * arrays or a flushed segment's column files (pread; fetch and compaction
 * read a few rows at a time, so nothing is mapped or cached).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error.h"
#include "../fsutil.h"
#include "seg_files.h"
#include "seg_tier.h"

const char *seg_vectors_file(enum dann_dtype t)
{
	return t == DANN_DTYPE_U8 ? "vectors.u8bin" : t == DANN_DTYPE_I8 ? "vectors.i8bin" : "vectors.fbin";
}

void seg_col_file(char *buf, uint32_t ci, enum seg_col_part part)
{
	static const char *const ext[] = { "nul", "val", "off" };
	snprintf(buf, 32, "col%u.%s", ci, ext[part]);
}

int seg_cols_open(const struct dann_coll *c, struct seg *s)
{
	struct seg_disk *d = s->disk;
	uint32_t nc = seg_ncols(&c->schema);

	d->ncols = nc;
	if (!nc)
		return 0;
	if (!(d->colfd = malloc(nc * sizeof *d->colfd)))
		return dann_fail(DANN_ENOMEM, "%s: columns", s->dir);
	for (uint32_t i = 0; i < nc; i++)
		d->colfd[i][0] = d->colfd[i][1] = d->colfd[i][2] = -1;
	for (uint32_t i = 0; i < nc; i++) {
		int parts = seg_field_size(seg_col_type(&c->schema, i)) ? 2 : 3;
		for (int p = 0; p < parts; p++) {
			char name[32], path[PATH_MAX];
			int rc;
			seg_col_file(name, i, (enum seg_col_part)p);
			if ((rc = seg_join(path, s->dir, name)) < 0)
				return rc;
			if ((d->colfd[i][p] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				return dann_fail_errno(errno == ENOENT ? DANN_ECORRUPT : DANN_EIO, errno,
						       "%s: cannot open", path);
		}
	}
	return 0;
}

void seg_cols_close(struct seg_disk *d)
{
	for (uint32_t i = 0; d->colfd && i < d->ncols; i++)
		for (int p = 0; p < 3; p++)
			if (d->colfd[i][p] >= 0)
				close(d->colfd[i][p]);
	free(d->colfd);
	d->colfd = NULL;
}

static int get_mem(struct seg_mem *m, uint32_t ci, uint64_t row, struct seg_val *v)
{
	struct seg_col *sc = &m->cols[ci];
	int rc = 0;

	pthread_rwlock_rdlock(&m->rw);
	v->valid = sc->valid[row];
	if (sc->esz) {
		memcpy(&v->fixed, sc->vals + row * sc->esz, sc->esz);
	} else {
		v->len = sc->offs[row + 1] - sc->offs[row];
		if (!(v->var = malloc(v->len + 1)))
			rc = dann_fail(DANN_ENOMEM, "column value of %zu bytes", v->len);
		else if (v->len) /* a column no row has set yet has no bytes at all */
			memcpy(v->var, sc->vals + sc->offs[row], v->len);
	}
	pthread_rwlock_unlock(&m->rw);
	return rc;
}

static int get_disk(const struct dann_coll *c, struct seg *s, uint32_t ci, uint64_t row,
		    struct seg_val *v)
{
	int *fd = s->disk->colfd[ci];
	size_t esz = seg_field_size(seg_col_type(&c->schema, ci));
	uint8_t valid;
	uint64_t off[2];
	int rc;

	if ((rc = fsu_pread_all(fd[SEG_COL_NUL], s->dir, &valid, 1, row)) < 0)
		return rc;
	v->valid = valid;
	if (esz)
		return fsu_pread_all(fd[SEG_COL_VAL], s->dir, &v->fixed, esz, row * esz);
	if ((rc = fsu_pread_all(fd[SEG_COL_OFF], s->dir, off, sizeof off, row * 8)) < 0)
		return rc;
	if (off[1] < off[0] || off[1] - off[0] > (1u << 30))
		return dann_fail(DANN_ECORRUPT, "%s: column %u offsets of row %llu", s->dir, ci,
				 (unsigned long long)row);
	v->len = off[1] - off[0];
	if (!(v->var = malloc(v->len + 1)))
		return dann_fail(DANN_ENOMEM, "column value of %zu bytes", v->len);
	return fsu_pread_all(fd[SEG_COL_VAL], s->dir, v->var, v->len, off[0]);
}

int seg_col_get(const struct dann_coll *c, struct seg *s, uint32_t ci, uint64_t row,
		struct seg_val *v)
{
	int rc;

	memset(v, 0, sizeof *v);
	if (s->disk) {
		if ((rc = seg_disk_use(c, s)) < 0)
			return rc;
		rc = get_disk(c, s, ci, row, v);
		seg_disk_done(c, s);
		return rc;
	}
	return get_mem(s->mem, ci, row, v);
}
