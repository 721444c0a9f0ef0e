/*
 * srv_dispatch.c — the method table and the decode / handle / encode step.
 *
 * The table is the list of served MilvusService methods; anything else is
 * UNIMPLEMENTED with a message naming it, so a newer SDK calling something
 * dannd does not serve gets a clear answer instead of a hang or a crash.
 */
#include "srv_dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.pb-c.h"
#include "error.h"
#include "milvus.pb-c.h"
#include "srv_handlers.h"
#include "srv_status.h"

#define SRV_SERVICE_PREFIX "/milvus.proto.milvus.MilvusService/"

#define M(name, req, resp, fn) \
	{ name, &milvus__proto__milvus__##req##__descriptor, &resp##__descriptor, fn }
#define MM(name, req, resp, fn) M(name, req, milvus__proto__milvus__##resp, fn)
#define MS(name, req, fn) M(name, req, milvus__proto__common__status, fn)

static const struct srv_method methods[] = {
	MM("GetVersion", get_version_request, get_version_response, srv_h_get_version),
	MM("CheckHealth", check_health_request, check_health_response, srv_h_check_health),
	MM("Connect", connect_request, connect_response, srv_h_connect),
	MS("CreateCollection", create_collection_request, srv_h_create_collection),
	MS("DropCollection", drop_collection_request, srv_h_drop_collection),
	MM("HasCollection", has_collection_request, bool_response, srv_h_has_collection),
	MM("DescribeCollection", describe_collection_request, describe_collection_response,
	   srv_h_describe_collection),
	MM("ShowCollections", show_collections_request, show_collections_response,
	   srv_h_show_collections),
	MM("GetCollectionStatistics", get_collection_statistics_request,
	   get_collection_statistics_response, srv_h_get_collection_statistics),
	MS("LoadCollection", load_collection_request, srv_h_load_collection),
	MS("ReleaseCollection", release_collection_request, srv_h_release_collection),
	MM("GetLoadingProgress", get_loading_progress_request, get_loading_progress_response,
	   srv_h_get_loading_progress),
	MM("GetLoadState", get_load_state_request, get_load_state_response, srv_h_get_load_state),
	MS("CreateIndex", create_index_request, srv_h_create_index),
	MM("DescribeIndex", describe_index_request, describe_index_response, srv_h_describe_index),
	MM("GetIndexState", get_index_state_request, get_index_state_response, srv_h_get_index_state),
	MM("GetIndexBuildProgress", get_index_build_progress_request,
	   get_index_build_progress_response, srv_h_get_index_build_progress),
	MM("Insert", insert_request, mutation_result, srv_h_insert),
	MM("Upsert", upsert_request, mutation_result, srv_h_upsert),
	MM("Delete", delete_request, mutation_result, srv_h_delete),
	MM("Flush", flush_request, flush_response, srv_h_flush),
	MM("GetFlushState", get_flush_state_request, get_flush_state_response, srv_h_get_flush_state),
	MM("Search", search_request, search_results, srv_h_search),
	MM("Query", query_request, query_results, srv_h_query),
};

const struct srv_method *srv_method_find(const char *path)
{
	size_t plen = strlen(SRV_SERVICE_PREFIX);

	if (!path || strncmp(path, SRV_SERVICE_PREFIX, plen) != 0)
		return NULL;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(path + plen, methods[i].name) == 0)
			return &methods[i];
	return NULL;
}

int srv_fail(struct srv_req *rq, int mcode, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rq->mcode = mcode;
	return dann_fail(code, "%s", msg);
}

/* The response's common.Status: the response itself for methods returning
 * a bare Status, else its field 1 "status" (every Milvus response has it). */
