/*
 * test_seg_filter.c — dann_coll_search with a filter expression over
 * scalar fields, the primary key and the dynamic field: in the growing
 * segment (RAM) and after a flush (disk segment, its column files read by
 * the filter), with deletes; every result passes the filter, recall
 * against brute force over the passing rows, and a bad filter is a
 * positioned error that changes nothing.
 */
#include "seg_testutil.h"

#define N 800
#define K 10

static void setup(void) { tmpdir_make("seg_filter"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_filter, .init = setup, .fini = teardown, .timeout = 120);

static int32_t cat_of(int64_t key) { return (int32_t)(key % 10); }
static int name_null(int64_t key) { return key % 3 == 0; }
static int tag_of(int64_t key) { return (int)(key % 4); }

static void schema(struct dann_schema *s)
{
	st_schema(s, "f", ST_DIM);
	s->dynamic_field = 1;
	s->nfields = 2;
	snprintf(s->fields[0].name, sizeof s->fields[0].name, "cat");
	s->fields[0].type = DANN_FIELD_INT32;
	snprintf(s->fields[1].name, sizeof s->fields[1].name, "name");
	s->fields[1].type = DANN_FIELD_VARCHAR;
	s->fields[1].max_length = 32;
	s->fields[1].nullable = 1;
}

static void insert_all(struct dann_coll *c, uint32_t ncols)
{
	static int64_t keys[N];
	static float vecs[N * ST_DIM];
	static int32_t cat[N];
	static uint8_t nvalid[N], mvalid[N];
	static char nbytes[N * 8], mbytes[N * 16];
	static uint64_t noffs[N + 1], moffs[N + 1];
	struct dann_column cols[3];
	struct dann_batch b = { .n = N, .keys = keys, .vectors = vecs, .cols = cols, .ncols = ncols };

	for (int64_t i = 0; i < N; i++) {
		keys[i] = i;
		st_vec(i, ST_DIM, vecs + i * ST_DIM);
		cat[i] = cat_of(i);
		nvalid[i] = !name_null(i);
		noffs[i + 1] = noffs[i] + (nvalid[i] ? (uint64_t)sprintf(nbytes + noffs[i], "n%d", (int)(i % 7)) : 0);
		mvalid[i] = 1;
		moffs[i + 1] = moffs[i] + (uint64_t)sprintf(mbytes + moffs[i], "{\"tag\":%d}", tag_of(i));
	}
	cols[0] = (struct dann_column){ .name = "cat", .type = DANN_FIELD_INT32, .values = cat };
	cols[1] = (struct dann_column){ .name = "name", .type = DANN_FIELD_VARCHAR, .values = nbytes,
					.offsets = noffs, .valid = nvalid };
	cols[2] = (struct dann_column){ .name = "$meta", .type = DANN_FIELD_JSON, .values = mbytes,
					.offsets = moffs, .valid = mvalid };
	cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
}

static int f0(int64_t k) { return cat_of(k) == 3; }
static int f1(int64_t k) { return (cat_of(k) == 1 || cat_of(k) == 2) && !name_null(k) && k % 7 == 1; }
static int f2(int64_t k) { return tag_of(k) == 2; }
static int f3(int64_t k) { return k < 100; }
static int f4(int64_t k) { return name_null(k) && cat_of(k) > 5; }
static int f5(int64_t k) { return k == 17 || k == 401; }

static const struct {
	const char *text;
	int (*pass)(int64_t key);
} cases[] = {
	{ "cat == 3", f0 },
	{ "cat in [1, 2] and name like \"n1%\"", f1 },
	{ "tag == 2", f2 },
	{ "id < 100", f3 },
	{ "name is null && cat > 5", f4 },
	{ "id in [17, 401]", f5 },
};

static uint8_t deleted[N];

/* Recall@K of a filtered search against brute force over passing, live rows;
 * fails on any result that does not pass. */
static double check_case(struct dann_coll *c, int ci, int64_t qkey)
{
	struct dann_coll_search_params p;
	float q[ST_DIM], v[ST_DIM], bd[K];
	int64_t keys[K], bk[K];
	float d[K];
	uint32_t found = 0, nb = 0, hit = 0;

	st_vec(qkey * 31 + 5, ST_DIM, q);
	dann_coll_search_params_default(&p);
	p.k = K;
	p.L = 64;
	p.filter = cases[ci].text;
	cr_assert_eq(dann_coll_search(c, q, &p, keys, d, &found, NULL), 0, "%s: %s", cases[ci].text,
		     dann_errmsg());
	for (uint32_t i = 0; i < found; i++) {
		cr_assert(keys[i] >= 0 && keys[i] < N && cases[ci].pass(keys[i]) && !deleted[keys[i]],
			  "%s returned key %lld", cases[ci].text, (long long)keys[i]);
	}
	/* brute force: insertion sort into the K best */
	for (int64_t k = 0; k < N; k++) {
		float dist = 0;
		if (!cases[ci].pass(k) || deleted[k])
			continue;
		st_vec(k, ST_DIM, v);
		for (int j = 0; j < ST_DIM; j++)
			dist += (q[j] - v[j]) * (q[j] - v[j]);
		uint32_t at = nb < K ? nb++ : K;
		if (at == K && dist >= bd[K - 1])
			continue;
		if (at == K)
			at = K - 1;
		while (at > 0 && bd[at - 1] > dist) {
			bd[at] = bd[at - 1];
			bk[at] = bk[at - 1];
			at--;
		}
		bd[at] = dist;
		bk[at] = k;
	}
	cr_assert_eq(found, nb, "%s: found %u, %u pass", cases[ci].text, found, nb);
	for (uint32_t i = 0; i < found; i++)
		for (uint32_t j = 0; j < nb; j++)
			hit += keys[i] == bk[j];
	return nb ? (double)hit / nb : 1.0;
}

static void check_all(struct dann_coll *c, const char *where)
{
	for (int ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ci++) {
		double r = 0;
		for (int64_t qk = 0; qk < 20; qk++)
			r += check_case(c, ci, qk);
		cr_expect_geq(r / 20, 0.95, "%s, %s: recall %.3f", where, cases[ci].text, r / 20);
	}
}

Test(seg_filter, filters_hold_in_ram_and_on_disk_segments_with_deletes)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	int64_t del[N];
	uint64_t nd = 0;

	schema(&s);
	c = st_create(db, &s);
	insert_all(c, 3);
	check_all(c, "growing");
	for (int64_t k = 0; k < N; k += 5)
		if (cat_of(k) == 3 || k < 100) {
			del[nd++] = k;
			deleted[k] = 1;
		}
	cr_assert_eq(dann_coll_delete(c, del, nd, NULL), 0, "%s", dann_errmsg());
	check_all(c, "growing, deletes");
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	check_all(c, "flushed");
	dann_db_close(db);
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "f", &c), 0);
	check_all(c, "reopened");
	dann_db_close(db);
}

