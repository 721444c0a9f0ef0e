/*
 * test_collection_cli.c — the collection commands of the `dann` binary as
 * a user runs them: create / list / describe / drop, insert and upsert
 * from vector files with keys from --first-id, .ibin and int64 key files,
 * get, delete, search (table and JSON, with recall against ground truth),
 * flush and compact, --opq and `collection index`; and for bad input a
 * clear error, the documented exit status (2 usage, 1 failure) and no
 * change to the collection.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/cli.h"
#include "helpers/tmpdir.h"
#include "ids_file.h"
#include "vf.h"

#define N 1200
#define DIM 16
#define RUN(out, err, ...) cli_run(out, err, __VA_ARGS__, NULL)

static char data[512], base[512], queries[512], gt[512];

static void setup(void)
{
	char *err = NULL;
	int rc;

	setenv("OMP_WAIT_POLICY", "passive", 0);
	tmpdir_make("collcli");
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	snprintf(base, sizeof base, "%s", tmpdir_path("base.fbin"));
	snprintf(queries, sizeof queries, "%s", tmpdir_path("q.fbin"));
	snprintf(gt, sizeof gt, "%s", tmpdir_path("gt.ibin"));
	rc = RUN(NULL, &err, "gen", "--n", "1200", "--dim", "16", "--out", base, "--queries", "30", "--queries-out",
		 queries);
	cr_assert_eq(rc, 0, "gen: %s", err);
	free(err);
	rc = RUN(NULL, &err, "gt", "--base", base, "--queries", queries, "-k", "10", "--metric", "l2", "--out", gt);
	cr_assert_eq(rc, 0, "gt: %s", err);
	free(err);
}

TestSuite(collection_cli, .init = setup, .fini = tmpdir_remove, .timeout = 240);

/* What the last command printed, for OK. */
static char *last_out, *last_err;

static char *ok_(int rc)
{
	char *o = last_out;
	cr_assert_eq(rc, 0, "exit %d: %s", rc, last_err);
	free(last_err);
	last_out = last_err = NULL;
	return o;
}

/* Runs a command that must succeed; returns its stdout (free it). */
#define OK(...) ok_(RUN(&last_out, &last_err, __VA_ARGS__))

/* Runs a command that must exit with status st and say want on stderr. */
#define FAILS(st, want, ...)                                                                     \
	do {                                                                                     \
		char *e_ = NULL;                                                                 \
		int r_ = RUN(NULL, &e_, __VA_ARGS__);                                            \
		cr_assert_eq(r_, st, "exit %d, expected %d: %s", r_, st, e_);                   \
		cr_assert(strstr(e_, want), "stderr lacks '%s': %s", want, e_);                  \
		free(e_);                                                                        \
	} while (0)

static void create(const char *name, const char *extra)
{
	char *o;
	if (extra)
		o = OK("collection", "create", "--data-dir", data, "--name", name, "--dim", "16", "--metric", "l2",
		       "-R", "16", "-L", "32", "--pq-bytes", "8", "--seal-rows", "500", extra);
	else
		o = OK("collection", "create", "--data-dir", data, "--name", name, "--dim", "16", "--metric", "l2",
		       "-R", "16", "-L", "32", "--pq-bytes", "8", "--seal-rows", "500");
	free(o);
}

static uint64_t live_rows(const char *name)
{
	char *o = OK("collection", "describe", "--data-dir", data, "--name", name), *p;
	unsigned long long rows = 0;

	cr_assert_not_null(p = strstr(o, "rows "), "%s", o);
	cr_assert_not_null(p = strstr(o, "  rows"), "%s", o);
	cr_assert_eq(sscanf(p, " rows %llu live", &rows), 1, "%s", o);
	free(o);
	return rows;
}

/* The vector `dann get` prints for key. */
static void get_vector(const char *name, long long key, float *v)
{
	char id[32], *o, *p;

	snprintf(id, sizeof id, "%lld", key);
	o = OK("get", "--data-dir", data, "--name", name, "--id", id);
	p = o;
	for (int i = 0; i < DIM; i++)
		v[i] = strtof(p, &p);
	free(o);
}

