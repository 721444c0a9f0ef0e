/*
 * srv_schema.h — Milvus's CollectionSchema to and from dann's schema.
 *
 * dann collections have one int64 primary key (given or auto-id), one
 * vector field (FloatVector -> F32, Int8Vector -> I8; Milvus has no uint8
 * vector type), scalar fields, and the dynamic field. Anything else in a
 * schema (string keys, binary or sparse vectors, several vector fields) is
 * refused with a message naming the field, never silently dropped.
 */
#ifndef SRV_SCHEMA_H
#define SRV_SCHEMA_H

#include "dann.h"
#include "schema.pb-c.h"
#include "srv_dispatch.h"

/* Fills s (already defaulted) from m. DANN_EINVAL / DANN_EUNSUPPORTED
 * naming the field. */
int srv_schema_decode(struct srv_req *rq, const Milvus__Proto__Schema__CollectionSchema *m,
		      struct dann_schema *s);
/* A CollectionSchema of s in the arena (field ids as srv_coll.h says). */
Milvus__Proto__Schema__CollectionSchema *srv_schema_encode(struct srv_req *rq,
							   const struct dann_schema *s);

/* Milvus DataType of a dann scalar type, and back (0 / -1 when none). */
int srv_dtype_of_field(enum dann_field_type t);
int srv_field_of_dtype(int milvus_type, enum dann_field_type *out);
/* Milvus field id of a field name in s (-1 if unknown). */
int64_t srv_field_id(const struct dann_schema *s, const char *name);

#endif
