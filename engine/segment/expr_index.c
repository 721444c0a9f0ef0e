/*
 * expr_index.c — scalar indexes over one column of a sealed segment, and
 * the selectivity estimate built on them.
 *
 * Every index holds the column's non-null rows sorted by value (the sorted
 * column): a comparison with a literal is two binary searches, whose range
 * of positions is the answer; `in` is one equality range per element. A
 * column with few distinct values (EXPR_DICT_MAX) also keeps one bitmap per
 * value (the dictionary / inverted index), so an equality or a short range
 * is a bitmap copy instead of a walk over row ids. NaN rows of a float
 * column sit outside the order (every comparison with NaN is false, `!=`
 * true). The order and the answers come from ex_val_cmp, the same function
 * the row scan uses, so index and scan cannot disagree.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "expr_impl.h"

struct expr_index {
	enum dann_field_type type;
	uint32_t n;                 /* rows covered */
	uint32_t nsorted;           /* non-null, non-NaN rows */
	uint32_t *rows;             /* sorted by value */
	int64_t *ikey;              /* bool and integer types */
	double *fkey;               /* float, double */
	char *sbytes;               /* varchar: values in sorted order */
	uint64_t *soff;             /* nsorted + 1 offsets into sbytes */
	roaring_bitmap_t *nulls, *nans, *nonnull;
	uint64_t distinct;
	uint32_t ndict;             /* 0: no dictionary */
	uint32_t *dict_start;       /* ndict + 1 sorted positions, one run per value */
	roaring_bitmap_t **dict;
	uint64_t bytes;
};

enum dann_field_type ex_index_type(const struct expr_index *ix)
{
	return ix->type;
}

uint64_t ex_index_nulls(const struct expr_index *ix)
{
	return roaring_bitmap_get_cardinality(ix->nulls);
}

static bool is_int_type(enum dann_field_type t)
{
	return t == DANN_FIELD_BOOL || (t >= DANN_FIELD_INT8 && t <= DANN_FIELD_INT64);
}

/* The value at sorted position p. Bools read as integers (0, 1). */
static struct ex_val key_at(const struct expr_index *ix, uint32_t p)
{
	struct ex_val v = { .k = VK_INT };

	if (ix->ikey) {
		v.i = ix->ikey[p];
	} else if (ix->fkey) {
		v.k = VK_FLOAT;
		v.f = ix->fkey[p];
	} else {
		v.k = VK_STR;
		v.s = ix->sbytes + ix->soff[p];
		v.n = ix->soff[p + 1] - ix->soff[p];
	}
	return v;
}

/* ---- build ---------------------------------------------------------------- */

struct sort_ctx {
	const struct dann_column *c;
};

static struct ex_val row_val(const struct dann_column *c, uint32_t r)
{
	struct ex_val v = { .k = VK_INT };

	switch (c->type) {
	case DANN_FIELD_BOOL: v.i = ((const uint8_t *)c->values)[r] != 0; break;
	case DANN_FIELD_INT8: v.i = ((const int8_t *)c->values)[r]; break;
	case DANN_FIELD_INT16: v.i = ((const int16_t *)c->values)[r]; break;
	case DANN_FIELD_INT32: v.i = ((const int32_t *)c->values)[r]; break;
	case DANN_FIELD_INT64: v.i = ((const int64_t *)c->values)[r]; break;
	case DANN_FIELD_FLOAT: v.k = VK_FLOAT; v.f = ((const float *)c->values)[r]; break;
	case DANN_FIELD_DOUBLE: v.k = VK_FLOAT; v.f = ((const double *)c->values)[r]; break;
	default:
		v.k = VK_STR;
		v.s = (const char *)c->values + c->offsets[r];
		v.n = c->offsets[r + 1] - c->offsets[r];
		break;
	}
	return v;
}

static int order3(const struct ex_val *a, const struct ex_val *b)
{
	if (ex_val_cmp(a, b, OP_LT) == TRI_T)
		return -1;
	return ex_val_cmp(a, b, OP_GT) == TRI_T;
}

static int cmp_rows(const void *x, const void *y, void *arg)
{
	const struct sort_ctx *s = arg;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	struct ex_val va = row_val(s->c, a), vb = row_val(s->c, b);
	int c = order3(&va, &vb);
	return c ? c : (a > b) - (a < b);
}

