/*
 * test_query_cli.c — scalar fields through the `dann` binary: a collection
 * created with --field and --dynamic-field, fields inserted from a JSON
 * lines file, `dann query` (filter, output fields, limit/offset, --count)
 * before and after a flush, `dann search --filter`, and bad field files and
 * filters refused with a message naming the line, field or column, and
 * nothing written.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/cli.h"
#include "helpers/tmpdir.h"

#define N 300
#define RUN(out, err, ...) cli_run(out, err, __VA_ARGS__, NULL)

static char data[512], vecs[512], fields[512];

static void setup(void)
{
	char *err = NULL;
	FILE *f;

	setenv("OMP_WAIT_POLICY", "passive", 0);
	tmpdir_make("querycli");
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	snprintf(vecs, sizeof vecs, "%s", tmpdir_path("v.fbin"));
	snprintf(fields, sizeof fields, "%s", tmpdir_path("f.jsonl"));
	cr_assert_eq(RUN(NULL, &err, "gen", "--n", "300", "--dim", "8", "--out", vecs), 0, "%s", err);
	free(err);
	cr_assert_not_null(f = fopen(fields, "w"));
	for (int i = 0; i < N; i++) {
		fprintf(f, "{\"cat\": %d, \"title\": ", i % 5);
		if (i % 4 == 0)
			fprintf(f, "null");
		else
			fprintf(f, "\"item%d\"", i);
		fprintf(f, ", \"price\": %g", i * 0.5);
		if (i % 3 == 0)
			fprintf(f, ", \"color\": \"%s\"", i % 2 ? "red" : "blue");
		fprintf(f, "}\n");
	}
	fclose(f);
	cr_assert_eq(RUN(NULL, &err, "collection", "create", "--data-dir", data, "--name", "shop", "--dim", "8",
			 "--field", "cat:int32", "--field", "title:varchar(16)?", "--field", "price:double",
			 "--dynamic-field"), 0, "%s", err);
	free(err);
}

static void teardown(void) { tmpdir_remove(); }

TestSuite(query_cli, .init = setup, .fini = teardown, .timeout = 120);

static void expect_out(const char *want, const char *filter, const char *extra1, const char *extra2)
{
	char *out = NULL, *err = NULL;
	int rc = RUN(&out, &err, "query", "--data-dir", data, "--name", "shop", "--filter", filter,
		     extra1 ? extra1 : "--limit", extra1 ? extra2 : "0");
	cr_assert_eq(rc, 0, "query %s: %s", filter, err);
	cr_expect_str_eq(out, want, "query %s", filter);
	free(out);
	free(err);
}

Test(query_cli, fields_inserted_from_json_lines_answer_queries_and_filtered_searches)
{
	char *out = NULL, *err = NULL;

	cr_assert_eq(RUN(NULL, &err, "insert", "--data-dir", data, "--name", "shop", "--vectors", vecs,
			 "--first-id", "0", "--fields", fields), 0, "%s", err);
	free(err);
	for (int pass = 0; pass < 2; pass++) {
		expect_out("{\"id\": 27, \"cat\": 2, \"title\": \"item27\", \"price\": 13.5, \"color\": \"red\"}\n"
			   "{\"id\": 57, \"cat\": 2, \"title\": \"item57\", \"price\": 28.5, \"color\": \"red\"}\n",
			   "cat == 2 and price < 30 and color == \"red\"", "--output-fields",
			   "cat,title,price,color");
		expect_out("75\n", "title is null", "--count", NULL);
		expect_out("{\"id\": 13}\n{\"id\": 14}\n{\"id\": 15}\n", "title like \"item1%\" and id > 11",
			   "--limit", "3");
		expect_out("300\n", "id >= 0", "--count", NULL);
		cr_assert_eq(RUN(&out, &err, "search", "--data-dir", data, "--name", "shop", "--queries", vecs,
				 "-L", "20", "-k", "5", "--filter", "cat in [1, 3]", "--json"), 0, "%s", err);
		cr_expect(strstr(out, "\"recall\""), "%s", out);
		free(out);
		free(err);
		/* the same answers from a flushed (disk) segment */
		cr_assert_eq(RUN(NULL, &err, "flush", "--data-dir", data, "--name", "shop"), 0, "%s", err);
		free(err);
	}
	cr_assert_eq(RUN(&out, &err, "query", "--data-dir", data, "--name", "shop", "--filter",
			 "price >= 149", "--output-fields", "$meta,title"), 0, "%s", err);
	cr_expect_str_eq(out, "{\"id\": 298, \"$meta\": null, \"title\": \"item298\"}\n"
			      "{\"id\": 299, \"$meta\": null, \"title\": \"item299\"}\n");
	free(out);
	free(err);
}

