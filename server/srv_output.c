/*
 * srv_output.c — building output columns (see srv_output.h).
 *
 * One dann_coll_fetch per request for all rows, then one FieldData per
 * field; a row that vanished between the search and the fetch (deleted
 * meanwhile) comes back null rather than failing the whole answer.
 */
#include "srv_output.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "srv_coll.h"
#include "srv_schema.h"
#include "srv_status.h"

#define T(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define SC(x) MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_##x

static int add_name(struct srv_req *rq, struct srv_outspec *o, size_t cap, const char *name)
{
	for (size_t i = 0; i < o->nnames; i++)
		if (strcmp(o->names[i], name) == 0)
			return 0;
	if (o->nnames == cap)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "too many output fields");
	o->names[o->nnames++] = srv_arena_strdup(rq->arena, name);
	return 0;
}

static void add_scalar(struct srv_outspec *o, uint32_t idx)
{
	for (uint32_t i = 0; i < o->nscalar; i++)
		if (o->scalar[i] == idx)
			return;
	o->scalar[o->nscalar++] = idx;
}

int srv_output_resolve(struct srv_req *rq, const struct dann_schema *s, char *const *want, size_t nwant,
		       struct srv_outspec *o)
{
	size_t cap = nwant + s->nfields + 3;
	int rc;

	memset(o, 0, sizeof *o);
	o->names = srv_arena_alloc(rq->arena, cap * sizeof *o->names);
	o->dyn_keys = srv_arena_alloc(rq->arena, (nwant + 1) * sizeof *o->dyn_keys);
	if (!o->names || !o->dyn_keys)
		return DANN_ENOMEM;
	if ((rc = add_name(rq, o, cap, s->pk_field)) < 0)
		return rc;
	for (size_t i = 0; i < nwant; i++) {
		const char *w = want[i];
		int64_t id = srv_field_id(s, w);

		if (!w[0])
			continue;
		if (strcmp(w, "*") == 0) {
			o->vector = 1;
			for (uint32_t f = 0; f < s->nfields; f++)
				add_scalar(o, f);
			o->meta = o->meta_all = s->dynamic_field;
			if ((rc = add_name(rq, o, cap, s->vector_field)) < 0)
				return rc;
			for (uint32_t f = 0; f < s->nfields; f++)
				if ((rc = add_name(rq, o, cap, s->fields[f].name)) < 0)
					return rc;
			if (s->dynamic_field && (rc = add_name(rq, o, cap, SRV_DYNAMIC_FIELD)) < 0)
				return rc;
			continue;
		}
		if (id == SRV_FIELD_ID_BASE)
			continue;
		if (id == SRV_FIELD_ID_BASE + 1)
			o->vector = 1;
		else if (id >= SRV_FIELD_ID_BASE + 2 && id < SRV_FIELD_ID_BASE + 2 + (int64_t)s->nfields)
			add_scalar(o, (uint32_t)(id - SRV_FIELD_ID_BASE - 2));
		else if (s->dynamic_field && strcmp(w, SRV_DYNAMIC_FIELD) == 0)
			o->meta = o->meta_all = 1;
		else if (s->dynamic_field) {
			o->meta = 1;
			o->dyn_keys[o->ndyn++] = w;
		} else
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"output field %s: not in the collection's schema", w);
		if ((rc = add_name(rq, o, cap, w)) < 0)
			return rc;
	}
	return 0;
}

static Milvus__Proto__Schema__FieldData *fd_new(struct srv_req *rq, const struct dann_schema *s,
						 const char *name, int type)
{
	Milvus__Proto__Schema__FieldData *f =
		srv_arena_msg(rq->arena, &milvus__proto__schema__field_data__descriptor);

	if (f) {
		f->type = type;
		f->field_name = (char *)name;
		f->field_id = srv_field_id(s, name);
	}
	return f;
}