static void base_row(uint64_t row, float *v)
{
	struct vf *f;
	cr_assert_eq(vf_open(base, &f), 0);
	cr_assert_eq(vf_read_f32(f, row, 1, v), 0);
	vf_close(f);
}

Test(collection_cli, create_list_describe_and_drop)
{
	char *o;

	create("docs", NULL);
	create("alpha", "--auto-id");
	o = OK("collection", "list", "--data-dir", data);
	cr_assert_str_eq(o, "alpha\ndocs\n", "sorted names");
	free(o);
	o = OK("collection", "describe", "--data-dir", data, "--name", "docs");
	cr_assert(strstr(o, "dim 16"), "%s", o);
	cr_assert(strstr(o, "metric l2"), "%s", o);
	cr_assert(strstr(o, "R 16, L 32"), "%s", o);
	cr_assert(strstr(o, "500 rows"), "%s", o);
	cr_assert(strstr(o, "0 live"), "%s", o);
	free(o);
	FAILS(1, "docs", "collection", "create", "--data-dir", data, "--name", "docs", "--dim", "8");
	o = OK("collection", "drop", "--data-dir", data, "--name", "docs");
	free(o);
	o = OK("collection", "list", "--data-dir", data);
	cr_assert_str_eq(o, "alpha\n");
	free(o);
	FAILS(1, "docs", "collection", "describe", "--data-dir", data, "--name", "docs");
	FAILS(1, "docs", "collection", "drop", "--data-dir", data, "--name", "docs");
}

Test(collection_cli, usage_errors_exit_2_and_name_the_problem)
{
	FAILS(2, "subcommand", "collection");
	FAILS(2, "unknown subcommand 'make'", "collection", "make", "--data-dir", data);
	FAILS(2, "--name C and --dim N", "collection", "create", "--data-dir", data, "--name", "x");
	FAILS(2, "--dtype 'float64'", "collection", "create", "--data-dir", data, "--name", "x", "--dim", "4",
	      "--dtype", "float64");
	FAILS(2, "--metric", "collection", "create", "--data-dir", data, "--name", "x", "--dim", "4", "--metric",
	      "hamming");
	FAILS(2, "--data-dir D, --name C and --vectors FILE", "insert", "--data-dir", data, "--vectors", base);
	FAILS(2, "which rows", "delete", "--data-dir", data, "--name", "x");
	FAILS(2, "--id expects a whole number", "get", "--data-dir", data, "--name", "x", "--id", "7x");
	FAILS(2, "one or the other", "search", "--index", data, "--data-dir", data, "--name", "x", "--queries",
	      queries);
	FAILS(2, "both --data-dir D and --name C", "search", "--data-dir", data, "--queries", queries);
	FAILS(2, "apply to --index", "search", "--data-dir", data, "--name", "x", "--queries", queries, "--cache-mib",
	      "64");
	/* No usage error created the data directory; only create makes one. */
	FAILS(1, "no data directory", "collection", "list", "--data-dir", data);
	FAILS(1, "no data directory", "insert", "--data-dir", data, "--name", "x", "--vectors", base, "--first-id", "0");
}

Test(collection_cli, a_data_dir_held_by_another_process_is_refused)
{
	struct dann_db *db = NULL;
	char *o;

	create("docs", NULL);
	cr_assert_eq(dann_db_open(data, NULL, &db), 0, "%s", dann_errmsg());
	FAILS(1, "another process", "insert", "--data-dir", data, "--name", "docs", "--vectors", base, "--first-id", "0");
	FAILS(1, "another process", "collection", "list", "--data-dir", data);
	dann_db_close(db);
	o = OK("collection", "list", "--data-dir", data);
	cr_assert_str_eq(o, "docs\n", "the lock goes with the process that held it");
	free(o);
	cr_assert_eq(live_rows("docs"), 0);
}

