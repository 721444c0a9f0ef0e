/*
 * expr_eval.c — evaluates a compiled filter over a segment's columns into a
 * bitmap of the rows for which it is true.
 *
 * Two levels. Bitmaps: every boolean node yields the rows where it is true
 * (T) and where it is false (F) — SQL's third value, unknown, is the rest —
 * so `not` swaps T and F and and/or combine them without looking at rows.
 * A node is only asked about candidate rows: the right side of an `and`
 * skips rows already false on the left, the right side of an `or` those
 * already true. Rows: a subtree with no indexed predicate is evaluated row
 * by row in one pass (tri_row / val_row), so a JSON document is parsed
 * once per row however many paths read it. A predicate "indexed field op
 * literal" (or in / is null) is answered by the field's scalar index.
 *
 * compile (expr_compile) is here too: parse, check, own the result.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "expr_impl.h"

#define ROW_BATCH 1024u
#define NCOL_MAX (DANN_MAX_FIELDS + 2)

struct ev {
	const struct expr *e;
	const struct expr_source *src;
	uint64_t n;
	struct dann_column col[NCOL_MAX];
	bool present[NCOL_MAX];
	const struct expr_index *idx[NCOL_MAX];
	cJSON *jdoc[NCOL_MAX];     /* the parsed document of jrow (NULL: null or bad) */
	uint64_t jrow[NCOL_MAX];
};

/* ---- compile -------------------------------------------------------------- */

