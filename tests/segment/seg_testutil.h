/*
 * seg_testutil.h — what the collection tests share: opening a data
 * directory in the test's temporary directory, a schema, deterministic
 * random vectors, and brute-force neighbours to check searches against.
 */
#ifndef DANN_TEST_SEG_TESTUTIL_H
#define DANN_TEST_SEG_TESTUTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"
#include "helpers/tmpdir.h"

#define ST_DIM 16

static inline struct dann_db *st_open(int background)
{
	struct dann_db_params p;
	struct dann_db *db = NULL;
	int rc;

	dann_db_params_default(&p);
	p.no_background = !background;
	p.threads = 2;
	rc = dann_db_open(tmpdir_path("data"), &p, &db);
	cr_assert_eq(rc, 0, "db_open: %s", dann_errmsg());
	return db;
}

static inline void st_schema(struct dann_schema *s, const char *name, uint32_t dim)
{
	dann_schema_default(s);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->dim = dim;
	s->index.R = 16;
	s->index.L = 32;
}

static inline struct dann_coll *st_create(struct dann_db *db, const struct dann_schema *s)
{
	struct dann_coll *c = NULL;
	int rc = dann_coll_create(db, s);

	cr_assert_eq(rc, 0, "create %s: %s", s->name, dann_errmsg());
	rc = dann_coll_get(db, s->name, &c);
	cr_assert_eq(rc, 0, "get %s: %s", s->name, dann_errmsg());
	return c;
}

/* Row vector of key k: the same on every call, so checks need no copy. */
static inline void st_vec(int64_t key, uint32_t dim, float *v)
{
	uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull + 12345;
	for (uint32_t i = 0; i < dim; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v[i] = (float)((x >> 11) % 2001) / 1000.0f - 1.0f;
	}
}

/* Version v of key k's vector (upserts change it). */
static inline void st_vec_v(int64_t key, uint32_t ver, uint32_t dim, float *v)
{
	st_vec(key * 7919 + ver, dim, v);
}

static inline void st_insert_range(struct dann_coll *c, int64_t first, uint64_t n, uint32_t dim)
{
	int64_t *keys = malloc(n * sizeof *keys);
	float *vecs = malloc(n * dim * sizeof *vecs);
	struct dann_batch b = { .n = n, .keys = keys, .vectors = vecs };

	for (uint64_t i = 0; i < n; i++) {
		keys[i] = first + (int64_t)i;
		st_vec(keys[i], dim, vecs + i * dim);
	}
	int rc = dann_coll_insert(c, &b, NULL);
	cr_assert_eq(rc, 0, "insert [%lld, +%llu): %s", (long long)first, (unsigned long long)n,
		     dann_errmsg());
	free(keys);
	free(vecs);
}

/* Rows first.. of dimension ST_DIM with an int32 field cat = key % 10 (the
 * filter tests' schema). */
static inline void st_insert_cat(struct dann_coll *c, int64_t first, uint64_t n)
{
	int64_t *keys = malloc(n * sizeof *keys);
	float *vecs = malloc(n * ST_DIM * sizeof *vecs);
	int32_t *cat = malloc(n * sizeof *cat);
	struct dann_column col = { .name = "cat", .type = DANN_FIELD_INT32, .values = cat };
	struct dann_batch b = { .n = n, .keys = keys, .vectors = vecs, .cols = &col, .ncols = 1 };

	for (uint64_t i = 0; i < n; i++) {
		keys[i] = first + (int64_t)i;
		cat[i] = (int32_t)(keys[i] % 10);
		st_vec(keys[i], ST_DIM, vecs + i * ST_DIM);
	}
	cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
	free(keys);
	free(vecs);
	free(cat);
}

/* The collection finds key's own vector as its nearest neighbour. */
static inline int st_findable(struct dann_coll *c, int64_t key, const float *v)
{
	struct dann_coll_search_params p;
	int64_t keys[10];
	float d[10];
	uint32_t found = 0;

	dann_coll_search_params_default(&p);
	p.L = 64;
	if (dann_coll_search(c, v, &p, keys, d, &found, NULL) < 0)
		return -1;
	for (uint32_t i = 0; i < found; i++)
		if (keys[i] == key)
			return 1;
	return 0;
}

#endif
