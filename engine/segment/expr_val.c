/*
 * expr_val.c — row values of the filter evaluator: comparison, equality,
 * literals and JSON items as values, and LIKE matching.
 *
 * ex_val_cmp is the one definition of "a op b": the row scan and the
 * scalar indexes both call it, so an index can never disagree with a scan.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "expr_impl.h"

struct ex_val ex_lit_val(const struct ex_node *n)
{
	struct ex_val v = { .k = VK_NULL };

	switch (n->kind) {
	case EX_INT: v.k = VK_INT; v.i = n->i; break;
	case EX_FLOAT: v.k = VK_FLOAT; v.f = n->f; break;
	case EX_BOOL: v.k = VK_BOOL; v.i = n->i; break;
	case EX_STR: v.k = VK_STR; v.s = n->s; v.n = n->slen; break;
	case EX_LIST: v.k = VK_LIST; v.list = n; break;
	default: break;
	}
	return v;
}

struct ex_val ex_json_val(const cJSON *j)
{
	struct ex_val v = { .k = VK_NULL };

	if (!j || cJSON_IsNull(j))
		return v;
	if (cJSON_IsBool(j)) {
		v.k = VK_BOOL;
		v.i = cJSON_IsTrue(j);
	} else if (cJSON_IsNumber(j)) {
		double d = j->valuedouble;
		/* Integral numbers within int64 are integers, as the user wrote them. */
		if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
			v.k = VK_INT;
			v.i = (int64_t)d;
		} else {
			v.k = VK_FLOAT;
			v.f = d;
		}
	} else if (cJSON_IsString(j)) {
		v.k = VK_STR;
		v.s = j->valuestring;
		v.n = strlen(j->valuestring);
	} else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
		v.k = VK_JSON;
		v.j = j;
	}
	return v;
}

static bool is_num(const struct ex_val *v)
{
	return v->k == VK_INT || v->k == VK_FLOAT;
}

static double as_double(const struct ex_val *v)
{
	return v->k == VK_INT ? (double)v->i : v->f;
}

static enum ex_tri from_order(int c, enum ex_op op)
{
	switch (op) {
	case OP_EQ: return c == 0 ? TRI_T : TRI_F;
	case OP_NE: return c != 0 ? TRI_T : TRI_F;
	case OP_LT: return c < 0 ? TRI_T : TRI_F;
	case OP_LE: return c <= 0 ? TRI_T : TRI_F;
	case OP_GT: return c > 0 ? TRI_T : TRI_F;
	case OP_GE: return c >= 0 ? TRI_T : TRI_F;
	default: return TRI_F;
	}
}

static int str_order(const struct ex_val *a, const struct ex_val *b)
{
	size_t m = a->n < b->n ? a->n : b->n;
	int c = m ? memcmp(a->s, b->s, m) : 0;
	if (c)
		return c < 0 ? -1 : 1;
	return a->n < b->n ? -1 : a->n > b->n;
}

/* A JSON array or object against a list literal or another JSON value:
 * deep equality (arrays element by element; objects only equal to
 * themselves by identity, as Milvus compares them no further). */
static bool json_eq(const struct ex_val *a, const struct ex_val *b)
{
	const struct ex_val *arr = a->k == VK_JSON ? a : b, *other = arr == a ? b : a;
	const cJSON *it;
	uint32_t i = 0;

	if (!cJSON_IsArray(arr->j))
		return other->k == VK_JSON && other->j == arr->j;
	if (other->k == VK_LIST) {
		if ((uint32_t)cJSON_GetArraySize(arr->j) != other->list->nkids)
			return false;
		cJSON_ArrayForEach(it, arr->j) {
			struct ex_val x = ex_json_val(it), y = ex_lit_val(other->list->kids[i++]);
			if (!ex_val_eq(&x, &y))
				return false;
		}
		return true;
	}
	if (other->k == VK_JSON && cJSON_IsArray(other->j)) {
		const cJSON *jt = other->j->child;
		if (cJSON_GetArraySize(arr->j) != cJSON_GetArraySize(other->j))
			return false;
		cJSON_ArrayForEach(it, arr->j) {
			struct ex_val x = ex_json_val(it), y = ex_json_val(jt);
			if (!ex_val_eq(&x, &y))
				return false;
			jt = jt->next;
		}
		return true;
	}
	return false;
}

bool ex_val_eq(const struct ex_val *a, const struct ex_val *b)
{
	if (a->k == VK_NULL || b->k == VK_NULL)
		return false;
	if (a->k == VK_JSON || b->k == VK_JSON)
		return json_eq(a, b);
	if (a->k == VK_LIST && b->k == VK_LIST) {
		if (a->list->nkids != b->list->nkids)
			return false;
		for (uint32_t i = 0; i < a->list->nkids; i++) {
			struct ex_val x = ex_lit_val(a->list->kids[i]), y = ex_lit_val(b->list->kids[i]);
			if (!ex_val_eq(&x, &y))
				return false;
		}
		return true;
	}
	return ex_val_cmp(a, b, OP_EQ) == TRI_T;
}

enum ex_tri ex_val_cmp(const struct ex_val *a, const struct ex_val *b, enum ex_op op)
{
	if (a->k == VK_NULL || b->k == VK_NULL)
		return TRI_U;
	if (a->k == VK_INT && b->k == VK_INT)
		return from_order(a->i < b->i ? -1 : a->i > b->i, op);
	if (is_num(a) && is_num(b)) {
		double x = as_double(a), y = as_double(b);
		if (isnan(x) || isnan(y))
			return op == OP_NE ? TRI_T : TRI_F;
		return from_order(x < y ? -1 : x > y, op);
	}
	if (a->k == VK_STR && b->k == VK_STR)
		return from_order(str_order(a, b), op);
	if (a->k == VK_BOOL && b->k == VK_BOOL)
		return op == OP_EQ ? (a->i == b->i ? TRI_T : TRI_F)
		       : op == OP_NE ? (a->i != b->i ? TRI_T : TRI_F) : TRI_F;
	if ((a->k == VK_JSON || b->k == VK_JSON) && (op == OP_EQ || op == OP_NE)) {
		bool eq = json_eq(a, b);
		return (op == OP_EQ) == eq ? TRI_T : TRI_F;
	}
	return TRI_F;
}

/* Length of the UTF-8 sequence starting with byte c (1 for stray bytes). */
static size_t u8len(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return 4;
	if (c >= 0xe0)
		return c < 0xf0 ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

bool ex_like(const char *s, size_t n, const char *pat, size_t pn)
{
	size_t si = 0, pi = 0, star_p = SIZE_MAX, star_s = 0;

	/* Greedy matching with backtracking to the last '%': linear in practice,
	 * O(n * m) at worst, never exponential. */
	while (si < n) {
		if (pi < pn && pat[pi] == '%') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < pn && pat[pi] == '_') {
			size_t w = u8len((unsigned char)s[si]);
			si += w > n - si ? n - si : w;
			pi++;
			continue;
		}
		if (pi < pn) {
			size_t pw = pat[pi] == '\\' && pi + 1 < pn ? 1 : 0;
			if (s[si] == pat[pi + pw]) {
				si++;
				pi += pw + 1;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		/* Let the last % take one more character (a whole code point). */
		{
			size_t w = u8len((unsigned char)s[star_s]);
			star_s += w > n - star_s ? n - star_s : w;
		}
		si = star_s;
		pi = star_p;
	}
	while (pi < pn && pat[pi] == '%')
		pi++;
	return pi == pn;
}
