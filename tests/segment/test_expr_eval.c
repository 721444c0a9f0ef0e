/*
 * test_expr_eval.c — every operator of the filter language on a small
 * segment (expr_fixture.h), each result checked both through the row scan
 * and through the scalar indexes: comparisons, range chains, in / not in,
 * logic and its precedence, arithmetic, nulls and SQL's third value, NaN,
 * varchar edge cases (empty, escapes, UTF-8, like with % and _), JSON
 * paths, json_contains and the dynamic field.
 */
#include "expr_fixture.h"

static struct fx x;

static void setup(void) { fx_setup(&x); }
static void teardown(void) { fx_teardown(&x); }

#define ROWS(text, want) cr_expect_str_eq(tt_rows(&x.t, &x.s, text), want, "%s", text)

TestSuite(expr_eval, .init = setup, .fini = teardown);

Test(expr_eval, comparisons_on_an_int_column_skip_null_rows)
{
	ROWS("age > 20", "3,4,5");
	ROWS("age >= 20", "1,3,4,5");
	ROWS("age < 40", "0,1");
	ROWS("age <= 40", "0,1,3");
	ROWS("age == 40", "3");
	ROWS("age != 40", "0,1,4,5");
	ROWS("40 < age", "4,5");
	ROWS("40 == age", "3");
	ROWS("age > 19.5", "1,3,4,5");
	ROWS("age == 20.0", "1");
	ROWS("tag == -128", "0");
	ROWS("tag > 100", "2");
	ROWS("tag == 0x7f", "2");
	ROWS("tag < 0.5", "0,1");
	ROWS("id > 4", "4,5");
	ROWS("id > -9223372036854775808", "0,1,2,3,4,5");
}

Test(expr_eval, range_chains_hold_on_both_sides)
{
	ROWS("20 < age < 60", "3,4");
	ROWS("20 <= age <= 50", "1,3,4");
	ROWS("60 > age > 10", "1,3,4");
	ROWS("0 <= score < 2", "0,3");
}

Test(expr_eval, in_and_not_in_follow_equality)
{
	ROWS("age in [10, 50, 99]", "0,4");
	ROWS("age not in [10, 50]", "1,3,5");
	ROWS("age in []", "");
	ROWS("age not in []", "0,1,3,4,5");
	ROWS("id in [2, 4]", "1,3");
	ROWS("score in [0, 3]", "3,5");
	ROWS("name in [\"\", \"banana\"]", "1,3");
	ROWS("age in [20.0, 40.5]", "1");
}

Test(expr_eval, logic_binds_not_then_and_then_or)
{
	ROWS("age > 20 and flag", "4");
	ROWS("age > 20 or flag", "0,2,3,4,5");
	ROWS("flag or age > 20 and tag == 5", "0,2,3,4,5");
	ROWS("(flag or age > 20) and tag == 5", "3,4,5");
	ROWS("not flag and tag == 5", "3,5");
	ROWS("not (flag and tag == 5)", "0,1,2,3,5");
	ROWS("age > 20 AND flag", "4");
	ROWS("age > 20 && flag", "4");
	ROWS("age > 20 || flag", "0,2,3,4,5");
	ROWS("!flag", "1,3,5");
	ROWS("NOT flag", "1,3,5");
	ROWS("not not flag", "0,2,4");
	ROWS("flag == true", "0,2,4");
	ROWS("flag != True", "1,3,5");
	ROWS("flag == FALSE", "1,3,5");
	ROWS("id == 1 or id == 3 or id == 5 or id == 6", "0,2,4,5");
	ROWS("id > 1 and id > 2 and id < 6 and tag == 5", "3,4");
}

Test(expr_eval, unknown_stays_unknown_under_not)
{
	ROWS("not (age > 20)", "0,1");
	ROWS("!(age > 20)", "0,1");
	ROWS("age > 20 or not (age > 20)", "0,1,3,4,5");
	ROWS("age is null", "2");
	ROWS("age is not null", "0,1,3,4,5");
	ROWS("age IS NOT NULL and age < 30", "0,1");
	ROWS("not (age is null)", "0,1,3,4,5");
	ROWS("age > 10 or age is null", "1,2,3,4,5");
}