int expr_compile(const char *text, const struct dann_schema *s, struct expr **out)
{
	struct expr *e;
	int rc;

	*out = NULL;
	if (!text)
		return dann_fail(DANN_EINVAL, "filter: no expression given");
	if (!(e = calloc(1, sizeof *e)))
		return dann_fail(DANN_ENOMEM, "filter: no memory");
	if ((rc = ex_parse(text, &e->arena, &e->root)) < 0 || (rc = ex_check(e, s)) < 0) {
		expr_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void expr_free(struct expr *e)
{
	if (!e)
		return;
	ex_arena_free(&e->arena);
	free(e);
}

uint32_t expr_ncolumns(const struct expr *e)
{
	return e->ncols;
}

const char *expr_column_name(const struct expr *e, uint32_t i)
{
	return i < e->ncols ? e->col_name[i] : NULL;
}

enum dann_field_type expr_column_type(const struct expr *e, uint32_t i)
{
	return e->col_type[i];
}

/* ---- row values ------------------------------------------------------------- */

static struct ex_val null_val(void)
{
	return (struct ex_val){ .k = VK_NULL };
}

static const cJSON *json_of(struct ev *v, int c, uint64_t row)
{
	const struct dann_column *col = &v->col[c];

	if (v->jrow[c] == row)
		return v->jdoc[c];
	cJSON_Delete(v->jdoc[c]);
	v->jdoc[c] = NULL;
	v->jrow[c] = row;
	if (v->present[c] && (!col->valid || col->valid[row])) {
		uint64_t a = col->offsets[row], b = col->offsets[row + 1];
		/* A document that does not parse reads as null. */
		if (b > a)
			v->jdoc[c] = cJSON_ParseWithLength((const char *)col->values + a, b - a);
	}
	return v->jdoc[c];
}

static struct ex_val field_val(struct ev *v, const struct ex_node *n, uint64_t row)
{
	const struct dann_column *c = &v->col[n->col];
	struct ex_val x = { .k = VK_INT };

	if (!v->present[n->col] || (c->valid && !c->valid[row]))
		return null_val();
	switch (c->type) {
	case DANN_FIELD_BOOL: x.k = VK_BOOL; x.i = ((const uint8_t *)c->values)[row] != 0; break;
	case DANN_FIELD_INT8: x.i = ((const int8_t *)c->values)[row]; break;
	case DANN_FIELD_INT16: x.i = ((const int16_t *)c->values)[row]; break;
	case DANN_FIELD_INT32: x.i = ((const int32_t *)c->values)[row]; break;
	case DANN_FIELD_INT64: x.i = ((const int64_t *)c->values)[row]; break;
	case DANN_FIELD_FLOAT: x.k = VK_FLOAT; x.f = ((const float *)c->values)[row]; break;
	case DANN_FIELD_DOUBLE: x.k = VK_FLOAT; x.f = ((const double *)c->values)[row]; break;
	case DANN_FIELD_VARCHAR:
		x.k = VK_STR;
		x.s = (const char *)c->values + c->offsets[row];
		x.n = c->offsets[row + 1] - c->offsets[row];
		break;
	case DANN_FIELD_JSON:
		return ex_json_val(json_of(v, n->col, row));
	}
	return x;
}

static struct ex_val path_val(struct ev *v, const struct ex_node *n, uint64_t row)
{
	const cJSON *j = json_of(v, n->col, row);

	for (uint32_t k = 0; j && k < n->nkids; k++) {
		const struct ex_node *key = n->kids[k];
		if (key->kind == EX_STR) {
			/* Keys with a NUL byte cannot name a cJSON member. */
			j = cJSON_IsObject(j) && strlen(key->s) == key->slen
				    ? cJSON_GetObjectItemCaseSensitive(j, key->s) : NULL;
		} else {
			j = cJSON_IsArray(j) && key->i < cJSON_GetArraySize(j)
				    ? cJSON_GetArrayItem(j, (int)key->i) : NULL;
		}
	}
	return ex_json_val(j);
}

static struct ex_val arith(int op, const struct ex_val *a, const struct ex_val *b)
{
	struct ex_val r = { .k = VK_INT };

	if ((a->k != VK_INT && a->k != VK_FLOAT) || (b->k != VK_INT && b->k != VK_FLOAT))
		return null_val();
	if (a->k == VK_INT && b->k == VK_INT) {
		bool ovf = false;
		switch (op) {
		case OP_ADD: ovf = __builtin_add_overflow(a->i, b->i, &r.i); break;
		case OP_SUB: ovf = __builtin_sub_overflow(a->i, b->i, &r.i); break;
		case OP_MUL: ovf = __builtin_mul_overflow(a->i, b->i, &r.i); break;
		case OP_DIV:
		case OP_MOD:
			if (b->i == 0 || (a->i == INT64_MIN && b->i == -1))
				return null_val();
			r.i = op == OP_DIV ? a->i / b->i : a->i % b->i;
			break;
		}
		return ovf ? null_val() : r;
	}
	{
		double x = a->k == VK_INT ? (double)a->i : a->f, y = b->k == VK_INT ? (double)b->i : b->f;
		r.k = VK_FLOAT;
		switch (op) {
		case OP_ADD: r.f = x + y; break;
		case OP_SUB: r.f = x - y; break;
		case OP_MUL: r.f = x * y; break;
		case OP_DIV:
		case OP_MOD:
			if (y == 0)
				return null_val();
			r.f = op == OP_DIV ? x / y : fmod(x, y);
			break;
		}
	}
	return r;
}

static enum ex_tri tri_row(struct ev *v, const struct ex_node *n, uint64_t row);

static struct ex_val val_row(struct ev *v, const struct ex_node *n, uint64_t row)
{
	switch (n->kind) {
	case EX_INT: case EX_FLOAT: case EX_STR: case EX_BOOL: case EX_LIST:
		return ex_lit_val(n);
	case EX_FIELD:
		return field_val(v, n, row);
	case EX_PATH:
		return path_val(v, n, row);
	case EX_NEG: {
		struct ex_val x = val_row(v, n->kids[0], row);
		if (x.k == VK_INT && x.i != INT64_MIN) {
			x.i = -x.i;
			return x;
		}
		if (x.k == VK_FLOAT) {
			x.f = -x.f;
			return x;
		}
		return null_val();
	}
	case EX_ARITH: {
		struct ex_val a = val_row(v, n->kids[0], row), b = val_row(v, n->kids[1], row);
		return arith(n->op, &a, &b);
	}
	default: {
		enum ex_tri t = tri_row(v, n, row);
		return t == TRI_U ? null_val() : (struct ex_val){ .k = VK_BOOL, .i = t == TRI_T };
	}
	}
}

static enum ex_tri flip(enum ex_tri t, int neg)
{
	return neg && t != TRI_U ? (t == TRI_T ? TRI_F : TRI_T) : t;
}

static bool json_has(const cJSON *arr, const struct ex_val *x)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		struct ex_val y = ex_json_val(it);
		if (ex_val_eq(&y, x))
			return true;
	}
	return false;
}

static enum ex_tri call_row(struct ev *v, const struct ex_node *n, uint64_t row)
{
	struct ex_val a = val_row(v, n->kids[0], row);
	const struct ex_node *arg = n->kids[1];

