/*
 * seg_filter.c — filter expressions over a segment's rows: the column
 * source the expression engine (expr.h) reads, for RAM segments (their
 * arrays, under the segment's read lock) and flushed ones (the column
 * files, read whole once and kept with the open segment, which never
 * changes), and the allowed-row mask a search takes.
 *
 * The primary key is a column too (INT64, named by the schema), so
 * `id in [1, 2]` works like any field. A flushed segment also gets a
 * scalar index (expr_index.c: sorted column, and a dictionary for few
 * distinct values) on the key and on every non-JSON column when its
 * columns are first read, so predicates over them skip the row scan.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../fsutil.h"
#include "expr.h"
#include "seg_files.h"
#include "seg_impl.h"

struct seg_fcol {
	enum dann_field_type type;
	uint8_t *valid;
	uint8_t *vals;
	uint64_t *offs;
};

struct seg_fcols {
	uint32_t ncols;
	struct expr_index *pk_ix;
	struct expr_index **ix;      /* per column; NULL for JSON */
	struct seg_fcol col[];
};

void seg_fcols_free(struct seg_fcols *f)
{
	for (uint32_t i = 0; f && i < f->ncols; i++) {
		free(f->col[i].valid);
		free(f->col[i].vals);
		free(f->col[i].offs);
		if (f->ix)
			expr_index_free(f->ix[i]);
	}
	if (f) {
		expr_index_free(f->pk_ix);
		free(f->ix);
	}
	free(f);
}

/* Scalar indexes over the key and the non-JSON columns. */
static int build_indexes(const struct dann_coll *c, struct seg *s, struct seg_fcols *f)
{
	struct dann_column pk = { .name = c->schema.pk_field, .type = DANN_FIELD_INT64,
				  .values = s->disk->keys };
	int rc;

	if (!(f->ix = calloc(f->ncols ? f->ncols : 1, sizeof *f->ix)))
		return dann_fail(DANN_ENOMEM, "%s: scalar indexes", s->dir);
	if ((rc = expr_index_build(&pk, s->nrows, &f->pk_ix)) < 0)
		return rc;
	for (uint32_t i = 0; i < f->ncols; i++) {
		const struct seg_fcol *col = &f->col[i];
		struct dann_column dc = { .name = "", .type = col->type, .values = col->vals,
					  .offsets = col->offs, .valid = col->valid };
		if (col->type != DANN_FIELD_JSON && (rc = expr_index_build(&dc, s->nrows, &f->ix[i])) < 0)
			return rc;
	}
	return 0;
}

static int read_part(const struct seg *s, int fd, void **buf, uint64_t len)
{
	if (!(*buf = malloc(len ? len : 1)))
		return dann_fail(DANN_ENOMEM, "%s: no memory for a column of %llu bytes", s->dir,
				 (unsigned long long)len);
	return len ? fsu_pread_all(fd, s->dir, *buf, len, 0) : 0;
}