Test(seg_filter, a_growing_segment_under_its_graph_thread_gives_the_same_answers)
{
	struct dann_db *db = st_open(1);
	struct dann_schema s;
	struct dann_coll *c;

	schema(&s);
	/* With background work on, a growing segment over half its seal
	 * threshold gets a graph that a thread extends while rows arrive;
	 * filters passing more than 20% of the rows (tag == 2) search through
	 * whatever part it has published and scan the rest. The answers must
	 * not depend on how far it got. */
	s.seal_rows = 1000;
	memset(deleted, 0, sizeof deleted);
	c = st_create(db, &s);
	insert_all(c, 3);
	check_all(c, "growing, graph thread");
	dann_db_close(db);
}

Test(seg_filter, a_bad_filter_is_a_positioned_error)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	struct dann_coll_search_params p;
	float q[ST_DIM] = { 0 }, d[K];
	int64_t keys[K];
	uint32_t found = 7;

	schema(&s);
	s.dynamic_field = 0;
	c = st_create(db, &s);
	insert_all(c, 2);
	dann_coll_search_params_default(&p);
	p.filter = "cat >";
	cr_assert_eq(dann_coll_search(c, q, &p, keys, d, &found, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "column 6: expected"), "%s", dann_errmsg());
	cr_assert_eq(found, 0);
	p.filter = "tag == 2";
	cr_assert_eq(dann_coll_search(c, q, &p, keys, d, &found, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "unknown field 'tag'"), "%s", dann_errmsg());
	p.filter = "name > 3";
	cr_assert_eq(dann_coll_search(c, q, &p, keys, d, &found, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "field 'name' is varchar"), "%s", dann_errmsg());
	dann_db_close(db);
}
