/*
 * expr_lex.c — the filter expression tokenizer, and the arena the parsed
 * tree lives in.
 *
 * Modelled on SQLite's tokenize.c: one pass, one token at a time, each token
 * carrying its byte offset so every later error can point at the column it
 * is about. Strings take "double" or 'single' quotes with C escapes (\n \t
 * \r \\ \" \' \0 \uXXXX) and keep their bytes (UTF-8) as they are; LIKE
 * escapes (\% and \_) pass through to the pattern. Numbers are decimal
 * integers, 0x hex integers, and decimals/exponents (1.5, .5, 1e3).
 * Keywords are recognised case-insensitively: and or not in like is null
 * true false; && || ! are the symbolic forms.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../error.h"
#include "expr_impl.h"

#define CHUNK_BYTES 4096u

struct ex_chunk {
	struct ex_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void *ex_alloc(struct ex_arena *a, size_t bytes)
{
	struct ex_chunk *c = a->head;
	size_t need = (bytes + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	void *p;

	if (!c || c->cap - c->used < need) {
		size_t cap = need > CHUNK_BYTES ? need : CHUNK_BYTES;
		if (!(c = malloc(sizeof *c + cap)))
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += need;
	memset(p, 0, need);
	return p;
}

void ex_arena_free(struct ex_arena *a)
{
	while (a->head) {
		struct ex_chunk *n = a->head->next;
		free(a->head);
		a->head = n;
	}
}

const char *ex_tok_name(enum ex_tok t)
{
	static const char *const names[] = {
		[TK_EOF] = "the end", [TK_INT] = "an integer", [TK_FLOAT] = "a number",
		[TK_STR] = "a string", [TK_IDENT] = "a name", [TK_LP] = "'('", [TK_RP] = "')'",
		[TK_LB] = "'['", [TK_RB] = "']'", [TK_COMMA] = "','", [TK_PLUS] = "'+'",
		[TK_MINUS] = "'-'", [TK_STAR] = "'*'", [TK_SLASH] = "'/'", [TK_PCT] = "'%'",
		[TK_LT] = "'<'", [TK_LE] = "'<='", [TK_GT] = "'>'", [TK_GE] = "'>='",
		[TK_EQ] = "'=='", [TK_NE] = "'!='", [TK_NOT] = "'not'", [TK_AND] = "'and'",
		[TK_OR] = "'or'", [TK_IN] = "'in'", [TK_LIKE] = "'like'", [TK_IS] = "'is'",
		[TK_NULL] = "'null'", [TK_TRUE] = "'true'", [TK_FALSE] = "'false'",
	};
	return names[t];
}

static int lex_fail(const struct ex_lexer *lx, uint32_t at, const char *what)
{
	(void)lx;
	return dann_fail(DANN_EINVAL, "filter: column %u: %s", at + 1, what);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Appends code point cp as UTF-8. */
static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	o[0] = (char)(0xe0 | cp >> 12);
	o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

