/*
 * srv_dispatch.h — from a method path and request bytes to response bytes.
 *
 * The network layer (srv_call.c) hands a worker the method path and the
 * request's bytes; srv_dispatch decodes them with the method's request
 * descriptor, runs its handler and encodes the response. A handler returns
 * 0 or a DANN_E* code with dann_fail's message; the dispatcher writes the
 * Milvus status (error_code, code, reason) into the response's status, as
 * Milvus does, so the gRPC status stays OK. Only what is wrong with the call
 * itself — an unknown method, bytes that do not decode — becomes a gRPC
 * status. This layer knows nothing of sockets, so tests feed it bytes.
 */
#ifndef SRV_DISPATCH_H
#define SRV_DISPATCH_H

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "srv_arena.h"

struct srv;
struct srv_reply;

/* What a handler sees of its call. */
struct srv_req {
	struct srv *srv;
	struct srv_arena *arena;       /* request, response and scratch live here */
	const char *method;            /* short name ("Search") */
	uint64_t deadline_ns;          /* CLOCK_MONOTONIC; 0 = none */
	const volatile int *cancel;    /* nonzero once the client went away */
	int mcode;                     /* a precise Milvus code for the failure (srv_fail) */
	const char *coll;              /* collection named by the request, for logs */
	int forwarded;                 /* the call came from another node (srv_fwd.h) */
	uint64_t forward_to;           /* the collection is this node's (srv_coll_get) */
	/* Set by the caller when it can take a deferred answer (NULL: the
	 * handler must answer before it returns). Called once, on whatever
	 * thread ends the work, with the encoded answer. */
	void (*on_resume)(struct srv_req *rq, const struct srv_reply *r);
	/* The handler runs on a completion-queue thread, which must never
	 * block: it defers or returns SRV_NOT_INLINE. */
	int inline_only;
	/* Set by srv_dispatch before the handler runs, for srv_dispatch_resume. */
	const struct srv_method *m;
	void *resp;
};

/* A handler's return value meaning "the answer comes later": it has
 * handed the work to a thread that will call srv_dispatch_resume (only
 * when rq->on_resume is set). The handler, and srv_dispatch after it,
 * must not touch rq or out once that thread may have run. */
#define SRV_DEFERRED 1
/* A handler's return value when rq->inline_only is set and it cannot defer:
 * it has blocked on nothing and changed nothing, and the call goes to a
 * worker, which runs it again. */
#define SRV_NOT_INLINE 2

typedef int (*srv_handler_fn)(struct srv_req *rq, const void *in, void *out);

struct srv_method {
	const char *name;
	const ProtobufCMessageDescriptor *in;
	const ProtobufCMessageDescriptor *out;
	srv_handler_fn fn;
};

/* The served method of a path ("/milvus.proto.milvus.MilvusService/Insert"),
 * or NULL. */
const struct srv_method *srv_method_find(const char *path);

struct srv_reply {
	grpc_status_code grpc;         /* OK unless the call itself failed */
	const char *grpc_msg;          /* in the arena; NULL when OK */
	uint8_t *bytes;                /* encoded response (arena), when grpc is OK */
	size_t len;
	int rc;                        /* the handler's result (for logs and metrics) */
	uint64_t forward_to;           /* nonzero: the handler failed because the
	                                * collection is that node's; send the call there */
	int deferred;                  /* the handler returned SRV_DEFERRED: nothing
	                                * else here is set, rq->on_resume will answer
	                                * (SRV_NOT_INLINE: nothing here is set) */
};

/* Decodes data with m's request type, runs m's handler, encodes the
 * response. Malformed bytes: INVALID_ARGUMENT naming the message. m NULL:
 * UNIMPLEMENTED naming the path. */
void srv_dispatch(struct srv_req *rq, const struct srv_method *m, const char *path,
		  const uint8_t *data, size_t len, struct srv_reply *out);

/* Ends a deferred call: the handler's result rc (0 or a DANN_E* code with
 * dann_fail's message on this thread) into rq->resp's status, encoded,
 * then rq->on_resume. */
void srv_dispatch_resume(struct srv_req *rq, int rc);

/* Sets rq->mcode and fails with code and a message; returns code. */
int srv_fail(struct srv_req *rq, int mcode, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