Test(expr_eval, arithmetic_follows_precedence_and_int64)
{
	ROWS("age + 5 == 45", "3");
	ROWS("age * 2 > 90", "4,5");
	ROWS("age / 3 == 6", "1");
	ROWS("age % 20 == 0", "1,3,5");
	ROWS("-age < -45", "4,5");
	ROWS("age - 10 * 2 == 0", "1");
	ROWS("(age - 10) * 2 == 0", "0");
	ROWS("1 + 2 * 3 == 7", "0,1,2,3,4,5");
	ROWS("score * 2 > 5", "4,5");
	ROWS("score / 0 == 1", "");
	ROWS("age / 0 == 1 or age % 0 == 1", "");
	ROWS("not (age / 0 == 1)", "");
	ROWS("id * 9223372036854775807 > 0", "0");
	ROWS("-9223372036854775808 / -1 == 0 or id == 2", "1");
	ROWS("age + score > 40", "4,5");
}

Test(expr_eval, nan_compares_false_except_not_equal)
{
	ROWS("score > 0", "0,4,5");
	ROWS("score != 0", "0,1,2,4,5");
	ROWS("score == 100.25", "4");
	ROWS("score < 1e9", "0,1,3,4,5");
	ROWS("score >= -2", "0,1,3,4,5");
	ROWS("score not in [0]", "0,1,2,4,5");
	ROWS("score > .5", "0,4,5");
	ROWS("score == 1.5e0", "0");
}

Test(expr_eval, varchar_compares_bytes_and_matches_like_patterns)
{
	ROWS("name == \"\"", "1");
	ROWS("name == 'apple'", "0");
	ROWS("name > \"b\"", "3,5");
	ROWS("name < \"b\"", "0,1,4");
	ROWS("name is null", "2");
	ROWS("name like \"ap%\"", "0,4");
	ROWS("name like \"%an%\"", "3");
	ROWS("name like \"%\"", "0,1,3,4,5");
	ROWS("name like \"\"", "1");
	ROWS("name like \"_\"", "");
	ROWS("name like \"___\"", "5");
	ROWS("name like \"日_語\"", "5");
	ROWS("name like \"%語\"", "5");
	ROWS("name like \"ap_x%\"", "4");
	ROWS("name like \"ap\\_%\"", "4");
	ROWS("name like \"%\\%\"", "4");
	ROWS("name like \"a%e\"", "0");
	ROWS("name like \"%a%a%a\"", "3");
	ROWS("name not like \"ap%\"", "1,3,5");
	ROWS("name == \"\\u65e5\\u672c\\u8a9e\"", "5");
	ROWS("name != \"apple\"", "1,3,4,5");
}

Test(expr_eval, json_paths_read_nested_keys_and_indexes)
{
	ROWS("meta[\"a\"][\"b\"] > 3", "0");
	ROWS("meta[\"a\"][\"b\"] >= 2", "0,1");
	ROWS("meta['a'] == 3", "3");
	ROWS("meta[\"a\"] > 0", "3");
	ROWS("meta[\"n\"] is null", "1,2,3,4,5");
	ROWS("meta[\"n\"] is not null", "0");
	ROWS("meta is null", "2,4");
	ROWS("meta[\"tags\"][0] == \"x\"", "0");
	ROWS("meta[\"tags\"][1] == 2", "1");
	ROWS("meta[\"tags\"][9] is null", "0,1,2,3,4,5");
	ROWS("meta[\"s\"] like \"h%\"", "5");
	ROWS("meta[\"a\"][\"b\"] + 1 == 5", "0");
	ROWS("meta[\"a\"][\"b\"] in [2, 3]", "1");
	ROWS("meta[\"tags\"] == [1, 2]", "1");
}

Test(expr_eval, json_contains_and_its_variants)
{
	ROWS("json_contains(meta[\"tags\"], \"y\")", "0");
	ROWS("json_contains(meta[\"tags\"], 1)", "1");
	ROWS("JSON_CONTAINS(meta[\"tags\"], 1.0)", "1");
	ROWS("json_contains_all(meta[\"tags\"], [\"x\", \"y\"])", "0");
	ROWS("json_contains_all(meta[\"tags\"], [\"x\", \"z\"])", "");
	ROWS("json_contains_any(meta[\"tags\"], [2, \"z\"])", "1");
	ROWS("array_contains(meta[\"tags\"], \"x\")", "0");
	ROWS("not json_contains(meta[\"tags\"], \"x\")", "1,5");
}

