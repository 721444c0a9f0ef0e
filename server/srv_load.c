/*
 * srv_load.c — LoadCollection, ReleaseCollection, GetLoadingProgress,
 * GetLoadState.
 *
 * A dann collection is always servable (PQ codes and caches are loaded
 * when a segment opens), so "loaded" is Milvus's contract only: Search and
 * Query refuse a collection that was not loaded, as Milvus does, and load
 * completes at once (progress 100). Like Milvus, loading needs an index.
 * The state is a durable property, so a loaded collection is loaded again
 * after a restart.
 */
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "milvus.pb-c.h"
#include "srv_coll.h"
#include "srv_handlers.h"
#include "srv_impl.h"
#include "srv_load.h"
#include "srv_status.h"

#define PROP_BUF 64

/* 1 loaded, 0 not; without wait (a network thread), DANN_EBUSY when the
 * collection's lock is held. */
static int loaded(struct dann_coll *c, bool wait)
{
	char buf[PROP_BUF];
	int rc = wait ? dann_coll_get_prop(c, SRV_PROP_LOADED, buf, sizeof buf)
		      : dann_coll_get_prop_nowait(c, SRV_PROP_LOADED, buf, sizeof buf);

	return rc == DANN_EBUSY ? rc : rc == 0 && buf[0] == '1';
}

int srv_coll_loaded(struct dann_coll *c)
{
	return loaded(c, true);
}

int srv_coll_require_loaded(struct srv_req *rq, struct dann_coll *c)
{
	int rc = loaded(c, !rq->inline_only);

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	return srv_fail(rq, SRV_M_COLL_NOT_LOADED, DANN_EINVAL, "collection not loaded[collection=%s]",
			rq->coll);
}

int srv_h_load_collection(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__LoadCollectionRequest *q = in;
	struct dann_coll *c;
	char buf[PROP_BUF];
	int rc;

	(void)out;
	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0)
		return rc;
	if (dann_coll_get_prop(c, SRV_PROP_INDEX_NAME, buf, sizeof buf) < 0)
		return srv_fail(rq, SRV_M_INDEX_NOT_FOUND, DANN_ENOTFOUND,
				"index not found[collection=%s]: create an index before loading",
				q->collection_name);
	return dann_coll_set_prop(c, SRV_PROP_LOADED, "1");
}

int srv_h_release_collection(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__ReleaseCollectionRequest *q = in;
	struct dann_coll *c;
	int rc;

	(void)out;
	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0)
		return rc;
	return dann_coll_set_prop(c, SRV_PROP_LOADED, "0");
}

int srv_h_get_loading_progress(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__GetLoadingProgressRequest *q = in;
	Milvus__Proto__Milvus__GetLoadingProgressResponse *r = out;
	struct dann_coll *c;
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0)
		return rc;
	if (!srv_coll_loaded(c))
		return srv_coll_require_loaded(rq, c);
	r->progress = 100;
	r->refresh_progress = 100;
	return 0;
}

int srv_h_get_load_state(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__GetLoadStateRequest *q = in;
	Milvus__Proto__Milvus__GetLoadStateResponse *r = out;
	struct dann_coll *c;
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0)
		return rc;
	r->state = srv_coll_loaded(c) ? MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded
				      : MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateNotLoad;
	return 0;
}
