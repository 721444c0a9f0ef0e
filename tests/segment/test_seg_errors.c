/*
 * test_seg_errors.c — every bad input gets an error that names the
 * problem, and changes nothing: bad schemas, duplicate and unknown
 * collections, duplicate keys in a batch, existing keys on insert, NaN or
 * Inf in a vector or a query, bad columns, a data directory held by
 * another opener.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_errors"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_errors, .init = setup, .fini = teardown, .timeout = 60);

static void expect(int rc, int code, const char *needle)
{
	cr_assert_eq(rc, code, "rc %d (%s), expected %d", rc, dann_errmsg(), code);
	cr_assert(strstr(dann_errmsg(), needle), "message \"%s\" lacks \"%s\"", dann_errmsg(), needle);
}

Test(seg_errors, bad_schemas_name_the_field_and_create_nothing)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	char **names;
	size_t n;

	st_schema(&s, "ok", 0);
	expect(dann_coll_create(db, &s), DANN_EINVAL, "dim");
	st_schema(&s, "9lives", 8);
	expect(dann_coll_create(db, &s), DANN_EINVAL, "starts with a digit");
	st_schema(&s, "bad-name", 8);
	expect(dann_coll_create(db, &s), DANN_EINVAL, "bad-name");
	st_schema(&s, "ok", 8);
	s.dtype = DANN_DTYPE_I32;
	expect(dann_coll_create(db, &s), DANN_EINVAL, "dtype");
	st_schema(&s, "ok", 8);
	s.index.R = 0;
	expect(dann_coll_create(db, &s), DANN_EINVAL, "index.R");
	st_schema(&s, "ok", 8);
	s.index.alpha = 0.5f;
	expect(dann_coll_create(db, &s), DANN_EINVAL, "index.alpha");
	st_schema(&s, "ok", 8);
	s.index.pq_bytes = 9;
	expect(dann_coll_create(db, &s), DANN_EINVAL, "pq_bytes");
	st_schema(&s, "ok", 8);
	s.nfields = 2;
	strcpy(s.fields[0].name, "title");
	s.fields[0].type = DANN_FIELD_VARCHAR;
	s.fields[0].max_length = 10;
	strcpy(s.fields[1].name, "title");
	s.fields[1].type = DANN_FIELD_INT32;
	expect(dann_coll_create(db, &s), DANN_EINVAL, "\"title\" appears twice");
	s.fields[1].type = DANN_FIELD_VARCHAR;
	strcpy(s.fields[1].name, "body");
	s.fields[1].max_length = 0;
	expect(dann_coll_create(db, &s), DANN_EINVAL, "max_length");
	strcpy(s.fields[1].name, "id");
	s.fields[1].type = DANN_FIELD_INT64;
	expect(dann_coll_create(db, &s), DANN_EINVAL, "primary key");
	cr_assert_eq(dann_coll_list(db, &names, &n), 0);
	cr_assert_eq(n, 0, "no collection was created");
	free(names);
	dann_db_close(db);
}

Test(seg_errors, duplicate_and_unknown_collections)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	char **names;
	size_t n;

	st_schema(&s, "b", 8);
	st_create(db, &s);
	st_schema(&s, "a", 8);
	st_create(db, &s);
	st_schema(&s, "b", 4);
	expect(dann_coll_create(db, &s), DANN_EEXIST, "\"b\"");
	expect(dann_coll_get(db, "nope", &c), DANN_ENOTFOUND, "nope");
	expect(dann_coll_drop(db, "nope"), DANN_ENOTFOUND, "nope");
	cr_assert_eq(dann_coll_list(db, &names, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(names[0], "a");
	cr_assert_str_eq(names[1], "b");
	free(names);
	cr_assert_eq(dann_coll_get(db, "b", &c), 0);
	struct dann_schema got;
	cr_assert_eq(dann_coll_schema(c, &got), 0);
	cr_assert_eq(got.dim, 8, "the duplicate did not replace the schema");
	cr_assert_eq(dann_coll_drop(db, "b"), 0, "%s", dann_errmsg());
	expect(dann_coll_count(c, &(uint64_t){ 0 }), DANN_ENOTFOUND, "dropped");
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_list(db, &names, &n), 0);
	cr_assert_eq(n, 1, "the drop is durable");
	cr_assert_str_eq(names[0], "a");
	free(names);
	/* a dropped name can be created again */
	st_schema(&s, "b", 4);
	st_create(db, &s);
	dann_db_close(db);
}