static Milvus__Proto__Schema__ScalarField *scalars_of(struct srv_req *rq, Milvus__Proto__Schema__FieldData *f)
{
	Milvus__Proto__Schema__ScalarField *sc =
		srv_arena_msg(rq->arena, &milvus__proto__schema__scalar_field__descriptor);

	if (sc) {
		f->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
		f->scalars = sc;
	}
	return sc;
}

static Milvus__Proto__Schema__FieldData *key_column(struct srv_req *rq, const struct dann_schema *s,
						     const int64_t *keys, uint64_t n)
{
	Milvus__Proto__Schema__FieldData *f = fd_new(rq, s, s->pk_field, T(Int64));
	Milvus__Proto__Schema__ScalarField *sc = f ? scalars_of(rq, f) : NULL;
	Milvus__Proto__Schema__LongArray *la =
		srv_arena_msg(rq->arena, &milvus__proto__schema__long_array__descriptor);

	if (!sc || !la)
		return NULL;
	la->data = (int64_t *)keys;
	la->n_data = n;
	sc->data_case = SC(LONG_DATA);
	sc->long_data = la;
	return f;
}

static Milvus__Proto__Schema__FieldData *vector_column(struct srv_req *rq, const struct dann_schema *s,
							const struct dann_rows *rows, uint64_t n)
{
	int i8 = s->dtype == DANN_DTYPE_I8;
	Milvus__Proto__Schema__FieldData *f = fd_new(rq, s, s->vector_field, i8 ? T(Int8Vector) : T(FloatVector));
	Milvus__Proto__Schema__VectorField *v =
		srv_arena_msg(rq->arena, &milvus__proto__schema__vector_field__descriptor);
	Milvus__Proto__Schema__FloatArray *fa =
		srv_arena_msg(rq->arena, &milvus__proto__schema__float_array__descriptor);

	if (!f || !v || !fa)
		return NULL;
	v->dim = s->dim;
	if (i8) {
		v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_INT8_VECTOR;
		v->int8_vector.data = rows->vectors;
		v->int8_vector.len = n * s->dim;
	} else {
		v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
		fa->data = rows->vectors;
		fa->n_data = n * s->dim;
		v->float_vector = fa;
	}
	f->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
	f->vectors = v;
	return f;
}

/* The JSON of one "$meta" row, reduced to the asked keys. */
static int meta_row(struct srv_req *rq, const struct srv_outspec *o, const char *txt, size_t len,
		    ProtobufCBinaryData *out)
{
	cJSON *doc, *keep;
	char *p;

	if (o->meta_all || !len) {
		out->data = (uint8_t *)srv_arena_strndup(rq->arena, txt ? txt : "{}", txt ? len : 2);
		out->len = txt && len ? len : 2;
		return out->data ? 0 : DANN_ENOMEM;
	}
	doc = cJSON_ParseWithLength(txt, len);
	keep = cJSON_CreateObject();
	if (!keep) {
		cJSON_Delete(doc);
		return DANN_ENOMEM;
	}
	for (size_t k = 0; doc && k < o->ndyn; k++) {
		cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, o->dyn_keys[k]);
		if (item)
			cJSON_AddItemToObject(keep, o->dyn_keys[k], cJSON_Duplicate(item, 1));
	}
	p = cJSON_PrintUnformatted(keep);
	cJSON_Delete(doc);
	cJSON_Delete(keep);
	if (!p)
		return DANN_ENOMEM;
	out->len = strlen(p);
	out->data = (uint8_t *)srv_arena_strndup(rq->arena, p, out->len);
	cJSON_free(p);
	return out->data ? 0 : DANN_ENOMEM;
}