Test(collection_cli, insert_get_search_flush_delete_end_to_end)
{
	float want[DIM], got[DIM];
	char *o, *p;
	double recall;

	create("docs", NULL);
	o = OK("insert", "--data-dir", data, "--name", "docs", "--vectors", base, "--first-id", "0", "--batch", "100");
	cr_assert(strstr(o, "inserted 1200 rows into docs"), "%s", o);
	free(o);
	cr_assert_eq(live_rows("docs"), N);
	base_row(7, want);
	get_vector("docs", 7, got);
	cr_assert_eq(memcmp(want, got, sizeof want), 0, "get returns the inserted vector bit for bit");

	/* Searchable as soon as the insert returned, before any flush. */
	o = OK("search", "--data-dir", data, "--name", "docs", "--queries", queries, "--gt", gt, "-k", "10", "-L",
	       "40", "--json");
	cr_assert(strstr(o, "\"mean_segments\""), "%s", o);
	cr_assert_not_null(p = strstr(o, "\"recall\": "), "%s", o);
	recall = strtod(p + 10, NULL);
	cr_assert_geq(recall, 0.9, "recall %.3f before flush: %s", recall, o);
	free(o);

	o = OK("flush", "--data-dir", data, "--name", "docs");
	cr_assert(strstr(o, "flushed docs"), "%s", o);
	cr_assert(strstr(o, "1200 live rows"), "%s", o);
	free(o);
	o = OK("collection", "describe", "--data-dir", data, "--name", "docs");
	cr_assert(strstr(o, "flushed"), "segments are disk indexes after flush: %s", o);
	free(o);
	o = OK("search", "--data-dir", data, "--name", "docs", "--queries", queries, "--gt", gt, "-k", "10", "-L",
	       "20,60");
	cr_assert(strstr(o, "segs/q"), "%s", o);
	cr_assert(strstr(o, "recall@k"), "%s", o);
	p = strstr(o, "\n    60 ");
	cr_assert_not_null(p, "a row for L 60: %s", o);
	recall = strtod(p + 8, NULL);
	cr_assert_geq(recall, 0.9, "recall %.3f after flush: %s", recall, o);
	free(o);

	o = OK("delete", "--data-dir", data, "--name", "docs", "--id", "7");
	cr_assert(strstr(o, "deleted 1 rows of 1 keys"), "%s", o);
	free(o);
	FAILS(1, "7", "get", "--data-dir", data, "--name", "docs", "--id", "7");
	o = OK("delete", "--data-dir", data, "--name", "docs", "--id", "7");
	cr_assert(strstr(o, "deleted 0 rows of 1 keys"), "deleting a missing key is not an error: %s", o);
	free(o);
	cr_assert_eq(live_rows("docs"), N - 1);
	o = OK("compact", "--data-dir", data, "--name", "docs");
	cr_assert(strstr(o, "1199 live rows"), "%s", o);
	free(o);
	get_vector("docs", 8, got);
	base_row(8, want);
	cr_assert_eq(memcmp(want, got, sizeof want), 0);
}

static void write_ibin(const char *path, const int32_t *ids, uint64_t n)
{
	cr_assert_eq(vf_write_file(path, 1, ids, n), 0, "%s", dann_errmsg());
}

