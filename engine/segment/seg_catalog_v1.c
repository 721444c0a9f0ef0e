/*
 * seg_catalog_v1.c — reading a version 1 local CATALOG (written before
 * fields had defaults). Its collection records are struct dann_cat_coll as
 * it was then, frozen here; each converts to today's record with no
 * default on any field. The next change rewrites the file as today's
 * version. (struct dann_index_params has kept its size: index.opq took
 * what was padding.)
 */
#include <string.h>

#include "seg_impl.h"

struct v1_field {
	char name[DANN_NAME_MAX + 1];
	enum dann_field_type type;
	uint32_t max_length;
	int nullable;
};

struct v1_schema {
	char name[DANN_NAME_MAX + 1];
	char description[DANN_NAME_MAX + 1];
	char pk_field[DANN_NAME_MAX + 1];
	char vector_field[DANN_NAME_MAX + 1];
	uint32_t dim;
	enum dann_dtype dtype;
	int auto_id;
	int dynamic_field;
	uint32_t nfields;
	struct v1_field fields[DANN_MAX_FIELDS];
	struct dann_index_params index;
	uint64_t seal_rows;
	uint64_t seal_bytes;
};

struct v1_coll {
	uint64_t id;
	struct v1_schema schema;
	char props[DANN_CAT_PROPS_MAX];
};

size_t seg_catalog_v1_coll_size(void)
{
	return sizeof(struct v1_coll);
}

void seg_catalog_v1_coll(const void *rec, struct dann_cat_coll *out)
{
	struct v1_coll c;
	const struct v1_schema *o = &c.schema;
	struct dann_schema *s = &out->schema;

	memcpy(&c, rec, sizeof c);
	memset(out, 0, sizeof *out);
	out->id = c.id;
	memcpy(out->props, c.props, sizeof out->props);
	memcpy(s->name, o->name, sizeof s->name);
	memcpy(s->description, o->description, sizeof s->description);
	memcpy(s->pk_field, o->pk_field, sizeof s->pk_field);
	memcpy(s->vector_field, o->vector_field, sizeof s->vector_field);
	s->dim = o->dim;
	s->dtype = o->dtype;
	s->auto_id = o->auto_id;
	s->dynamic_field = o->dynamic_field;
	s->nfields = o->nfields > DANN_MAX_FIELDS ? DANN_MAX_FIELDS : o->nfields;
	for (uint32_t i = 0; i < s->nfields; i++) {
		memcpy(s->fields[i].name, o->fields[i].name, sizeof s->fields[i].name);
		s->fields[i].type = o->fields[i].type;
		s->fields[i].max_length = o->fields[i].max_length;
		s->fields[i].nullable = o->fields[i].nullable;
	}
	s->index = o->index;
	s->index.opq = 0; /* padding in version 1: plain PQ */
	s->seal_rows = o->seal_rows;
	s->seal_bytes = o->seal_bytes;
}
