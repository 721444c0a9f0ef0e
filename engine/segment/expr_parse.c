/*
 * expr_parse.c — recursive-descent parser for filter expressions.
 *
 * Grammar, lowest precedence first (one function each):
 *   or      := and { ("or" | "||") and }
 *   and     := not { ("and" | "&&") not }
 *   not     := ("not" | "!") not | pred
 *   pred    := sum [ cmp sum [ cmp sum ]          range chain: both < / <=
 *                  | ["not"] "in" list                          or both > / >=
 *                  | ["not"] "like" string
 *                  | "is" ["not"] "null" ]
 *   sum     := term { ("+" | "-") term }
 *   term    := unary { ("*" | "/" | "%") unary }
 *   unary   := ("-" | "+") unary | primary
 *   primary := literal | list | "(" or ")" | name "(" args ")" | name { "[" key "]" }
 * A range chain a < b < c becomes (a < b) and (b < c) sharing b's node.
 * Depth is bounded (EXPR_MAX_DEPTH) so no input can exhaust the stack.
 * Every error names the column of the token it is about and what was
 * expected there.
 */
#include <stdio.h>
#include <string.h>

#include "../error.h"
#include "expr_impl.h"

struct parser {
	struct ex_lexer lx;
	struct ex_token tk;    /* the current token */
	struct ex_arena *a;
	uint32_t depth;
};

struct ex_node *ex_node_new(struct ex_arena *a, enum ex_kind k, uint32_t pos)
{
	struct ex_node *n = ex_alloc(a, sizeof *n);
	if (n) {
		n->kind = k;
		n->pos = pos;
		n->col = -1;
	}
	return n;
}

static int advance(struct parser *p)
{
	return ex_lex_next(&p->lx, &p->tk);
}

/* "expected X, found Y" at the current token. */
static int expected(struct parser *p, const char *what)
{
	const struct ex_token *t = &p->tk;

	if (t->t == TK_EOF)
		return dann_fail(DANN_EINVAL, "filter: column %u: expected %s, found the end of the expression",
				 t->pos + 1, what);
	return dann_fail(DANN_EINVAL, "filter: column %u: expected %s, found '%.*s'", t->pos + 1, what,
			 (int)(t->len > 40 ? 40 : t->len), p->lx.text + t->pos);
}

static int nomem(void)
{
	return dann_fail(DANN_ENOMEM, "filter: no memory for the expression");
}

static int mk(struct parser *p, enum ex_kind k, uint32_t pos, uint32_t nkids, struct ex_node **out)
{
	struct ex_node *n = ex_node_new(p->a, k, pos);

	*out = NULL;
	if (!n || (nkids && !(n->kids = ex_alloc(p->a, sizeof *n->kids * nkids))))
		return nomem();
	n->nkids = nkids;
	*out = n;
	return 0;
}

static int binary(struct parser *p, enum ex_kind k, int op, struct ex_node *l, struct ex_node *r,
		  struct ex_node **out)
{
	int rc = mk(p, k, l->pos, 2, out);
	if (rc == 0) {
		(*out)->op = op;
		(*out)->kids[0] = l;
		(*out)->kids[1] = r;
	}
	return rc;
}

static int parse_or(struct parser *p, struct ex_node **out);

static int enter(struct parser *p)
{
	if (++p->depth > EXPR_MAX_DEPTH)
		return dann_fail(DANN_EINVAL, "filter: column %u: expression is nested too deeply (more than %u levels)",
				 p->tk.pos + 1, EXPR_MAX_DEPTH);
	return 0;
}

/* A literal inside a list: numbers (with a sign), strings, bools, lists. */
static int parse_list(struct parser *p, struct ex_node **out);

