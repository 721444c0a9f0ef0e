/*
 * expr_fixture.h — a six-row segment with one column of every scalar type,
 * nulls, NaN, empty and UTF-8 strings, JSON documents and a dynamic field,
 * for the parser and evaluator tests.
 *
 *   row  id  age   score   name      flag tag   meta                                $meta
 *   0    1   10    1.5     "apple"   1    -128  {"a":{"b":4},"tags":["x","y"],"n":1} {"text":"a","k":1}
 *   1    2   20    -2      ""        0    0     {"a":{"b":2},"tags":[1,2]}           {"text":"b"}
 *   2    3   null  NaN     null      1    127   null                                 {}
 *   3    4   40    0       "banana"  0    5     {"a":3,"n":null}                     {"text":"a","k":2.5}
 *   4    5   50    100.25  "ap_x%"   1    5     not JSON (reads as null)             null
 *   5    6   60    3       "日本語"  0    5     {"tags":[],"s":"hi"}                 {"text":null}
 */
#ifndef DANN_EXPR_FIXTURE_H
#define DANN_EXPR_FIXTURE_H

#include <math.h>

#include "expr_testutil.h"

struct fx {
	struct tt_table t;
	struct dann_schema s;
	int64_t id[6];
	int32_t age[6];
	uint8_t age_valid[6];
	double score[6];
	uint8_t flag[6];
	int8_t tag[6];
	char *bytes[3];
	uint64_t *offs[3];
	uint8_t *valid[3];
};

static inline void fx_field(struct dann_schema *s, const char *name, enum dann_field_type t,
			    int nullable)
{
	struct dann_field *f = &s->fields[s->nfields++];
	snprintf(f->name, sizeof f->name, "%s", name);
	f->type = t;
	f->nullable = nullable;
	f->max_length = 64;
}

static inline void fx_setup(struct fx *x)
{
	static const char *const names[6] = { "apple", "", NULL, "banana", "ap_x%", "日本語" };
	static const char *const metas[6] = {
		"{\"a\":{\"b\":4},\"tags\":[\"x\",\"y\"],\"n\":1}", "{\"a\":{\"b\":2},\"tags\":[1,2]}",
		NULL, "{\"a\":3,\"n\":null}", "{not json", "{\"tags\":[],\"s\":\"hi\"}" };
	static const char *const dyn[6] = { "{\"text\":\"a\",\"k\":1}", "{\"text\":\"b\"}", "{}",
					    "{\"text\":\"a\",\"k\":2.5}", NULL, "{\"text\":null}" };
	memset(x, 0, sizeof *x);
	/* Filled by hand: the schema's defaults live in the segment layer. */
	snprintf(x->s.pk_field, sizeof x->s.pk_field, "id");
	snprintf(x->s.vector_field, sizeof x->s.vector_field, "vector");
	x->s.dynamic_field = 1;
	fx_field(&x->s, "age", DANN_FIELD_INT32, 1);
	fx_field(&x->s, "score", DANN_FIELD_DOUBLE, 0);
	fx_field(&x->s, "name", DANN_FIELD_VARCHAR, 1);
	fx_field(&x->s, "flag", DANN_FIELD_BOOL, 0);
	fx_field(&x->s, "tag", DANN_FIELD_INT8, 0);
	fx_field(&x->s, "meta", DANN_FIELD_JSON, 1);
	for (int i = 0; i < 6; i++) {
		x->id[i] = i + 1;
		x->age[i] = (i + 1) * 10;
		x->age_valid[i] = i != 2;
		x->flag[i] = i % 2 == 0;
	}
	double score[6] = { 1.5, -2, NAN, 0, 100.25, 3 };
	int8_t tag[6] = { -128, 0, 127, 5, 5, 5 };
	memcpy(x->score, score, sizeof score);
	memcpy(x->tag, tag, sizeof tag);
	x->t.n = 6;
	x->t.cols[0] = (struct dann_column){ .name = "id", .type = DANN_FIELD_INT64, .values = x->id };
	x->t.cols[1] = (struct dann_column){ .name = "age", .type = DANN_FIELD_INT32, .values = x->age,
					     .valid = x->age_valid };
	x->t.cols[2] = (struct dann_column){ .name = "score", .type = DANN_FIELD_DOUBLE, .values = x->score };
	tt_strings(&x->t.cols[3], "name", DANN_FIELD_VARCHAR, names, 6, &x->bytes[0], &x->offs[0], &x->valid[0]);
	x->t.cols[4] = (struct dann_column){ .name = "flag", .type = DANN_FIELD_BOOL, .values = x->flag };
	x->t.cols[5] = (struct dann_column){ .name = "tag", .type = DANN_FIELD_INT8, .values = x->tag };
	tt_strings(&x->t.cols[6], "meta", DANN_FIELD_JSON, metas, 6, &x->bytes[1], &x->offs[1], &x->valid[1]);
	tt_strings(&x->t.cols[7], "$meta", DANN_FIELD_JSON, dyn, 6, &x->bytes[2], &x->offs[2], &x->valid[2]);
	x->t.ncols = 8;
	tt_build_indexes(&x->t);
}

static inline void fx_teardown(struct fx *x)
{
	tt_free_indexes(&x->t);
	for (int i = 0; i < 3; i++) {
		free(x->bytes[i]);
		free(x->offs[i]);
		free(x->valid[i]);
	}
}

#endif
