/*
 * expr_check.c — resolves the names of a parsed filter against a schema and
 * gives every node its static type, so that evaluation never meets a
 * question the user could have been told about up front.
 *
 * Names: the primary key (INT64), a scalar field, "$meta" (the dynamic
 * field's JSON column), or — when the schema has a dynamic field — any
 * other name, read as $meta["name"]. A JSON field needs a path to be
 * compared (meta["a"] > 3); a path's value is dynamic (TY_DYN): any JSON
 * kind, checked per row. Type errors name the field and its type.
 */
#include <stdio.h>
#include <string.h>

#include "../error.h"
#include "expr_impl.h"

struct checker {
	struct expr *e;
	const struct dann_schema *s;
};

static const char *ftype_name(enum dann_field_type t)
{
	switch (t) {
	case DANN_FIELD_BOOL: return "bool";
	case DANN_FIELD_INT8: return "int8";
	case DANN_FIELD_INT16: return "int16";
	case DANN_FIELD_INT32: return "int32";
	case DANN_FIELD_INT64: return "int64";
	case DANN_FIELD_FLOAT: return "float";
	case DANN_FIELD_DOUBLE: return "double";
	case DANN_FIELD_VARCHAR: return "varchar";
	case DANN_FIELD_JSON: return "json";
	}
	return "?";
}

static const char *type_name(enum ex_type t)
{
	switch (t) {
	case TY_BOOL: return "a bool";
	case TY_INT: return "an integer";
	case TY_FLOAT: return "a number";
	case TY_STR: return "a string";
	case TY_JSON: return "a JSON document";
	case TY_DYN: return "a JSON value";
	case TY_LIST: return "a list";
	default: return "nothing";
	}
}

static enum ex_type type_of_field(enum dann_field_type t)
{
	switch (t) {
	case DANN_FIELD_BOOL: return TY_BOOL;
	case DANN_FIELD_INT8: case DANN_FIELD_INT16: case DANN_FIELD_INT32: case DANN_FIELD_INT64:
		return TY_INT;
	case DANN_FIELD_FLOAT: case DANN_FIELD_DOUBLE: return TY_FLOAT;
	case DANN_FIELD_VARCHAR: return TY_STR;
	case DANN_FIELD_JSON: return TY_JSON;
	}
	return TY_NONE;
}

static int add_col(struct checker *c, const char *name, enum dann_field_type t)
{
	struct expr *e = c->e;

	for (uint32_t i = 0; i < e->ncols; i++)
		if (!strcmp(e->col_name[i], name))
			return (int)i;
	e->col_name[e->ncols] = ex_alloc(&e->arena, strlen(name) + 1);
	if (!e->col_name[e->ncols])
		return dann_fail(DANN_ENOMEM, "filter: no memory");
	strcpy(e->col_name[e->ncols], name);
	e->col_type[e->ncols] = t;
	return (int)e->ncols++;
}

/* The field a name denotes: 1 with its type, 0 if it is no field. */
static int lookup(const struct checker *c, const char *name, enum dann_field_type *t)
{
	const struct dann_schema *s = c->s;

	if (!strcmp(name, s->pk_field)) {
		*t = DANN_FIELD_INT64;
		return 1;
	}
	for (uint32_t i = 0; i < s->nfields; i++)
		if (!strcmp(name, s->fields[i].name)) {
			*t = s->fields[i].type;
			return 1;
		}
	if (s->dynamic_field && !strcmp(name, EXPR_META)) {
		*t = DANN_FIELD_JSON;
		return 1;
	}
	return 0;
}

/* EX_IDENT / EX_PATH: bind to a column; names outside the schema go
 * through $meta when the schema has a dynamic field. */
