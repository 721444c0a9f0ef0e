/*
 * srv_insert.c — Insert and Upsert: Milvus's column-wise FieldData to one
 * struct dann_batch.
 *
 * Every column is checked before anything is written, so a bad request
 * changes nothing: each schema field present once with n rows, the vector
 * of the schema's dimension and type, no NaN or infinity (named by field
 * and row), fields the schema does not know refused (or kept in "$meta"
 * when the dynamic field is on — the SDKs put extra row keys there).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "milvus.pb-c.h"
#include "srv_coll.h"
#include "srv_handlers.h"
#include "srv_impl.h"
#include "srv_insert.h"
#include "srv_schema.h"
#include "srv_status.h"

#define T(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define SC(x) MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_##x
#define VC(x) MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_##x

static int bad(struct srv_req *rq, const char *field, const char *what, uint64_t have, uint64_t want)
{
	return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
			"field %s: %s: %llu values for %llu rows", field, what,
			(unsigned long long)have, (unsigned long long)want);
}

static int get_keys(struct srv_req *rq, const Milvus__Proto__Schema__FieldData *f, uint64_t n,
		    struct dann_batch *b)
{
	const Milvus__Proto__Schema__ScalarField *sc = f->scalars;

	if (f->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS || !sc ||
	    sc->data_case != SC(LONG_DATA))
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"field %s: primary key values must be Int64", f->field_name);
	if (sc->long_data->n_data != n)
		return bad(rq, f->field_name, "primary key", sc->long_data->n_data, n);
	b->keys = sc->long_data->data;
	return 0;
}

static int get_vectors(struct srv_req *rq, const Milvus__Proto__Schema__FieldData *f,
		       const struct dann_schema *s, uint64_t n, struct dann_batch *b)
{
	const Milvus__Proto__Schema__VectorField *v = f->vectors;
	uint64_t want = n * s->dim;

	if (f->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS || !v)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "field %s: not vector data",
				f->field_name);
	if (v->dim != (int64_t)s->dim)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"field %s: dimension mismatch: the collection's dim is %u, the data's %lld",
				f->field_name, s->dim, (long long)v->dim);
	if (s->dtype == DANN_DTYPE_F32) {
		if (v->data_case != VC(FLOAT_VECTOR))
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"field %s: FloatVector data expected", f->field_name);
		if (v->float_vector->n_data != want)
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"field %s: dimension mismatch: %zu floats for %llu rows of dim %u",
					f->field_name, v->float_vector->n_data, (unsigned long long)n, s->dim);
		for (uint64_t i = 0; i < want; i++)
			if (!isfinite(v->float_vector->data[i]))
				return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
						"field %s: row %llu: element %llu is %s", f->field_name,
						(unsigned long long)(i / s->dim),
						(unsigned long long)(i % s->dim),
						isnan(v->float_vector->data[i]) ? "NaN" : "infinite");
		b->vectors = v->float_vector->data;
	} else {
		if (v->data_case != VC(INT8_VECTOR))
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"field %s: Int8Vector data expected", f->field_name);
		if (v->int8_vector.len != want)
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"field %s: dimension mismatch: %zu bytes for %llu rows of dim %u",
					f->field_name, v->int8_vector.len, (unsigned long long)n, s->dim);
		b->vectors = v->int8_vector.data;
	}
	return 0;
}

/* Narrowing copy of int32 values into a smaller integer column, checked. */
static int narrow(struct srv_req *rq, const char *field, const int32_t *src, uint64_t n, int bytes,
		  int32_t lo, int32_t hi, void **out)
{
	char *dst = srv_arena_alloc(rq->arena, n * (size_t)bytes + 1);

	if (!dst)
		return DANN_ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		if (src[i] < lo || src[i] > hi)
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"field %s: row %llu: %d out of range %d..%d", field,
					(unsigned long long)i, src[i], lo, hi);
		if (bytes == 1)
			((int8_t *)dst)[i] = (int8_t)src[i];
		else if (bytes == 2)
			((int16_t *)dst)[i] = (int16_t)src[i];
		else
			((int32_t *)dst)[i] = src[i];
	}
	*out = dst;
	return 0;
}