static int parse_literal(struct parser *p, struct ex_node **out)
{
	uint32_t pos = p->tk.pos;
	int sign = 1, rc;

	if (p->tk.t == TK_LB)
		return parse_list(p, out);
	while (p->tk.t == TK_MINUS || p->tk.t == TK_PLUS) {
		if (p->tk.t == TK_MINUS)
			sign = -sign;
		if ((rc = advance(p)) < 0)
			return rc;
	}
	switch (p->tk.t) {
	case TK_INT:
		if ((rc = mk(p, EX_INT, pos, 0, out)) < 0)
			return rc;
		if (p->tk.i == INT64_MIN && sign > 0)
			return dann_fail(DANN_EINVAL, "filter: column %u: integer is out of range for int64",
					 p->tk.pos + 1);
		(*out)->i = sign < 0 ? (int64_t)(0 - (uint64_t)p->tk.i) : p->tk.i;
		break;
	case TK_FLOAT:
		if ((rc = mk(p, EX_FLOAT, pos, 0, out)) < 0)
			return rc;
		(*out)->f = sign * p->tk.f;
		break;
	case TK_STR:
	case TK_TRUE:
	case TK_FALSE:
		if (pos != p->tk.pos)
			return expected(p, "a number after the sign");
		if ((rc = mk(p, p->tk.t == TK_STR ? EX_STR : EX_BOOL, pos, 0, out)) < 0)
			return rc;
		(*out)->s = p->tk.s;
		(*out)->slen = p->tk.slen;
		(*out)->i = p->tk.t == TK_TRUE;
		break;
	default:
		return expected(p, "a literal (number, string, true, false or a list)");
	}
	return advance(p);
}

static int parse_list(struct parser *p, struct ex_node **out)
{
	struct ex_node *items[256], **more = NULL, *n = NULL;
	uint32_t count = 0, cap = 256, pos = p->tk.pos;
	int rc;

	if ((rc = enter(p)) < 0 || (rc = advance(p)) < 0)
		return rc;
	while (p->tk.t != TK_RB) {
		struct ex_node *it;
		if ((rc = parse_literal(p, &it)) < 0)
			return rc;
		if (count == cap) {
			/* Long lists grow in the arena (old copies are dropped with it). */
			struct ex_node **bigger = ex_alloc(p->a, sizeof *bigger * cap * 2);
			if (!bigger)
				return nomem();
			memcpy(bigger, more ? more : items, sizeof *bigger * cap);
			more = bigger;
			cap *= 2;
		}
		(more ? more : items)[count++] = it;
		if (p->tk.t == TK_COMMA) {
			if ((rc = advance(p)) < 0)
				return rc;
		} else if (p->tk.t != TK_RB) {
			return expected(p, "',' or ']' in the list");
		}
	}
	if ((rc = mk(p, EX_LIST, pos, count, &n)) < 0)
		return rc;
	if (count)
		memcpy(n->kids, more ? more : items, sizeof *n->kids * count);
	*out = n;
	p->depth--;
	return advance(p);
}

static const struct {
	const char *name;
	enum ex_fn fn;
} functions[] = {
	{ "json_contains", FN_CONTAINS }, { "json_contains_all", FN_CONTAINS_ALL },
	{ "json_contains_any", FN_CONTAINS_ANY }, { "array_contains", FN_CONTAINS },
	{ "array_contains_all", FN_CONTAINS_ALL }, { "array_contains_any", FN_CONTAINS_ANY },
};

static int parse_call(struct parser *p, const struct ex_token *name, struct ex_node **out)
{
	struct ex_node *args[2];
	int fn = -1, rc;

	for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++)
		if (!strcasecmp(name->s, functions[k].name))
			fn = (int)functions[k].fn;
	if (fn < 0)
		return dann_fail(DANN_EINVAL, "filter: column %u: unknown function '%s' (expected json_contains, json_contains_all, json_contains_any, array_contains, array_contains_all or array_contains_any)",
				 name->pos + 1, name->s);
	if ((rc = advance(p)) < 0 || (rc = parse_or(p, &args[0])) < 0)
		return rc;
	if (p->tk.t != TK_COMMA)
		return expected(p, "',' and a second argument");
	if ((rc = advance(p)) < 0 || (rc = parse_or(p, &args[1])) < 0)
		return rc;
	if (p->tk.t != TK_RP)
		return expected(p, "')' after two arguments");
	if ((rc = mk(p, EX_CALL, name->pos, 2, out)) < 0)
		return rc;
	(*out)->op = fn;
	(*out)->kids[0] = args[0];
	(*out)->kids[1] = args[1];
	return advance(p);
}

