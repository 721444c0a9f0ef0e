/*
 * test_dix_cli.c — `dann build`, `dann search` and `dann info DIR` as a
 * user runs them: the table and JSON outputs, and clear errors for bad
 * queries and parameters.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dix_testutil.h"
#include "helpers/cli.h"
#include "vf.h"

struct cfx {
	char tmp[256];
	char base[512], queries[512], gt[512], dir[512];
};

static void cfx_build(struct cfx *f)
{
	char *out = NULL, *err = NULL;
	int rc;

	/* OpenMP threads sleep instead of spinning while they wait (see
	 * test_dix_search.c): read by each child `dann` at start. */
	setenv("OMP_WAIT_POLICY", "passive", 0);
	tu_mkdtemp(f->tmp, sizeof f->tmp);
	TU_FMT(f->base, "%s/base.fbin", f->tmp);
	TU_FMT(f->queries, "%s/q.fbin", f->tmp);
	TU_FMT(f->gt, "%s/gt.ibin", f->tmp);
	TU_FMT(f->dir, "%s/index", f->tmp);
	rc = cli_run(NULL, &err, "gen", "--n", "1500", "--dim", "16", "--out", f->base,
		     "--queries", "40", "--queries-out", f->queries, NULL);
	cr_assert_eq(rc, 0, "gen: %s", err);
	free(err);
	rc = cli_run(NULL, &err, "gt", "--base", f->base, "--queries", f->queries, "-k", "10",
		     "--metric", "l2", "--out", f->gt, NULL);
	cr_assert_eq(rc, 0, "gt: %s", err);
	free(err);
	rc = cli_run(&out, &err, "build", "--data", f->base, "--out", f->dir, "--metric", "l2",
		     "-R", "16", "-L", "32", "--alpha", "1.2", "--pq-bytes", "8", "--build-ram",
		     "1", "--threads", "1", NULL);
	cr_assert_eq(rc, 0, "build: %s", err);
	cr_assert_not_null(strstr(out, "peak RSS"), "%s", out);
	/* Each phase's wall time, for sizing a larger build from this one. */
	cr_assert_not_null(strstr(out, "phases: pq train "), "%s", out);
	cr_assert_not_null(strstr(out, ", layout "), "%s", out);
	cr_assert_not_null(strstr(out, ", entry graph "), "%s", out);
	free(out);
	free(err);
}

Test(dix_cli, build_then_search_prints_a_row_per_L_and_json_with_every_key)
{
	static const char *keys[] = { "\"L\"", "\"recall\"", "\"qps\"", "\"mean_latency_ms\"",
				      "\"p50_ms\"", "\"p99_ms\"", "\"mean_reads\"", "\"mean_hops\"",
				      "\"cache_hit_rate\"", "\"cpu_us_per_query\"" };
	struct cfx f;
	char *out = NULL, *err = NULL, *p;
	int rc, rows = 0;

	cfx_build(&f);
	rc = cli_run(&out, &err, "search", "--index", f.dir, "--queries", f.queries, "--gt", f.gt,
		     "-k", "10", "-L", "10,20,40", "-W", "2", "-T", "2", "--inflight", "4",
		     "--cache-nodes", "50", NULL);
	cr_assert_eq(rc, 0, "search: %s", err);
	cr_assert_not_null(strstr(out, "recall@k"), "%s", out);
	for (p = out; (p = strchr(p, '\n')); p++)
		rows++;
	cr_assert_eq(rows, 5, "comment + header + 3 rows:\n%s", out);
	free(out);
	free(err);
	rc = cli_run(&out, &err, "search", "--index", f.dir, "--queries", f.queries, "--gt", f.gt,
		     "-L", "20,40", "--json", NULL);
	cr_assert_eq(rc, 0, "search --json: %s", err);
	cr_assert_eq(out[0], '[', "%s", out);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char *first = strstr(out, keys[i]);
		cr_assert_not_null(first, "key %s missing: %s", keys[i], out);
		cr_assert_not_null(strstr(first + 1, keys[i]), "key %s once only: %s", keys[i], out);
	}
	/* Searching costs CPU: getrusage around the batch sees it (a field
	 * left at zero or NaN would print 0.0 or null). */
	cr_assert_not_null(p = strstr(out, "\"cpu_us_per_query\": "));
	cr_assert_gt(atof(p + 20), 0.0, "%s", out);
	/* At L = 40 on 1500 points the search is all but exact. */
	cr_assert_not_null(p = strstr(strstr(out, "\"L\": 40"), "\"recall\": "));
	cr_assert_geq(atof(p + 10), 0.9, "%s", out);
	free(out);
	free(err);
	rc = cli_run(&out, &err, "info", f.dir, NULL);
	cr_assert_eq(rc, 0, "info: %s %s", out, err);
	cr_assert_not_null(strstr(out, "1500 x 16 float32"), "%s", out);
	cr_assert_not_null(strstr(out, "status        ok"), "%s", out);
	free(out);
	free(err);
	tu_rmtree(f.tmp);
}