/* Strings or bytes to one block plus n + 1 offsets. */
static int pack_var(struct srv_req *rq, const char *field, uint64_t n, char *const *strs,
		    const ProtobufCBinaryData *bins, uint32_t max_len, struct dann_column *col)
{
	uint64_t *off = srv_arena_alloc(rq->arena, (n + 1) * sizeof *off);
	uint64_t total = 0;
	char *buf;

	if (!off)
		return DANN_ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t len = strs ? strlen(strs[i]) : bins[i].len;
		if (max_len && len > max_len)
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"field %s: row %llu: %llu bytes, max_length is %u", field,
					(unsigned long long)i, (unsigned long long)len, max_len);
		off[i] = total;
		total += len;
	}
	off[n] = total;
	if (!(buf = srv_arena_alloc(rq->arena, total + 1)))
		return DANN_ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		if (off[i + 1] > off[i]) /* an empty value may have no bytes at all */
			memcpy(buf + off[i], strs ? (const void *)strs[i] : (const void *)bins[i].data,
			       off[i + 1] - off[i]);
	col->values = buf;
	col->offsets = off;
	return 0;
}

/* The values array of a scalar column, its length and element size. */
static const void *values_of(const Milvus__Proto__Schema__ScalarField *sc, size_t *have, size_t *elsize)
{
	switch (sc->data_case) {
	case SC(BOOL_DATA): *have = sc->bool_data->n_data; *elsize = sizeof *sc->bool_data->data; return sc->bool_data->data;
	case SC(INT_DATA): *have = sc->int_data->n_data; *elsize = sizeof *sc->int_data->data; return sc->int_data->data;
	case SC(LONG_DATA): *have = sc->long_data->n_data; *elsize = sizeof *sc->long_data->data; return sc->long_data->data;
	case SC(FLOAT_DATA): *have = sc->float_data->n_data; *elsize = sizeof *sc->float_data->data; return sc->float_data->data;
	case SC(DOUBLE_DATA): *have = sc->double_data->n_data; *elsize = sizeof *sc->double_data->data; return sc->double_data->data;
	case SC(STRING_DATA): *have = sc->string_data->n_data; *elsize = sizeof *sc->string_data->data; return sc->string_data->data;
	case SC(JSON_DATA): *have = sc->json_data->n_data; *elsize = sizeof *sc->json_data->data; return sc->json_data->data;
	default: *have = 0; *elsize = 0; return NULL;
	}
}

/* The SDKs send a nullable column compact: values for the valid rows only,
 * valid_data for every row. Spreads them over n rows (null rows zero: a
 * false, a 0, an empty string pointer or an empty JSON). */
static int spread(struct srv_req *rq, const Milvus__Proto__Schema__FieldData *f, const void *src, size_t have,
		  size_t elsize, uint64_t n, const void **out)
{
	static char empty[1];
	uint64_t valid = 0, at = 0;
	char *dst;

	for (uint64_t i = 0; i < f->n_valid_data; i++)
		valid += f->valid_data[i] != 0;
	if (f->n_valid_data != n || valid != have)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"field %s: %zu values for %llu rows, of which %llu are valid", f->field_name, have,
				(unsigned long long)n, (unsigned long long)valid);
	if (!(dst = srv_arena_alloc(rq->arena, n * elsize + 1)))
		return DANN_ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		if (f->valid_data[i])
			memcpy(dst + i * elsize, (const char *)src + at++ * elsize, elsize);
		else if (f->scalars->data_case == SC(STRING_DATA))
			((char **)(void *)dst)[i] = empty;
	}
	*out = dst;
	return 0;
}

