/*
 * srv_coll.h — what the collection handlers share: looking a collection up
 * with Milvus's "collection not found" status, the server's per-collection
 * properties, Milvus's field ids, and key-value pair helpers.
 */
#ifndef SRV_COLL_H
#define SRV_COLL_H

#include "common.pb-c.h"
#include "dann.h"
#include "srv_dispatch.h"

/* Properties dannd keeps with each collection (dann_coll_set_prop). */
#define SRV_PROP_LOADED "srv.loaded"           /* "1" when loaded */
#define SRV_PROP_INDEX_NAME "srv.index_name"
#define SRV_PROP_INDEX_TYPE "srv.index_type"
#define SRV_PROP_INDEX_PARAMS "srv.index_params" /* the CreateIndex params as JSON */
#define SRV_PROP_CREATED "srv.created_ms"      /* creation time, ms since the epoch */
#define SRV_PROP_CONSISTENCY "srv.consistency"

/* Milvus numbers fields from 100: the key, the vector, the scalar fields in
 * schema order, then the dynamic field "$meta". */
#define SRV_FIELD_ID_BASE 100
#define SRV_DYNAMIC_FIELD "$meta"

/* The collection called name (rq->coll set for logs): DANN_ENOTFOUND with
 * Milvus's "collection not found[collection=name]" status otherwise, and
 * DANN_EINVAL for an empty name. With rq->inline_only it waits on no lock
 * (DANN_EBUSY) and looks up no cluster owner: the worker that reruns the
 * call does. */
int srv_coll_get(struct srv_req *rq, const char *name, struct dann_coll **out);

/* A stable collection id derived from its name (Milvus clients show it). */
int64_t srv_coll_id(const char *name);

/* The value of key among n pairs, or NULL. */
const char *srv_kv_find(Milvus__Proto__Common__KeyValuePair *const *kv, size_t n, const char *key);
/* A new pair in the arena. */
Milvus__Proto__Common__KeyValuePair *srv_kv_new(struct srv_req *rq, const char *key, const char *value);

/* Parses a Milvus metric name (L2, IP, COSINE; any case), failing with
 * Milvus's metric status naming it. */
int srv_metric_parse(struct srv_req *rq, const char *v, enum dann_metric *out);

/* Milvus's hybrid timestamp of now (physical ms << 18). */
uint64_t srv_hybrid_now(void);

#endif
