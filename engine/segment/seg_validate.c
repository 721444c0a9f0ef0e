/*
 * seg_validate.c — checks on a write batch before anything is written:
 * keys present (or absent for auto-id), distinct within the batch; every
 * float finite; every column named in the schema, of its type, within
 * max_length, valid JSON where JSON, present unless nullable or defaulted.
 * Each error names the collection, the row or key and the field.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "seg_impl.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int seg_check_keys(const struct dann_coll *c, const int64_t *keys, uint64_t n)
{
	int64_t *k = malloc((n ? n : 1) * sizeof *k);
	int rc = 0;

	if (!k)
		return dann_fail(DANN_ENOMEM, "%s: %llu keys", c->schema.name, (unsigned long long)n);
	memcpy(k, keys, n * sizeof *k);
	qsort(k, n, sizeof *k, cmp_i64);
	for (uint64_t i = 1; i < n; i++)
		if (k[i] == k[i - 1]) {
			rc = dann_fail(DANN_EINVAL, "%s: key %lld appears twice in one batch",
				       c->schema.name, (long long)k[i]);
			break;
		}
	free(k);
	return rc;
}

static int check_vectors(const struct dann_coll *c, const struct dann_batch *b)
{
	size_t bad;

	if (!b->vectors)
		return dann_fail(DANN_EINVAL, "%s: batch of %llu rows without vectors", c->schema.name,
				 (unsigned long long)b->n);
	if (c->schema.dtype != DANN_DTYPE_F32)
		return 0;
	if (seg_finite(b->vectors, b->n * c->schema.dim, &bad)) 
		return 0;
	uint64_t row = bad / c->schema.dim;
	if (b->keys)
		return dann_fail(DANN_EINVAL, "%s: vector of key %lld (row %llu) has NaN or Inf at element %zu",
				 c->schema.name, (long long)b->keys[row], (unsigned long long)row,
				 bad % c->schema.dim);
	return dann_fail(DANN_EINVAL, "%s: vector of row %llu has NaN or Inf at element %zu",
			 c->schema.name, (unsigned long long)row, bad % c->schema.dim);
}

static int check_varlen(const struct dann_coll *c, const struct dann_column *col,
			const struct dann_field *f, uint64_t n)
{
	bool json = col->type == DANN_FIELD_JSON;

	if (!col->offsets)
		return dann_fail(DANN_EINVAL, "%s: field \"%s\" has no offsets", c->schema.name, col->name);
	for (uint64_t r = 0; r < n; r++) {
		uint64_t len;
		if (col->offsets[r + 1] < col->offsets[r])
			return dann_fail(DANN_EINVAL, "%s: field \"%s\": offsets go back at row %llu",
					 c->schema.name, col->name, (unsigned long long)r);
		if (col->valid && !col->valid[r])
			continue;
		len = col->offsets[r + 1] - col->offsets[r];
		if (f && f->type == DANN_FIELD_VARCHAR && len > f->max_length)
			return dann_fail(DANN_EINVAL, "%s: field \"%s\" row %llu: %llu bytes, max_length %u",
					 c->schema.name, col->name, (unsigned long long)r,
					 (unsigned long long)len, f->max_length);
		if (json) {
			cJSON *j = cJSON_ParseWithLength((const char *)col->values + col->offsets[r], len);
			bool obj = j && cJSON_IsObject(j);
			cJSON_Delete(j);
			if (!j || (!f && !obj))
				return dann_fail(DANN_EINVAL, "%s: field \"%s\" row %llu: not %s",
						 c->schema.name, col->name, (unsigned long long)r,
						 f ? "valid JSON" : "a JSON object");
		}
	}
	return 0;
}

static int check_column(const struct dann_coll *c, const struct dann_column *col, uint64_t n)
{
	const struct dann_schema *s = &c->schema;
	const struct dann_field *f;
	int i;

	if (!col->name)
		return dann_fail(DANN_EINVAL, "%s: a column has no name", s->name);
	if ((i = seg_col_index(s, col->name)) < 0)
		return dann_fail(DANN_EINVAL, "%s: no field \"%s\" in the schema", s->name, col->name);
	f = (uint32_t)i < s->nfields ? &s->fields[i] : NULL;
	if (col->type != seg_col_type(s, (uint32_t)i))
		return dann_fail(DANN_EINVAL, "%s: field \"%s\" given as type %d, schema says %d", s->name,
				 col->name, (int)col->type, (int)seg_col_type(s, (uint32_t)i));
	if (!col->values)
		return dann_fail(DANN_EINVAL, "%s: field \"%s\" has no values", s->name, col->name);
	if (col->valid && !(f ? f->nullable || f->def.type : 1))
		for (uint64_t r = 0; r < n; r++)
			if (!col->valid[r])
				return dann_fail(DANN_EINVAL, "%s: field \"%s\" is not nullable (row %llu is null)",
						 s->name, col->name, (unsigned long long)r);
	if (col->type == DANN_FIELD_BOOL)
		for (uint64_t r = 0; r < n; r++)
			if (((const uint8_t *)col->values)[r] > 1)
				return dann_fail(DANN_EINVAL, "%s: field \"%s\" row %llu: bool value %u",
						 s->name, col->name, (unsigned long long)r,
						 ((const uint8_t *)col->values)[r]);
	if (!seg_field_size(col->type))
		return check_varlen(c, col, f, n);
	return 0;
}

static int check_columns(const struct dann_coll *c, const struct dann_batch *b)
{
	const struct dann_schema *s = &c->schema;
	int rc;

	if (b->ncols && !b->cols)
		return dann_fail(DANN_EINVAL, "%s: %u columns but no array", s->name, b->ncols);
	if (b->ncols > seg_ncols(s))
		return dann_fail(DANN_EINVAL, "%s: %u columns, the schema has %u", s->name, b->ncols,
				 seg_ncols(s));
	for (uint32_t j = 0; j < b->ncols; j++) {
		if ((rc = check_column(c, &b->cols[j], b->n)) < 0)
			return rc;
		for (uint32_t k = 0; k < j; k++)
			if (!strcmp(b->cols[k].name, b->cols[j].name))
				return dann_fail(DANN_EINVAL, "%s: field \"%s\" given twice", s->name,
						 b->cols[j].name);
	}
	for (uint32_t i = 0; i < s->nfields; i++) {
		bool given = false;
		for (uint32_t j = 0; j < b->ncols; j++)
			given |= !strcmp(b->cols[j].name, s->fields[i].name);
		if (!given && !s->fields[i].nullable && !s->fields[i].def.type)
			return dann_fail(DANN_EINVAL, "%s: field \"%s\" is missing (not nullable, no default)", s->name,
					 s->fields[i].name);
	}
	return 0;
}

int seg_validate_batch(const struct dann_coll *c, const struct dann_batch *b, int need_keys)
{
	int rc;

	if (!b)
		return dann_fail(DANN_EINVAL, "%s: no batch", c->schema.name);
	if (b->n > UINT32_MAX)
		return dann_fail(DANN_EINVAL, "%s: batch of %llu rows, at most %u", c->schema.name,
				 (unsigned long long)b->n, UINT32_MAX);
	if (need_keys && !b->keys)
		return dann_fail(DANN_EINVAL, "%s: batch without keys (the collection is not auto-id)",
				 c->schema.name);
	if (!need_keys && b->keys)
		return dann_fail(DANN_EINVAL, "%s: keys given to an auto-id collection", c->schema.name);
	if (b->keys && (rc = seg_check_keys(c, b->keys, b->n)) < 0)
		return rc;
	if ((rc = check_vectors(c, b)) < 0)
		return rc;
	return check_columns(c, b);
}
