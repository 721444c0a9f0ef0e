/*
 * test_expr_parse.c — what a user is told about a bad filter: parse errors
 * name the column and what was expected there, type errors name the field;
 * and the limits that keep any input from exhausting the stack.
 */
#include "expr_fixture.h"

static struct fx x;

static void setup(void) { fx_setup(&x); }
static void teardown(void) { fx_teardown(&x); }

TestSuite(expr_parse, .init = setup, .fini = teardown);

#define ERR(text, want)                                                                     \
	do {                                                                                \
		const char *m_ = tt_error(&x.s, text);                                      \
		cr_expect(strstr(m_, want), "'%s': message '%s' lacks '%s'", text, m_, want); \
	} while (0)

Test(expr_parse, errors_name_the_column_and_what_was_expected)
{
	ERR("age >", "column 6: expected a field, a literal or '(', found the end of the expression");
	ERR("age > 20 and", "column 13: expected");
	ERR("(age > 20", "column 10: expected ')', found the end");
	ERR("age > 20 20", "column 10: expected 'and', 'or' or the end of the expression, found '20'");
	ERR("age in 10", "column 8: expected a list '[...]' after 'in'");
	ERR("age in [1, 2", "column 13: expected ',' or ']' in the list, found the end");
	ERR("age in [1 2]", "column 11: expected ',' or ']' in the list");
	ERR("age is 5", "column 8: expected 'null' or 'not null' after 'is'");
	ERR("age is not 5", "column 12: expected 'null' after 'is not'");
	ERR("age not 5", "column 9: expected 'in' or 'like' after 'not'");
	ERR("name like 5", "column 11: expected a pattern string after 'like'");
	ERR("meta[\"a\" > 1", "column 10: expected ']' after the key");
	ERR("meta[a] > 1", "column 6: expected a key (a string) or an index");
	ERR("json_contains(meta[\"a\"])", "column 24: expected ',' and a second argument");
	ERR("age > )", "column 7: expected a field, a literal or '('");
	ERR("", "column 1: the expression is empty");
	ERR("   ", "the expression is empty");
}

Test(expr_parse, lexer_errors_point_at_the_character)
{
	ERR("age = 20", "column 5: '=' is not an operator (use '==' to compare)");
	ERR("age > 1 & flag", "column 9: '&' is not an operator");
	ERR("age > 1 | flag", "column 9: '|' is not an operator");
	ERR("age @ 3", "column 5: unexpected character '@'");
	ERR("age > 1\x01", "column 8: unexpected control character 0x01");
	ERR("name == \"abc", "column 9: string is not terminated");
	ERR("name == 'abc\\'", "column 9: string is not terminated");
	ERR("name == \"a\\q\"", "column 11: unknown escape");
	ERR("name == \"\\u12\"", "column 14: \\u needs four hex digits");
	ERR("name == \"\\ud800\"", "lone surrogate");
	ERR("age > 99999999999999999999", "column 7: integer is out of range for int64");
	ERR("age > 9223372036854775808", "column 7: integer is out of range for int64");
	ERR("age > 1e999", "column 7: number is out of range");
	ERR("age > 12abc", "column 9: a number runs into a name");
	ERR("age > 0x", "column 7: 0x needs hex digits");
	ERR("name == 日本", "column 9: non-ASCII character outside a string");
}

Test(expr_parse, misuse_of_null_and_chains_is_explained)
{
	ERR("age > null", "column 7: null can only be tested with 'is null'");
	ERR("1 < age > 5", "column 9: a range chain needs '<'/'<=' on both sides");
	ERR("1 < age == 5", "range chain");
	ERR("1 < age < 5 < 7", "column 13: a range chain has at most two comparisons");
	ERR("foo(age, 1)", "column 1: unknown function 'foo'");
	ERR("-\"a\" == 1", "arithmetic needs numbers");
	ERR("[1, -\"a\"] == 1", "column 6: expected a number after the sign");
}

