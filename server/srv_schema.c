/*
 * srv_schema.c — schema conversion (see srv_schema.h).
 */
#include "srv_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_coll.h"
#include "srv_status.h"

#define T(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x

static const struct { int milvus; enum dann_field_type dann; } type_map[] = {
	{ T(Bool), DANN_FIELD_BOOL },   { T(Int8), DANN_FIELD_INT8 },
	{ T(Int16), DANN_FIELD_INT16 }, { T(Int32), DANN_FIELD_INT32 },
	{ T(Int64), DANN_FIELD_INT64 }, { T(Float), DANN_FIELD_FLOAT },
	{ T(Double), DANN_FIELD_DOUBLE }, { T(VarChar), DANN_FIELD_VARCHAR },
	{ T(JSON), DANN_FIELD_JSON },
};

int srv_dtype_of_field(enum dann_field_type t)
{
	for (size_t i = 0; i < sizeof type_map / sizeof type_map[0]; i++)
		if (type_map[i].dann == t)
			return type_map[i].milvus;
	return 0;
}

int srv_field_of_dtype(int milvus_type, enum dann_field_type *out)
{
	for (size_t i = 0; i < sizeof type_map / sizeof type_map[0]; i++)
		if (type_map[i].milvus == milvus_type) {
			*out = type_map[i].dann;
			return 0;
		}
	return -1;
}

int64_t srv_field_id(const struct dann_schema *s, const char *name)
{
	if (strcmp(name, s->pk_field) == 0)
		return SRV_FIELD_ID_BASE;
	if (strcmp(name, s->vector_field) == 0)
		return SRV_FIELD_ID_BASE + 1;
	for (uint32_t i = 0; i < s->nfields; i++)
		if (strcmp(name, s->fields[i].name) == 0)
			return SRV_FIELD_ID_BASE + 2 + i;
	if (s->dynamic_field && strcmp(name, SRV_DYNAMIC_FIELD) == 0)
		return SRV_FIELD_ID_BASE + 2 + s->nfields;
	return -1;
}

static int copy_name(struct srv_req *rq, char *dst, const char *src, const char *what)
{
	size_t n = src ? strlen(src) : 0;

	if (!n || n > DANN_NAME_MAX)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"%s name '%s': expected 1..%d bytes", what, src ? src : "", DANN_NAME_MAX);
	memcpy(dst, src, n + 1);
	return 0;
}

static int parse_u32_param(struct srv_req *rq, const Milvus__Proto__Schema__FieldSchema *f,
			   const char *key, uint32_t lo, uint32_t hi, uint32_t *out)
{
	const char *v = srv_kv_find(f->type_params, f->n_type_params, key);
	char *end;
	unsigned long x;

	if (!v)
		return srv_fail(rq, SRV_M_PARAM_MISSING, DANN_EINVAL,
				"field %s: type param '%s' is missing", f->name, key);
	x = strtoul(v, &end, 10);
	if (!*v || *end || x < lo || x > hi)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"field %s: %s '%s': expected %u..%u", f->name, key, v, lo, hi);
	*out = (uint32_t)x;
	return 0;
}

static int decode_vector(struct srv_req *rq, const Milvus__Proto__Schema__FieldSchema *f,
			 struct dann_schema *s, int *seen)
{
	int rc;

	if ((*seen)++)
		return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EUNSUPPORTED,
				"field %s: dannd collections have one vector field (%s is the first)",
				f->name, s->vector_field);
	if (f->data_type == T(FloatVector))
		s->dtype = DANN_DTYPE_F32;
	else if (f->data_type == T(Int8Vector))
		s->dtype = DANN_DTYPE_I8;
	else
		return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EUNSUPPORTED,
				"field %s: vector type %d is not supported (FloatVector or Int8Vector)",
				f->name, (int)f->data_type);
	if ((rc = copy_name(rq, s->vector_field, f->name, "vector field")) < 0)
		return rc;
	return parse_u32_param(rq, f, "dim", 1, DANN_MAX_DIM, &s->dim);
}

#define VF(x) MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_##x

/* FieldSchema.default_value into df->def: the value's own type (int_data
 * serves int8/16/32 as in Milvus); dann_coll_create then refuses one that
 * does not fit the field, naming it. */
static int decode_default(struct srv_req *rq, const Milvus__Proto__Schema__FieldSchema *f,
			  struct dann_field *df)
{
	const Milvus__Proto__Schema__ValueField *v = f->default_value;
	struct dann_default *d = &df->def;
	int small = df->type == DANN_FIELD_INT8 || df->type == DANN_FIELD_INT16;

