/*
 * test_seg_fetch.c — scalar columns stored per row and fetched by key:
 * fixed-width, nullable, VARCHAR, JSON and the dynamic field "$meta" (and
 * a key inside it), the same from a growing segment, a flushed one, after
 * compaction and after a reopen; missing keys come back not found.
 */
#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_fetch"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_fetch, .init = setup, .fini = teardown, .timeout = 120);

#define ROWS 200

static void title_of(int64_t k, char *buf, size_t cap) { snprintf(buf, cap, "title-%lld", (long long)k); }
static void meta_of(int64_t k, char *buf, size_t cap)
{
	snprintf(buf, cap, "{\"color\":\"c%lld\",\"n\":%lld}", (long long)(k % 7), (long long)k);
}

static void insert_rows(struct dann_coll *c)
{
	static int64_t keys[ROWS];
	static float vecs[ROWS * ST_DIM];
	static int32_t age[ROWS];
	static uint8_t age_valid[ROWS];
	static char titles[ROWS * 32], metas[ROWS * 64];
	static uint64_t toff[ROWS + 1], moff[ROWS + 1];

	for (int i = 0; i < ROWS; i++) {
		char buf[64];
		keys[i] = i + 1;
		st_vec(keys[i], ST_DIM, vecs + i * ST_DIM);
		age[i] = (int32_t)(i * 3);
		age_valid[i] = i % 5 != 0;
		title_of(keys[i], buf, sizeof buf);
		memcpy(titles + toff[i], buf, strlen(buf));
		toff[i + 1] = toff[i] + strlen(buf);
		meta_of(keys[i], buf, sizeof buf);
		memcpy(metas + moff[i], buf, strlen(buf));
		moff[i + 1] = moff[i] + strlen(buf);
	}
	struct dann_column cols[3] = {
		{ .name = "age", .type = DANN_FIELD_INT32, .values = age, .valid = age_valid },
		{ .name = "title", .type = DANN_FIELD_VARCHAR, .values = titles, .offsets = toff },
		{ .name = "$meta", .type = DANN_FIELD_JSON, .values = metas, .offsets = moff },
	};
	struct dann_batch b = { .n = ROWS, .keys = keys, .vectors = vecs, .cols = cols, .ncols = 3 };
	cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
}

static void check_fetch(struct dann_coll *c, const char *when)
{
	const char *fields[] = { "age", "title", "$meta", "color" };
	int64_t keys[5] = { 1, 2, 77, 150, 9999 };
	struct dann_rows *r;

	cr_assert_eq(dann_coll_fetch(c, keys, 5, fields, 4, 1, &r), 0, "%s: %s", when, dann_errmsg());
	cr_assert_eq(r->ncols, 4);
	for (int i = 0; i < 5; i++) {
		int64_t k = keys[i];
		bool live = k <= ROWS && k != 2; /* key 2 is deleted */
		cr_assert_eq(r->found[i], live, "%s: key %lld found", when, (long long)k);
		if (!live) {
			cr_assert_eq(r->cols[1].valid[i], 0, "%s: missing rows are null", when);
			continue;
		}
		int row = (int)k - 1;
		float v[ST_DIM];
		st_vec(k, ST_DIM, v);
		cr_assert_eq(memcmp((float *)r->vectors + i * ST_DIM, v, sizeof v), 0, "%s: vector", when);
		cr_assert_eq(r->cols[0].valid[i], row % 5 != 0, "%s: age validity of %lld", when,
			     (long long)k);
		if (row % 5)
			cr_assert_eq(((const int32_t *)r->cols[0].values)[i], row * 3);
		char want[64];
		title_of(k, want, sizeof want);
		const char *t = (const char *)r->cols[1].values + r->cols[1].offsets[i];
		size_t tl = r->cols[1].offsets[i + 1] - r->cols[1].offsets[i];
		cr_assert(tl == strlen(want) && !memcmp(t, want, tl), "%s: title of %lld", when, (long long)k);
		meta_of(k, want, sizeof want);
		t = (const char *)r->cols[2].values + r->cols[2].offsets[i];
		tl = r->cols[2].offsets[i + 1] - r->cols[2].offsets[i];
		cr_assert(tl == strlen(want) && !memcmp(t, want, tl), "%s: $meta of %lld", when, (long long)k);
		snprintf(want, sizeof want, "\"c%lld\"", (long long)(k % 7));
		t = (const char *)r->cols[3].values + r->cols[3].offsets[i];
		tl = r->cols[3].offsets[i + 1] - r->cols[3].offsets[i];
		cr_assert(tl == strlen(want) && !memcmp(t, want, tl), "%s: $meta.color of %lld is %.*s",
			  when, (long long)k, (int)tl, t);
	}
	dann_rows_free(r);
}

