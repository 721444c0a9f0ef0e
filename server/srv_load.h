/*
 * srv_load.h — the load state Search and Query check.
 */
#ifndef SRV_LOAD_H
#define SRV_LOAD_H

#include "dann.h"
#include "srv_dispatch.h"

/* 1 if the collection was loaded (and not released). */
int srv_coll_loaded(struct dann_coll *c);
/* 0 if loaded, else Milvus's "collection not loaded" failure. */
int srv_coll_require_loaded(struct srv_req *rq, struct dann_coll *c);

#endif