static int resolve(struct checker *c, struct ex_node *n)
{
	enum dann_field_type t;
	int col;

	if (!lookup(c, n->s, &t)) {
		struct ex_node *key, **keys;
		if (!strcmp(n->s, EXPR_META))
			return dann_fail(DANN_EINVAL, "filter: column %u: this collection has no dynamic field ($meta)",
					 n->pos + 1);
		if (!c->s->dynamic_field || !strcmp(n->s, c->s->vector_field))
			return dann_fail(DANN_EINVAL, "filter: column %u: unknown field '%s'%s", n->pos + 1,
					 n->s, !strcmp(n->s, c->s->vector_field) ? " (the vector field cannot be filtered)" : "");
		/* name[...] → $meta["name"][...] */
		if (!(key = ex_node_new(&c->e->arena, EX_STR, n->pos)) ||
		    !(keys = ex_alloc(&c->e->arena, sizeof *keys * (n->nkids + 1))))
			return dann_fail(DANN_ENOMEM, "filter: no memory");
		key->s = n->s;
		key->slen = n->slen;
		keys[0] = key;
		if (n->nkids)
			memcpy(keys + 1, n->kids, sizeof *keys * n->nkids);
		n->kids = keys;
		n->nkids++;
		n->s = (char *)EXPR_META;
		n->slen = strlen(EXPR_META);
		t = DANN_FIELD_JSON;
	}
	if (n->nkids && t != DANN_FIELD_JSON)
		return dann_fail(DANN_EINVAL, "filter: column %u: field '%s' is %s, not JSON: it has no keys",
				 n->pos + 1, n->s, ftype_name(t));
	if ((col = add_col(c, n->s, t)) < 0)
		return col;
	n->col = col;
	n->i = t; /* the field's type, for messages */
	n->kind = n->nkids ? EX_PATH : EX_FIELD;
	n->type = n->nkids ? TY_DYN : type_of_field(t);
	return 0;
}

/* A field a node is about, for messages: itself or its first operand's. */
static const struct ex_node *field_in(const struct ex_node *n)
{
	if (n->kind == EX_FIELD || n->kind == EX_PATH)
		return n;
	for (uint32_t i = 0; i < n->nkids; i++) {
		const struct ex_node *f = field_in(n->kids[i]);
		if (f)
			return f;
	}
	return NULL;
}

static int type_error(const struct ex_node *at, const struct ex_node *culprit, const char *what)
{
	const struct ex_node *f = field_in(culprit);
	if (f && f->kind == EX_FIELD)
		return dann_fail(DANN_EINVAL, "filter: column %u: field '%s' is %s%s: %s", at->pos + 1,
				 f->s, ftype_name((enum dann_field_type)f->i),
				 f->type == TY_JSON ? " (compare a path such as field[\"key\"])" : "", what);
	if (f)
		return dann_fail(DANN_EINVAL, "filter: column %u: JSON path on '%s': %s", at->pos + 1,
				 f->s, what);
	return dann_fail(DANN_EINVAL, "filter: column %u: %s", at->pos + 1, what);
}

static bool numeric(enum ex_type t)
{
	return t == TY_INT || t == TY_FLOAT;
}

static bool predicate(enum ex_type t)
{
	return t == TY_BOOL || t == TY_DYN;
}

/* Can a value of type a be compared (op) with one of type b? */
static bool comparable(enum ex_type a, enum ex_type b, int op)
{
	if (a == TY_LIST || b == TY_LIST) /* a JSON array against a list literal */
		return (a == TY_DYN || b == TY_DYN) && (op == OP_EQ || op == OP_NE);
	if (a == TY_JSON || b == TY_JSON)
		return false;
	if (a == TY_DYN || b == TY_DYN)
		return true;
	if (numeric(a) && numeric(b))
		return true;
	if (a == TY_STR && b == TY_STR)
		return true;
	return a == TY_BOOL && b == TY_BOOL && (op == OP_EQ || op == OP_NE);
}

static int check(struct checker *c, struct ex_node *n);

static int check_kids(struct checker *c, struct ex_node *n)
{
	int rc;
	for (uint32_t i = 0; i < n->nkids; i++)
		if ((rc = check(c, n->kids[i])) < 0)
			return rc;
	return 0;
}

static int check_cmp(struct ex_node *n)
{
	struct ex_node *l = n->kids[0], *r = n->kids[1];
	char what[160];

	if (comparable(l->type, r->type, n->op)) {
		n->type = TY_BOOL;
		return 0;
	}
	if (l->type == TY_BOOL && r->type == TY_BOOL)
		return type_error(n, n, "bools compare only with == and !=");
	if (l->type == TY_LIST || r->type == TY_LIST)
		return type_error(n, n, "a list can only follow 'in' or 'not in'");
	snprintf(what, sizeof what, "cannot be compared with %s",
		 type_name(field_in(l) ? r->type : l->type));
	return type_error(n, field_in(l) ? l : r, what);
}

