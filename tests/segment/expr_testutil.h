/*
 * expr_testutil.h — a segment's columns held in test memory, served to the
 * filter evaluator through struct expr_source, with optional scalar
 * indexes; and a helper that evaluates an expression both with and without
 * the indexes (they must agree) and prints the passing rows.
 */
#ifndef DANN_EXPR_TESTUTIL_H
#define DANN_EXPR_TESTUTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"
#include "segment/expr.h"

#define TT_MAX_COLS 16

struct tt_table {
	uint64_t n;
	uint32_t ncols;
	struct dann_column cols[TT_MAX_COLS];
	struct expr_index *idx[TT_MAX_COLS];
	int use_index;
};

static inline int tt_column(void *ctx, const char *name, struct dann_column *out)
{
	struct tt_table *t = ctx;
	for (uint32_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i].name, name)) {
			*out = t->cols[i];
			return 0;
		}
	return DANN_ENOTFOUND;
}

static inline const struct expr_index *tt_index(void *ctx, const char *name)
{
	struct tt_table *t = ctx;
	if (!t->use_index)
		return NULL;
	for (uint32_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i].name, name))
			return t->idx[i];
	return NULL;
}

static inline struct expr_source tt_source(struct tt_table *t)
{
	return (struct expr_source){ .n = t->n, .column = tt_column, .index = tt_index, .ctx = t };
}

/* Builds an index on every column that can have one. */
static inline void tt_build_indexes(struct tt_table *t)
{
	for (uint32_t i = 0; i < t->ncols; i++)
		if (t->cols[i].type != DANN_FIELD_JSON)
			cr_assert_eq(expr_index_build(&t->cols[i], t->n, &t->idx[i]), 0, "%s",
				     dann_errmsg());
}

static inline void tt_free_indexes(struct tt_table *t)
{
	for (uint32_t i = 0; i < t->ncols; i++) {
		expr_index_free(t->idx[i]);
		t->idx[i] = NULL;
	}
}

/* Varchar/JSON column from n C strings (NULL = null row). */
static inline void tt_strings(struct dann_column *c, const char *name, enum dann_field_type type,
			      const char *const *s, uint64_t n, char **bytes, uint64_t **offs,
			      uint8_t **valid)
{
	size_t total = 0;
	*offs = malloc(sizeof **offs * (n + 1));
	*valid = malloc(n ? n : 1);
	for (uint64_t i = 0; i < n; i++)
		total += s[i] ? strlen(s[i]) : 0;
	*bytes = malloc(total + 1);
	(*offs)[0] = 0;
	for (uint64_t i = 0; i < n; i++) {
		size_t l = s[i] ? strlen(s[i]) : 0;
		memcpy(*bytes + (*offs)[i], s[i] ? s[i] : "", l);
		(*offs)[i + 1] = (*offs)[i] + l;
		(*valid)[i] = s[i] != NULL;
	}
	*c = (struct dann_column){ .name = name, .type = type, .values = *bytes, .offsets = *offs,
				   .valid = *valid };
}

/* Rows passing text as "0,2,5" ("" for none), evaluated with and without
 * the table's indexes (asserted equal). Returns a static buffer. A compile
 * error fails the test. */
static inline const char *tt_rows(struct tt_table *t, const struct dann_schema *s, const char *text)
{
	static char out[4096];
	struct expr *e;
	roaring_bitmap_t *a, *b;
	struct expr_source src = tt_source(t);
	size_t at = 0;

	cr_assert_eq(expr_compile(text, s, &e), 0, "compile %s: %s", text, dann_errmsg());
	t->use_index = 0;
	cr_assert_eq(expr_eval(e, &src, &a), 0, "eval %s: %s", text, dann_errmsg());
	t->use_index = 1;
	cr_assert_eq(expr_eval(e, &src, &b), 0, "eval %s: %s", text, dann_errmsg());
	cr_assert(roaring_bitmap_equals(a, b), "index and scan disagree on %s", text);
	out[0] = '\0';
	for (uint32_t r = 0; r < t->n; r++)
		if (roaring_bitmap_contains(a, r))
			at += (size_t)snprintf(out + at, sizeof out - at, "%s%u", at ? "," : "", r);
	roaring_bitmap_free(a);
	roaring_bitmap_free(b);
	expr_free(e);
	return out;
}

/* The message of a failing compile (asserted to fail with DANN_EINVAL). */
static inline const char *tt_error(const struct dann_schema *s, const char *text)
{
	static char msg[1024];
	struct expr *e = NULL;
	int rc = expr_compile(text, s, &e);
	cr_assert_eq(rc, DANN_EINVAL, "'%s' compiled (rc %d)", text, rc);
	cr_assert_null(e);
	snprintf(msg, sizeof msg, "%s", dann_errmsg());
	return msg;
}

#endif