Test(seg_fetch, columns_come_back_from_every_kind_of_segment)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	struct dann_rows *r;
	int64_t two = 2;

	st_schema(&s, "f", ST_DIM);
	s.dynamic_field = 1;
	s.nfields = 2;
	strcpy(s.fields[0].name, "age");
	s.fields[0].type = DANN_FIELD_INT32;
	s.fields[0].nullable = 1;
	strcpy(s.fields[1].name, "title");
	s.fields[1].type = DANN_FIELD_VARCHAR;
	s.fields[1].max_length = 64;
	c = st_create(db, &s);
	insert_rows(c);
	cr_assert_eq(dann_coll_delete(c, &two, 1, NULL), 0);
	check_fetch(c, "growing");
	cr_assert_eq(dann_coll_fetch(c, &two, 1, (const char *const[]){ "vector" }, 1, 0, &r),
		     DANN_EINVAL, "the vector is not a scalar field");
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	check_fetch(c, "flushed");
	int64_t three = 3;
	cr_assert_eq(dann_coll_delete(c, &three, 1, NULL), 0);
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	check_fetch(c, "compacted");
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "f", &c), 0);
	check_fetch(c, "reopened");
	dann_db_close(db);
}

/* A schema with every field slot taken (DANN_MAX_FIELDS varchar fields,
 * three files each, and the dynamic field) flushes into one segment
 * directory whose MANIFEST lists them all; its columns come back after a
 * reopen. (A MANIFEST of at most 32 files failed the build of any segment
 * with more than about seven scalar fields.) */
#define WIDE_ROWS 40
Test(seg_fetch, a_segment_with_every_field_slot_flushes_and_reopens)
{
	static char vals[WIDE_ROWS * 8];
	static uint64_t off[WIDE_ROWS + 1];
	static struct dann_column cols[DANN_MAX_FIELDS];
	int64_t keys[WIDE_ROWS];
	float vecs[WIDE_ROWS * ST_DIM];
	const char *want[2] = { "f0", "f63" };
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	struct dann_rows *r;

	st_schema(&s, "wide", ST_DIM);
	s.dynamic_field = 1;
	s.nfields = DANN_MAX_FIELDS;
	for (uint32_t f = 0; f < DANN_MAX_FIELDS; f++) {
		snprintf(s.fields[f].name, sizeof s.fields[f].name, "f%u", f);
		s.fields[f].type = DANN_FIELD_VARCHAR;
		s.fields[f].max_length = 8;
		cols[f] = (struct dann_column){ .name = s.fields[f].name, .type = DANN_FIELD_VARCHAR,
						.values = vals, .offsets = off };
	}
	for (int i = 0; i < WIDE_ROWS; i++) {
		keys[i] = i;
		st_vec(i, ST_DIM, vecs + i * ST_DIM);
		off[i + 1] = off[i] + (uint64_t)snprintf(vals + off[i], 8, "v%d", i);
	}
	c = st_create(db, &s);
	struct dann_batch b = { .n = WIDE_ROWS, .keys = keys, .vectors = vecs, .cols = cols,
				.ncols = DANN_MAX_FIELDS };
	cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "wide", &c), 0);
	cr_assert_eq(dann_coll_fetch(c, keys + 7, 1, want, 2, 0, &r), 0, "%s", dann_errmsg());
	cr_assert(r->found[0]);
	for (int f = 0; f < 2; f++)
		cr_assert(r->cols[f].offsets[1] == 2 && !memcmp(r->cols[f].values, "v7", 2), "%s", want[f]);
	dann_rows_free(r);
	dann_db_close(db);
}
