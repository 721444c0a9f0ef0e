/*
 * seg_schema.c — collection schemas: defaults, validation (every error
 * names the field and what was expected), and lookups of scalar columns.
 * Column i of a segment is schema field i; with the dynamic field on,
 * column nfields is "$meta" (JSON).
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "../error.h"
#include "../pq/pq.h"
#include "seg_impl.h"

void dann_schema_default(struct dann_schema *s)
{
	memset(s, 0, sizeof *s);
	strcpy(s->pk_field, "id");
	strcpy(s->vector_field, "vector");
	s->dtype = DANN_DTYPE_F32;
	s->index.metric = DANN_METRIC_L2;
	s->index.R = 64;
	s->index.L = 100;
	s->index.alpha = 1.2f;
	s->seal_rows = SEG_DEFAULT_SEAL_ROWS;
	s->seal_bytes = SEG_DEFAULT_SEAL_BYTES;
}

uint64_t seg_eff_seal_rows(const struct dann_schema *s)
{
	return s->seal_rows ? s->seal_rows : SEG_DEFAULT_SEAL_ROWS;
}

uint64_t seg_eff_seal_bytes(const struct dann_schema *s)
{
	return s->seal_bytes ? s->seal_bytes : SEG_DEFAULT_SEAL_BYTES;
}

size_t seg_field_size(enum dann_field_type t)
{
	switch (t) {
	case DANN_FIELD_BOOL:
	case DANN_FIELD_INT8: return 1;
	case DANN_FIELD_INT16: return 2;
	case DANN_FIELD_INT32:
	case DANN_FIELD_FLOAT: return 4;
	case DANN_FIELD_INT64:
	case DANN_FIELD_DOUBLE: return 8;
	default: return 0;
	}
}

uint32_t seg_ncols(const struct dann_schema *s)
{
	return s->nfields + (s->dynamic_field ? 1 : 0);
}

enum dann_field_type seg_col_type(const struct dann_schema *s, uint32_t i)
{
	return i < s->nfields ? s->fields[i].type : DANN_FIELD_JSON;
}

int seg_col_index(const struct dann_schema *s, const char *name)
{
	for (uint32_t i = 0; i < s->nfields; i++)
		if (!strcmp(s->fields[i].name, name))
			return (int)i;
	if (s->dynamic_field && !strcmp(name, SEG_META_FIELD))
		return (int)s->nfields;
	return -1;
}

/* A name: 1..DANN_NAME_MAX bytes of letters, digits and '_', not starting
 * with a digit (Milvus's rule, so names are safe in paths and filters). */
static int check_name(const char *what, const char *name, size_t cap)
{
	size_t len = strnlen(name, cap);

	if (len == 0)
		return dann_fail(DANN_EINVAL, "schema: %s is empty", what);
	if (len >= cap || len > DANN_NAME_MAX)
		return dann_fail(DANN_EINVAL, "schema: %s is longer than %d bytes", what,
				 DANN_NAME_MAX);
	if (isdigit((unsigned char)name[0]))
		return dann_fail(DANN_EINVAL, "schema: %s \"%s\" starts with a digit", what, name);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return dann_fail(DANN_EINVAL,
					 "schema: %s \"%s\" has '%c' (letters, digits and _ only)",
					 what, name, name[i]);
	return 0;
}