/* name { "[" key "]" }: a field, or a JSON path into it. */
static int parse_name(struct parser *p, struct ex_node **out)
{
	struct ex_token name = p->tk;
	struct ex_node *keys[EXPR_MAX_DEPTH], *n = NULL;
	uint32_t nkeys = 0;
	int rc;

	if ((rc = advance(p)) < 0)
		return rc;
	if (p->tk.t == TK_LP)
		return parse_call(p, &name, out);
	while (p->tk.t == TK_LB) {
		if ((rc = advance(p)) < 0)
			return rc;
		if (p->tk.t != TK_STR && p->tk.t != TK_INT)
			return expected(p, "a key (a string) or an index (an integer) inside '[ ]'");
		if (nkeys == EXPR_MAX_DEPTH)
			return dann_fail(DANN_EINVAL, "filter: column %u: JSON path is deeper than %u keys",
					 p->tk.pos + 1, EXPR_MAX_DEPTH);
		if ((rc = mk(p, p->tk.t == TK_STR ? EX_STR : EX_INT, p->tk.pos, 0, &keys[nkeys])) < 0)
			return rc;
		keys[nkeys]->s = p->tk.s;
		keys[nkeys]->slen = p->tk.slen;
		keys[nkeys]->i = p->tk.i;
		if (p->tk.t == TK_INT && p->tk.i < 0)
			return dann_fail(DANN_EINVAL, "filter: column %u: array index is out of range",
					 p->tk.pos + 1);
		nkeys++;
		if ((rc = advance(p)) < 0)
			return rc;
		if (p->tk.t != TK_RB)
			return expected(p, "']' after the key");
		if ((rc = advance(p)) < 0)
			return rc;
	}
	if ((rc = mk(p, nkeys ? EX_PATH : EX_IDENT, name.pos, nkeys, &n)) < 0)
		return rc;
	if (nkeys)
		memcpy(n->kids, keys, sizeof *keys * nkeys);
	n->s = name.s;
	n->slen = name.slen;
	*out = n;
	return 0;
}

static int parse_primary(struct parser *p, struct ex_node **out)
{
	int rc;

	switch (p->tk.t) {
	case TK_INT:
	case TK_FLOAT:
	case TK_STR:
	case TK_TRUE:
	case TK_FALSE:
	case TK_LB:
		return parse_literal(p, out);
	case TK_IDENT:
		return parse_name(p, out);
	case TK_LP:
		if ((rc = advance(p)) < 0 || (rc = parse_or(p, out)) < 0)
			return rc;
		if (p->tk.t != TK_RP)
			return expected(p, "')'");
		return advance(p);
	case TK_NULL:
		return dann_fail(DANN_EINVAL, "filter: column %u: null can only be tested with 'is null' or 'is not null'",
				 p->tk.pos + 1);
	default:
		return expected(p, "a field, a literal or '('");
	}
}

static int parse_unary(struct parser *p, struct ex_node **out)
{
	uint32_t pos = p->tk.pos;
	int rc;

	if (p->tk.t != TK_MINUS && p->tk.t != TK_PLUS)
		return parse_primary(p, out);
	if ((rc = enter(p)) < 0)
		return rc;
	if (p->tk.t == TK_MINUS) {
		struct ex_token next;
		struct ex_lexer save = p->lx;
		/* "-5" is one literal, so that -9223372036854775808 fits. */
		if ((rc = ex_lex_next(&save, &next)) < 0)
			return rc;
		if (next.t == TK_INT || next.t == TK_FLOAT) {
			rc = parse_literal(p, out);
		} else {
			struct ex_node *x;
			if ((rc = advance(p)) < 0 || (rc = parse_unary(p, &x)) < 0 ||
			    (rc = mk(p, EX_NEG, pos, 1, out)) < 0)
				return rc;
			(*out)->kids[0] = x;
		}
	} else {
		if ((rc = advance(p)) < 0 || (rc = parse_unary(p, out)) < 0)
			return rc;
		if ((*out)->kind == EX_STR || (*out)->kind == EX_BOOL || (*out)->kind == EX_LIST)
			return dann_fail(DANN_EINVAL, "filter: column %u: unary '+' needs a number", pos + 1);
	}
	p->depth--;
	return rc;
}