static int get_scalar(struct srv_req *rq, const Milvus__Proto__Schema__FieldData *f,
		      const struct dann_field *df, uint64_t n, struct dann_column *col)
{
	const Milvus__Proto__Schema__ScalarField *sc = f->scalars;
	size_t have = 0, elsize = 0;
	const void *src;
	int want_case, rc = 0;

	if (f->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS || !sc)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "field %s: scalar data expected",
				f->field_name);
	switch (df->type) {
	case DANN_FIELD_BOOL: want_case = SC(BOOL_DATA); break;
	case DANN_FIELD_INT8: case DANN_FIELD_INT16: case DANN_FIELD_INT32: want_case = SC(INT_DATA); break;
	case DANN_FIELD_INT64: want_case = SC(LONG_DATA); break;
	case DANN_FIELD_FLOAT: want_case = SC(FLOAT_DATA); break;
	case DANN_FIELD_DOUBLE: want_case = SC(DOUBLE_DATA); break;
	case DANN_FIELD_VARCHAR: want_case = SC(STRING_DATA); break;
	default: want_case = SC(JSON_DATA); break;
	}
	if ((int)sc->data_case != want_case)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"field %s: values of the wrong type for the field's data type", f->field_name);
	src = values_of(sc, &have, &elsize);
	if (have != n && !f->n_valid_data)
		return bad(rq, f->field_name, "values", have, n);
	if (f->n_valid_data && f->n_valid_data != n)
		return bad(rq, f->field_name, "valid_data", f->n_valid_data, n);
	if (have != n && (rc = spread(rq, f, src, have, elsize, n, &src)) < 0)
		return rc;
	col->name = df->name;
	col->type = df->type;
	if (f->n_valid_data) {
		uint8_t *v;
		if (!df->nullable)
			for (uint64_t i = 0; i < n; i++)
				if (!f->valid_data[i])
					return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
							"field %s: row %llu is null but the field is not nullable",
							f->field_name, (unsigned long long)i);
		if (!(v = srv_arena_alloc(rq->arena, n)))
			return DANN_ENOMEM;
		for (uint64_t i = 0; i < n; i++)
			v[i] = f->valid_data[i] != 0;
		col->valid = v;
	}
	switch (df->type) {
	case DANN_FIELD_BOOL: {
		const protobuf_c_boolean *in = src;
		uint8_t *v = srv_arena_alloc(rq->arena, n + 1);
		if (!v)
			return DANN_ENOMEM;
		for (uint64_t i = 0; i < n; i++)
			v[i] = in[i] != 0;
		col->values = v;
		break;
	}
	case DANN_FIELD_INT8:
		rc = narrow(rq, df->name, src, n, 1, INT8_MIN, INT8_MAX, (void **)&col->values);
		break;
	case DANN_FIELD_INT16:
		rc = narrow(rq, df->name, src, n, 2, INT16_MIN, INT16_MAX, (void **)&col->values);
		break;
	case DANN_FIELD_INT32: case DANN_FIELD_INT64: case DANN_FIELD_FLOAT: case DANN_FIELD_DOUBLE:
		col->values = src;
		break;
	case DANN_FIELD_VARCHAR:
		rc = pack_var(rq, df->name, n, (char *const *)src, NULL, df->max_length, col);
		break;
	case DANN_FIELD_JSON:
		rc = pack_var(rq, df->name, n, NULL, src, 0, col);
		break;
	}
	return rc;
}

/* Rows in the vector column: its values over the dimension, which must
 * divide them. */
static int rows_of(struct srv_req *rq, const Milvus__Proto__Schema__FieldData *f, const struct dann_schema *s,
		   uint64_t *n)
{
	uint64_t values = 0;

	if (f->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS && f->vectors) {
		if (f->vectors->data_case == VC(FLOAT_VECTOR))
			values = f->vectors->float_vector->n_data;
		else if (f->vectors->data_case == VC(INT8_VECTOR))
			values = f->vectors->int8_vector.len;
	}
	if (values % s->dim)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"field %s: dimension mismatch: %llu values are not rows of dim %u", f->field_name,
				(unsigned long long)values, s->dim);
	*n = values / s->dim;
	return 0;
}

int srv_batch_decode(struct srv_req *rq, const struct dann_schema *s,
		     Milvus__Proto__Schema__FieldData *const *fields, size_t nf, uint32_t num_rows,
		     int upsert, struct dann_batch *b)
{
	struct dann_column *cols = srv_arena_alloc(rq->arena, (s->nfields + 1) * sizeof *cols);
	uint8_t seen[DANN_MAX_FIELDS + 3] = { 0 };
	uint64_t n = num_rows;
	int rc;

	memset(b, 0, sizeof *b);
	if (!cols)
		return DANN_ENOMEM;
	for (size_t i = 0; i < nf && !n; i++)
		if (fields[i]->field_name && strcmp(fields[i]->field_name, s->vector_field) == 0 &&
		    (rc = rows_of(rq, fields[i], s, &n)) < 0)
			return rc;
	if (!n)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "%s: no rows to write", rq->method);
	b->n = n;
	for (size_t i = 0; i < nf; i++) {
		const Milvus__Proto__Schema__FieldData *f = fields[i];
		const char *name = f->field_name ? f->field_name : "";
		int64_t id = srv_field_id(s, name);
		int is_meta = f->is_dynamic || strcmp(name, SRV_DYNAMIC_FIELD) == 0;

		if (is_meta && !s->dynamic_field)
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"field %s: the collection has no dynamic field", name);
		if (is_meta)
			id = SRV_FIELD_ID_BASE + 2 + s->nfields;
		if (id < 0)
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"field %s: not in the collection's schema", name);
		if (seen[id - SRV_FIELD_ID_BASE]++)
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "field %s: given twice", name);
		if (id == SRV_FIELD_ID_BASE) {
			if (s->auto_id && !upsert)
				return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
						"field %s: the primary key is auto-id; do not pass it", name);
			rc = get_keys(rq, f, n, b);
		} else if (id == SRV_FIELD_ID_BASE + 1) {
			rc = get_vectors(rq, f, s, n, b);
		} else {
			struct dann_field meta = { .type = DANN_FIELD_JSON, .nullable = 1 };
			const struct dann_field *df = is_meta ? &meta : &s->fields[id - SRV_FIELD_ID_BASE - 2];
			snprintf(meta.name, sizeof meta.name, "%s", SRV_DYNAMIC_FIELD);
			rc = get_scalar(rq, f, df, n, &cols[b->ncols]);
			if (rc == 0 && is_meta)
				cols[b->ncols].name = SRV_DYNAMIC_FIELD;
			b->ncols += rc == 0;
		}
		if (rc < 0)
			return rc;
	}
	if (!b->vectors)
		return srv_fail(rq, SRV_M_PARAM_MISSING, DANN_EINVAL, "field %s: missing", s->vector_field);
	if (!b->keys && (!s->auto_id || upsert))
		return srv_fail(rq, SRV_M_PARAM_MISSING, DANN_EINVAL, "field %s: missing", s->pk_field);
	for (uint32_t i = 0; i < s->nfields; i++)
		if (!seen[2 + i] && !s->fields[i].nullable)
			return srv_fail(rq, SRV_M_PARAM_MISSING, DANN_EINVAL, "field %s: missing",
					s->fields[i].name);
	b->cols = cols;
	return 0;
}