static int check_index(const struct dann_schema *s)
{
	const struct dann_index_params *ip = &s->index;

	if ((unsigned)ip->metric > DANN_METRIC_COSINE)
		return dann_fail(DANN_EINVAL, "schema %s: index.metric %d unknown", s->name,
				 (int)ip->metric);
	if (ip->R == 0 || ip->R > 512)
		return dann_fail(DANN_EINVAL, "schema %s: index.R = %u, expected 1..512", s->name,
				 ip->R);
	if (ip->L == 0 || ip->L > 10000)
		return dann_fail(DANN_EINVAL, "schema %s: index.L = %u, expected 1..10000", s->name,
				 ip->L);
	if (!(ip->alpha >= 1.0f) || !isfinite(ip->alpha))
		return dann_fail(DANN_EINVAL, "schema %s: index.alpha = %g, expected >= 1", s->name,
				 (double)ip->alpha);
	if (ip->pq_bytes > s->dim || ip->pq_bytes > 512)
		return dann_fail(DANN_EINVAL, "schema %s: index.pq_bytes = %u, expected 0..%u",
				 s->name, ip->pq_bytes, s->dim < 512 ? s->dim : 512);
	if (!(ip->build_ram_gib >= 0))
		return dann_fail(DANN_EINVAL, "schema %s: index.build_ram_gib = %g, expected >= 0",
				 s->name, ip->build_ram_gib);
	if (ip->opq != 0 && ip->opq != 1)
		return dann_fail(DANN_EINVAL, "schema %s: index.opq = %d, expected 0 or 1", s->name,
				 ip->opq);
	if (ip->opq && s->dim > PQ_OPQ_MAX_DIM)
		return dann_fail(DANN_EINVAL, "schema %s: index.opq on dim %u: the OPQ rotation is kept "
				 "up to %u dims", s->name, s->dim, PQ_OPQ_MAX_DIM);
	return 0;
}

static const char *type_name(enum dann_field_type t)
{
	static const char *const names[] = { "none", "bool", "int8", "int16", "int32", "int64",
					     "float", "double", "varchar", "json" };
	return (unsigned)t <= DANN_FIELD_JSON ? names[t] : "unknown";
}

/* A default must be a value of the field's own type, so a row that gets
 * it holds what an explicit value would (and a filter sees nothing odd). */
static int check_default(const struct dann_schema *s, const struct dann_field *f)
{
	const struct dann_default *d = &f->def;
	static const int64_t lo[] = { [DANN_FIELD_BOOL] = 0, [DANN_FIELD_INT8] = INT8_MIN,
				      [DANN_FIELD_INT16] = INT16_MIN, [DANN_FIELD_INT32] = INT32_MIN,
				      [DANN_FIELD_INT64] = INT64_MIN };
	static const int64_t hi[] = { [DANN_FIELD_BOOL] = 1, [DANN_FIELD_INT8] = INT8_MAX,
				      [DANN_FIELD_INT16] = INT16_MAX, [DANN_FIELD_INT32] = INT32_MAX,
				      [DANN_FIELD_INT64] = INT64_MAX };

	if (d->type == 0)
		return 0;
	if (f->type == DANN_FIELD_JSON)
		return dann_fail(DANN_EINVAL, "schema %s: field \"%s\": a JSON field takes no default",
				 s->name, f->name);
	if (d->type != f->type)
		return dann_fail(DANN_EINVAL, "schema %s: field \"%s\": default is %s, the field is %s",
				 s->name, f->name, type_name(d->type), type_name(f->type));
	switch (f->type) {
	case DANN_FIELD_FLOAT:
	case DANN_FIELD_DOUBLE:
		if (!isfinite(d->d) || (f->type == DANN_FIELD_FLOAT && fabs(d->d) > FLT_MAX))
			return dann_fail(DANN_EINVAL, "schema %s: field \"%s\": default %g is not a finite %s",
					 s->name, f->name, d->d, type_name(f->type));
		return 0;
	case DANN_FIELD_VARCHAR:
		if (d->len > DANN_DEFAULT_MAX || strnlen(d->s, sizeof d->s) != d->len)
			return dann_fail(DANN_EINVAL,
					 "schema %s: field \"%s\": default of %u bytes (at most %d, no NUL)",
					 s->name, f->name, d->len, DANN_DEFAULT_MAX);
		if (d->len > f->max_length)
			return dann_fail(DANN_EINVAL,
					 "schema %s: field \"%s\": default of %u bytes, max_length %u",
					 s->name, f->name, d->len, f->max_length);
		return 0;
	default:
		if (d->i < lo[f->type] || d->i > hi[f->type])
			return dann_fail(DANN_EINVAL, "schema %s: field \"%s\": default %lld outside %s",
					 s->name, f->name, (long long)d->i, type_name(f->type));
		return 0;
	}
}