	if (a.k == VK_NULL)
		return TRI_U;
	if (a.k != VK_JSON || !cJSON_IsArray(a.j))
		return TRI_F;
	if (n->op == FN_CONTAINS) {
		struct ex_val x = ex_lit_val(arg);
		return json_has(a.j, &x) ? TRI_T : TRI_F;
	}
	for (uint32_t i = 0; i < arg->nkids; i++) {
		struct ex_val x = ex_lit_val(arg->kids[i]);
		bool has = json_has(a.j, &x);
		if (n->op == FN_CONTAINS_ANY && has)
			return TRI_T;
		if (n->op == FN_CONTAINS_ALL && !has)
			return TRI_F;
	}
	return n->op == FN_CONTAINS_ALL ? TRI_T : TRI_F;
}

static enum ex_tri tri_row(struct ev *v, const struct ex_node *n, uint64_t row)
{
	switch (n->kind) {
	case EX_CMP: {
		struct ex_val a = val_row(v, n->kids[0], row), b = val_row(v, n->kids[1], row);
		return ex_val_cmp(&a, &b, (enum ex_op)n->op);
	}
	case EX_IN: {
		struct ex_val x = val_row(v, n->kids[0], row);
		const struct ex_node *list = n->kids[1];
		if (x.k == VK_NULL)
			return TRI_U;
		for (uint32_t i = 0; i < list->nkids; i++) {
			struct ex_val y = ex_lit_val(list->kids[i]);
			if (ex_val_eq(&x, &y))
				return flip(TRI_T, n->neg);
		}
		return flip(TRI_F, n->neg);
	}
	case EX_LIKE: {
		struct ex_val x = val_row(v, n->kids[0], row);
		const struct ex_node *pat = n->kids[1];
		if (x.k == VK_NULL)
			return TRI_U;
		if (x.k != VK_STR) /* not a string: like is false, not like true */
			return flip(TRI_F, n->neg);
		return flip(ex_like(x.s, x.n, pat->s, pat->slen) ? TRI_T : TRI_F, n->neg);
	}
	case EX_ISNULL: {
		struct ex_val x = val_row(v, n->kids[0], row);
		return flip(x.k == VK_NULL ? TRI_T : TRI_F, n->neg);
	}
	case EX_AND: {
		enum ex_tri r = TRI_T;
		for (uint32_t i = 0; i < n->nkids && r != TRI_F; i++) {
			enum ex_tri t = tri_row(v, n->kids[i], row);
			if (t != TRI_T)
				r = t;
		}
		return r;
	}
	case EX_OR: {
		enum ex_tri r = TRI_F;
		for (uint32_t i = 0; i < n->nkids && r != TRI_T; i++) {
			enum ex_tri t = tri_row(v, n->kids[i], row);
			if (t != TRI_F)
				r = t;
		}
		return r;
	}
	case EX_NOT:
		return flip(tri_row(v, n->kids[0], row), 1);
	case EX_CALL:
		return call_row(v, n, row);
	default: {
		struct ex_val x = val_row(v, n, row);
		if (x.k == VK_NULL)
			return TRI_U;
		return x.k == VK_BOOL && x.i ? TRI_T : TRI_F;
	}
	}
}

/* ---- bitmaps ---------------------------------------------------------------- */

/* The index that can answer n alone, or NULL. *lit and *op say how. */
static const struct expr_index *index_for(const struct ev *v, const struct ex_node *n,
					  struct ex_val *lit, enum ex_op *op)
{
	const struct ex_node *f = NULL, *l = NULL;
	static const enum ex_op mirror[] = { [OP_EQ] = OP_EQ, [OP_NE] = OP_NE, [OP_LT] = OP_GT,
					     [OP_LE] = OP_GE, [OP_GT] = OP_LT, [OP_GE] = OP_LE };

	switch (n->kind) {
	case EX_CMP:
		if (n->kids[0]->kind == EX_FIELD) {
			f = n->kids[0];
			l = n->kids[1];
			*op = (enum ex_op)n->op;
		} else if (n->kids[1]->kind == EX_FIELD) {
			f = n->kids[1];
			l = n->kids[0];
			*op = mirror[n->op];
		}
		if (!l || (l->kind != EX_INT && l->kind != EX_FLOAT && l->kind != EX_STR && l->kind != EX_BOOL))
			return NULL;
		*lit = ex_lit_val(l);
		break;
	case EX_IN:
	case EX_ISNULL:
		f = n->kids[0]->kind == EX_FIELD ? n->kids[0] : NULL;
		break;
	default:
		return NULL;
	}
	return f && v->present[f->col] ? v->idx[f->col] : NULL;
}