Test(query_cli, bad_fields_and_filters_are_refused_with_a_reason)
{
	char *out = NULL, *err = NULL;
	char bad[512];
	FILE *f;

	snprintf(bad, sizeof bad, "%s", tmpdir_path("bad.jsonl"));
	cr_assert_not_null(f = fopen(bad, "w"));
	for (int i = 0; i < N; i++)
		fprintf(f, i == 7 ? "{\"cat\": \"x\", \"price\": 1}\n" : "{\"cat\": 1, \"price\": 1}\n");
	fclose(f);
	cr_assert_eq(RUN(NULL, &err, "insert", "--data-dir", data, "--name", "shop", "--vectors", vecs,
			 "--first-id", "0", "--fields", bad), 1);
	cr_expect(strstr(err, "line 8: field 'cat': expected an integer"), "%s", err);
	free(err);
	cr_assert_not_null(f = fopen(bad, "w"));
	fprintf(f, "{\"cat\": 1, \"price\": 2}\n");
	fclose(f);
	cr_assert_eq(RUN(NULL, &err, "insert", "--data-dir", data, "--name", "shop", "--vectors", vecs,
			 "--first-id", "0", "--fields", bad), 1);
	cr_expect(strstr(err, "holds 1 rows of fields but"), "%s", err);
	free(err);
	cr_assert_eq(RUN(&out, &err, "query", "--data-dir", data, "--name", "shop", "--count"), 0, "%s", err);
	cr_expect_str_eq(out, "0\n", "nothing was written");
	free(out);
	free(err);
	cr_assert_eq(RUN(NULL, &err, "query", "--data-dir", data, "--name", "shop", "--filter", "cat >"), 1);
	cr_expect(strstr(err, "column 6: expected"), "%s", err);
	free(err);
	cr_assert_eq(RUN(NULL, &err, "query", "--data-dir", data, "--name", "shop", "--filter", "price like \"a\""), 1);
	cr_expect(strstr(err, "field 'price' is double"), "%s", err);
	free(err);
	cr_assert_eq(RUN(NULL, &err, "collection", "create", "--data-dir", data, "--name", "x", "--dim", "8",
			 "--field", "a:text"), 2);
	cr_expect(strstr(err, "type 'text'"), "%s", err);
	free(err);
}

Test(query_cli, field_defaults_fill_missing_and_null_values)
{
	char *out = NULL, *err = NULL;
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s", tmpdir_path("d.jsonl"));
	cr_assert_not_null(f = fopen(path, "w"));
	for (int i = 0; i < N; i++)
		fprintf(f, i % 2 ? "{\"tag\": null}\n" : "{\"n\": %d, \"tag\": \"t\"}\n", i);
	fclose(f);
	cr_assert_eq(RUN(NULL, &err, "collection", "create", "--data-dir", data, "--name", "d", "--dim", "8",
			 "--field", "n:int32:default=5", "--field", "tag:varchar(8)?:default=a:b",
			 "--field", "ok:bool:default=true"), 0, "%s", err);
	free(err);
	cr_assert_eq(RUN(&out, &err, "collection", "describe", "--data-dir", data, "--name", "d"), 0, "%s", err);
	cr_expect(strstr(out, "n, default 5\n") && strstr(out, "tag, default \"a:b\"\n") &&
		  strstr(out, "ok, default true\n"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(RUN(NULL, &err, "insert", "--data-dir", data, "--name", "d", "--vectors", vecs,
			 "--first-id", "0", "--fields", path), 0, "%s", err);
	free(err);
	const char *q[][2] = { { "n == 5", "150\n" }, { "tag == \"a:b\"", "150\n" },
			       { "ok == true", "300\n" }, { "n == 4", "1\n" } };
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		cr_assert_eq(RUN(&out, &err, "query", "--data-dir", data, "--name", "d", "--filter", q[i][0],
				 "--count"), 0, "%s", err);
		cr_expect_str_eq(out, q[i][1], "%s", q[i][0]);
		free(out);
		free(err);
	}
	cr_assert_eq(RUN(NULL, &err, "collection", "create", "--data-dir", data, "--name", "e", "--dim", "8",
			 "--field", "n:int32:default=x"), 2);
	cr_expect(strstr(err, "default 'x' is not an integer"), "%s", err);
	free(err);
	cr_assert_eq(RUN(NULL, &err, "collection", "create", "--data-dir", data, "--name", "e", "--dim", "8",
			 "--field", "small:int8:default=300"), 1);
	cr_expect(strstr(err, "\"small\""), "%s", err);
	free(err);
	cr_assert_eq(RUN(NULL, &err, "collection", "create", "--data-dir", data, "--name", "e", "--dim", "8",
			 "--field", "s:varchar(2):default=abc"), 1);
	cr_expect(strstr(err, "\"s\"") && strstr(err, "max_length"), "%s", err);
	free(err);
}