static int load_cols(const struct dann_coll *c, struct seg *s, struct seg_fcols **out)
{
	struct seg_disk *d = s->disk;
	struct seg_fcols *f = calloc(1, sizeof *f + d->ncols * sizeof f->col[0]);
	uint64_t n = s->nrows;
	int rc = 0;

	if (!f)
		return dann_fail(DANN_ENOMEM, "%s: columns", s->dir);
	f->ncols = d->ncols;
	for (uint32_t i = 0; i < d->ncols && rc == 0; i++) {
		struct seg_fcol *col = &f->col[i];
		size_t esz = seg_field_size(seg_col_type(&c->schema, i));
		col->type = seg_col_type(&c->schema, i);
		if ((rc = read_part(s, d->colfd[i][SEG_COL_NUL], (void **)&col->valid, n)) < 0)
			break;
		if (esz) {
			rc = read_part(s, d->colfd[i][SEG_COL_VAL], (void **)&col->vals, n * esz);
			continue;
		}
		if ((rc = read_part(s, d->colfd[i][SEG_COL_OFF], (void **)&col->offs, (n + 1) * 8)) < 0)
			break;
		for (uint64_t r = 0; r < n && rc == 0; r++)
			if (col->offs[r + 1] < col->offs[r])
				rc = dann_fail(DANN_ECORRUPT, "%s: column %u offsets of row %llu", s->dir, i,
					       (unsigned long long)r);
		if (rc == 0)
			rc = read_part(s, d->colfd[i][SEG_COL_VAL], (void **)&col->vals, col->offs[n]);
	}
	if (rc == 0)
		rc = build_indexes(c, s, f);
	if (rc < 0) {
		seg_fcols_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

/* The flushed segment's columns, read on first use; two searches racing
 * to load them keep the first copy. */
static int disk_cols(const struct dann_coll *c, struct seg *s, const struct seg_fcols **out)
{
	struct seg_fcols *f = atomic_load(&s->disk->fcols), *mine = NULL;
	int rc;

	if (!f) {
		/* the files may be evicted: pinned and opened while read */
		if ((rc = seg_disk_use(c, s)) < 0)
			return rc;
		rc = load_cols(c, s, &mine);
		seg_disk_done(c, s);
		if (rc < 0)
			return rc;
		if (!atomic_compare_exchange_strong(&s->disk->fcols, &f, mine))
			seg_fcols_free(mine);
		else
			f = mine;
	}
	*out = f;
	return 0;
}

struct fsrc {
	const struct dann_coll *c;
	struct seg *s;
	const struct seg_fcols *dc;
};

static int column(void *ctx, const char *name, struct dann_column *out)
{
	const struct fsrc *x = ctx;
	const struct dann_schema *sc = &x->c->schema;
	int ci;

	memset(out, 0, sizeof *out);
	out->name = name;
	if (!strcmp(name, sc->pk_field)) {
		out->type = DANN_FIELD_INT64;
		out->values = x->s->disk ? (const void *)x->s->disk->keys : (const void *)x->s->mem->keys;
		return 0;
	}
	if ((ci = seg_col_index(sc, name)) < 0)
		return DANN_ENOTFOUND;
	if (x->s->disk) {
		const struct seg_fcol *f = &x->dc->col[ci];
		out->type = f->type;
		out->values = f->vals;
		out->offsets = f->offs;
		out->valid = f->valid;
	} else {
		const struct seg_col *f = &x->s->mem->cols[ci];
		out->type = f->type;
		out->values = f->vals;
		out->offsets = f->offs;
		out->valid = f->valid;
	}
	return 0;
}

static const struct expr_index *index_of(void *ctx, const char *name)
{
	const struct fsrc *x = ctx;
	int ci;

	if (!x->dc)
		return NULL;
	if (!strcmp(name, x->c->schema.pk_field))
		return x->dc->pk_ix;
	ci = seg_col_index(&x->c->schema, name);
	return ci < 0 ? NULL : x->dc->ix[ci];
}

int seg_filter_mask(const struct dann_coll *c, struct seg *s, const struct expr *e,
		    uint64_t **words, uint64_t *nrows)
{
	struct fsrc x = { .c = c, .s = s };
	struct expr_source src = { .column = column, .index = index_of, .ctx = &x };
	roaring_bitmap_t *bm = NULL;
	int rc;

	*words = NULL;
	atomic_fetch_add(&s->filter_evals, 1);
	if (s->disk) {
		if ((rc = disk_cols(c, s, &x.dc)) < 0)
			return rc;
		src.n = s->nrows;
		rc = expr_eval(e, &src, &bm);
	} else {
		pthread_rwlock_rdlock(&s->mem->rw);
		src.n = s->mem->n;
		rc = expr_eval(e, &src, &bm);
		pthread_rwlock_unlock(&s->mem->rw);
	}
	if (rc == 0)
		rc = expr_bitmap_words(bm, src.n, words);
	if (bm)
		roaring_bitmap_free(bm);
	*nrows = src.n;
	return rc;
}