/* The "cache N nodes" of a search's comment line. */
static unsigned long long cached_nodes(struct cfx *f, const char *opt, const char *val)
{
	char *out = NULL, *err = NULL, *p;
	unsigned long long n = 0;
	int rc = cli_run(&out, &err, "search", "--index", f->dir, "--queries", f->queries, "-L", "20",
			 opt, val, NULL);

	cr_assert_eq(rc, 0, "search %s %s: %s", opt ? opt : "", val ? val : "", err);
	cr_assert_not_null(p = strstr(out, "cache "), "%s", out);
	cr_assert_eq(sscanf(p, "cache %llu nodes", &n), 1, "%s", out);
	free(out);
	free(err);
	return n;
}

/* Without a cache option the search gets the library's default budget
 * (DANN_CACHE_DEFAULT_FRAC of the node file); --cache-nodes 0 or
 * --cache-frac 0 turn it off; the smallest bound given wins. */
Test(dix_cli, search_caches_a_share_of_the_node_file_by_default)
{
	struct cfx f;
	char path[PATH_MAX + 16], *err = NULL;
	struct stat st;
	unsigned long long def, half;

	cfx_build(&f);
	TU_FMT(path, "%s/disk.index", f.dir);
	cr_assert_eq(stat(path, &st), 0);
	def = cached_nodes(&f, NULL, NULL);
	cr_assert_gt(def, 0, "no cache by default");
	cr_assert_leq(def * 16 * sizeof(float), (unsigned long long)(DANN_CACHE_DEFAULT_FRAC * st.st_size),
		      "%llu nodes hold more than the default share of %lld bytes", def, (long long)st.st_size);
	half = cached_nodes(&f, "--cache-frac", "0.01");
	cr_assert(half > 0 && half < def, "1%%: %llu nodes, 2%%: %llu", half, def);
	cr_assert_eq(cached_nodes(&f, "--cache-nodes", "0"), 0);
	cr_assert_eq(cached_nodes(&f, "--cache-frac", "0"), 0);
	cr_assert_neq(cli_run(NULL, &err, "search", "--index", f.dir, "--queries", f.queries,
			      "--cache-frac", "2", NULL), 0);
	cr_assert_not_null(strstr(err, "--cache-frac"), "%s", err);
	free(err);
	tu_rmtree(f.tmp);
}

static void expect_search_error(struct cfx *f, const char *queries, const char *k, const char *L,
				const char *want)
{
	char *err = NULL;
	int rc = cli_run(NULL, &err, "search", "--index", f->dir, "--queries", queries, "-k", k,
			 "-L", L, NULL);

	cr_assert_neq(rc, 0, "search -k %s -L %s with %s succeeded", k, L, queries);
	cr_assert_not_null(strstr(err, want), "expected '%s' in: %s", want, err);
	free(err);
}

Test(dix_cli, search_rejects_bad_queries_and_parameters_with_clear_errors)
{
	struct cfx f;
	char wrong[512], empty[512];
	float v[17 * 3] = { 0 };

	cfx_build(&f);
	TU_FMT(wrong, "%s/wrong.fbin", f.tmp);
	TU_FMT(empty, "%s/empty.fbin", f.tmp);
	cr_assert_eq(vf_write_file(wrong, 17, v, 3), 0);
	cr_assert_eq(vf_write_file(empty, 16, v, 0), 0);
	expect_search_error(&f, wrong, "10", "20", "queries have dimension 17, the index 16");
	expect_search_error(&f, empty, "10", "20", "holds no vectors");
	expect_search_error(&f, f.queries, "0", "20", "-k must be at least 1");
	expect_search_error(&f, f.queries, "30", "10,40", "-L 10 is smaller than -k 30");
	expect_search_error(&f, f.base, "10", "20,x", "-L");
	tu_rmtree(f.tmp);
}

Test(dix_cli, info_and_search_name_the_damaged_file)
{
	struct cfx f;
	char *out = NULL, *err = NULL;
	int rc;

	cfx_build(&f);
	tu_flip_byte(f.dir, "disk.index", 4096 + 10);
	/* info checks every file in full, the node records included. */
	rc = cli_run(&out, &err, "info", f.dir, NULL);
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert_not_null(strstr(out, "CORRUPT"), "%s", out);
	cr_assert_not_null(strstr(out, "disk.index"), "%s", out);
	free(out);
	free(err);
	tu_truncate(f.dir, "pq_codes.bin", 1);
	rc = cli_run(NULL, &err, "search", "--index", f.dir, "--queries", f.queries, NULL);
	cr_assert_eq(rc, 1);
	cr_assert_not_null(strstr(err, "pq_codes.bin"), "%s", err);
	free(err);
	tu_rmtree(f.tmp);
}