Test(expr_eval, dynamic_field_answers_bare_names_and_meta_paths)
{
	ROWS("text == \"a\"", "0,3");
	ROWS("$meta[\"text\"] == \"a\"", "0,3");
	ROWS("k > 1", "3");
	ROWS("k == 1", "0");
	ROWS("text is null", "2,4,5");
	ROWS("text != \"a\"", "1");
	ROWS("text in [\"a\", \"b\"]", "0,1,3");
	ROWS("text > 1", "");
	ROWS("not (text > 1)", "0,1,3");
	ROWS("text == \"a\" and age > 10", "3");
	/* a number is not like anything, so it is "not like" everything */
	ROWS("k not like \"%\"", "0,3");
}

Test(expr_eval, missing_column_reads_as_null)
{
	x.t.ncols = 7; /* the segment has no $meta column */
	ROWS("text == \"a\"", "");
	ROWS("text is null", "0,1,2,3,4,5");
	ROWS("age > 50 or text == \"a\"", "5");
}

Test(expr_eval, a_column_of_the_wrong_type_is_an_error_naming_it)
{
	struct expr *e;
	roaring_bitmap_t *r = NULL;
	struct expr_source src = tt_source(&x.t);

	cr_assert_eq(expr_compile("age > 1", &x.s, &e), 0);
	x.t.cols[1].type = DANN_FIELD_INT64;
	cr_assert_eq(expr_eval(e, &src, &r), DANN_EINVAL);
	cr_assert_null(r);
	cr_assert(strstr(dann_errmsg(), "'age'"), "%s", dann_errmsg());
	x.t.cols[1].type = DANN_FIELD_INT32;
	expr_free(e);
}

Test(expr_eval, columns_are_listed_once)
{
	struct expr *e;
	cr_assert_eq(expr_compile("age > 1 and age < 9 or text == \"a\" and k > 2", &x.s, &e), 0);
	cr_assert_eq(expr_ncolumns(e), 2);
	cr_assert_str_eq(expr_column_name(e, 0), "age");
	cr_assert_str_eq(expr_column_name(e, 1), "$meta");
	cr_assert_eq(expr_column_type(e, 1), DANN_FIELD_JSON);
	expr_free(e);
}

Test(expr_eval, estimate_counts_indexed_predicates_exactly)
{
	struct expr *e;
	struct expr_source src = tt_source(&x.t);
	x.t.use_index = 1;
	cr_assert_eq(expr_compile("tag == 5", &x.s, &e), 0);
	cr_expect_float_eq(expr_estimate(e, &src), 0.5, 1e-9);
	expr_free(e);
	cr_assert_eq(expr_compile("age > 20 and tag == 5", &x.s, &e), 0);
	cr_expect_float_eq(expr_estimate(e, &src), 0.25, 1e-9);
	expr_free(e);
	cr_assert_eq(expr_compile("age is null or id in [1, 2]", &x.s, &e), 0);
	cr_expect_float_eq(expr_estimate(e, &src), 1 - (5.0 / 6) * (4.0 / 6), 1e-9);
	expr_free(e);
}

Test(expr_eval, index_info_reports_dictionary_and_nulls)
{
	struct expr_index_info in;
	expr_index_info(x.t.idx[1], &in);
	cr_expect_eq(in.rows, 6);
	cr_expect_eq(in.nulls, 1);
	cr_expect_eq(in.distinct, 5);
	cr_expect_eq(in.dict, 1);
	expr_index_info(x.t.idx[2], &in);
	cr_expect_eq(in.distinct, 5); /* NaN is not a value */
}

Test(expr_eval, json_columns_get_no_index)
{
	struct expr_index *ix = NULL;
	cr_assert_eq(expr_index_build(&x.t.cols[6], 6, &ix), DANN_EINVAL);
	cr_assert_null(ix);
	cr_assert(strstr(dann_errmsg(), "'meta'"), "%s", dann_errmsg());
}