static bool any_index(const struct ev *v, const struct ex_node *n)
{
	struct ex_val lit;
	enum ex_op op;

	if (n->kind != EX_AND && n->kind != EX_OR && n->kind != EX_NOT)
		return index_for(v, n, &lit, &op) != NULL;
	for (uint32_t i = 0; i < n->nkids; i++)
		if (any_index(v, n->kids[i]))
			return true;
	return false;
}

static int nomem(void)
{
	return dann_fail(DANN_ENOMEM, "filter: no memory for a row bitmap");
}

/* Row by row over cand (NULL: every row). */
static int scan(struct ev *v, const struct ex_node *n, const roaring_bitmap_t *cand,
		roaring_bitmap_t *t, roaring_bitmap_t *f)
{
	uint32_t rows[ROW_BATCH], tb[ROW_BATCH], fb[ROW_BATCH];
	roaring_uint32_iterator_t it;
	uint64_t next = 0;

	if (cand)
		roaring_init_iterator(cand, &it);
	for (;;) {
		uint32_t got = 0, nt = 0, nf = 0;
		if (cand) {
			got = roaring_read_uint32_iterator(&it, rows, ROW_BATCH);
		} else {
			while (got < ROW_BATCH && next < v->n)
				rows[got++] = (uint32_t)next++;
		}
		if (!got)
			return 0;
		for (uint32_t i = 0; i < got; i++) {
			enum ex_tri r = tri_row(v, n, rows[i]);
			if (r == TRI_T)
				tb[nt++] = rows[i];
			else if (r == TRI_F)
				fb[nf++] = rows[i];
		}
		roaring_bitmap_add_many(t, nt, tb);
		roaring_bitmap_add_many(f, nf, fb);
	}
}

static int eval_bm(struct ev *v, const struct ex_node *n, const roaring_bitmap_t *cand,
		   roaring_bitmap_t *t, roaring_bitmap_t *f);

/* and (is_and) / or over the kids: each kid sees only the rows the ones
 * before it left undecided. */
static int eval_junction(struct ev *v, const struct ex_node *n, bool is_and,
			 const roaring_bitmap_t *cand, roaring_bitmap_t *t, roaring_bitmap_t *f)
{
	/* "decided" is F for and, T for or; "keep" the other side. */
	roaring_bitmap_t *decided = is_and ? f : t, *keep = is_and ? t : f, *live = NULL;
	int rc = 0;

	if (!(live = cand ? roaring_bitmap_copy(cand) : roaring_bitmap_from_range(0, v->n, 1)))
		return nomem();
	for (uint32_t i = 0; i < n->nkids; i++) {
		roaring_bitmap_t *kt = roaring_bitmap_create(), *kf = roaring_bitmap_create();
		if (!kt || !kf) {
			ex_bm_free(kt);
			ex_bm_free(kf);
			rc = nomem();
			break;
		}
		if ((rc = eval_bm(v, n->kids[i], live, kt, kf)) == 0) {
			roaring_bitmap_t *kd = is_and ? kf : kt, *kk = is_and ? kt : kf;
			roaring_bitmap_and_inplace(kd, live);
			roaring_bitmap_and_inplace(kk, live);
			roaring_bitmap_or_inplace(decided, kd);
			if (i == 0)
				roaring_bitmap_or_inplace(keep, kk);
			else
				roaring_bitmap_and_inplace(keep, kk);
			roaring_bitmap_andnot_inplace(live, kd);
			/* Rows unknown in this kid can no longer be "keep". */
		}
		ex_bm_free(kt);
		ex_bm_free(kf);
		if (rc < 0)
			break;
	}
	ex_bm_free(live);
	return rc;
}

static int eval_index(struct ev *v, const struct ex_node *n, const struct expr_index *ix,
		      const struct ex_val *lit, enum ex_op op, roaring_bitmap_t *t, roaring_bitmap_t *f)
{
	bool ok;

	switch (n->kind) {
	case EX_CMP:
		ok = ex_index_cmp(ix, op, lit, t, f);
		break;
	case EX_IN:
		ok = ex_index_in(ix, n->kids[1], n->neg ? f : t, n->neg ? t : f);
		break;
	default:
		ex_index_isnull(ix, n->neg ? f : t, n->neg ? t : f);
		ok = true;
		break;
	}
	(void)v;
	return ok ? 1 : 0;
}