Test(collection_cli, keys_from_ibin_and_int64_files_and_upsert_replaces)
{
	int64_t k64[N];
	int32_t k32[N];
	float want[DIM], got[DIM];
	const char *f64 = tmpdir_path("keys.i64"), *f32 = tmpdir_path("keys.ibin");
	char *o;

	for (int i = 0; i < N; i++) {
		k64[i] = 5000000000ll + i * 3; /* past int32 */
		k32[i] = N - 1 - i;
	}
	cr_assert_eq(ids_file_write_i64(f64, k64, N), 0);
	write_ibin(f32, k32, N);
	create("docs", NULL);
	free(OK("insert", "--data-dir", data, "--name", "docs", "--vectors", base, "--ids-i64", f64));
	free(OK("insert", "--data-dir", data, "--name", "docs", "--vectors", base, "--ids", f32));
	cr_assert_eq(live_rows("docs"), 2 * N);
	base_row(10, want);
	get_vector("docs", 5000000030ll, got);
	cr_assert_eq(memcmp(want, got, sizeof want), 0, "row 10 under int64 key 5000000030");
	get_vector("docs", N - 1 - 10, got);
	cr_assert_eq(memcmp(want, got, sizeof want), 0, "row 10 under its .ibin key");

	/* Upsert the same rows under keys 0..N-1: key j now holds row j. */
	o = OK("upsert", "--data-dir", data, "--name", "docs", "--vectors", base, "--first-id", "0");
	cr_assert(strstr(o, "upserted 1200 rows"), "%s", o);
	free(o);
	cr_assert_eq(live_rows("docs"), 2 * N, "upsert replaced, it did not add");
	get_vector("docs", 10, got);
	cr_assert_eq(memcmp(want, got, sizeof want), 0, "key 10 now holds row 10");
}

Test(collection_cli, bad_input_is_refused_and_changes_nothing)
{
	const char *short_ids = tmpdir_path("short.i64"), *dup_ids = tmpdir_path("dup.i64");
	const char *torn = tmpdir_path("torn.i64"), *nan_file = tmpdir_path("nan.fbin");
	const char *wide = tmpdir_path("wide.fbin"), *u8 = tmpdir_path("b.u8bin");
	int64_t keys[N];
	float rows[4 * DIM] = { 0 }, wide_rows[2 * 32] = { 0 };
	FILE *f;

	for (int i = 0; i < N; i++)
		keys[i] = i;
	create("docs", NULL);
	free(OK("insert", "--data-dir", data, "--name", "docs", "--vectors", base, "--first-id", "0"));

	cr_assert_eq(ids_file_write_i64(short_ids, keys, 3), 0);
	FAILS(1, "holds 3 keys but", "insert", "--data-dir", data, "--name", "docs", "--vectors", base, "--ids-i64",
	      short_ids);
	keys[5] = keys[4] = 20000;
	cr_assert_eq(ids_file_write_i64(dup_ids, keys, N), 0);
	FAILS(1, "key 20000 is given more than once", "insert", "--data-dir", data, "--name", "docs", "--vectors",
	      base, "--ids-i64", dup_ids);
	FAILS(1, "key 1100 already exists", "insert", "--data-dir", data, "--name", "docs", "--vectors", base,
	      "--first-id", "1100");
	cr_assert(f = fopen(torn, "wb"));
	fwrite(keys, 1, 20, f); /* count then half a key */
	fclose(f);
	FAILS(1, "header says", "insert", "--data-dir", data, "--name", "docs", "--vectors", base, "--ids-i64", torn);

	rows[2 * DIM + 3] = NAN;
	cr_assert_eq(vf_write_file(nan_file, DIM, rows, 4), 0);
	FAILS(1, "row 2, element 3 is NaN", "insert", "--data-dir", data, "--name", "docs", "--vectors", nan_file,
	      "--first-id", "50000");
	cr_assert_eq(vf_write_file(wide, 32, wide_rows, 2), 0);
	FAILS(1, "dimension 32, collection docs has 16", "insert", "--data-dir", data, "--name", "docs", "--vectors",
	      wide, "--first-id", "50000");
	FAILS(2, "give the keys", "insert", "--data-dir", data, "--name", "docs", "--vectors", base);
	FAILS(1, "nosuch", "insert", "--data-dir", data, "--name", "nosuch", "--vectors", base, "--first-id", "0");
	FAILS(1, "nosuch", "search", "--data-dir", data, "--name", "nosuch", "--queries", queries);
	FAILS(1, "queries have dimension 32", "search", "--data-dir", data, "--name", "docs", "--queries", wide);
	cr_assert_eq(live_rows("docs"), N, "nothing was written by any failed command");

	/* A uint8 collection takes only uint8 rows; auto-id refuses keys. */
	free(OK("gen", "--n", "50", "--dim", "16", "--out", u8, "--dtype", "uint8"));
	free(OK("collection", "create", "--data-dir", data, "--name", "bytes", "--dim", "16", "--dtype", "uint8",
		"--auto-id"));
	FAILS(1, "float32 elements, collection bytes stores uint8", "insert", "--data-dir", data, "--name", "bytes",
	      "--vectors", base);
	FAILS(2, "assigns keys itself", "insert", "--data-dir", data, "--name", "bytes", "--vectors", u8,
	      "--first-id", "0");
	cr_assert_eq(live_rows("bytes"), 0);
}

