/*
 * expr_estimate.c — the fraction of a segment's rows a filter is expected to
 * pass, without reading a column: what a planner asks before deciding how
 * to search (see expr.h for the rules). Predicates over an indexed field
 * and a literal are counted exactly by the index; and/or/not combine the
 * parts as if they were independent.
 */
#include "expr_impl.h"

#define GUESS_EQ 0.05
#define GUESS_RANGE 0.3
#define GUESS_LIKE 0.1
#define GUESS_OTHER 0.5

static const struct expr_index *index_of(const struct expr *e, const struct expr_source *src,
					 const struct ex_node *f)
{
	if (f->kind != EX_FIELD || !src->index)
		return NULL;
	return src->index(src->ctx, e->col_name[f->col]);
}

static bool is_lit(const struct ex_node *n)
{
	return n->kind == EX_INT || n->kind == EX_FLOAT || n->kind == EX_STR || n->kind == EX_BOOL;
}

static double frac(uint64_t count, uint64_t n)
{
	return n ? (double)count / (double)n : 0;
}

static double est(const struct expr *e, const struct expr_source *src, const struct ex_node *n)
{
	static const enum ex_op mirror[] = { [OP_EQ] = OP_EQ, [OP_NE] = OP_NE, [OP_LT] = OP_GT,
					     [OP_LE] = OP_GE, [OP_GT] = OP_LT, [OP_GE] = OP_LE };
	const struct expr_index *ix;
	double p = 1, q = 1;
	uint64_t c;

	switch (n->kind) {
	case EX_AND:
		for (uint32_t i = 0; i < n->nkids; i++)
			p *= est(e, src, n->kids[i]);
		return p;
	case EX_OR:
		for (uint32_t i = 0; i < n->nkids; i++)
			q *= 1 - est(e, src, n->kids[i]);
		return 1 - q;
	case EX_NOT:
		return 1 - est(e, src, n->kids[0]);
	case EX_CMP: {
		const struct ex_node *f = n->kids[0], *l = n->kids[1];
		enum ex_op op = (enum ex_op)n->op;
		if (!is_lit(l)) {
			f = n->kids[1];
			l = n->kids[0];
			op = mirror[op];
		}
		if (is_lit(l) && (ix = index_of(e, src, f))) {
			struct ex_val v = ex_lit_val(l);
			if (ex_index_count_cmp(ix, op, &v, &c))
				return frac(c, src->n);
		}
		return op == OP_EQ ? GUESS_EQ : op == OP_NE ? 1 - GUESS_EQ : GUESS_RANGE;
	}
	case EX_IN:
		if ((ix = index_of(e, src, n->kids[0]))) {
			uint64_t sum = 0;
			for (uint32_t i = 0; i < n->kids[1]->nkids; i++) {
				struct ex_val v = ex_lit_val(n->kids[1]->kids[i]);
				if (ex_index_count_cmp(ix, OP_EQ, &v, &c))
					sum += c;
			}
			p = frac(sum, src->n);
			if (p > 1)
				p = 1;
		} else {
			p = GUESS_EQ * n->kids[1]->nkids;
			if (p > 1)
				p = 1;
		}
		return n->neg ? 1 - p : p;
	case EX_ISNULL:
		p = (ix = index_of(e, src, n->kids[0])) ? frac(ex_index_nulls(ix), src->n) : GUESS_EQ;
		return n->neg ? 1 - p : p;
	case EX_LIKE:
		return n->neg ? 1 - GUESS_LIKE : GUESS_LIKE;
	case EX_CALL:
		return GUESS_EQ;
	default:
		return GUESS_OTHER;
	}
}

double expr_estimate(const struct expr *e, const struct expr_source *src)
{
	double p = est(e, src, e->root);
	return p < 0 ? 0 : p > 1 ? 1 : p;
}
