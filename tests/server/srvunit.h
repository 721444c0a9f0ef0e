/*
 * srvunit.h — running served methods in-process for unit tests: a real
 * server (srv_open on a free loopback port, metrics off) over the test's
 * temporary data dir, and srv_dispatch called directly with request bytes,
 * so malformed and hostile messages reach the decoder and handlers exactly
 * as they arrive from the network. (Header-only, see srvtest.h.)
 */
#ifndef DANN_SRVUNIT_H
#define DANN_SRVUNIT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"

#include "common.pb-c.h"
#include "helpers/tmpdir.h"
#include "milvus.pb-c.h"
#include "schema.pb-c.h"
#include "srv.h"
#include "srv_arena.h"
#include "srv_dispatch.h"

#define SRVUNIT_PREFIX "/milvus.proto.milvus.MilvusService/"

static struct srv *srvunit_srv;
static struct srv_arena *srvunit_arena;

static inline void srvunit_open(void)
{
	struct srv_config c;

	tmpdir_make("srvunit");
	srv_config_default(&c);
	snprintf(c.data_dir, sizeof c.data_dir, "%s", tmpdir_path("data"));
	snprintf(c.listen, sizeof c.listen, "127.0.0.1:0");
	c.metrics[0] = 0;
	c.workers = 1;
	c.cq_threads = 1;
	cr_assert_eq(srv_open(&c, &srvunit_srv), 0, "srv_open: %s", dann_errmsg());
}

static inline void srvunit_close(void)
{
	srv_close(srvunit_srv);
	srvunit_srv = NULL;
	srv_arena_free(srvunit_arena);
	srvunit_arena = NULL;
	tmpdir_remove();
}

/* Dispatches bytes to the method; the reply lives until the next call. */
static inline struct srv_reply srvunit_call(const char *method, const void *bytes, size_t len)
{
	char path[128];
	struct srv_req rq;
	struct srv_reply r;

	srv_arena_free(srvunit_arena);
	srvunit_arena = srv_arena_new();
	cr_assert_not_null(srvunit_arena);
	snprintf(path, sizeof path, SRVUNIT_PREFIX "%s", method);
	memset(&rq, 0, sizeof rq);
	rq.srv = srvunit_srv;
	rq.arena = srvunit_arena;
	srv_dispatch(&rq, srv_method_find(path), path, bytes, len, &r);
	return r;
}

/* Packs m and dispatches it. */
static inline struct srv_reply srvunit_send(const char *method, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1);
	struct srv_reply r;

	cr_assert_not_null(buf);
	protobuf_c_message_pack(m, buf);
	r = srvunit_call(method, buf, n);
	free(buf);
	return r;
}

/* The common.Status of a reply of the given response type (a bare Status
 * when desc is the Status descriptor). Unpacked into the test's arena. */
static inline Milvus__Proto__Common__Status *srvunit_status(const struct srv_reply *r,
							     const ProtobufCMessageDescriptor *desc, void **resp)
{
	ProtobufCMessage *m;
	const ProtobufCFieldDescriptor *f;

	cr_assert_eq(r->grpc, GRPC_STATUS_OK, "grpc status %d: %s", r->grpc, r->grpc_msg ? r->grpc_msg : "");
	m = protobuf_c_message_unpack(desc, srv_arena_allocator(srvunit_arena), r->len, r->bytes);
	cr_assert_not_null(m, "the response does not decode as %s", desc->name);
	if (resp)
		*resp = m;
	if (desc == &milvus__proto__common__status__descriptor)
		return (Milvus__Proto__Common__Status *)m;
	f = protobuf_c_message_descriptor_get_field_by_name(desc, "status");
	cr_assert_not_null(f);
	return *(Milvus__Proto__Common__Status **)((char *)m + f->offset);
}

#endif
