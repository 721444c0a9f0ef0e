/*
 * test_srv_template.c — expression templates rendered into literals of the
 * filter language: every value kind, strings escaped so that a quote or a
 * backslash in a value stays inside its literal, braces inside string
 * literals of the expression untouched, and placeholders without a value
 * or an unclosed brace refused naming them.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "dann.h"
#include "srv_arena.h"
#include "srv_template.h"

static struct srv_req rq;

static void setup(void)
{
	memset(&rq, 0, sizeof rq);
	rq.arena = srv_arena_new();
	cr_assert_not_null(rq.arena);
}

static void teardown(void)
{
	srv_arena_free(rq.arena);
}

TestSuite(srv_template, .init = setup, .fini = teardown, .timeout = 30);

Test(srv_template, every_value_kind_becomes_a_literal)
{
	Milvus__Proto__Schema__TemplateValue b = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__INIT, i = b, f = b, s = b, a = b,
					     nested = b;
	Milvus__Proto__Schema__TemplateArrayValue av = MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__INIT, inner1 = av,
						  inner2 = av, outer = av;
	Milvus__Proto__Schema__StringArray sa = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
	Milvus__Proto__Schema__LongArray la1 = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT, la2 = la1;
	Milvus__Proto__Schema__TemplateArrayValueArray aa = MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE_ARRAY__INIT;
	Milvus__Proto__Schema__TemplateArrayValue *inners[2] = { &inner1, &inner2 };
	char *strs[2] = { "red", "say \"hi\" \\ now" };
	int64_t l1[2] = { 1, -2 }, l2[1] = { 3 };
	char *keys[6] = { "b", "i", "f", "s", "a", "n" };
	Milvus__Proto__Schema__TemplateValue *vals[6] = { &b, &i, &f, &s, &a, &nested };
	const char *out;

	b.val_case = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_BOOL_VAL;
	b.bool_val = 1;
	i.val_case = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_INT64_VAL;
	i.int64_val = -9000000000ll;
	f.val_case = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_FLOAT_VAL;
	f.float_val = 2.0;
	s.val_case = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_STRING_VAL;
	s.string_val = "a\"b\\c\n";
	sa.data = strs;
	sa.n_data = 2;
	av.data_case = MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_STRING_DATA;
	av.string_data = &sa;
	a.val_case = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_ARRAY_VAL;
	a.array_val = &av;
	la1.data = l1;
	la1.n_data = 2;
	la2.data = l2;
	la2.n_data = 1;
	inner1.data_case = inner2.data_case = MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_LONG_DATA;
	inner1.long_data = &la1;
	inner2.long_data = &la2;
	aa.data = inners;
	aa.n_data = 2;
	outer.data_case = MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_ARRAY_DATA;
	outer.array_data = &aa;
	nested.val_case = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_ARRAY_VAL;
	nested.array_val = &outer;

	cr_assert_eq(srv_template_render(&rq, "x == {b} and y > {i} and z < {f} and t == {s} and c in {a} or "
					       "w == \"{i}\" or m == {n}",
					 6, keys, vals, &out),
		     0, "%s", dann_errmsg());
	cr_expect_str_eq(out, "x == true and y > -9000000000 and z < 2.0 and t == \"a\\\"b\\\\c\\n\" and c in "
			      "[\"red\", \"say \\\"hi\\\" \\\\ now\"] or w == \"{i}\" or m == [[1, -2], [3]]");
	cr_assert_eq(srv_template_render(&rq, "plain > 1", 0, NULL, NULL, &out), 0);
	cr_expect_str_eq(out, "plain > 1");
}

Test(srv_template, missing_values_and_unclosed_braces_are_refused_by_name)
{
	Milvus__Proto__Schema__TemplateValue i = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__INIT, none = i;
	char *keys[2] = { "i", "none" };
	Milvus__Proto__Schema__TemplateValue *vals[2] = { &i, &none };
	const char *out;

	i.val_case = MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_INT64_VAL;
	cr_assert_eq(srv_template_render(&rq, "a > {j}", 2, keys, vals, &out), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "{j}") && strstr(dann_errmsg(), "column 5"), "%s", dann_errmsg());
	cr_assert_eq(srv_template_render(&rq, "a > {i", 2, keys, vals, &out), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "without '}'"), "%s", dann_errmsg());
	cr_assert_eq(srv_template_render(&rq, "a > {none}", 2, keys, vals, &out), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "{none}"), "%s", dann_errmsg());
}