static int lex_string(struct ex_lexer *lx, struct ex_token *tk)
{
	char quote = lx->text[lx->at], *o;
	uint32_t start = lx->at, at = lx->at + 1;
	size_t n = 0;

	/* Decoded text is never longer than the source. */
	if (!(o = ex_alloc(lx->arena, lx->len - start + 1)))
		return dann_fail(DANN_ENOMEM, "filter: no memory");
	for (;;) {
		char c;
		if (at >= lx->len)
			return lex_fail(lx, start, "string is not terminated (missing closing quote)");
		c = lx->text[at];
		if (c == quote) {
			at++;
			break;
		}
		if (c != '\\') {
			o[n++] = c;
			at++;
			continue;
		}
		if (at + 1 >= lx->len)
			return lex_fail(lx, start, "string is not terminated (missing closing quote)");
		c = lx->text[at + 1];
		at += 2;
		switch (c) {
		case 'n': o[n++] = '\n'; break;
		case 't': o[n++] = '\t'; break;
		case 'r': o[n++] = '\r'; break;
		case '0': o[n++] = '\0'; break;
		case '\\': case '"': case '\'': case '/': o[n++] = c; break;
		/* LIKE's own escapes: kept for the pattern matcher. */
		case '%': case '_': o[n++] = '\\'; o[n++] = c; break;
		case 'u': {
			uint32_t cp = 0;
			for (int k = 0; k < 4; k++) {
				int h = at < lx->len ? hexval((unsigned char)lx->text[at]) : -1;
				if (h < 0)
					return lex_fail(lx, at, "\\u needs four hex digits");
				cp = cp << 4 | (uint32_t)h;
				at++;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				return lex_fail(lx, at - 6, "\\u escape is a lone surrogate");
			n += put_utf8(o + n, cp);
			break;
		}
		default:
			return lex_fail(lx, at - 2, "unknown escape in string (expected \\n \\t \\r \\0 \\\\ \\\" \\' \\u, \\% or \\_)");
		}
	}
	o[n] = '\0';
	tk->t = TK_STR;
	tk->s = o;
	tk->slen = n;
	lx->at = at;
	return 0;
}

static int lex_number(struct ex_lexer *lx, struct ex_token *tk)
{
	const char *p = lx->text + lx->at, *end = lx->text + lx->len, *q = p;
	char buf[128];
	bool is_float = false;
	size_t n;

	if (q + 1 < end && q[0] == '0' && (q[1] | 0x20) == 'x') {
		q += 2;
		while (q < end && isxdigit((unsigned char)*q))
			q++;
		if (q == p + 2)
			return lex_fail(lx, lx->at, "0x needs hex digits");
	} else {
		while (q < end && isdigit((unsigned char)*q))
			q++;
		if (q < end && *q == '.') {
			is_float = true;
			q++;
			while (q < end && isdigit((unsigned char)*q))
				q++;
		}
		if (q < end && (*q | 0x20) == 'e') {
			const char *e = q + 1;
			if (e < end && (*e == '+' || *e == '-'))
				e++;
			if (e < end && isdigit((unsigned char)*e)) {
				is_float = true;
				q = e;
				while (q < end && isdigit((unsigned char)*q))
					q++;
			}
		}
	}
	if (q < end && (isalpha((unsigned char)*q) || *q == '_'))
		return lex_fail(lx, (uint32_t)(q - lx->text), "a number runs into a name (missing space or operator?)");
	n = (size_t)(q - p);
	if (n >= sizeof buf)
		return lex_fail(lx, lx->at, "number is too long");
	memcpy(buf, p, n);
	buf[n] = '\0';
	errno = 0;
	if (is_float) {
		tk->t = TK_FLOAT;
		tk->f = strtod(buf, NULL);
		if (errno == ERANGE && isinf(tk->f))
			return lex_fail(lx, lx->at, "number is out of range for a double");
	} else {
		unsigned long long v = strtoull(buf, NULL, 0);
		/* 9223372036854775808 is allowed so that -9223372036854775808
		 * can be written; the parser checks it is negated. */
		if (errno == ERANGE || v > (unsigned long long)INT64_MAX + 1)
			return lex_fail(lx, lx->at, "integer is out of range for int64");
		tk->t = TK_INT;
		tk->i = (int64_t)v; /* INT64_MAX + 1 wraps to INT64_MIN: see ex_parse */
		tk->f = (double)v;
	}
	lx->at = (uint32_t)(q - lx->text);
	return 0;
}

static const struct {
	const char *word;
	enum ex_tok t;
} keywords[] = {
	{ "and", TK_AND }, { "or", TK_OR }, { "not", TK_NOT }, { "in", TK_IN },
	{ "like", TK_LIKE }, { "is", TK_IS }, { "null", TK_NULL }, { "true", TK_TRUE },
	{ "false", TK_FALSE },
};

static int lex_word(struct ex_lexer *lx, struct ex_token *tk)
{
	uint32_t start = lx->at, at = lx->at + 1, n;

	while (at < lx->len && (isalnum((unsigned char)lx->text[at]) || lx->text[at] == '_'))
		at++;
	n = at - start;
	lx->at = at;
	for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
		if (strlen(keywords[k].word) == n && !strncasecmp(lx->text + start, keywords[k].word, n)) {
			tk->t = keywords[k].t;
			return 0;
		}
	if (!(tk->s = ex_alloc(lx->arena, n + 1)))
		return dann_fail(DANN_ENOMEM, "filter: no memory");
	memcpy(tk->s, lx->text + start, n);
	tk->slen = n;
	tk->t = TK_IDENT;
	return 0;
}

int ex_lex_next(struct ex_lexer *lx, struct ex_token *tk)
{
	const char *s = lx->text;
	int rc = 0;
	char c;

	while (lx->at < lx->len && isspace((unsigned char)s[lx->at]))
		lx->at++;
	memset(tk, 0, sizeof *tk);
	tk->pos = lx->at;
	if (lx->at >= lx->len) {
		tk->t = TK_EOF;
		return 0;
	}
	c = s[lx->at];
	char d = lx->at + 1 < lx->len ? s[lx->at + 1] : '\0';
	if (c == '"' || c == '\'') {
		rc = lex_string(lx, tk);
	} else if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)d))) {
		rc = lex_number(lx, tk);
	} else if (isalpha((unsigned char)c) || c == '_' || c == '$') {
		rc = lex_word(lx, tk);
	} else {
		enum ex_tok t;
		uint32_t w = 1;
		switch (c) {
		case '(': t = TK_LP; break;
		case ')': t = TK_RP; break;
		case '[': t = TK_LB; break;
		case ']': t = TK_RB; break;
		case ',': t = TK_COMMA; break;
		case '+': t = TK_PLUS; break;
		case '-': t = TK_MINUS; break;
		case '*': t = TK_STAR; break;
		case '/': t = TK_SLASH; break;
		case '%': t = TK_PCT; break;
		case '<': t = d == '=' ? (w = 2, TK_LE) : TK_LT; break;
		case '>': t = d == '=' ? (w = 2, TK_GE) : TK_GT; break;
		case '!': t = d == '=' ? (w = 2, TK_NE) : TK_NOT; break;
		case '=':
			if (d != '=')
				return lex_fail(lx, lx->at, "'=' is not an operator (use '==' to compare)");
			t = TK_EQ;
			w = 2;
			break;
		case '&':
			if (d != '&')
				return lex_fail(lx, lx->at, "'&' is not an operator (use '&&' or 'and')");
			t = TK_AND;
			w = 2;
			break;
		case '|':
			if (d != '|')
				return lex_fail(lx, lx->at, "'|' is not an operator (use '||' or 'or')");
			t = TK_OR;
			w = 2;
			break;
		default:
			if ((unsigned char)c >= 0x80)
				return lex_fail(lx, lx->at, "non-ASCII character outside a string");
			if (isprint((unsigned char)c))
				return dann_fail(DANN_EINVAL, "filter: column %u: unexpected character '%c'",
						 lx->at + 1, c);
			return dann_fail(DANN_EINVAL, "filter: column %u: unexpected control character 0x%02x",
					 lx->at + 1, (unsigned char)c);
		}
		tk->t = t;
		lx->at += w;
	}
	tk->len = lx->at - tk->pos;
	return rc;
}
