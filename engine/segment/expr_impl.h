/*
 * expr_impl.h — what the expression module's files share: tokens (lexer →
 * parser), the syntax tree (parser → checker → evaluator), the arena the
 * tree lives in, and row values with the comparison every path uses (the
 * row scan and the scalar indexes must agree to the bit, so both call
 * ex_val_cmp).
 */
#ifndef DANN_EXPR_IMPL_H
#define DANN_EXPR_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr.h"

/* CRoaring 0.2 crashes on roaring_bitmap_free(NULL). */
static inline void ex_bm_free(roaring_bitmap_t *b)
{
	if (b)
		roaring_bitmap_free(b);
}

/* ---- arena: every node and string of one expression ---------------------- */

struct ex_chunk;
struct ex_arena {
	struct ex_chunk *head;
};
void *ex_alloc(struct ex_arena *a, size_t bytes);
void ex_arena_free(struct ex_arena *a);

/* ---- tokens --------------------------------------------------------------- */

enum ex_tok {
	TK_EOF, TK_INT, TK_FLOAT, TK_STR, TK_IDENT,
	TK_LP, TK_RP, TK_LB, TK_RB, TK_COMMA,
	TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PCT,
	TK_LT, TK_LE, TK_GT, TK_GE, TK_EQ, TK_NE,
	TK_NOT, TK_AND, TK_OR, TK_IN, TK_LIKE, TK_IS, TK_NULL, TK_TRUE, TK_FALSE,
};

struct ex_token {
	enum ex_tok t;
	uint32_t pos, len;   /* byte offset and length in the text */
	int64_t i;           /* TK_INT */
	double f;            /* TK_FLOAT */
	char *s;             /* TK_STR (decoded), TK_IDENT: arena copy, NUL-terminated */
	size_t slen;
};

struct ex_lexer {
	const char *text;
	uint32_t len, at;
	struct ex_arena *arena;
};

/* Next token; DANN_EINVAL with a positioned message for a bad character,
 * an unterminated string, a bad escape or a number out of range. */
int ex_lex_next(struct ex_lexer *lx, struct ex_token *tk);
/* How a token kind is named in messages ("')'", "a string"). */
const char *ex_tok_name(enum ex_tok t);

/* ---- the tree ------------------------------------------------------------- */

enum ex_kind {
	EX_INT, EX_FLOAT, EX_STR, EX_BOOL, EX_LIST,
	EX_IDENT,   /* a name before checking */
	EX_FIELD,   /* a column of the schema */
	EX_PATH,    /* a JSON column (or $meta) with keys */
	EX_NEG, EX_ARITH, EX_CMP, EX_IN, EX_LIKE, EX_ISNULL,
	EX_AND, EX_OR, EX_NOT, EX_CALL,
};

enum ex_op { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

enum ex_fn { FN_CONTAINS, FN_CONTAINS_ALL, FN_CONTAINS_ANY };

/* Static types, set by the checker. TY_DYN: a JSON value of any kind. */
enum ex_type { TY_NONE, TY_BOOL, TY_INT, TY_FLOAT, TY_STR, TY_JSON, TY_DYN, TY_LIST };

struct ex_node {
	enum ex_kind kind;
	enum ex_type type;
	uint32_t pos;                /* where it starts in the text */
	int op;                      /* enum ex_op / ex_fn */
	int neg;                     /* EX_IN: not in; EX_LIKE: not like; EX_ISNULL: is not null */
	int64_t i;                   /* EX_INT, EX_BOOL */
	double f;                    /* EX_FLOAT */
	char *s;                     /* EX_STR bytes; EX_IDENT/FIELD/PATH: the name */
	size_t slen;
	struct ex_node **kids;       /* operands, list elements, path keys */
	uint32_t nkids;
	int col;                     /* EX_FIELD / EX_PATH: column slot */
};

/* Parses text into a tree in arena a (names unresolved: EX_IDENT). */
int ex_parse(const char *text, struct ex_arena *a, struct ex_node **out);
struct ex_node *ex_node_new(struct ex_arena *a, enum ex_kind k, uint32_t pos);

struct expr {
	struct ex_arena arena;
	struct ex_node *root;
	uint32_t ncols;
	char *col_name[DANN_MAX_FIELDS + 2];
	enum dann_field_type col_type[DANN_MAX_FIELDS + 2];
};

/* Resolves names against s and types every node; fills e->col_*. */
int ex_check(struct expr *e, const struct dann_schema *s);

/* ---- row values ------------------------------------------------------------- */

enum ex_vk { VK_NULL, VK_BOOL, VK_INT, VK_FLOAT, VK_STR, VK_JSON, VK_LIST };

struct cJSON;
struct ex_val {
	enum ex_vk k;
	int64_t i;                   /* VK_BOOL, VK_INT */
	double f;                    /* VK_FLOAT */
	const char *s;               /* VK_STR */
	size_t n;
	const struct cJSON *j;       /* VK_JSON: an array or object */
	const struct ex_node *list;  /* VK_LIST */
};

enum ex_tri { TRI_F = 0, TRI_T = 1, TRI_U = 2 };

/* a op b for a comparison op: TRI_U if either is null; TRI_F for kinds
 * that do not compare (string with number, ordering of bools). */
enum ex_tri ex_val_cmp(const struct ex_val *a, const struct ex_val *b, enum ex_op op);
/* Equality as `in` and json_contains use it (deep for lists and arrays). */
bool ex_val_eq(const struct ex_val *a, const struct ex_val *b);
/* A literal node (EX_INT/FLOAT/STR/BOOL/LIST) as a value. */
struct ex_val ex_lit_val(const struct ex_node *n);
/* A cJSON item as a value (arrays and objects stay VK_JSON). */
struct ex_val ex_json_val(const struct cJSON *j);
/* SQL LIKE on UTF-8: % any run, _ one code point, \ escapes the next byte. */
bool ex_like(const char *s, size_t n, const char *pat, size_t pn);

/* ---- indexes ---------------------------------------------------------------- */

/* Rows of ix for which (row value) op v is true, added to *t; rows for which
 * it is false (non-null rows otherwise) added to *f. v is a non-null
 * literal value; returns false if the index cannot answer (kinds). */
bool ex_index_cmp(const struct expr_index *ix, enum ex_op op, const struct ex_val *v,
		  roaring_bitmap_t *t, roaring_bitmap_t *f);
/* Rows equal to any of the list's elements into t, other non-null rows into f. */
bool ex_index_in(const struct expr_index *ix, const struct ex_node *list, roaring_bitmap_t *t,
		 roaring_bitmap_t *f);
/* Null rows into t, the others into f. */
void ex_index_isnull(const struct expr_index *ix, roaring_bitmap_t *t, roaring_bitmap_t *f);
/* Counts for the estimate: rows where op v holds / null rows / all rows. */
bool ex_index_count_cmp(const struct expr_index *ix, enum ex_op op, const struct ex_val *v,
			uint64_t *count);
uint64_t ex_index_nulls(const struct expr_index *ix);
enum dann_field_type ex_index_type(const struct expr_index *ix);

#endif