static int parse_term(struct parser *p, struct ex_node **out)
{
	uint32_t depth = p->depth;
	int rc = parse_unary(p, out);

	while (rc == 0 && (p->tk.t == TK_STAR || p->tk.t == TK_SLASH || p->tk.t == TK_PCT)) {
		int op = p->tk.t == TK_STAR ? OP_MUL : p->tk.t == TK_SLASH ? OP_DIV : OP_MOD;
		struct ex_node *r;
		if ((rc = enter(p)) < 0 || (rc = advance(p)) < 0 || (rc = parse_unary(p, &r)) < 0)
			return rc;
		rc = binary(p, EX_ARITH, op, *out, r, out);
	}
	p->depth = depth;
	return rc;
}

static int parse_sum(struct parser *p, struct ex_node **out)
{
	uint32_t depth = p->depth;
	int rc = parse_term(p, out);

	while (rc == 0 && (p->tk.t == TK_PLUS || p->tk.t == TK_MINUS)) {
		int op = p->tk.t == TK_PLUS ? OP_ADD : OP_SUB;
		struct ex_node *r;
		if ((rc = enter(p)) < 0 || (rc = advance(p)) < 0 || (rc = parse_term(p, &r)) < 0)
			return rc;
		rc = binary(p, EX_ARITH, op, *out, r, out);
	}
	p->depth = depth;
	return rc;
}

static int cmp_op(enum ex_tok t)
{
	switch (t) {
	case TK_EQ: return OP_EQ;
	case TK_NE: return OP_NE;
	case TK_LT: return OP_LT;
	case TK_LE: return OP_LE;
	case TK_GT: return OP_GT;
	case TK_GE: return OP_GE;
	default: return -1;
	}
}

static int parse_chain(struct parser *p, struct ex_node *l, struct ex_node **out)
{
	int op1 = cmp_op(p->tk.t), op2, rc;
	uint32_t pos2;
	struct ex_node *m, *r, *a, *b;

	if ((rc = advance(p)) < 0 || (rc = parse_sum(p, &m)) < 0 ||
	    (rc = binary(p, EX_CMP, op1, l, m, out)) < 0)
		return rc;
	if ((op2 = cmp_op(p->tk.t)) < 0)
		return 0;
	pos2 = p->tk.pos;
	if (!(((op1 == OP_LT || op1 == OP_LE) && (op2 == OP_LT || op2 == OP_LE)) ||
	      ((op1 == OP_GT || op1 == OP_GE) && (op2 == OP_GT || op2 == OP_GE))))
		return dann_fail(DANN_EINVAL, "filter: column %u: a range chain needs '<'/'<=' on both sides or '>'/'>=' on both sides (as in 1 < x <= 5)",
				 pos2 + 1);
	if ((rc = advance(p)) < 0 || (rc = parse_sum(p, &r)) < 0)
		return rc;
	if (cmp_op(p->tk.t) >= 0)
		return dann_fail(DANN_EINVAL, "filter: column %u: a range chain has at most two comparisons",
				 p->tk.pos + 1);
	a = *out;
	if ((rc = binary(p, EX_CMP, op2, m, r, &b)) < 0)
		return rc;
	b->pos = pos2;
	return binary(p, EX_AND, 0, a, b, out);
}

static int parse_pred(struct parser *p, struct ex_node **out)
{
	struct ex_node *l, *r;
	int neg = 0, rc;

	if ((rc = parse_sum(p, &l)) < 0)
		return rc;
	if (cmp_op(p->tk.t) >= 0)
		return parse_chain(p, l, out);
	if (p->tk.t == TK_IS) {
		if ((rc = advance(p)) < 0)
			return rc;
		if (p->tk.t == TK_NOT) {
			neg = 1;
			if ((rc = advance(p)) < 0)
				return rc;
		}
		if (p->tk.t != TK_NULL)
			return expected(p, neg ? "'null' after 'is not'" : "'null' or 'not null' after 'is'");
		if ((rc = mk(p, EX_ISNULL, l->pos, 1, out)) < 0)
			return rc;
		(*out)->kids[0] = l;
		(*out)->neg = neg;
		return advance(p);
	}
	if (p->tk.t == TK_NOT) {
		neg = 1;
		if ((rc = advance(p)) < 0)
			return rc;
		if (p->tk.t != TK_IN && p->tk.t != TK_LIKE)
			return expected(p, "'in' or 'like' after 'not'");
	}
	if (p->tk.t == TK_IN) {
		if ((rc = advance(p)) < 0)
			return rc;
		if (p->tk.t != TK_LB)
			return expected(p, "a list '[...]' after 'in'");
		if ((rc = parse_list(p, &r)) < 0 || (rc = binary(p, EX_IN, 0, l, r, out)) < 0)
			return rc;
		(*out)->neg = neg;
		return 0;
	}
	if (p->tk.t == TK_LIKE) {
		if ((rc = advance(p)) < 0)
			return rc;
		if (p->tk.t != TK_STR)
			return expected(p, "a pattern string after 'like'");
		if ((rc = parse_literal(p, &r)) < 0 || (rc = binary(p, EX_LIKE, 0, l, r, out)) < 0)
			return rc;
		(*out)->neg = neg;
		return 0;
	}
	*out = l;
	return 0;
}