Test(seg_errors, bad_batches_change_nothing)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	float v[3 * ST_DIM];
	int64_t keys[3] = { 1, 2, 1 };
	uint64_t n;

	st_schema(&s, "t", ST_DIM);
	c = st_create(db, &s);
	for (int i = 0; i < 3; i++)
		st_vec(i, ST_DIM, v + i * ST_DIM);
	struct dann_batch b = { .n = 3, .keys = keys, .vectors = v };
	expect(dann_coll_insert(c, &b, NULL), DANN_EINVAL, "key 1 appears twice");
	expect(dann_coll_upsert(c, &b), DANN_EINVAL, "key 1 appears twice");
	expect(dann_coll_delete(c, keys, 3, NULL), DANN_EINVAL, "key 1 appears twice");
	keys[2] = 3;
	v[ST_DIM + 5] = NAN;
	expect(dann_coll_insert(c, &b, NULL), DANN_EINVAL, "key 2");
	v[ST_DIM + 5] = INFINITY;
	expect(dann_coll_upsert(c, &b), DANN_EINVAL, "NaN or Inf");
	st_vec(2, ST_DIM, v + ST_DIM);
	b.keys = NULL;
	expect(dann_coll_insert(c, &b, NULL), DANN_EINVAL, "without keys");
	b.keys = keys;
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, 0, "nothing was written");

	cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
	int64_t k2[2] = { 7, 3 };
	b.n = 2;
	b.keys = k2;
	expect(dann_coll_insert(c, &b, NULL), DANN_EEXIST, "key 3 already exists");
	cr_assert_eq(dann_coll_get_vector(c, 7, v), DANN_ENOTFOUND, "no part of the batch was written");
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, 3);

	float q[ST_DIM] = { 0 };
	int64_t rk[10];
	float rd[10];
	uint32_t found;
	q[3] = NAN;
	expect(dann_coll_search(c, q, NULL, rk, rd, &found, NULL), DANN_EINVAL, "element 3");
	q[3] = 0;
	struct dann_coll_search_params p;
	dann_coll_search_params_default(&p);
	p.k = 0;
	expect(dann_coll_search(c, q, &p, rk, rd, &found, NULL), DANN_EINVAL, "k = 0");
	p.k = 10;
	p.filter = "a > 1";
	expect(dann_coll_search(c, q, &p, rk, rd, &found, NULL), DANN_EINVAL, "unknown field 'a'");

	/* the same stays true after a reopen (nothing bad reached the WAL) */
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "t", &c), 0);
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, 3);
	dann_db_close(db);
}

Test(seg_errors, bad_columns_name_the_field)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	float v[2 * ST_DIM];
	int64_t keys[2] = { 1, 2 };
	int32_t ages[2] = { 3, 4 };
	const char *txt = "hello, worlds";
	uint64_t offs[3] = { 0, 5, 13 }, n;

	st_schema(&s, "t", ST_DIM);
	s.nfields = 2;
	strcpy(s.fields[0].name, "age");
	s.fields[0].type = DANN_FIELD_INT32;
	strcpy(s.fields[1].name, "title");
	s.fields[1].type = DANN_FIELD_VARCHAR;
	s.fields[1].max_length = 6;
	s.fields[1].nullable = 1;
	c = st_create(db, &s);
	st_vec(1, ST_DIM, v);
	st_vec(2, ST_DIM, v + ST_DIM);
	struct dann_column cols[2] = {
		{ .name = "age", .type = DANN_FIELD_INT32, .values = ages },
		{ .name = "title", .type = DANN_FIELD_VARCHAR, .values = txt, .offsets = offs },
	};
	struct dann_batch b = { .n = 2, .keys = keys, .vectors = v, .cols = cols, .ncols = 2 };
	expect(dann_coll_insert(c, &b, NULL), DANN_EINVAL, "max_length 6");
	offs[2] = 11;
	b.ncols = 1;
	b.cols = &cols[1];
	expect(dann_coll_insert(c, &b, NULL), DANN_EINVAL, "\"age\" is missing");
	cols[0].type = DANN_FIELD_INT64;
	b.cols = cols;
	expect(dann_coll_insert(c, &b, NULL), DANN_EINVAL, "\"age\" given as type");
	cols[0].type = DANN_FIELD_INT32;
	cols[0].name = "agee";
	expect(dann_coll_insert(c, &b, NULL), DANN_EINVAL, "no field \"agee\"");
	cr_assert_eq(dann_coll_count(c, &n), 0);
	cr_assert_eq(n, 0);
	cols[0].name = "age";
	cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
	dann_db_close(db);
}