Test(expr_parse, nesting_is_bounded)
{
	char text[2048];
	int n = 0;
	for (int i = 0; i < 300; i++)
		text[n++] = '(';
	n += sprintf(text + n, "age > 1");
	for (int i = 0; i < 300; i++)
		text[n++] = ')';
	text[n] = '\0';
	ERR(text, "nested too deeply");
	n = 0;
	for (int i = 0; i < 300; i++)
		n += sprintf(text + n, "not ");
	sprintf(text + n, "flag");
	ERR(text, "nested too deeply");
	n = sprintf(text, "age");
	for (int i = 0; i < 300; i++)
		n += sprintf(text + n, "+1");
	sprintf(text + n, " > 0");
	ERR(text, "nested too deeply");
}

Test(expr_parse, long_or_chains_and_lists_are_fine)
{
	static char text[200000];
	struct expr *e;
	int n = 0;

	for (int i = 0; i < 2000; i++)
		n += sprintf(text + n, "%sid == %d", i ? " or " : "", i);
	cr_assert_eq(expr_compile(text, &x.s, &e), 0, "%s", dann_errmsg());
	expr_free(e);
	n = sprintf(text, "id in [");
	for (int i = 0; i < 5000; i++)
		n += sprintf(text + n, "%s%d", i ? "," : "", i);
	sprintf(text + n, "]");
	cr_assert_eq(expr_compile(text, &x.s, &e), 0, "%s", dann_errmsg());
	cr_assert_str_eq(tt_rows(&x.t, &x.s, text), "0,1,2,3,4,5");
	expr_free(e);
	memset(text, ' ', EXPR_MAX_TEXT + 1);
	memcpy(text, "id > 1", 6);
	text[EXPR_MAX_TEXT + 1] = '\0';
	ERR(text, "at most 65536 allowed");
}

Test(expr_parse, type_errors_name_the_field)
{
	ERR("age > \"x\"", "field 'age' is int32: cannot be compared with a string");
	ERR("\"x\" < age", "field 'age' is int32: cannot be compared with a string");
	ERR("name > 3", "field 'name' is varchar: cannot be compared with an integer");
	ERR("flag > true", "field 'flag' is bool: bools compare only with == and !=");
	ERR("meta > 1", "field 'meta' is json (compare a path such as field[\"key\"])");
	ERR("age like \"a%\"", "field 'age' is int32: 'like' needs a varchar field or a JSON path");
	ERR("age + \"a\" > 1", "arithmetic needs numbers");
	ERR("name + 1 > 1", "field 'name' is varchar: arithmetic needs numbers");
	ERR("age", "field 'age' is int32: the filter must be a condition");
	ERR("age in [\"a\"]", "field 'age' is int32: the list holds a string (element 1)");
	ERR("age in [1, [2]]", "'in' lists hold scalars");
	ERR("flag and 3", "'and'/'or' join conditions, not values");
	ERR("not age", "field 'age' is int32: 'not' needs a condition");
	ERR("age[\"x\"] == 1", "field 'age' is int32, not JSON: it has no keys");
	ERR("json_contains(age, 1)", "field 'age' is int32: json_contains/array_contains need a JSON field");
	ERR("json_contains_all(meta[\"t\"], 1)", "take a list as second argument");
	ERR("json_contains(meta[\"t\"], age)", "the second argument must be a literal");
	ERR("5 is null", "'is null' needs a field");
	ERR("age == [1]", "a list can only follow 'in'");
	ERR("vector > 1", "unknown field 'vector' (the vector field cannot be filtered)");
}

Test(expr_parse, names_outside_the_schema_need_a_dynamic_field)
{
	x.s.dynamic_field = 0;
	ERR("nope > 1", "column 1: unknown field 'nope'");
	ERR("age > 1 and nope[\"x\"] > 1", "column 13: unknown field 'nope'");
	ERR("$meta[\"x\"] == 1", "this collection has no dynamic field");
}

Test(expr_parse, keywords_are_case_insensitive_and_names_are_not)
{
	cr_expect_str_eq(tt_rows(&x.t, &x.s, "age IN [10] Or flag AnD tag == -128"), "0");
	cr_expect_str_eq(tt_rows(&x.t, &x.s, "Age > 1"), "");
}