Test(collection_cli, auto_id_assigns_distinct_keys_and_writes_them_out)
{
	const char *keys_out = tmpdir_path("assigned.i64");
	int64_t *keys = NULL;
	uint64_t n = 0;
	float want[DIM], got[DIM];

	create("auto", "--auto-id");
	free(OK("insert", "--data-dir", data, "--name", "auto", "--vectors", base, "--keys-out", keys_out));
	cr_assert_eq(ids_file_load(keys_out, 1, &keys, &n), 0, "%s", dann_errmsg());
	cr_assert_eq(n, N);
	for (uint64_t i = 1; i < n; i++)
		for (uint64_t j = 0; j < i; j += 97)
			cr_assert_neq(keys[i], keys[j]);
	base_row(123, want);
	get_vector("auto", (long long)keys[123], got);
	cr_assert_eq(memcmp(want, got, sizeof want), 0, "the key written out for row 123 gets row 123");
	free(keys);
}

/* --opq on create: describe says so and every flushed segment's index has
 * the rotation; collection index changes only what it is given. */
Test(collection_cli, opq_on_create_reaches_the_segments_and_index_changes_it)
{
	struct dann_index_info info;
	struct dann_index *ix;
	char pat[1024], *o;
	glob_t g;

	create("emb", "--opq");
	o = OK("collection", "describe", "--data-dir", data, "--name", "emb");
	cr_assert(strstr(o, "pq bytes 8, OPQ"), "%s", o);
	free(o);
	free(OK("insert", "--data-dir", data, "--name", "emb", "--vectors", base, "--first-id", "0"));
	free(OK("flush", "--data-dir", data, "--name", "emb"));
	snprintf(pat, sizeof pat, "%s/c*/s*", data);
	cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no segment directory");
	cr_assert_geq(g.gl_pathc, 1);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		cr_assert_eq(dann_index_open(g.gl_pathv[i], NULL, &ix), 0, "%s", dann_errmsg());
		cr_assert_eq(dann_index_info(ix, &info), 0);
		cr_assert_eq(info.opq, 1, "%s: no rotation", g.gl_pathv[i]);
		dann_index_close(ix);
	}
	globfree(&g);

	o = OK("collection", "index", "--data-dir", data, "--name", "emb", "--no-opq", "-L", "40");
	cr_assert(strstr(o, "plain PQ"), "%s", o);
	free(o);
	o = OK("collection", "describe", "--data-dir", data, "--name", "emb");
	cr_assert(strstr(o, "R 16, L 40"), "R kept, L changed: %s", o);
	cr_assert(!strstr(o, "OPQ"), "%s", o);
	free(o);
	FAILS(2, "contradict", "collection", "index", "--data-dir", data, "--name", "emb", "--opq", "--no-opq");
	FAILS(2, "index parameters only", "collection", "index", "--data-dir", data, "--name", "emb", "--dim", "8");
	FAILS(2, "needs a parameter", "collection", "index", "--data-dir", data, "--name", "emb");
	FAILS(1, "nope", "collection", "index", "--data-dir", data, "--name", "nope", "--opq");
	o = OK("collection", "describe", "--data-dir", data, "--name", "emb");
	cr_assert(!strstr(o, "OPQ") && strstr(o, "L 40"), "a refused change changed it: %s", o);
	free(o);
}
