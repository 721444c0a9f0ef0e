/*
 * test_seg_default.c — field defaults (Milvus's default_value): a batch
 * that leaves a field out, or gives null, stores the default; filters see
 * it in RAM, after a flush and after a reopen (schema from the catalog,
 * rows from the WAL or disk); a default of the wrong type, out of range or
 * longer than max_length is refused at create naming the field, creating
 * nothing; a version 1 catalog (before defaults) still opens.
 */
#include <sys/stat.h>

#include "seg_testutil.h"
#include "crc.h"

#define N 40

static void setup(void) { tmpdir_make("seg_default"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_default, .init = setup, .fini = teardown, .timeout = 60);

static void field(struct dann_schema *s, const char *name, enum dann_field_type t)
{
	struct dann_field *f = &s->fields[s->nfields++];

	snprintf(f->name, sizeof f->name, "%s", name);
	f->type = t;
	f->def.type = t;
}

/* flag bool 1, n int32 5, big int64 -7 (nullable), price float 2.5,
 * score double 0.25, tag varchar(8) "none" (nullable). */
static void schema(struct dann_schema *s)
{
	st_schema(s, "d", ST_DIM);
	field(s, "flag", DANN_FIELD_BOOL);
	s->fields[0].def.i = 1;
	field(s, "n", DANN_FIELD_INT32);
	s->fields[1].def.i = 5;
	field(s, "big", DANN_FIELD_INT64);
	s->fields[2].def.i = -7;
	s->fields[2].nullable = 1;
	field(s, "price", DANN_FIELD_FLOAT);
	s->fields[3].def.d = 2.5;
	field(s, "score", DANN_FIELD_DOUBLE);
	s->fields[4].def.d = 0.25;
	field(s, "tag", DANN_FIELD_VARCHAR);
	s->fields[5].max_length = 8;
	s->fields[5].nullable = 1;
	s->fields[5].def.len = 4;
	strcpy(s->fields[5].def.s, "none");
}

/* Rows [first, first + N): with_cols 0 gives no columns; 1 gives n = key
 * and tag "t<key%10>", null on odd keys (so odd keys get "none"). */
static void insert(struct dann_coll *c, int64_t first, int with_cols)
{
	static int64_t keys[N];
	static float vecs[N * ST_DIM];
	static int32_t n[N];
	static uint8_t valid[N];
	static char bytes[N * 4];
	static uint64_t offs[N + 1];
	struct dann_column cols[2];
	struct dann_batch b = { .n = N, .keys = keys, .vectors = vecs, .cols = cols,
				.ncols = with_cols ? 2 : 0 };

	for (int64_t i = 0; i < N; i++) {
		keys[i] = first + i;
		st_vec(keys[i], ST_DIM, vecs + i * ST_DIM);
		n[i] = (int32_t)keys[i];
		valid[i] = keys[i] % 2 == 0;
		offs[i + 1] = offs[i] + (valid[i] ? (uint64_t)sprintf(bytes + offs[i], "t%d", (int)(keys[i] % 10)) : 0);
	}
	cols[0] = (struct dann_column){ .name = "n", .type = DANN_FIELD_INT32, .values = n };
	cols[1] = (struct dann_column){ .name = "tag", .type = DANN_FIELD_VARCHAR, .values = bytes,
					.offsets = offs, .valid = valid };
	cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
}

static uint64_t count(struct dann_coll *c, const char *filter)
{
	uint64_t n = 0;

	cr_assert_eq(dann_coll_count_filter(c, filter, &n), 0, "%s: %s", filter, dann_errmsg());
	return n;
}

/* Rows 0..N-1 came without columns, N..2N-1 with n and a half-null tag. */
static void check(struct dann_coll *c, const char *when)
{
	cr_assert_eq(count(c, "flag == true"), 2 * N, "%s", when);
	cr_assert_eq(count(c, "n == 5"), N + 0, "%s: only the rows without n", when);
	cr_assert_eq(count(c, "big == -7"), 2 * N, "%s", when);
	cr_assert_eq(count(c, "big is null"), 0, "%s: a null becomes the default", when);
	cr_assert_eq(count(c, "price == 2.5 and score == 0.25"), 2 * N, "%s", when);
	cr_assert_eq(count(c, "tag == \"none\""), N + N / 2, "%s", when);
	cr_assert_eq(count(c, "tag is null"), 0, "%s", when);
	cr_assert_eq(count(c, "tag == \"t2\""), N / 10, "%s", when);
	cr_assert_eq(count(c, "n == 50"), 1, "%s: a given value stays", when);
	{
		/* a query no row passes (once a NULL memmove, seen by UBSan) */
		struct dann_coll_query_params q = { .filter = "tag is null" };
		int64_t *keys = NULL;
		uint64_t n = 9;

		cr_assert_eq(dann_coll_query(c, &q, &keys, &n, NULL), 0, "%s: %s", when, dann_errmsg());
		cr_assert_eq(n, 0, "%s", when);
		free(keys);
	}
}

Test(seg_default, missing_and_null_values_store_the_default_in_ram_on_disk_and_after_reopen)
{
	struct dann_schema s, got;
	struct dann_db *db = st_open(0);
	struct dann_coll *c;
	struct dann_rows *rows = NULL;
	const char *fields[] = { "price", "tag" };
	int64_t key = 3;

	schema(&s);
	c = st_create(db, &s);
	insert(c, 0, 0);
	insert(c, N, 1);
	check(c, "growing");
	cr_assert_eq(dann_coll_fetch(c, &key, 1, fields, 2, 0, &rows), 0, "%s", dann_errmsg());
	cr_assert(rows->found[0] && (rows->cols[0].valid == NULL || rows->cols[0].valid[0]));
	cr_assert_float_eq(((const float *)rows->cols[0].values)[0], 2.5f, 0);
	cr_assert_eq(rows->cols[1].offsets[1] - rows->cols[1].offsets[0], 4);
	cr_assert_eq(memcmp((const char *)rows->cols[1].values + rows->cols[1].offsets[0], "none", 4), 0);
	dann_rows_free(rows);
	dann_db_close(db);

	db = st_open(0); /* rows come back from the WAL */
	cr_assert_eq(dann_coll_get(db, "d", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_schema(c, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got.fields[5].def.type, DANN_FIELD_VARCHAR);
	cr_assert_str_eq(got.fields[5].def.s, "none");
	cr_assert_eq(got.fields[2].def.i, -7);
	check(c, "replayed");
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	check(c, "flushed");
	dann_db_close(db);
}

static void refused(struct dann_schema *s, const char *field, const char *why)
{
	struct dann_db *db = st_open(0);
	char **names = NULL;
	size_t n = 9;

	cr_assert_eq(dann_coll_create(db, s), DANN_EINVAL, "%s: created", why);
	cr_assert(strstr(dann_errmsg(), field), "%s: \"%s\" does not name %s", why, dann_errmsg(), field);
	cr_assert_eq(dann_coll_list(db, &names, &n), 0, "%s", dann_errmsg());
	cr_assert_eq(n, 0, "%s: a collection was left", why);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	dann_db_close(db);
}

Test(seg_default, a_bad_default_is_refused_at_create_naming_the_field)
{
	struct dann_schema s;

	schema(&s);
	s.fields[1].def.type = DANN_FIELD_VARCHAR; /* on an int32 field */
	refused(&s, "\"n\"", "wrong type");
	schema(&s);
	strcpy(s.fields[5].def.s, "too long!");
	s.fields[5].def.len = 9;
	refused(&s, "\"tag\"", "over max_length");
	schema(&s);
	s.fields[1].def.i = 1ll << 40;
	refused(&s, "\"n\"", "out of int32");
	schema(&s);
	s.fields[0].def.i = 2;
	refused(&s, "\"flag\"", "bool 2");
	schema(&s);
	s.fields[3].def.d = 1e300;
	refused(&s, "\"price\"", "over float");
	schema(&s);
	field(&s, "doc", DANN_FIELD_JSON);
	refused(&s, "\"doc\"", "json default");
}

Test(seg_default, a_non_nullable_field_without_default_is_still_required)
{
	struct dann_schema s;
	struct dann_db *db = st_open(0);
	struct dann_coll *c;
	int64_t key = 1;
	float v[ST_DIM];
	struct dann_batch b = { .n = 1, .keys = &key, .vectors = v };

	schema(&s);
	s.fields[1].def.type = 0;
	c = st_create(db, &s);
	st_vec(key, ST_DIM, v);
	cr_assert_eq(dann_coll_insert(c, &b, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "\"n\""), "%s", dann_errmsg());
	dann_db_close(db);
}

/* The collection record of a version 1 CATALOG, as it was. */
struct v1_field {
	char name[DANN_NAME_MAX + 1];
	enum dann_field_type type;
	uint32_t max_length;
	int nullable;
};
struct v1_coll {
	uint64_t id;
	struct {
		char name[DANN_NAME_MAX + 1], description[DANN_NAME_MAX + 1];
		char pk_field[DANN_NAME_MAX + 1], vector_field[DANN_NAME_MAX + 1];
		uint32_t dim;
		enum dann_dtype dtype;
		int auto_id, dynamic_field;
		uint32_t nfields;
		struct v1_field fields[DANN_MAX_FIELDS];
		struct dann_index_params index;
		uint64_t seal_rows, seal_bytes;
	} schema;
	char props[DANN_CAT_PROPS_MAX];
};

Test(seg_default, a_version_1_catalog_opens_with_no_defaults)
{
	struct {
		char magic[8];
		uint32_t version, coll_size, seg_size, ncolls, nsegs, pad;
		uint64_t counters[4];
	} h = { .version = 1, .coll_size = sizeof(struct v1_coll),
		.seg_size = sizeof(struct dann_cat_segment), .ncolls = 1, .counters = { 2, 1, 1, 1 } };
	static struct v1_coll rec;
	static uint8_t buf[sizeof h + sizeof rec + 4];
	struct dann_db *db;
	struct dann_coll *c;
	struct dann_schema got;
	uint32_t crc;
	char path[4096];
	FILE *f;

	memcpy(h.magic, "DANNCAT1", 8);
	rec.id = 1;
	strcpy(rec.schema.name, "old");
	strcpy(rec.schema.pk_field, "id");
	strcpy(rec.schema.vector_field, "vector");
	rec.schema.dim = ST_DIM;
	rec.schema.nfields = 1;
	strcpy(rec.schema.fields[0].name, "cat");
	rec.schema.fields[0].type = DANN_FIELD_INT32;
	rec.schema.fields[0].nullable = 1;
	rec.schema.index = (struct dann_index_params){ .metric = DANN_METRIC_L2, .R = 16, .L = 32, .alpha = 1.2f };
	memcpy(buf, &h, sizeof h);
	memcpy(buf + sizeof h, &rec, sizeof rec);
	crc = crc32c(0, buf, sizeof h + sizeof rec);
	memcpy(buf + sizeof h + sizeof rec, &crc, 4);
	mkdir(tmpdir_path("data"), 0755);
	snprintf(path, sizeof path, "%s/CATALOG", tmpdir_path("data"));
	cr_assert((f = fopen(path, "wb")));
	cr_assert_eq(fwrite(buf, 1, sizeof buf, f), sizeof buf);
	fclose(f);

	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "old", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_schema(c, &got), 0, "%s", dann_errmsg());
	cr_assert_str_eq(got.fields[0].name, "cat");
	cr_assert_eq(got.fields[0].nullable, 1);
	cr_assert_eq(got.fields[0].def.type, 0);
	st_insert_range(c, 0, 10, ST_DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg()); /* saves it as version 2 */
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "old", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(count(c, "cat is null"), 10);
	dann_db_close(db);
}
