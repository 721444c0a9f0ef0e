/*
 * test_seg_opq.c — OPQ as a collection's index parameter (issue 16): a
 * collection created with index.opq builds every disk segment with the
 * rotation (seal, compaction, metric change), searches it with sane
 * recall, and keeps the parameter across a reopen; dann_coll_set_index
 * turns it on for later segments; bad values are refused and change
 * nothing; a version 2 CATALOG, whose records had padding where opq now
 * sits, reads as plain PQ.
 */
#include <glob.h>
#include <stddef.h>
#include <sys/stat.h>

#include "crc.h"
#include "seg_testutil.h"

#define DIM 32
#define ROWS 2000
#define NQ 50
#define K 10

static void setup(void) { tmpdir_make("seg_opq"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_opq, .init = setup, .fini = teardown, .timeout = 300);

static void schema(struct dann_schema *s, int opq)
{
	st_schema(s, "emb", DIM);
	s->index.pq_bytes = 8;
	s->index.opq = opq;
}

/* dann_index_info of flushed segment id, opened from its directory. */
static struct dann_index_info seg_index(uint64_t id)
{
	struct dann_index_info info;
	struct dann_index *ix;
	char pat[4096];
	glob_t g;

	snprintf(pat, sizeof pat, "%s/c*/s%llu", tmpdir_path("data"), (unsigned long long)id);
	cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no directory %s", pat);
	cr_assert_eq(dann_index_open(g.gl_pathv[0], NULL, &ix), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_index_info(ix, &info), 0, "%s", dann_errmsg());
	dann_index_close(ix);
	globfree(&g);
	return info;
}

/* The opq flag of every flushed segment: all equal to want; returns how
 * many there are. */
static size_t flushed_all(struct dann_coll *c, int want)
{
	struct dann_seg_info *segs = NULL;
	size_t n = 0, flushed = 0;

	cr_assert_eq(dann_coll_segments(c, &segs, &n), 0, "%s", dann_errmsg());
	for (size_t i = 0; i < n; i++) {
		if (segs[i].state != DANN_SEG_FLUSHED)
			continue;
		cr_assert_eq(seg_index(segs[i].id).opq, want, "segment %llu: opq %d, expected %d",
			     (unsigned long long)segs[i].id, !want, want);
		flushed++;
	}
	free(segs);
	return flushed;
}

/* recall@K of the collection over keys [lo, hi) for NQ queries (the
 * vectors of keys past every row), against brute force; keys below
 * deleted_below that are multiples of 10 were deleted and are skipped. */
static double recall_live(struct dann_coll *c, int64_t lo, int64_t hi, int64_t deleted_below)
{
	struct dann_coll_search_params p;
	float q[DIM], v[DIM], d[K], best_d[K];
	int64_t keys[K], best[K];
	uint32_t found, hits = 0;

	dann_coll_search_params_default(&p);
	p.k = K;
	p.L = 64;
	for (int qi = 0; qi < NQ; qi++) {
		st_vec(1000000 + qi, DIM, q);
		for (int j = 0; j < K; j++)
			best_d[j] = INFINITY, best[j] = -1;
		for (int64_t key = lo; key < hi; key++) {
			float dist = 0;
			int j;

			if (key < deleted_below && key % 10 == 0)
				continue;
			st_vec(key, DIM, v);
			for (int i = 0; i < DIM; i++)
				dist += (q[i] - v[i]) * (q[i] - v[i]);
			if (dist >= best_d[K - 1])
				continue;
			for (j = K - 1; j > 0 && best_d[j - 1] > dist; j--)
				best_d[j] = best_d[j - 1], best[j] = best[j - 1];
			best_d[j] = dist, best[j] = key;
		}
		cr_assert_eq(dann_coll_search(c, q, &p, keys, d, &found, NULL), 0, "%s", dann_errmsg());
		for (uint32_t i = 0; i < found; i++)
			for (int j = 0; j < K; j++)
				hits += keys[i] == best[j];
	}
	return (double)hits / (NQ * K);
}

static double recall(struct dann_coll *c, int64_t lo, int64_t hi)
{
	return recall_live(c, lo, hi, 0);
}

Test(seg_opq, a_collection_with_opq_builds_every_segment_with_the_rotation)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s, got;
	struct dann_coll *c;
	int64_t gone[ROWS / 10];
	double r;

	schema(&s, 1);
	c = st_create(db, &s);
	st_insert_range(c, 0, ROWS, DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(flushed_all(c, 1), 1);
	r = recall(c, 0, ROWS);
	cr_assert(r >= 0.9, "recall@%d %.3f over an OPQ segment", K, r);
	dann_db_close(db);

	/* reopened: the parameter holds for the next seal and for compaction */
	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "emb", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_schema(c, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got.index.opq, 1, "opq lost on reopen");
	r = recall(c, 0, ROWS);
	cr_assert(r >= 0.9, "recall@%d %.3f after reopen", K, r);
	st_insert_range(c, ROWS, ROWS, DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(flushed_all(c, 1), 2);
	for (int i = 0; i < ROWS / 10; i++)
		gone[i] = i * 10;
	cr_assert_eq(dann_coll_delete(c, gone, ROWS / 10, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_compact(c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert(flushed_all(c, 1) >= 1);
	/* against every live row: the answers come from both halves */
	r = recall_live(c, 0, 2 * ROWS, ROWS);
	cr_assert(r >= 0.9, "recall@%d %.3f after compaction", K, r);
	dann_db_close(db);
}

Test(seg_opq, set_index_turns_opq_on_for_segments_built_later)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;
	struct dann_seg_info *segs = NULL;
	size_t n = 0;
	int seen[2] = { 0, 0 };

	schema(&s, 0);
	c = st_create(db, &s);
	st_insert_range(c, 0, ROWS / 2, DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(flushed_all(c, 0), 1, "a plain collection builds plain PQ");
	s.index.opq = 1;
	cr_assert_eq(dann_coll_set_index(c, &s.index), 0, "%s", dann_errmsg());
	st_insert_range(c, ROWS / 2, ROWS / 2, DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	dann_db_close(db);

	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "emb", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_segments(c, &segs, &n), 0, "%s", dann_errmsg());
	for (size_t i = 0; i < n; i++)
		if (segs[i].state == DANN_SEG_FLUSHED)
			seen[seg_index(segs[i].id).opq]++;
	free(segs);
	cr_assert_eq(seen[0], 1, "the older segment keeps plain PQ");
	cr_assert_eq(seen[1], 1, "the newer one has the rotation");
	cr_assert(recall(c, 0, ROWS) >= 0.9);
	dann_db_close(db);
}

/* A metric change rebuilds every flushed segment; the target parameters
 * wait in a property across a reopen, OPQ included. */
Test(seg_opq, a_metric_change_pending_across_a_reopen_keeps_opq)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s, got;
	struct dann_coll *c;

	schema(&s, 0);
	c = st_create(db, &s);
	st_insert_range(c, 0, ROWS / 2, DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	s.index.metric = DANN_METRIC_IP;
	s.index.opq = 1;
	cr_assert_eq(dann_coll_set_index(c, &s.index), 0, "%s", dann_errmsg());
	dann_db_close(db);

	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "emb", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_schema(c, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got.index.metric, DANN_METRIC_IP);
	cr_assert_eq(got.index.opq, 1);
	cr_assert_eq(flushed_all(c, 1), 1);
	dann_db_close(db);
}

Test(seg_opq, bad_opq_values_are_refused_and_change_nothing)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s, got;
	struct dann_coll *c;
	char **names = NULL;
	size_t n = 9;

	schema(&s, 2);
	cr_assert_eq(dann_coll_create(db, &s), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "index.opq = 2"), "%s", dann_errmsg());
	st_schema(&s, "wide", 5000);
	s.index.opq = 1;
	cr_assert_eq(dann_coll_create(db, &s), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "opq") && strstr(dann_errmsg(), "5000"), "%s", dann_errmsg());
	cr_assert_eq(dann_coll_list(db, &names, &n), 0, "%s", dann_errmsg());
	cr_assert_eq(n, 0, "a refused create left a collection");
	free(names);

	schema(&s, 0);
	c = st_create(db, &s);
	s.index.opq = -1;
	cr_assert_eq(dann_coll_set_index(c, &s.index), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "index.opq = -1"), "%s", dann_errmsg());
	cr_assert_eq(dann_coll_schema(c, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got.index.opq, 0);
	dann_db_close(db);
}

/* Version 2 wrote struct dann_cat_coll as it is today, but the four bytes
 * index.opq now takes were padding, holding whatever they held. */
Test(seg_opq, a_version_2_catalog_reads_as_plain_pq_whatever_its_padding_held)
{
	struct {
		char magic[8];
		uint32_t version, coll_size, seg_size, ncolls, nsegs, pad;
		uint64_t counters[4];
	} h;
	struct dann_db *db = st_open(0);
	struct dann_schema s, got;
	struct dann_coll *c;
	uint8_t *buf;
	uint32_t crc;
	char path[4096];
	long len;
	FILE *f;

	schema(&s, 0);
	st_create(db, &s);
	dann_db_close(db);

	snprintf(path, sizeof path, "%s/CATALOG", tmpdir_path("data"));
	cr_assert((f = fopen(path, "r+b")));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	cr_assert((buf = malloc((size_t)len)));
	rewind(f);
	cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	memcpy(&h, buf, sizeof h);
	cr_assert_eq(h.version, 3);
	cr_assert_eq(h.ncolls, 1);
	h.version = 2;
	memcpy(buf, &h, sizeof h);
	memset(buf + sizeof h + offsetof(struct dann_cat_coll, schema.index.opq), 0xA5, sizeof(int));
	crc = crc32c(0, buf, (size_t)len - 4);
	memcpy(buf + len - 4, &crc, 4);
	rewind(f);
	cr_assert_eq(fwrite(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	free(buf);

	db = st_open(0);
	cr_assert_eq(dann_coll_get(db, "emb", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_schema(c, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got.index.opq, 0, "padding read as opq %d", got.index.opq);
	st_insert_range(c, 0, 300, DIM);
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	cr_assert_eq(flushed_all(c, 0), 1);
	dann_db_close(db);
}