	if (!v || v->data_case == VF(_NOT_SET))
		return 0;
	switch (v->data_case) {
	case VF(BOOL_DATA): d->type = DANN_FIELD_BOOL; d->i = v->bool_data != 0; break;
	case VF(INT_DATA): d->type = small ? df->type : DANN_FIELD_INT32; d->i = v->int_data; break;
	case VF(LONG_DATA): d->type = DANN_FIELD_INT64; d->i = v->long_data; break;
	case VF(FLOAT_DATA): d->type = DANN_FIELD_FLOAT; d->d = v->float_data; break;
	case VF(DOUBLE_DATA): d->type = DANN_FIELD_DOUBLE; d->d = v->double_data; break;
	case VF(STRING_DATA):
		if (!v->string_data || strlen(v->string_data) > DANN_DEFAULT_MAX)
			return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EINVAL,
					"field %s: default_value longer than %d bytes", f->name, DANN_DEFAULT_MAX);
		d->type = DANN_FIELD_VARCHAR;
		d->len = (uint32_t)strlen(v->string_data);
		memcpy(d->s, v->string_data, d->len + 1);
		break;
	default:
		return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EUNSUPPORTED,
				"field %s: default_value of this kind is not supported", f->name);
	}
	return 0;
}

/* df->def as a ValueField for DescribeCollection. */
static Milvus__Proto__Schema__ValueField *encode_default(struct srv_req *rq, const struct dann_default *d)
{
	Milvus__Proto__Schema__ValueField *v =
		srv_arena_msg(rq->arena, &milvus__proto__schema__value_field__descriptor);

	if (!v)
		return NULL;
	switch (d->type) {
	case DANN_FIELD_BOOL: v->data_case = VF(BOOL_DATA); v->bool_data = d->i != 0; break;
	case DANN_FIELD_INT8: case DANN_FIELD_INT16: case DANN_FIELD_INT32:
		v->data_case = VF(INT_DATA); v->int_data = (int32_t)d->i; break;
	case DANN_FIELD_INT64: v->data_case = VF(LONG_DATA); v->long_data = d->i; break;
	case DANN_FIELD_FLOAT: v->data_case = VF(FLOAT_DATA); v->float_data = (float)d->d; break;
	case DANN_FIELD_DOUBLE: v->data_case = VF(DOUBLE_DATA); v->double_data = d->d; break;
	default:
		v->data_case = VF(STRING_DATA);
		v->string_data = srv_arena_strdup(rq->arena, d->s);
		if (!v->string_data)
			return NULL;
		break;
	}
	return v;
}

static int decode_scalar(struct srv_req *rq, const Milvus__Proto__Schema__FieldSchema *f,
			 struct dann_schema *s)
{
	struct dann_field *df;
	int rc;

	if (s->nfields == DANN_MAX_FIELDS)
		return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EINVAL,
				"field %s: more than %d scalar fields", f->name, DANN_MAX_FIELDS);
	df = &s->fields[s->nfields];
	memset(df, 0, sizeof *df);
	if (srv_field_of_dtype(f->data_type, &df->type) < 0)
		return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EUNSUPPORTED,
				"field %s: data type %d is not supported", f->name, (int)f->data_type);
	if ((rc = copy_name(rq, df->name, f->name, "field")) < 0)
		return rc;
	if (df->type == DANN_FIELD_VARCHAR &&
	    (rc = parse_u32_param(rq, f, "max_length", 1, 65535, &df->max_length)) < 0)
		return rc;
	df->nullable = f->nullable;
	if ((rc = decode_default(rq, f, df)) < 0)
		return rc;
	s->nfields++;
	return 0;
}

int srv_schema_decode(struct srv_req *rq, const Milvus__Proto__Schema__CollectionSchema *m,
		      struct dann_schema *s)
{
	int pk = 0, vec = 0, rc;

