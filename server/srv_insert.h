/*
 * srv_insert.h — decoding Insert/Upsert columns into a dann batch.
 */
#ifndef SRV_INSERT_H
#define SRV_INSERT_H

#include "dann.h"
#include "schema.pb-c.h"
#include "srv_dispatch.h"

/* Checks and converts nf FieldData columns (num_rows rows, 0 = from the
 * vector column) for schema s into b (pointing into the request and the
 * arena). upsert: the key column is required even for auto-id. DANN_EINVAL
 * naming the field and row of the first problem. */
int srv_batch_decode(struct srv_req *rq, const struct dann_schema *s,
		     Milvus__Proto__Schema__FieldData *const *fields, size_t nf, uint32_t num_rows,
		     int upsert, struct dann_batch *b);

#endif