static int check_in(struct ex_node *n)
{
	struct ex_node *l = n->kids[0], *list = n->kids[1];

	if (l->type == TY_JSON || l->type == TY_LIST)
		return type_error(n, l, "'in' needs a scalar on its left");
	for (uint32_t i = 0; i < list->nkids; i++) {
		struct ex_node *it = list->kids[i];
		char what[160];
		if (it->type == TY_LIST)
			return type_error(it, l, "'in' lists hold scalars, not lists");
		if (!comparable(l->type, it->type, OP_EQ)) {
			snprintf(what, sizeof what, "the list holds %s (element %u)", type_name(it->type), i + 1);
			return type_error(it, l, what);
		}
	}
	n->type = TY_BOOL;
	return 0;
}

static int check_call(struct ex_node *n)
{
	struct ex_node *a = n->kids[0], *v = n->kids[1];

	if (a->kind != EX_PATH && !(a->kind == EX_FIELD && a->type == TY_JSON))
		return type_error(a, a, "json_contains/array_contains need a JSON field or path first");
	if (v->kind != EX_INT && v->kind != EX_FLOAT && v->kind != EX_STR && v->kind != EX_BOOL &&
	    v->kind != EX_LIST)
		return type_error(v, v, "the second argument must be a literal");
	if (n->op != FN_CONTAINS && v->kind != EX_LIST)
		return type_error(v, v, "json_contains_all/any take a list as second argument");
	n->type = TY_BOOL;
	return 0;
}

static int check(struct checker *c, struct ex_node *n)
{
	int rc;

	switch (n->kind) {
	case EX_INT: n->type = TY_INT; return 0;
	case EX_FLOAT: n->type = TY_FLOAT; return 0;
	case EX_STR: n->type = TY_STR; return 0;
	case EX_BOOL: n->type = TY_BOOL; return 0;
	case EX_LIST:
		n->type = TY_LIST;
		return check_kids(c, n);
	case EX_IDENT:
	case EX_PATH:
		return resolve(c, n);
	case EX_FIELD:
		return 0;
	default:
		break;
	}
	if ((rc = check_kids(c, n)) < 0)
		return rc;
	switch (n->kind) {
	case EX_NEG:
	case EX_ARITH:
		for (uint32_t i = 0; i < n->nkids; i++) {
			enum ex_type t = n->kids[i]->type;
			if (!numeric(t) && t != TY_DYN)
				return type_error(n->kids[i], n->kids[i], "arithmetic needs numbers");
		}
		n->type = TY_INT;
		for (uint32_t i = 0; i < n->nkids; i++)
			if (n->kids[i]->type == TY_FLOAT && n->type != TY_DYN)
				n->type = TY_FLOAT;
			else if (n->kids[i]->type == TY_DYN)
				n->type = TY_DYN;
		return 0;
	case EX_CMP:
		return check_cmp(n);
	case EX_IN:
		return check_in(n);
	case EX_LIKE:
		if (n->kids[0]->type != TY_STR && n->kids[0]->type != TY_DYN)
			return type_error(n, n->kids[0], "'like' needs a varchar field or a JSON path");
		n->type = TY_BOOL;
		return 0;
	case EX_ISNULL:
		if (n->kids[0]->kind != EX_FIELD && n->kids[0]->kind != EX_PATH)
			return type_error(n, n->kids[0], "'is null' needs a field or a JSON path on its left");
		n->type = TY_BOOL;
		return 0;
	case EX_AND:
	case EX_OR:
	case EX_NOT:
		for (uint32_t i = 0; i < n->nkids; i++)
			if (!predicate(n->kids[i]->type))
				return type_error(n->kids[i], n->kids[i],
						  n->kind == EX_NOT ? "'not' needs a condition"
								    : "'and'/'or' join conditions, not values");
		n->type = TY_BOOL;
		return 0;
	case EX_CALL:
		return check_call(n);
	default:
		return dann_fail(DANN_EINVAL, "filter: column %u: unexpected node", n->pos + 1);
	}
}

int ex_check(struct expr *e, const struct dann_schema *s)
{
	struct checker c = { .e = e, .s = s };
	int rc;

	if ((rc = check(&c, e->root)) < 0)
		return rc;
	if (!predicate(e->root->type))
		return type_error(e->root, e->root, "the filter must be a condition (true or false per row)");
	return 0;
}