static int fill_var(struct srv_req *rq, const struct srv_outspec *o, const struct dann_column *col,
		    uint64_t n, int is_meta, Milvus__Proto__Schema__ScalarField *sc, int json)
{
	if (json) {
		Milvus__Proto__Schema__JSONArray *ja =
			srv_arena_msg(rq->arena, &milvus__proto__schema__jsonarray__descriptor);
		if (!ja || !(ja->data = srv_arena_alloc(rq->arena, (n + 1) * sizeof *ja->data)))
			return DANN_ENOMEM;
		for (uint64_t i = 0; i < n; i++) {
			int null = col->valid && !col->valid[i];
			const char *t = null ? NULL : (const char *)col->values + col->offsets[i];
			size_t len = null ? 0 : col->offsets[i + 1] - col->offsets[i];
			int rc;
			if (is_meta) {
				if ((rc = meta_row(rq, o, t, len, &ja->data[i])) < 0)
					return rc;
			} else {
				ja->data[i].data = (uint8_t *)srv_arena_strndup(rq->arena, t ? t : "", len);
				ja->data[i].len = len;
			}
		}
		ja->n_data = n;
		sc->data_case = SC(JSON_DATA);
		sc->json_data = ja;
	} else {
		Milvus__Proto__Schema__StringArray *sa =
			srv_arena_msg(rq->arena, &milvus__proto__schema__string_array__descriptor);
		if (!sa || !(sa->data = srv_arena_alloc(rq->arena, (n + 1) * sizeof *sa->data)))
			return DANN_ENOMEM;
		for (uint64_t i = 0; i < n; i++) {
			int null = col->valid && !col->valid[i];
			sa->data[i] = srv_arena_strndup(rq->arena,
				null ? "" : (const char *)col->values + col->offsets[i],
				null ? 0 : col->offsets[i + 1] - col->offsets[i]);
			if (!sa->data[i])
				return DANN_ENOMEM;
		}
		sa->n_data = n;
		sc->data_case = SC(STRING_DATA);
		sc->string_data = sa;
	}
	return 0;
}

#define FIXED(ARR, DESC, CASE, MEMBER, CTYPE, SRCTYPE)                                     \
	do {                                                                                \
		ARR *a = srv_arena_msg(rq->arena, &DESC);                                   \
		if (!a || !(a->data = srv_arena_alloc(rq->arena, (n + 1) * sizeof(CTYPE)))) \
			return DANN_ENOMEM;                                                 \
		for (uint64_t i = 0; i < n; i++)                                            \
			a->data[i] = (CTYPE)((const SRCTYPE *)col->values)[i];              \
		a->n_data = n;                                                              \
		sc->data_case = CASE;                                                       \
		sc->MEMBER = a;                                                             \
	} while (0)

static int fill_scalar(struct srv_req *rq, const struct srv_outspec *o, const struct dann_column *col,
		       enum dann_field_type type, uint64_t n, int is_meta, Milvus__Proto__Schema__FieldData *f)
{
	Milvus__Proto__Schema__ScalarField *sc = scalars_of(rq, f);

