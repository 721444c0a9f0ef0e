/*
 * srv_output.h — output fields of Search and Query as Milvus FieldData.
 *
 * A request names the fields to return: schema fields, "*" (every field,
 * the vector included, as Milvus does), "$meta" (the whole dynamic field)
 * or keys of the dynamic field by name ("text"), which Milvus returns
 * inside a "$meta" column holding only those keys. The primary key is
 * always returned. Values come from dann_coll_fetch by key.
 */
#ifndef SRV_OUTPUT_H
#define SRV_OUTPUT_H

#include <stdint.h>

#include "dann.h"
#include "schema.pb-c.h"
#include "srv_dispatch.h"

struct srv_outspec {
	int vector;                     /* the vector field is asked for */
	uint32_t nscalar;
	uint32_t scalar[DANN_MAX_FIELDS]; /* indexes into schema.fields */
	int meta;                       /* a "$meta" column is returned */
	int meta_all;                   /* ... with every key (else dyn_keys only) */
	size_t ndyn;
	const char **dyn_keys;
	size_t nnames;
	char **names;                   /* the response's output_fields */
};

/* Resolves the requested names against s. DANN_EINVAL naming an unknown
 * field (when the collection has no dynamic field). */
int srv_output_resolve(struct srv_req *rq, const struct dann_schema *s, char *const *want, size_t nwant,
		       struct srv_outspec *o);

/* The FieldData columns (key first) of n rows with these keys, in the
 * arena. */
int srv_output_build(struct srv_req *rq, struct dann_coll *c, const struct dann_schema *s,
		     const struct srv_outspec *o, const int64_t *keys, uint64_t n,
		     Milvus__Proto__Schema__FieldData ***out, size_t *nout);

#endif