static int parse_not(struct parser *p, struct ex_node **out)
{
	uint32_t pos = p->tk.pos;
	struct ex_node *x;
	int rc;

	if (p->tk.t != TK_NOT)
		return parse_pred(p, out);
	if ((rc = enter(p)) < 0 || (rc = advance(p)) < 0 || (rc = parse_not(p, &x)) < 0 ||
	    (rc = mk(p, EX_NOT, pos, 1, out)) < 0)
		return rc;
	(*out)->kids[0] = x;
	p->depth--;
	return 0;
}

/* operand { op operand }: and/or chains become one node with many kids, so
 * a long "id == 1 or id == 2 or ..." costs no depth. */
static int parse_chain_of(struct parser *p, enum ex_tok tok, enum ex_kind kind,
			  int (*operand)(struct parser *, struct ex_node **), struct ex_node **out)
{
	struct ex_node *first, **kids = NULL, *n = NULL;
	uint32_t count = 1, cap = 0;
	int rc;

	if ((rc = operand(p, &first)) < 0)
		return rc;
	if (p->tk.t != tok) {
		*out = first;
		return 0;
	}
	while (p->tk.t == tok) {
		struct ex_node *r;
		if ((rc = advance(p)) < 0 || (rc = operand(p, &r)) < 0)
			return rc;
		if (count + 1 > cap) {
			struct ex_node **bigger;
			cap = cap ? cap * 2 : 8;
			if (!(bigger = ex_alloc(p->a, sizeof *bigger * cap)))
				return nomem();
			if (kids)
				memcpy(bigger, kids, sizeof *kids * count);
			else
				bigger[0] = first;
			kids = bigger;
		}
		kids[count++] = r;
	}
	if ((rc = mk(p, kind, first->pos, 0, &n)) < 0)
		return rc;
	n->kids = kids;
	n->nkids = count;
	*out = n;
	return 0;
}

static int parse_and(struct parser *p, struct ex_node **out)
{
	return parse_chain_of(p, TK_AND, EX_AND, parse_not, out);
}

static int parse_or(struct parser *p, struct ex_node **out)
{
	uint32_t depth = p->depth;
	int rc;

	if ((rc = enter(p)) < 0)
		return rc;
	rc = parse_chain_of(p, TK_OR, EX_OR, parse_and, out);
	p->depth = depth;
	return rc;
}

int ex_parse(const char *text, struct ex_arena *a, struct ex_node **out)
{
	struct parser p = { .a = a };
	size_t len = strlen(text);
	int rc;

	if (len > EXPR_MAX_TEXT)
		return dann_fail(DANN_EINVAL, "filter: expression is %zu bytes, at most %u allowed", len,
				 EXPR_MAX_TEXT);
	p.lx = (struct ex_lexer){ .text = text, .len = (uint32_t)len, .arena = a };
	if ((rc = advance(&p)) < 0)
		return rc;
	if (p.tk.t == TK_EOF)
		return dann_fail(DANN_EINVAL, "filter: column 1: the expression is empty");
	if ((rc = parse_or(&p, out)) < 0)
		return rc;
	if (p.tk.t != TK_EOF)
		return expected(&p, "'and', 'or' or the end of the expression");
	return 0;
}