Test(seg_errors, a_held_data_dir_is_busy_naming_its_lock)
{
	struct dann_db *db = st_open(0), *db2 = NULL;
	int rc = dann_db_open(tmpdir_path("data"), NULL, &db2);

	expect(rc, DANN_EBUSY, "LOCK");
	cr_assert_null(db2);
	/* another process too */
	pid_t pid = fork();
	if (pid == 0) {
		struct dann_db *d3 = NULL;
		_exit(dann_db_open(tmpdir_path("data"), NULL, &d3) == DANN_EBUSY ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a second process must get DANN_EBUSY");
	dann_db_close(db);
	rc = dann_db_open(tmpdir_path("data"), NULL, &db2);
	cr_assert_eq(rc, 0, "reopen after close: %s", dann_errmsg());
	dann_db_close(db2);
}

Test(seg_errors, props_and_auto_id)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	char buf[64];
	float v[3 * ST_DIM];
	int64_t got[3], more[3];

	st_schema(&s, "auto", ST_DIM);
	s.auto_id = 1;
	c = st_create(db, &s);
	expect(dann_coll_get_prop(c, "index_name", buf, sizeof buf), DANN_ENOTFOUND, "index_name");
	cr_assert_eq(dann_coll_set_prop(c, "index_name", "vec_idx"), 0, "%s", dann_errmsg());
	expect(dann_coll_set_prop(c, "a=b", "x"), DANN_EINVAL, "a=b");
	for (int i = 0; i < 3; i++)
		st_vec(i, ST_DIM, v + i * ST_DIM);
	struct dann_batch b = { .n = 3, .vectors = v };
	cr_assert_eq(dann_coll_insert(c, &b, got), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_insert(c, &b, more), 0, "%s", dann_errmsg());
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			cr_assert_neq(got[i], more[j], "auto ids repeat");
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "auto", &c), 0);
	cr_assert_eq(dann_coll_get_prop(c, "index_name", buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "vec_idx");
	cr_assert_eq(dann_coll_insert(c, &b, more), 0, "%s", dann_errmsg());
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			cr_assert_neq(got[i], more[j], "auto ids repeat after reopen");
	float out[ST_DIM];
	cr_assert_eq(dann_coll_get_vector(c, got[1], out), 0);
	cr_assert_eq(memcmp(out, v + ST_DIM, sizeof out), 0);
	dann_db_close(db);
}

static void flip_byte(const char *path, long off)
{
	FILE *f = fopen(path, "r+b");
	cr_assert_not_null(f, "%s", path);
	fseek(f, off, SEEK_SET);
	int ch = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(ch ^ 0x5a, f);
	fclose(f);
}

Test(seg_errors, corrupt_files_are_errors_naming_them)
{
	struct dann_db *db = st_open(0), *d2 = NULL;
	struct dann_schema s;
	struct dann_coll *c;
	struct dann_seg_info *si;
	size_t n;
	char path[512];
	int64_t k = 5;

	st_schema(&s, "cor", ST_DIM);
	c = st_create(db, &s);
	st_insert_range(c, 1, 300, ST_DIM);
	cr_assert_eq(dann_coll_delete(c, &k, 1, NULL), 0);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_segments(c, &si, &n), 0);
	uint64_t sid = 0;
	for (size_t i = 0; i < n; i++)
		if (si[i].state == DANN_SEG_FLUSHED)
			sid = si[i].id;
	free(si);
	dann_db_close(db);

	snprintf(path, sizeof path, "%s/CATALOG", tmpdir_path("data"));
	flip_byte(path, 40);
	expect(dann_db_open(tmpdir_path("data"), NULL, &d2), DANN_ECORRUPT, "CATALOG");
	flip_byte(path, 40);

	snprintf(path, sizeof path, "%s/c1/s%llu/keys.bin", tmpdir_path("data"), (unsigned long long)sid);
	flip_byte(path, 3);
	expect(dann_db_open(tmpdir_path("data"), NULL, &d2), DANN_ECORRUPT, "keys.bin");
	flip_byte(path, 3);

	snprintf(path, sizeof path, "%s/c1/s%llu/deletes.roar", tmpdir_path("data"),
		 (unsigned long long)sid);
	flip_byte(path, 9);
	expect(dann_db_open(tmpdir_path("data"), NULL, &d2), DANN_ECORRUPT, "deletes.roar");
	flip_byte(path, 9);

	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "cor", &c), 0);
	float v[ST_DIM];
	cr_assert_eq(dann_coll_get_vector(c, 5, v), DANN_ENOTFOUND);
	cr_assert_eq(dann_coll_get_vector(c, 6, v), 0);
	dann_db_close(db);
}