static int check_fields(const struct dann_schema *s)
{
	int rc;

	if (s->nfields > DANN_MAX_FIELDS)
		return dann_fail(DANN_EINVAL, "schema %s: %u scalar fields, at most %d", s->name,
				 s->nfields, DANN_MAX_FIELDS);
	for (uint32_t i = 0; i < s->nfields; i++) {
		const struct dann_field *f = &s->fields[i];
		if ((rc = check_name("field name", f->name, sizeof f->name)) < 0)
			return rc;
		if (!strcmp(f->name, s->pk_field) || !strcmp(f->name, s->vector_field))
			return dann_fail(DANN_EINVAL, "schema %s: field \"%s\" repeats the %s field's name",
					 s->name, f->name,
					 strcmp(f->name, s->pk_field) ? "vector" : "primary key");
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(s->fields[j].name, f->name))
				return dann_fail(DANN_EINVAL, "schema %s: field \"%s\" appears twice",
						 s->name, f->name);
		if (f->type < DANN_FIELD_BOOL || f->type > DANN_FIELD_JSON)
			return dann_fail(DANN_EINVAL, "schema %s: field \"%s\" has unknown type %d",
					 s->name, f->name, (int)f->type);
		if (f->type == DANN_FIELD_VARCHAR && (f->max_length == 0 || f->max_length > 65535))
			return dann_fail(DANN_EINVAL,
					 "schema %s: field \"%s\": max_length %u, expected 1..65535",
					 s->name, f->name, f->max_length);
		if (f->nullable != 0 && f->nullable != 1)
			return dann_fail(DANN_EINVAL, "schema %s: field \"%s\": nullable %d, expected 0 or 1",
					 s->name, f->name, f->nullable);
		if ((rc = check_default(s, f)) < 0)
			return rc;
	}
	return 0;
}

int seg_schema_check(const struct dann_schema *s)
{
	int rc;

	if ((rc = check_name("collection name", s->name, sizeof s->name)) < 0 ||
	    (rc = check_name("primary key field", s->pk_field, sizeof s->pk_field)) < 0 ||
	    (rc = check_name("vector field", s->vector_field, sizeof s->vector_field)) < 0)
		return rc;
	if (strnlen(s->description, sizeof s->description) == sizeof s->description)
		return dann_fail(DANN_EINVAL, "schema %s: description is not terminated", s->name);
	if (!strcmp(s->pk_field, s->vector_field))
		return dann_fail(DANN_EINVAL, "schema %s: primary key and vector field are both \"%s\"",
				 s->name, s->pk_field);
	if (s->dim == 0 || s->dim > DANN_MAX_DIM)
		return dann_fail(DANN_EINVAL, "schema %s: dim = %u, expected 1..%d", s->name, s->dim,
				 DANN_MAX_DIM);
	if (s->dtype != DANN_DTYPE_F32 && s->dtype != DANN_DTYPE_U8 && s->dtype != DANN_DTYPE_I8)
		return dann_fail(DANN_EINVAL, "schema %s: dtype %d, expected float32, uint8 or int8",
				 s->name, (int)s->dtype);
	if (s->auto_id != 0 && s->auto_id != 1)
		return dann_fail(DANN_EINVAL, "schema %s: auto_id %d, expected 0 or 1", s->name,
				 s->auto_id);
	if (s->dynamic_field != 0 && s->dynamic_field != 1)
		return dann_fail(DANN_EINVAL, "schema %s: dynamic_field %d, expected 0 or 1", s->name,
				 s->dynamic_field);
	if (s->seal_rows > UINT32_MAX)
		return dann_fail(DANN_EINVAL, "schema %s: seal_rows %llu, at most %u", s->name,
				 (unsigned long long)s->seal_rows, UINT32_MAX);
	if ((rc = check_index(s)) < 0)
		return rc;
	return check_fields(s);
}