static int mutation_ids(struct srv_req *rq, Milvus__Proto__Milvus__MutationResult *r, const int64_t *keys,
			uint64_t n)
{
	Milvus__Proto__Schema__IDs *ids = srv_arena_msg(rq->arena, &milvus__proto__schema__ids__descriptor);
	Milvus__Proto__Schema__LongArray *la =
		srv_arena_msg(rq->arena, &milvus__proto__schema__long_array__descriptor);
	uint32_t *succ = srv_arena_alloc(rq->arena, (n + 1) * sizeof *succ);

	if (!ids || !la || !succ)
		return DANN_ENOMEM;
	la->data = (int64_t *)keys;
	la->n_data = n;
	ids->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
	ids->int_id = la;
	for (uint64_t i = 0; i < n; i++)
		succ[i] = (uint32_t)i;
	r->ids = ids;
	r->succ_index = succ;
	r->n_succ_index = n;
	r->timestamp = srv_hybrid_now();
	return 0;
}

static int write_locked(struct srv_req *rq, const char *coll, Milvus__Proto__Schema__FieldData *const *fields,
			size_t nf, uint32_t num_rows, int upsert, Milvus__Proto__Milvus__MutationResult *r);

static int write_rows(struct srv_req *rq, const char *coll, Milvus__Proto__Schema__FieldData *const *fields,
		      size_t nf, uint32_t num_rows, int upsert, Milvus__Proto__Milvus__MutationResult *r)
{
	int rc;

	pthread_rwlock_rdlock(&rq->srv->write_lock);
	rc = write_locked(rq, coll, fields, nf, num_rows, upsert, r);
	pthread_rwlock_unlock(&rq->srv->write_lock);
	return rc;
}

static int write_locked(struct srv_req *rq, const char *coll, Milvus__Proto__Schema__FieldData *const *fields,
			size_t nf, uint32_t num_rows, int upsert, Milvus__Proto__Milvus__MutationResult *r)
{
	struct dann_coll *c;
	struct dann_schema s;
	struct dann_batch b;
	int64_t *keys;
	int rc;

	if ((rc = srv_coll_get(rq, coll, &c)) < 0 || (rc = dann_coll_schema(c, &s)) < 0)
		return rc;
	if ((rc = srv_batch_decode(rq, &s, fields, nf, num_rows, upsert, &b)) < 0)
		return rc;
	if (upsert) {
		if ((rc = dann_coll_upsert(c, &b)) < 0)
			return rc;
		r->upsert_cnt = (int64_t)b.n;
		return mutation_ids(rq, r, b.keys, b.n);
	}
	if (!(keys = srv_arena_alloc(rq->arena, b.n * sizeof *keys)))
		return DANN_ENOMEM;
	if ((rc = dann_coll_insert(c, &b, keys)) < 0) {
		if (rc == DANN_EEXIST)
			rq->mcode = SRV_M_DUPLICATE;
		return rc;
	}
	r->insert_cnt = (int64_t)b.n;
	return mutation_ids(rq, r, b.keys ? b.keys : keys, b.n);
}

int srv_h_insert(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__InsertRequest *q = in;

	return write_rows(rq, q->collection_name, q->fields_data, q->n_fields_data, q->num_rows, 0, out);
}

int srv_h_upsert(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__UpsertRequest *q = in;

	if (q->partial_update)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EUNSUPPORTED,
				"Upsert: partial_update is not supported by dannd; send whole rows");
	return write_rows(rq, q->collection_name, q->fields_data, q->n_fields_data, q->num_rows, 1, out);
}