	s->nfields = 0;
	s->dynamic_field = m->enable_dynamic_field;
	s->auto_id = m->autoid;
	if (m->description && strlen(m->description) <= DANN_NAME_MAX)
		snprintf(s->description, sizeof s->description, "%s", m->description);
	for (size_t i = 0; i < m->n_fields; i++) {
		const Milvus__Proto__Schema__FieldSchema *f = m->fields[i];
		if (f->is_dynamic)
			continue; /* "$meta": enable_dynamic_field says it */
		if (f->is_primary_key) {
			if (pk++)
				return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EINVAL,
						"field %s: a second primary key", f->name);
			if (f->data_type != T(Int64))
				return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EUNSUPPORTED,
						"field %s: dannd primary keys are Int64 (data type %d given)",
						f->name, (int)f->data_type);
			if ((rc = copy_name(rq, s->pk_field, f->name, "primary key")) < 0)
				return rc;
			s->auto_id = s->auto_id || f->autoid;
		} else if (f->data_type >= T(BinaryVector) && f->data_type <= T(Int8Vector)) {
			if ((rc = decode_vector(rq, f, s, &vec)) < 0)
				return rc;
		} else if ((rc = decode_scalar(rq, f, s)) < 0) {
			return rc;
		}
	}
	if (!pk)
		return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EINVAL,
				"schema has no primary key field");
	if (!vec)
		return srv_fail(rq, SRV_M_COLL_ILLEGAL_SCHEMA, DANN_EINVAL,
				"schema has no vector field");
	return 0;
}

static Milvus__Proto__Schema__FieldSchema *field_new(struct srv_req *rq, int64_t id, const char *name,
						      int type)
{
	Milvus__Proto__Schema__FieldSchema *f =
		srv_arena_msg(rq->arena, &milvus__proto__schema__field_schema__descriptor);

	if (f) {
		f->fieldid = id;
		f->name = srv_arena_strdup(rq->arena, name);
		f->data_type = type;
	}
	return f;
}

static int add_type_param(struct srv_req *rq, Milvus__Proto__Schema__FieldSchema *f, const char *key,
			  uint32_t value)
{
	char buf[16];

	snprintf(buf, sizeof buf, "%u", value);
	f->type_params = srv_arena_alloc(rq->arena, sizeof *f->type_params);
	if (!f->type_params || !(f->type_params[0] = srv_kv_new(rq, key, buf)))
		return DANN_ENOMEM;
	f->n_type_params = 1;
	return 0;
}

Milvus__Proto__Schema__CollectionSchema *srv_schema_encode(struct srv_req *rq,
							   const struct dann_schema *s)
{
	Milvus__Proto__Schema__CollectionSchema *m =
		srv_arena_msg(rq->arena, &milvus__proto__schema__collection_schema__descriptor);
	size_t n = 2 + s->nfields + (s->dynamic_field ? 1 : 0), k = 0;
	Milvus__Proto__Schema__FieldSchema *f;

	if (!m || !(m->fields = srv_arena_alloc(rq->arena, n * sizeof *m->fields)))
		return NULL;
	m->name = srv_arena_strdup(rq->arena, s->name);
	m->description = srv_arena_strdup(rq->arena, s->description);
	m->autoid = s->auto_id;
	m->enable_dynamic_field = s->dynamic_field;
	if (!(f = field_new(rq, SRV_FIELD_ID_BASE, s->pk_field, T(Int64))))
		return NULL;
	f->is_primary_key = 1;
	f->autoid = s->auto_id;
	m->fields[k++] = f;
	f = field_new(rq, SRV_FIELD_ID_BASE + 1, s->vector_field,
		      s->dtype == DANN_DTYPE_I8 ? T(Int8Vector) : T(FloatVector));
	if (!f || add_type_param(rq, f, "dim", s->dim) < 0)
		return NULL;
	m->fields[k++] = f;
	for (uint32_t i = 0; i < s->nfields; i++) {
		const struct dann_field *df = &s->fields[i];
		f = field_new(rq, SRV_FIELD_ID_BASE + 2 + i, df->name, srv_dtype_of_field(df->type));
		if (!f)
			return NULL;
		if (df->type == DANN_FIELD_VARCHAR && add_type_param(rq, f, "max_length", df->max_length) < 0)
			return NULL;
		f->nullable = df->nullable;
		if (df->def.type && !(f->default_value = encode_default(rq, &df->def)))
			return NULL;
		m->fields[k++] = f;
	}
	if (s->dynamic_field) {
		f = field_new(rq, SRV_FIELD_ID_BASE + 2 + s->nfields, SRV_DYNAMIC_FIELD, T(JSON));
		if (!f)
			return NULL;
		f->is_dynamic = 1;
		f->description = "dynamic schema";
		m->fields[k++] = f;
	}
	m->n_fields = k;
	return m;
}