	if (!sc)
		return DANN_ENOMEM;
	if (col->valid && !is_meta) {
		if (!(f->valid_data = srv_arena_alloc(rq->arena, (n + 1) * sizeof *f->valid_data)))
			return DANN_ENOMEM;
		for (uint64_t i = 0; i < n; i++)
			f->valid_data[i] = col->valid[i] != 0;
		f->n_valid_data = n;
	}
	switch (type) {
	case DANN_FIELD_BOOL:
		FIXED(Milvus__Proto__Schema__BoolArray, milvus__proto__schema__bool_array__descriptor,
		      SC(BOOL_DATA), bool_data, protobuf_c_boolean, uint8_t);
		break;
	case DANN_FIELD_INT8:
		FIXED(Milvus__Proto__Schema__IntArray, milvus__proto__schema__int_array__descriptor,
		      SC(INT_DATA), int_data, int32_t, int8_t);
		break;
	case DANN_FIELD_INT16:
		FIXED(Milvus__Proto__Schema__IntArray, milvus__proto__schema__int_array__descriptor,
		      SC(INT_DATA), int_data, int32_t, int16_t);
		break;
	case DANN_FIELD_INT32:
		FIXED(Milvus__Proto__Schema__IntArray, milvus__proto__schema__int_array__descriptor,
		      SC(INT_DATA), int_data, int32_t, int32_t);
		break;
	case DANN_FIELD_INT64:
		FIXED(Milvus__Proto__Schema__LongArray, milvus__proto__schema__long_array__descriptor,
		      SC(LONG_DATA), long_data, int64_t, int64_t);
		break;
	case DANN_FIELD_FLOAT:
		FIXED(Milvus__Proto__Schema__FloatArray, milvus__proto__schema__float_array__descriptor,
		      SC(FLOAT_DATA), float_data, float, float);
		break;
	case DANN_FIELD_DOUBLE:
		FIXED(Milvus__Proto__Schema__DoubleArray, milvus__proto__schema__double_array__descriptor,
		      SC(DOUBLE_DATA), double_data, double, double);
		break;
	case DANN_FIELD_VARCHAR:
		return fill_var(rq, o, col, n, 0, sc, 0);
	case DANN_FIELD_JSON:
		return fill_var(rq, o, col, n, is_meta, sc, 1);
	}
	return 0;
}

int srv_output_build(struct srv_req *rq, struct dann_coll *c, const struct dann_schema *s,
		     const struct srv_outspec *o, const int64_t *keys, uint64_t n,
		     Milvus__Proto__Schema__FieldData ***out, size_t *nout)
{
	const char *names[DANN_MAX_FIELDS + 1];
	uint32_t nnames = 0;
	struct dann_rows *rows = NULL;
	Milvus__Proto__Schema__FieldData **cols;
	size_t k = 0;
	int rc = 0;

	cols = srv_arena_alloc(rq->arena, (3 + o->nscalar) * sizeof *cols);
	if (!cols || !(cols[k++] = key_column(rq, s, keys, n)))
		return DANN_ENOMEM;
	for (uint32_t i = 0; i < o->nscalar; i++)
		names[nnames++] = s->fields[o->scalar[i]].name;
	if (o->meta)
		names[nnames++] = SRV_DYNAMIC_FIELD;
	if (n && (nnames || o->vector)) {
		if ((rc = dann_coll_fetch(c, keys, n, names, nnames, o->vector, &rows)) < 0)
			return rc;
		if (o->vector && !(cols[k++] = vector_column(rq, s, rows, n))) {
			rc = DANN_ENOMEM;
			goto done;
		}
		for (uint32_t i = 0; i < nnames; i++) {
			int is_meta = o->meta && i == nnames - 1;
			enum dann_field_type t = is_meta ? DANN_FIELD_JSON : s->fields[o->scalar[i]].type;
			Milvus__Proto__Schema__FieldData *f =
				fd_new(rq, s, names[i], is_meta ? T(JSON) : srv_dtype_of_field(t));
			if (!f) {
				rc = DANN_ENOMEM;
				goto done;
			}
			f->is_dynamic = is_meta;
			if ((rc = fill_scalar(rq, o, &rows->cols[i], t, n, is_meta, f)) < 0)
				goto done;
			cols[k++] = f;
		}
	}
	/* Vectors were pointed at, not copied: copy before rows go. */
	if (rows && o->vector) {
		size_t bytes = n * s->dim * dann_dtype_size(s->dtype);
		void *copy = srv_arena_alloc(rq->arena, bytes + 1);
		Milvus__Proto__Schema__VectorField *v = cols[1]->vectors;
		if (!copy) {
			rc = DANN_ENOMEM;
			goto done;
		}
		memcpy(copy, rows->vectors, bytes);
		if (v->data_case == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR)
			v->float_vector->data = copy;
		else
			v->int8_vector.data = copy;
	}
	*out = cols;
	*nout = k;
done:
	dann_rows_free(rows);
	return rc;
}
