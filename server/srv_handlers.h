/*
 * srv_handlers.h — the handlers of every served MilvusService method.
 *
 * Each takes the decoded request and fills the response (both in the call's
 * arena); it returns 0 or a DANN_E* code with a message naming the field or
 * collection, and the dispatcher turns that into the response's status.
 */
#ifndef SRV_HANDLERS_H
#define SRV_HANDLERS_H

#include "srv_dispatch.h"

/* srv_admin.c */
int srv_h_get_version(struct srv_req *rq, const void *in, void *out);
int srv_h_check_health(struct srv_req *rq, const void *in, void *out);
int srv_h_connect(struct srv_req *rq, const void *in, void *out);
/* srv_collection.c */
int srv_h_create_collection(struct srv_req *rq, const void *in, void *out);
int srv_h_drop_collection(struct srv_req *rq, const void *in, void *out);
int srv_h_has_collection(struct srv_req *rq, const void *in, void *out);
int srv_h_describe_collection(struct srv_req *rq, const void *in, void *out);
int srv_h_show_collections(struct srv_req *rq, const void *in, void *out);
int srv_h_get_collection_statistics(struct srv_req *rq, const void *in, void *out);
/* srv_load.c */
int srv_h_load_collection(struct srv_req *rq, const void *in, void *out);
int srv_h_release_collection(struct srv_req *rq, const void *in, void *out);
int srv_h_get_loading_progress(struct srv_req *rq, const void *in, void *out);
int srv_h_get_load_state(struct srv_req *rq, const void *in, void *out);
/* srv_index.c */
int srv_h_create_index(struct srv_req *rq, const void *in, void *out);
int srv_h_describe_index(struct srv_req *rq, const void *in, void *out);
int srv_h_get_index_state(struct srv_req *rq, const void *in, void *out);
int srv_h_get_index_build_progress(struct srv_req *rq, const void *in, void *out);
/* srv_insert.c */
int srv_h_insert(struct srv_req *rq, const void *in, void *out);
int srv_h_upsert(struct srv_req *rq, const void *in, void *out);
/* srv_delete.c */
int srv_h_delete(struct srv_req *rq, const void *in, void *out);
int srv_h_flush(struct srv_req *rq, const void *in, void *out);
int srv_h_get_flush_state(struct srv_req *rq, const void *in, void *out);
/* srv_search.c */
int srv_h_search(struct srv_req *rq, const void *in, void *out);
/* srv_query.c */
int srv_h_query(struct srv_req *rq, const void *in, void *out);

#endif