static int set_status(struct srv_req *rq, ProtobufCMessage *resp, int rc)
{
	const ProtobufCMessageDescriptor *d = resp->descriptor;
	Milvus__Proto__Common__Status *st;
	struct srv_status s = srv_status_of(rc, rq->mcode);

	if (d == &milvus__proto__common__status__descriptor) {
		st = (Milvus__Proto__Common__Status *)resp;
	} else {
		const ProtobufCFieldDescriptor *f =
			protobuf_c_message_descriptor_get_field_by_name(d, "status");
		if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
			return DANN_EINVAL;
		st = srv_arena_msg(rq->arena, &milvus__proto__common__status__descriptor);
		if (!st)
			return DANN_ENOMEM;
		*(void **)((char *)resp + f->offset) = st;
	}
	st->error_code = s.error_code;
	st->code = s.code;
	st->retriable = s.retriable;
	if (rc != 0) {
		st->reason = srv_arena_strdup(rq->arena, dann_errmsg());
		if (!st->reason)
			return DANN_ENOMEM;
	}
	return 0;
}

static void fail_nomem(struct srv_reply *out)
{
	out->grpc = GRPC_STATUS_RESOURCE_EXHAUSTED;
	out->grpc_msg = "dannd: out of memory building the response";
	out->rc = DANN_ENOMEM;
}

/* The handler's result out->rc into resp's status, and resp encoded. */
static void finish(struct srv_req *rq, const struct srv_method *m, ProtobufCMessage *resp,
		   struct srv_reply *out)
{
	size_t n;

	if (out->rc < 0)
		out->forward_to = rq->forward_to;
	if (out->rc == DANN_ETIMEDOUT || out->rc == DANN_ECANCELED) {
		/* The call's deadline passed or its client left: that is the
		 * call's own status, as gRPC servers report it. */
		out->grpc = out->rc == DANN_ETIMEDOUT ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED;
		out->grpc_msg = srv_arena_printf(rq->arena, "%s: %s", m->name, dann_errmsg());
		return;
	}
	if (set_status(rq, resp, out->rc) < 0)
		goto nomem;
	n = protobuf_c_message_get_packed_size(resp);
	out->bytes = srv_arena_alloc(rq->arena, n ? n : 1);
	if (!out->bytes)
		goto nomem;
	out->len = protobuf_c_message_pack(resp, out->bytes);
	out->grpc = GRPC_STATUS_OK;
	return;
nomem:
	fail_nomem(out);
}

void srv_dispatch(struct srv_req *rq, const struct srv_method *m, const char *path,
		  const uint8_t *data, size_t len, struct srv_reply *out)
{
	ProtobufCMessage *req, *resp;

	memset(out, 0, sizeof *out);
	if (!m) {
		out->grpc = GRPC_STATUS_UNIMPLEMENTED;
		out->grpc_msg = srv_arena_printf(rq->arena,
			"dannd does not serve %s (unknown method or not implemented)",
			path ? path : "(no path)");
		out->rc = DANN_EUNSUPPORTED;
		return;
	}
	rq->method = m->name;
	req = protobuf_c_message_unpack(m->in, srv_arena_allocator(rq->arena), len, data);
	if (!req) {
		out->grpc = GRPC_STATUS_INVALID_ARGUMENT;
		out->grpc_msg = srv_arena_printf(rq->arena,
			"%s: request is not a valid %s message (%zu bytes)", m->name, m->in->name, len);
		out->rc = DANN_EINVAL;
		return;
	}
	resp = srv_arena_msg(rq->arena, m->out);
	if (!resp) {
		fail_nomem(out);
		return;
	}
	dann_clear_error();
	rq->mcode = 0;
	rq->forward_to = 0;
	rq->m = m;
	rq->resp = resp;
	out->rc = m->fn(rq, req, resp);
	if (out->rc == SRV_DEFERRED || out->rc == SRV_NOT_INLINE) {
		out->deferred = out->rc == SRV_DEFERRED;
		out->rc = 0;
		return;
	}
	finish(rq, m, resp, out);
}

void srv_dispatch_resume(struct srv_req *rq, int rc)
{
	struct srv_reply r;

	memset(&r, 0, sizeof r);
	r.rc = rc;
	finish(rq, rq->m, rq->resp, &r);
	rq->on_resume(rq, &r);
}
