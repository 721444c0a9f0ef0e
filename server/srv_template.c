/*
 * srv_template.c — expression templates (see srv_template.h).
 *
 * Values become literals of the filter language (engine/segment/expr.h):
 * true/false, decimal integers, doubles with 17 significant digits (an
 * integral double keeps a ".0" so it stays a float), strings in double
 * quotes with C escapes, lists in brackets (nested lists too), JSON
 * values as their text.
 */
#include "srv_template.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dann.h"
#include "srv_status.h"

#define TEMPLATE_MAX_DEPTH 16

struct sbuf {
	struct srv_req *rq;
	char *p;
	size_t len, cap;
};

static int put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(np = srv_arena_alloc(b->rq->arena, cap)))
			return DANN_ENOMEM;
		if (b->len)
			memcpy(np, b->p, b->len);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

static int putf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	return put(b, tmp, (size_t)n);
}

static int put_double(struct sbuf *b, double x)
{
	char tmp[64];

	if (!isfinite(x))
		return srv_fail(b->rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "expression template: value %g is not finite", x);
	snprintf(tmp, sizeof tmp, "%.17g", x);
	if (!strpbrk(tmp, ".eE"))
		strcat(tmp, ".0");
	return put(b, tmp, strlen(tmp));
}

static int put_string(struct sbuf *b, const char *s)
{
	int rc = put(b, "\"", 1);

	for (; rc == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			rc = putf(b, "\\%c", c);
		else if (c == '\n')
			rc = put(b, "\\n", 2);
		else if (c == '\t')
			rc = put(b, "\\t", 2);
		else if (c == '\r')
			rc = put(b, "\\r", 2);
		else if (c < 0x20)
			rc = putf(b, "\\u%04x", c);
		else
			rc = put(b, (const char *)&c, 1);
	}
	return rc ? rc : put(b, "\"", 1);
}

static int put_array(struct sbuf *b, const Milvus__Proto__Schema__TemplateArrayValue *a, int depth)
{
	size_t n = 0;
	int rc;

	if (depth > TEMPLATE_MAX_DEPTH)
		return srv_fail(b->rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"expression template: lists nested deeper than %d", TEMPLATE_MAX_DEPTH);
	if ((rc = put(b, "[", 1)) < 0)
		return rc;
	switch (a->data_case) {
	case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_BOOL_DATA: n = a->bool_data->n_data; break;
	case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_LONG_DATA: n = a->long_data->n_data; break;
	case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_DOUBLE_DATA: n = a->double_data->n_data; break;
	case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_STRING_DATA: n = a->string_data->n_data; break;
	case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_ARRAY_DATA: n = a->array_data->n_data; break;
	case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_JSON_DATA: n = a->json_data->n_data; break;
	default: break;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (i && (rc = put(b, ", ", 2)) < 0)
			break;
		switch (a->data_case) {
		case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_BOOL_DATA:
			rc = putf(b, "%s", a->bool_data->data[i] ? "true" : "false");
			break;
		case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_LONG_DATA:
			rc = putf(b, "%lld", (long long)a->long_data->data[i]);
			break;
		case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_DOUBLE_DATA:
			rc = put_double(b, a->double_data->data[i]);
			break;
		case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_STRING_DATA:
			rc = put_string(b, a->string_data->data[i]);
			break;
		case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_ARRAY_DATA:
			rc = put_array(b, a->array_data->data[i], depth + 1);
			break;
		default:
			rc = put(b, (const char *)a->json_data->data[i].data, a->json_data->data[i].len);
			break;
		}
	}
	return rc < 0 ? rc : put(b, "]", 1);
}

static int put_value(struct sbuf *b, const char *name, const Milvus__Proto__Schema__TemplateValue *v)
{
	switch (v ? v->val_case : 0) {
	case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_BOOL_VAL: return putf(b, "%s", v->bool_val ? "true" : "false");
	case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_INT64_VAL: return putf(b, "%lld", (long long)v->int64_val);
	case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_FLOAT_VAL: return put_double(b, v->float_val);
	case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_STRING_VAL: return put_string(b, v->string_val);
	case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_ARRAY_VAL: return put_array(b, v->array_val, 0);
	default:
		return srv_fail(b->rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"expression template: value of {%s} has no kind (bool, int, float, string or list)",
				name);
	}
}

int srv_template_render(struct srv_req *rq, const char *expr, size_t n, char *const *keys,
			Milvus__Proto__Schema__TemplateValue *const *vals, const char **out)
{
	struct sbuf b = { .rq = rq };
	char quote = 0;
	int rc = 0;

	*out = expr;
	if (!n || !expr)
		return 0;
	for (const char *p = expr; *p && rc == 0; p++) {
		if (quote) {
			if (*p == '\\' && p[1])
				rc = put(&b, p++, 2);
			else {
				quote = *p == quote ? 0 : quote;
				rc = put(&b, p, 1);
			}
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
			rc = put(&b, p, 1);
		} else if (*p == '{') {
			const char *end = strchr(p, '}');
			size_t len, i;
			if (!end)
				return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
						"expression '%s': column %d: '{' without '}'", expr, (int)(p - expr) + 1);
			len = (size_t)(end - p - 1);
			for (i = 0; i < n; i++)
				if (keys[i] && strlen(keys[i]) == len && !memcmp(keys[i], p + 1, len))
					break;
			if (i == n)
				return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
						"expression '%s': column %d: no template value for {%.*s}", expr,
						(int)(p - expr) + 1, (int)len, p + 1);
			rc = put_value(&b, keys[i], vals[i]);
			p = end;
		} else {
			rc = put(&b, p, 1);
		}
	}
	if (rc < 0)
		return rc;
	*out = b.p ? b.p : "";
	return 0;
}