static int eval_bm(struct ev *v, const struct ex_node *n, const roaring_bitmap_t *cand,
		   roaring_bitmap_t *t, roaring_bitmap_t *f)
{
	const struct expr_index *ix;
	struct ex_val lit;
	enum ex_op op;
	int rc;

	if (!any_index(v, n))
		return scan(v, n, cand, t, f);
	switch (n->kind) {
	case EX_AND:
		return eval_junction(v, n, true, cand, t, f);
	case EX_OR:
		return eval_junction(v, n, false, cand, t, f);
	case EX_NOT:
		return eval_bm(v, n->kids[0], cand, f, t);
	default:
		ix = index_for(v, n, &lit, &op);
		if ((rc = eval_index(v, n, ix, &lit, op, t, f)) != 0)
			return rc < 0 ? rc : 0;
		return scan(v, n, cand, t, f);
	}
}

static bool type_fits(enum dann_field_type want, enum dann_field_type got)
{
	return want == got;
}

static int open_columns(struct ev *v)
{
	const struct expr *e = v->e;
	int rc;

	for (uint32_t c = 0; c < e->ncols; c++) {
		struct dann_column *col = &v->col[c];
		v->jrow[c] = UINT64_MAX;
		rc = v->src->column(v->src->ctx, e->col_name[c], col);
		if (rc == DANN_ENOTFOUND)
			continue;
		if (rc < 0)
			return rc;
		if (!type_fits(e->col_type[c], col->type))
			return dann_fail(DANN_EINVAL, "filter: column '%s' holds type %d, the schema says %d",
					 e->col_name[c], (int)col->type, (int)e->col_type[c]);
		if (v->n && (!col->values || ((col->type == DANN_FIELD_VARCHAR ||
					       col->type == DANN_FIELD_JSON) && !col->offsets)))
			return dann_fail(DANN_EINVAL, "filter: column '%s' has no values", e->col_name[c]);
		v->present[c] = true;
		if (v->src->index)
			v->idx[c] = v->src->index(v->src->ctx, e->col_name[c]);
		if (v->idx[c] && ex_index_type(v->idx[c]) != col->type)
			v->idx[c] = NULL;
	}
	return 0;
}

int expr_eval(const struct expr *e, const struct expr_source *src, roaring_bitmap_t **out)
{
	struct ev *v;
	roaring_bitmap_t *t = NULL, *f = NULL;
	int rc;

	*out = NULL;
	if (src->n > UINT32_MAX)
		return dann_fail(DANN_EINVAL, "filter: a segment of %llu rows is too large (at most 2^32 - 1)",
				 (unsigned long long)src->n);
	if (!(v = calloc(1, sizeof *v)))
		return nomem();
	v->e = e;
	v->src = src;
	v->n = src->n;
	if ((rc = open_columns(v)) < 0)
		goto done;
	if (!(t = roaring_bitmap_create()) || !(f = roaring_bitmap_create())) {
		rc = nomem();
		goto done;
	}
	if ((rc = eval_bm(v, e->root, NULL, t, f)) < 0)
		goto done;
	*out = t;
	t = NULL;
done:
	for (uint32_t c = 0; c < e->ncols; c++)
		cJSON_Delete(v->jdoc[c]);
	ex_bm_free(t);
	ex_bm_free(f);
	free(v);
	return rc;
}

int expr_bitmap_words(const roaring_bitmap_t *bm, uint64_t n, uint64_t **out)
{
	uint64_t words = (n + 63) / 64, *w;
	uint32_t rows[ROW_BATCH], got;
	roaring_uint32_iterator_t it;

	*out = NULL;
	if (!(w = calloc(words ? words : 1, sizeof *w)))
		return dann_fail(DANN_ENOMEM, "filter: no memory for a mask of %llu rows",
				 (unsigned long long)n);
	roaring_init_iterator(bm, &it);
	while ((got = roaring_read_uint32_iterator(&it, rows, ROW_BATCH)) > 0)
		for (uint32_t i = 0; i < got; i++)
			if (rows[i] < n)
				w[rows[i] >> 6] |= 1ull << (rows[i] & 63);
	*out = w;
	return 0;
}
