/*
 * expr.h — scalar filter expressions (Milvus's syntax) compiled against a
 * collection's schema and evaluated into a CRoaring bitmap of a segment's
 * rows.
 *
 * What users type (Milvus's boolean expression language):
 *   comparisons     age >= 18, name != "bob", 10 < x <= 20 (range chains)
 *   membership      color in ["red", "blue"], id not in [1, 2, 3]
 *   logic           a and b, a or b, not a (also &&, ||, !), parentheses
 *   arithmetic      price * qty > 100, x % 2 == 0 (+ - * / % and unary -)
 *   strings         name like "pre%" (% any run, _ one character, \% \_)
 *   nulls           note is null, note is not null
 *   JSON            meta["a"]["b"] > 3, meta["tags"][0] == "x"
 *   dynamic field   $meta["text"] == "a", or bare text == "a" when "text"
 *                   is not a field of the schema and the schema has one
 *   functions       json_contains(meta["tags"], "x"), json_contains_all /
 *                   json_contains_any (a list), array_contains* (aliases)
 * Keywords are case-insensitive (AND, and, And).
 *
 * Truth: SQL's three values. A comparison with a null (a null row, a JSON
 * key that is missing or JSON null) is unknown; `not` of unknown is
 * unknown; a row passes when the whole expression is true. A JSON value of
 * the wrong kind (a string compared with a number) makes the comparison
 * false, not unknown. `is null` / `is not null` are never unknown. Integer
 * arithmetic is int64 (division truncates); overflow and division by zero
 * give null. Numbers of mixed kinds compare as doubles; NaN compares false
 * except with != (true). Strings compare bytewise.
 *
 * Errors (DANN_EINVAL, message via dann_errmsg): a parse error says the
 * column (1-based byte position) and what was expected and found; a type
 * error names the field.
 */
#ifndef DANN_EXPR_H
#define DANN_EXPR_H

#include <stdint.h>

#include <roaring/roaring.h>

#include "../dann.h"

#define EXPR_MAX_TEXT 65536u   /* bytes of an expression */
#define EXPR_MAX_DEPTH 128u    /* nesting of parentheses and operators */
#define EXPR_META "$meta"      /* the dynamic field's column */

struct expr;
struct expr_index;

/* Parses and type-checks text against schema s: fields, the primary key
 * (an INT64 column named s->pk_field) and, when s->dynamic_field, the JSON
 * column "$meta". On success *out owns everything it needs (the schema is
 * not kept). DANN_EINVAL with a positioned message on a bad expression,
 * DANN_ENOMEM. */
int expr_compile(const char *text, const struct dann_schema *s, struct expr **out);
void expr_free(struct expr *e);

/* The columns the expression reads (each once): names and types, valid
 * while e lives. */
uint32_t expr_ncolumns(const struct expr *e);
const char *expr_column_name(const struct expr *e, uint32_t i);
enum dann_field_type expr_column_type(const struct expr *e, uint32_t i);

/* Where evaluation gets a segment's data: n rows; column() fills *out for
 * a column name in struct dann_column's format (n rows; values stay valid
 * for the evaluation) or returns DANN_ENOTFOUND if the segment has no such
 * column (every row is then null); any other negative code stops the
 * evaluation. index() (optional) returns a scalar index built over that
 * column of the same n rows, or NULL. */
struct expr_source {
	uint64_t n;
	int (*column)(void *ctx, const char *name, struct dann_column *out);
	const struct expr_index *(*index)(void *ctx, const char *name);
	void *ctx;
};

/* Evaluates e over src's rows into *out (a new bitmap of the rows for which
 * e is true; the caller frees it with roaring_bitmap_free). n must be below
 * 2^32. A column whose type is not the schema's is DANN_EINVAL naming it. */
int expr_eval(const struct expr *e, const struct expr_source *src, roaring_bitmap_t **out);

/* The bitmap as (n + 63) / 64 words, bit i of word i / 64 set for row i
 * (the allowed/deleted mask of dann_search_params); rows >= n dropped.
 * *out is malloc'd. */
int expr_bitmap_words(const roaring_bitmap_t *bm, uint64_t n, uint64_t **out);

/* Fraction of src's rows expected to pass, in [0, 1], without reading the
 * columns: exact counts from the scalar indexes for predicates over an
 * indexed column and a literal; fixed guesses for the rest (equality 0.05,
 * a range 0.3, like 0.1, others 0.5), combined as if independent. */
double expr_estimate(const struct expr *e, const struct expr_source *src);

/* ---- Scalar indexes (expr_index.c) -------------------------------------
 *
 * Built once per sealed segment and column, read-only afterwards (any
 * number of evaluations may share one). Every index keeps the non-null
 * rows sorted by value (ranges, equality, in-lists by binary search); a
 * column with at most EXPR_DICT_MAX distinct values also keeps one bitmap
 * per value (equality without touching the rows). Bool, integer, float,
 * double and varchar columns; JSON columns are not indexed. */

#define EXPR_DICT_MAX 1024u

/* Builds an index over n rows (n < 2^32) of column c; c->name is copied.
 * DANN_EINVAL for a JSON column or n too large, DANN_ENOMEM. */
int expr_index_build(const struct dann_column *c, uint64_t n, struct expr_index **out);
void expr_index_free(struct expr_index *ix);

struct expr_index_info {
	uint64_t rows;      /* rows covered */
	uint64_t nulls;     /* null rows */
	uint64_t distinct;  /* distinct non-null values (NaN rows not counted) */
	int dict;           /* 1: per-value bitmaps are kept */
	uint64_t bytes;     /* memory held */
};
void expr_index_info(const struct expr_index *ix, struct expr_index_info *out);

#endif
