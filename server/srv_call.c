/*
 * srv_call.c — the per-call state machine (see srv_call.h).
 *
 * Threads polling the completion queue only move calls between states and
 * never block; the handler runs on a worker (srv_pool) that answers with
 * grpc_call_start_batch from its own thread, or hands the call to a thread
 * that answers it later (SRV_DEFERRED: a single-query search answered from
 * the searcher's thread, so no worker waits on it). Cancellation reaches the
 * handler through call->cancelled, set when RECV_CLOSE_ON_SERVER reports
 * that the client went away or the deadline passed; the search reads it.
 */
#include "srv_call.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "srv_auth.h"
#include "srv_dispatch.h"
#include "srv_fwd.h"
#include "srv_impl.h"
#include "srv_metrics.h"
#include "srv_pool.h"
#include "srv_status.h"

#define SRV_PATH_MAX 256
#define SRV_SEARCH_PATH "/milvus.proto.milvus.MilvusService/Search"

struct srv_call {
	struct srv *srv;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_byte_buffer *recv_buf;
	grpc_byte_buffer *send_buf;
	grpc_slice status_details;
	int have_status_details;
	int close_cancelled;
	volatile int cancelled;
	atomic_int refs;
	struct srv_tag t_request, t_recv, t_close, t_send;
	struct srv_arena *arena;
	struct srv_req rq;             /* here, not on the worker's stack: a deferred
	                                * handler (SRV_DEFERRED) answers after the
	                                * worker has moved on */
	char path[SRV_PATH_MAX];
	uint64_t start_ns;
	uint64_t deadline_ns;
};

static void call_free(struct srv_call *c)
{
	struct srv *s = c->srv;

	if (c->call)
		grpc_call_unref(c->call);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->md);
	if (c->recv_buf)
		grpc_byte_buffer_destroy(c->recv_buf);
	if (c->send_buf)
		grpc_byte_buffer_destroy(c->send_buf);
	if (c->have_status_details)
		grpc_slice_unref(c->status_details);
	srv_arena_free(c->arena);
	free(c);
	atomic_fetch_sub(&s->calls_live, 1);
}

static void call_unref(struct srv_call *c)
{
	if (atomic_fetch_sub(&c->refs, 1) == 1)
		call_free(c);
}

int srv_call_post(struct srv *s)
{
	struct srv_call *c = calloc(1, sizeof *c);
	grpc_call_error e;

	if (!c)
		return dann_fail(DANN_ENOMEM, "server: call state");
	c->srv = s;
	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->md);
	c->t_request = (struct srv_tag){ SRV_TAG_REQUEST, c };
	c->t_recv = (struct srv_tag){ SRV_TAG_RECV, c };
	c->t_close = (struct srv_tag){ SRV_TAG_CLOSE, c };
	c->t_send = (struct srv_tag){ SRV_TAG_SEND, c };
	atomic_fetch_add(&s->calls_live, 1);
	e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, s->cq, s->cq,
				     &c->t_request);
	if (e != GRPC_CALL_OK) {
		call_free(c);
		return dann_fail(DANN_EIO, "server: grpc_server_request_call failed (%d)", (int)e);
	}
	return 0;
}

/* Remaining time of the call's deadline, on our CLOCK_MONOTONIC. */
static uint64_t deadline_of(const gpr_timespec *d)
{
	gpr_timespec now, rem;
	int64_t ns;

	if (gpr_time_cmp(*d, gpr_inf_future(d->clock_type)) == 0)
		return 0;
	now = gpr_now(d->clock_type);
	rem = gpr_time_sub(*d, now);
	ns = (int64_t)rem.tv_sec * 1000000000 + rem.tv_nsec;
	if (ns < 1)
		ns = 1;
	return srv_now_ns() + (uint64_t)ns;
}