static int copy_keys(struct expr_index *ix, const struct dann_column *c)
{
	uint64_t total = 0;

	if (is_int_type(c->type)) {
		if (!(ix->ikey = malloc(sizeof *ix->ikey * (ix->nsorted + 1))))
			return DANN_ENOMEM;
		for (uint32_t p = 0; p < ix->nsorted; p++)
			ix->ikey[p] = row_val(c, ix->rows[p]).i;
		ix->bytes += sizeof *ix->ikey * ix->nsorted;
		return 0;
	}
	if (c->type != DANN_FIELD_VARCHAR) {
		if (!(ix->fkey = malloc(sizeof *ix->fkey * (ix->nsorted + 1))))
			return DANN_ENOMEM;
		for (uint32_t p = 0; p < ix->nsorted; p++)
			ix->fkey[p] = row_val(c, ix->rows[p]).f;
		ix->bytes += sizeof *ix->fkey * ix->nsorted;
		return 0;
	}
	for (uint32_t p = 0; p < ix->nsorted; p++)
		total += row_val(c, ix->rows[p]).n;
	if (!(ix->soff = malloc(sizeof *ix->soff * (ix->nsorted + 1))) ||
	    !(ix->sbytes = malloc(total + 1)))
		return DANN_ENOMEM;
	ix->soff[0] = 0;
	for (uint32_t p = 0; p < ix->nsorted; p++) {
		struct ex_val v = row_val(c, ix->rows[p]);
		if (v.n)
			memcpy(ix->sbytes + ix->soff[p], v.s, v.n);
		ix->soff[p + 1] = ix->soff[p] + v.n;
	}
	ix->bytes += total + sizeof *ix->soff * (ix->nsorted + 1);
	return 0;
}

static int build_dict(struct expr_index *ix)
{
	uint32_t d = 0;

	if (!(ix->dict_start = malloc(sizeof *ix->dict_start * (ix->distinct + 1))) ||
	    !(ix->dict = calloc(ix->distinct ? ix->distinct : 1, sizeof *ix->dict)))
		return DANN_ENOMEM;
	for (uint32_t p = 0; p < ix->nsorted; p++) {
		struct ex_val a = key_at(ix, p), b;
		if (p > 0 && (b = key_at(ix, p - 1), order3(&a, &b) == 0))
			continue;
		ix->dict_start[d++] = p;
	}
	ix->dict_start[d] = ix->nsorted;
	ix->ndict = d;
	for (uint32_t i = 0; i < d; i++) {
		uint32_t a = ix->dict_start[i], b = ix->dict_start[i + 1];
		if (!(ix->dict[i] = roaring_bitmap_create()))
			return DANN_ENOMEM;
		roaring_bitmap_add_many(ix->dict[i], b - a, ix->rows + a);
		roaring_bitmap_run_optimize(ix->dict[i]);
		ix->bytes += roaring_bitmap_size_in_bytes(ix->dict[i]);
	}
	return 0;
}

