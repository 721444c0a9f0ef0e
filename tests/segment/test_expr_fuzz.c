/*
 * test_expr_fuzz.c — the filter compiler and evaluator on hostile input:
 * random byte strings, random soups of the language's own tokens, and
 * mutations (byte flips, cuts, splices) of valid expressions. Every input
 * either compiles and evaluates without error, or fails with DANN_EINVAL
 * and a message that starts with "filter:" and, for parse errors, names a
 * column inside the text. Run under ASan/UBSan too (the asan build), which
 * turns any out-of-bounds read into a failure.
 */
#include "expr_fixture.h"

#define ROUNDS 4000

static struct fx x;
static unsigned seed;

static void setup(void) { fx_setup(&x); }
static void teardown(void) { fx_teardown(&x); }

TestSuite(expr_fuzz, .init = setup, .fini = teardown);

static int rnd(int n) { return (int)(rand_r(&seed) % (unsigned)n); }

/* Compiles and, if it compiles, evaluates with and without indexes. */
static void try_one(const char *text)
{
	struct expr *e = NULL;
	struct expr_source src = tt_source(&x.t);
	int rc = expr_compile(text, &x.s, &e);

	if (rc == 0) {
		for (int use = 0; use < 2; use++) {
			roaring_bitmap_t *bm = NULL;
			x.t.use_index = use;
			cr_assert_eq(expr_eval(e, &src, &bm), 0, "eval '%s': %s", text, dann_errmsg());
			cr_assert_leq(roaring_bitmap_get_cardinality(bm), x.t.n);
			roaring_bitmap_free(bm);
		}
		expr_free(e);
		return;
	}
	cr_assert_eq(rc, DANN_EINVAL, "'%s': rc %d (%s)", text, rc, dann_errmsg());
	cr_assert_null(e);
	cr_assert(!strncmp(dann_errmsg(), "filter:", 7), "'%s': message '%s'", text, dann_errmsg());
	{
		const char *col = strstr(dann_errmsg(), "column ");
		if (col) {
			long c = strtol(col + 7, NULL, 10);
			cr_assert(c >= 1 && (size_t)c <= strlen(text) + 1, "'%s': column %ld out of range (%s)",
				  text, c, dann_errmsg());
		}
	}
}

Test(expr_fuzz, random_bytes_never_crash)
{
	char text[128];
	seed = 1;
	for (int i = 0; i < ROUNDS; i++) {
		int n = rnd((int)sizeof text);
		for (int j = 0; j < n; j++)
			text[j] = (char)(1 + rnd(255)); /* no NUL inside */
		text[n] = '\0';
		try_one(text);
	}
}

Test(expr_fuzz, random_printable_bytes_never_crash)
{
	static const char alphabet[] = "age<>=!()[]\"'\\ ,.0123456789+-*/%_&|$meta nul in like is not and or x";
	char text[96];
	seed = 2;
	for (int i = 0; i < ROUNDS; i++) {
		int n = rnd((int)sizeof text);
		for (int j = 0; j < n; j++)
			text[j] = alphabet[rnd((int)sizeof alphabet - 1)];
		text[n] = '\0';
		try_one(text);
	}
}

Test(expr_fuzz, token_soups_never_crash)
{
	static const char *const toks[] = {
		"age", "score", "name", "flag", "tag", "meta", "id", "$meta", "text", "k", "nope",
		"[\"a\"]", "[0]", "[", "]", "(", ")", ",", "+", "-", "*", "/", "%", "<", "<=", ">",
		">=", "==", "!=", "!", "&&", "||", "and", "or", "not", "in", "like", "is", "null",
		"true", "false", "0", "1", "-1", "2.5", "1e3", "0x1f", "9223372036854775807",
		"\"\"", "\"a%\"", "'日本'", "\"\\u00e9\"", "json_contains", "json_contains_all",
		"array_contains_any", "[1, 2]", "[\"x\"]", "[]",
	};
	char text[512];
	seed = 3;
	for (int i = 0; i < ROUNDS * 4; i++) {
		size_t n = 0;
		int count = 1 + rnd(14);
		text[0] = '\0';
		for (int j = 0; j < count; j++)
			n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", j ? " " : "",
					      toks[rnd((int)(sizeof toks / sizeof toks[0]))]);
		try_one(text);
	}
}

Test(expr_fuzz, mutations_of_valid_filters_never_crash)
{
	static const char *const valid[] = {
		"age > 20 and (flag or tag in [1, 5])",
		"10 < age <= 50 or name like \"ap%\"",
		"meta[\"a\"][\"b\"] + 1 == 5 && !(text == \"a\")",
		"json_contains_any(meta[\"tags\"], [1, \"x\"]) or $meta[\"k\"] is not null",
		"score * 2 >= -3.5e0 || name not in [\"\", '日本語']",
	};
	char text[256];
	seed = 4;
	for (int i = 0; i < ROUNDS * 2; i++) {
		const char *v = valid[rnd(5)];
		size_t n = strlen(v);
		memcpy(text, v, n + 1);
		for (int m = 1 + rnd(3); m > 0; m--) {
			size_t at = (size_t)rnd((int)n);
			switch (rnd(4)) {
			case 0: text[at] = (char)(1 + rnd(255)); break;
			case 1: text[at] = '\0'; n = at; break;                        /* cut */
			case 2: memmove(text + at, text + at + 1, n - at); n--; break;  /* drop */
			default:                                                          /* splice */
				if (n + 1 < sizeof text) {
					memmove(text + at + 1, text + at, n - at + 1);
					text[at] = "()[]\"',!<=>"[rnd(11)];
					n++;
				}
				break;
			}
			if (n == 0)
				break;
		}
		try_one(text);
	}
}