/* Sends status (and, when OK, the message bytes); the SEND event unrefs. */
static void call_reply(struct srv_call *c, grpc_status_code code, const char *msg,
		       const uint8_t *bytes, size_t len)
{
	grpc_op ops[3];
	size_t n = 0;
	grpc_call_error e;

	memset(ops, 0, sizeof ops);
	ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[n].data.send_initial_metadata.count = 0;
	n++;
	if (code == GRPC_STATUS_OK) {
		grpc_slice sl = grpc_slice_from_copied_buffer((const char *)bytes, len);
		c->send_buf = grpc_raw_byte_buffer_create(&sl, 1);
		grpc_slice_unref(sl);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = c->send_buf;
		n++;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	if (msg) {
		c->status_details = grpc_slice_from_copied_string(msg);
		c->have_status_details = 1;
		ops[n].data.send_status_from_server.status_details = &c->status_details;
	}
	n++;
	e = grpc_call_start_batch(c->call, ops, n, &c->t_send, NULL);
	if (e != GRPC_CALL_OK) {
		dann_log(DANN_LOG_ERROR, "server", "%s: cannot send the reply (grpc error %d)",
			 c->path, (int)e);
		call_unref(c);
	}
}

static void log_outcome(struct srv_call *c, const char *method, const struct srv_reply *r,
			const char *coll, uint64_t ns)
{
	struct srv *s = c->srv;
	int failed = r->grpc != GRPC_STATUS_OK || r->rc != 0;

	srv_metrics_record(s->metrics, method, failed, ns);
	if (r->grpc != GRPC_STATUS_OK)
		dann_log(DANN_LOG_WARN, "server", "%s%s%s: %s: %s", method, coll ? " " : "",
			 coll ? coll : "", srv_grpc_status_name(r->grpc),
			 r->grpc_msg ? r->grpc_msg : "");
	else if (r->rc != 0)
		dann_log(DANN_LOG_WARN, "server", "%s%s%s: %s", method, coll ? " collection " : "",
			 coll ? coll : "", dann_errmsg());
	if (s->cfg.slow_ms && ns >= (uint64_t)s->cfg.slow_ms * 1000000)
		dann_log(DANN_LOG_WARN, "server", "slow request: %s%s%s took %.1f ms", method,
			 coll ? " collection " : "", coll ? coll : "", (double)ns / 1e6);
}

static void call_answer(struct srv_call *c, const struct srv_reply *r)
{
	log_outcome(c, c->rq.method, r, c->rq.coll, srv_now_ns() - c->start_ns);
	call_reply(c, r->grpc, r->grpc_msg, r->bytes, r->len);
}

/* A deferred handler's answer, on the thread that finished its work. */
static void call_resumed(struct srv_req *rq, const struct srv_reply *r)
{
	call_answer((struct srv_call *)((char *)rq - offsetof(struct srv_call, rq)), r);
}

/* c's request as a handler sees it (rq->inline_only clear). */
static void req_init(struct srv_call *c, const struct srv_method *m)
{
	struct srv_req *rq = &c->rq;

	memset(rq, 0, sizeof *rq);
	rq->srv = c->srv;
	rq->arena = c->arena;
	rq->method = m ? m->name : c->path;
	rq->deadline_ns = c->deadline_ns;
	rq->cancel = &c->cancelled;
	rq->on_resume = call_resumed;
}

void srv_call_work(void *job)
{
	struct srv_call *c = job;
	struct srv *s = c->srv;
	struct srv_req *rq = &c->rq;
	grpc_byte_buffer_reader rd;
	grpc_slice body;
	struct srv_reply r;
	const struct srv_method *m = srv_method_find(c->path);
	uint64_t now = srv_now_ns();

	req_init(c, m);
	memset(&r, 0, sizeof r);
	if (c->cancelled || (c->deadline_ns && now >= c->deadline_ns)) {
		/* Waited in the queue past its deadline (or the client left):
		 * the work would be thrown away. */
		r.grpc = c->cancelled ? GRPC_STATUS_CANCELLED : GRPC_STATUS_DEADLINE_EXCEEDED;
		r.grpc_msg = "dannd: the call's deadline passed before a worker was free";
		r.rc = DANN_ETIMEDOUT;
	} else if (srv_auth_check(s, &c->md, &r.grpc, &r.grpc_msg) < 0) {
		r.rc = DANN_EINVAL;
	} else if (!grpc_byte_buffer_reader_init(&rd, c->recv_buf)) {
		r.grpc = GRPC_STATUS_INTERNAL;
		r.grpc_msg = "dannd: cannot read the request message";
		r.rc = DANN_EIO;
	} else {
		body = grpc_byte_buffer_reader_readall(&rd);
		grpc_byte_buffer_reader_destroy(&rd);
		rq->forwarded = srv_fwd_incoming(&c->md);
		srv_dispatch(rq, m, c->path, GRPC_SLICE_START_PTR(body), GRPC_SLICE_LENGTH(body), &r);
		if (r.deferred) {
			/* Another thread answers; c may be gone already. */
			grpc_slice_unref(body);
			return;
		}
		if (r.forward_to)
			srv_fwd_call(s, rq, r.forward_to, c->path, GRPC_SLICE_START_PTR(body),
				     GRPC_SLICE_LENGTH(body), &c->md, &r);
		grpc_slice_unref(body);
	}
	call_answer(c, &r);
}

/* A single-query Search the searcher answers by itself is submitted from
 * this completion-queue thread (rq->inline_only: nothing in it blocks), so
 * no worker wakes for it: a query then costs the searcher's thread and
 * nothing else until its answer, which on a busy 2-core machine saves the
 * wait for a worker's turn on a core. Anything else (several queries,
 * stored fields to fetch, an error to answer, a call to forward) returns
 * untouched and goes to a worker, which runs it again. Not with auth on:
 * a password check may hash. 1 if submitted. */
static int try_inline(struct srv_call *c)
{
	struct srv *s = c->srv;
	const struct srv_method *m;
	grpc_byte_buffer_reader rd;
	struct srv_reply r;
	grpc_slice body;

	if (!s->searcher || s->cfg.auth || c->cancelled || strcmp(c->path, SRV_SEARCH_PATH) != 0 ||
	    (c->deadline_ns && srv_now_ns() >= c->deadline_ns) || !(m = srv_method_find(c->path)) ||
	    !grpc_byte_buffer_reader_init(&rd, c->recv_buf))
		return 0;
	body = grpc_byte_buffer_reader_readall(&rd);
	grpc_byte_buffer_reader_destroy(&rd);
	req_init(c, m);
	c->rq.inline_only = 1;
	c->rq.forwarded = srv_fwd_incoming(&c->md);
	srv_dispatch(&c->rq, m, c->path, GRPC_SLICE_START_PTR(body), GRPC_SLICE_LENGTH(body), &r);
	grpc_slice_unref(body);
	if (!r.deferred)
		return 0;
	atomic_fetch_add(&s->search_inline, 1); /* s outlives c, which may be answered by now */
	return 1;
}

static void on_request(struct srv_call *c, int ok)
{
	struct srv *s = c->srv;
	grpc_op op;
	size_t n;

	if (!ok) {
		/* Server shutting down: the posted request_call is returned. */
		call_free(c);
		return;
	}
	if (!atomic_load(&s->stopping) && srv_call_post(s) < 0)
		dann_log(DANN_LOG_ERROR, "server", "cannot accept more calls: %s", dann_errmsg());
	c->start_ns = srv_now_ns();
	n = GRPC_SLICE_LENGTH(c->details.method);
	if (n >= sizeof c->path)
		n = sizeof c->path - 1;
	memcpy(c->path, GRPC_SLICE_START_PTR(c->details.method), n);
	c->path[n] = 0;
	c->deadline_ns = deadline_of(&c->details.deadline);
	atomic_store(&c->refs, 2);

	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	if (grpc_call_start_batch(c->call, &op, 1, &c->t_close, NULL) != GRPC_CALL_OK)
		call_unref(c);
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->recv_buf;
	if (grpc_call_start_batch(c->call, &op, 1, &c->t_recv, NULL) != GRPC_CALL_OK)
		call_unref(c);
}

static void on_recv(struct srv_call *c, int ok)
{
	struct srv *s = c->srv;
	int rc;

	if (!ok || !c->recv_buf) {
		call_reply(c, GRPC_STATUS_INVALID_ARGUMENT,
			   "dannd: the call ended before its request message arrived", NULL, 0);
		return;
	}
	if (!(c->arena = srv_arena_new())) {
		call_reply(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "dannd: out of memory", NULL, 0);
		return;
	}
	if (try_inline(c))
		return;
	rc = srv_pool_push(s->pool, c);
	if (rc == DANN_EBUSY) {
		srv_metrics_rejected(s->metrics, "overload");
		call_reply(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
			   "dannd: too many requests waiting (queue_max reached); retry later",
			   NULL, 0);
	} else if (rc < 0) {
		call_reply(c, GRPC_STATUS_UNAVAILABLE, "dannd: shutting down", NULL, 0);
	}
}

void srv_call_event(struct srv_tag *tag, int ok)
{
	struct srv_call *c = tag->owner;

	switch (tag->kind) {
	case SRV_TAG_REQUEST:
		on_request(c, ok);
		break;
	case SRV_TAG_RECV:
		on_recv(c, ok);
		break;
	case SRV_TAG_CLOSE:
		if (c->close_cancelled)
			c->cancelled = 1;
		call_unref(c);
		break;
	case SRV_TAG_SEND:
		call_unref(c);
		break;
	case SRV_TAG_SHUTDOWN:
		break;
	}
}