int expr_index_build(const struct dann_column *c, uint64_t n, struct expr_index **out)
{
	struct expr_index *ix;
	struct sort_ctx sc = { .c = c };
	int rc = DANN_ENOMEM;

	*out = NULL;
	if (c->type == DANN_FIELD_JSON || c->type < DANN_FIELD_BOOL || c->type > DANN_FIELD_VARCHAR)
		return dann_fail(DANN_EINVAL, "scalar index on '%s': type %d cannot be indexed (JSON is read per row)",
				 c->name ? c->name : "?", (int)c->type);
	if (n >= UINT32_MAX)
		return dann_fail(DANN_EINVAL, "scalar index on '%s': %llu rows, at most 2^32 - 2",
				 c->name ? c->name : "?", (unsigned long long)n);
	if (n && (!c->values || (c->type == DANN_FIELD_VARCHAR && !c->offsets)))
		return dann_fail(DANN_EINVAL, "scalar index on '%s': the column has no values",
				 c->name ? c->name : "?");
	if (!(ix = calloc(1, sizeof *ix)))
		goto fail;
	ix->type = c->type;
	ix->n = (uint32_t)n;
	if (!(ix->rows = malloc(sizeof *ix->rows * (n + 1))) || !(ix->nulls = roaring_bitmap_create()) ||
	    !(ix->nans = roaring_bitmap_create()))
		goto fail;
	for (uint32_t r = 0; r < n; r++) {
		if (c->valid && !c->valid[r]) {
			roaring_bitmap_add(ix->nulls, r);
			continue;
		}
		if (c->type == DANN_FIELD_FLOAT || c->type == DANN_FIELD_DOUBLE) {
			if (isnan(row_val(c, r).f)) {
				roaring_bitmap_add(ix->nans, r);
				continue;
			}
		}
		ix->rows[ix->nsorted++] = r;
	}
	if (!(ix->nonnull = roaring_bitmap_from_range(0, n, 1)))
		goto fail;
	roaring_bitmap_andnot_inplace(ix->nonnull, ix->nulls);
	qsort_r(ix->rows, ix->nsorted, sizeof *ix->rows, cmp_rows, &sc);
	ix->bytes = sizeof *ix + sizeof *ix->rows * (uint64_t)ix->nsorted;
	if ((rc = copy_keys(ix, c)) < 0)
		goto fail;
	for (uint32_t p = 0; p < ix->nsorted; p++) {
		struct ex_val a = key_at(ix, p), b;
		if (p == 0 || (b = key_at(ix, p - 1), order3(&a, &b) != 0))
			ix->distinct++;
	}
	if (ix->distinct <= EXPR_DICT_MAX && (rc = build_dict(ix)) < 0)
		goto fail;
	*out = ix;
	return 0;
fail:
	expr_index_free(ix);
	return dann_fail(DANN_ENOMEM, "scalar index on '%s': no memory for %llu rows",
			 c->name ? c->name : "?", (unsigned long long)n);
}

void expr_index_free(struct expr_index *ix)
{
	if (!ix)
		return;
	for (uint32_t i = 0; i < ix->ndict; i++)
		ex_bm_free(ix->dict[i]);
	free(ix->dict);
	free(ix->dict_start);
	free(ix->rows);
	free(ix->ikey);
	free(ix->fkey);
	free(ix->sbytes);
	free(ix->soff);
	ex_bm_free(ix->nulls);
	ex_bm_free(ix->nans);
	ex_bm_free(ix->nonnull);
	free(ix);
}

void expr_index_info(const struct expr_index *ix, struct expr_index_info *out)
{
	out->rows = ix->n;
	out->nulls = roaring_bitmap_get_cardinality(ix->nulls);
	out->distinct = ix->distinct;
	out->dict = ix->ndict > 0 || (ix->distinct == 0 && ix->dict_start);
	out->bytes = ix->bytes;
}

/* ---- lookups ---------------------------------------------------------------- */

/* First sorted position whose key is not (key op v) true, for op LT / LE. */
static uint32_t partition(const struct expr_index *ix, enum ex_op op, const struct ex_val *v)
{
	uint32_t lo = 0, hi = ix->nsorted;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct ex_val k = key_at(ix, mid);
		if (ex_val_cmp(&k, v, op) == TRI_T)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Literal as the index compares it (bools as 0/1); false if the kinds
 * cannot compare (never after type checking, but never guessed either). */
static bool lit_for(const struct expr_index *ix, const struct ex_val *v, struct ex_val *out)
{
	*out = *v;
	if (ix->type == DANN_FIELD_BOOL) {
		if (v->k != VK_BOOL)
			return false;
		out->k = VK_INT;
		return true;
	}
	if (ix->type == DANN_FIELD_VARCHAR)
		return v->k == VK_STR;
	return v->k == VK_INT || v->k == VK_FLOAT;
}

/* Sorted positions [*a, *b) where key op v holds, plus whether the NaN
 * rows hold too; false if op is not a plain range (NE is the complement of
 * EQ's range, reported with *complement). */
static bool range_of(const struct expr_index *ix, enum ex_op op, const struct ex_val *v,
		     uint32_t *a, uint32_t *b, bool *complement)
{
	struct ex_val lit;
	uint32_t lt, le;

	if (!lit_for(ix, v, &lit))
		return false;
	if (ix->type == DANN_FIELD_BOOL && op != OP_EQ && op != OP_NE)
		return false;
	lt = partition(ix, OP_LT, &lit);
	le = partition(ix, OP_LE, &lit);
	*complement = false;
	switch (op) {
	case OP_EQ: *a = lt; *b = le; break;
	case OP_NE: *a = lt; *b = le; *complement = true; break;
	case OP_LT: *a = 0; *b = lt; break;
	case OP_LE: *a = 0; *b = le; break;
	case OP_GT: *a = le; *b = ix->nsorted; break;
	case OP_GE: *a = lt; *b = ix->nsorted; break;
	default: return false;
	}
	return true;
}

/* The dictionary run starting at sorted position p (p is a run start). */
static uint32_t dict_run(const struct expr_index *ix, uint32_t p)
{
	uint32_t lo = 0, hi = ix->ndict;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ix->dict_start[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Rows at sorted positions [a, b) into t. */
static void add_range(const struct expr_index *ix, uint32_t a, uint32_t b, roaring_bitmap_t *t)
{
	if (a >= b)
		return;
	if (ix->ndict) {
		for (uint32_t d = dict_run(ix, a); d < ix->ndict && ix->dict_start[d] < b; d++)
			roaring_bitmap_or_inplace(t, ix->dict[d]);
		return;
	}
	roaring_bitmap_add_many(t, b - a, ix->rows + a);
}

/* f = non-null rows not in t. */
static void rest_into(const struct expr_index *ix, const roaring_bitmap_t *t, roaring_bitmap_t *f)
{
	roaring_bitmap_t *x = roaring_bitmap_andnot(ix->nonnull, t);
	if (x) {
		roaring_bitmap_or_inplace(f, x);
		ex_bm_free(x);
	}
}

bool ex_index_cmp(const struct expr_index *ix, enum ex_op op, const struct ex_val *v,
		  roaring_bitmap_t *t, roaring_bitmap_t *f)
{
	roaring_bitmap_t *hit;
	uint32_t a, b;
	bool comp;

	if (!range_of(ix, op, v, &a, &b, &comp) || !(hit = roaring_bitmap_create()))
		return false;
	add_range(ix, a, b, hit);
	if (comp) {
		/* != : everything non-null but the equal rows (NaN rows included). */
		roaring_bitmap_t *x = roaring_bitmap_andnot(ix->nonnull, hit);
		if (!x) {
			ex_bm_free(hit);
			return false;
		}
		ex_bm_free(hit);
		hit = x;
	}
	roaring_bitmap_or_inplace(t, hit);
	rest_into(ix, hit, f);
	ex_bm_free(hit);
	return true;
}

bool ex_index_in(const struct expr_index *ix, const struct ex_node *list, roaring_bitmap_t *t,
		 roaring_bitmap_t *f)
{
	roaring_bitmap_t *hit = roaring_bitmap_create();

	if (!hit)
		return false;
	for (uint32_t i = 0; i < list->nkids; i++) {
		struct ex_val v = ex_lit_val(list->kids[i]), lit;
		uint32_t a, b;
		bool comp;
		/* An element of another kind matches no row, as in the scan. */
		if (!lit_for(ix, &v, &lit))
			continue;
		if (range_of(ix, OP_EQ, &v, &a, &b, &comp))
			add_range(ix, a, b, hit);
	}
	roaring_bitmap_or_inplace(t, hit);
	rest_into(ix, hit, f);
	ex_bm_free(hit);
	return true;
}

void ex_index_isnull(const struct expr_index *ix, roaring_bitmap_t *t, roaring_bitmap_t *f)
{
	roaring_bitmap_or_inplace(t, ix->nulls);
	roaring_bitmap_or_inplace(f, ix->nonnull);
}

bool ex_index_count_cmp(const struct expr_index *ix, enum ex_op op, const struct ex_val *v,
			uint64_t *count)
{
	uint32_t a, b;
	bool comp;

	if (!range_of(ix, op, v, &a, &b, &comp))
		return false;
	*count = comp ? roaring_bitmap_get_cardinality(ix->nonnull) - (b - a) : b - a;
	return true;
}
