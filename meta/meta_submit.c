/*
 * meta_submit.c — issuing a command from any thread of a node's process:
 * to the local Raft instance when it leads, else forwarded to the leader's
 * request port, retried with the same request id until it has an answer
 * or the deadline passes. A forwarded change is waited for locally too, so
 * that a list on this node after the call sees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "meta_node.h"
#include "meta_rpc.h"

#define RETRY_MIN_MS 20
#define RETRY_MAX_MS 320

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int wait_applied(struct meta_node *n, uint64_t index, uint64_t deadline)
{
	struct meta_req w;

	memset(&w, 0, sizeof w);
	w.kind = META_REQ_WAIT, w.index = index, w.deadline_ms = deadline;
	meta_node_call(n, &w);
	if (w.rc != 0)
		return dann_fail(w.rc, "meta: the change was committed (index %llu) but %s", (unsigned long long)index,
				 w.msg);
	return 0;
}

static int submit_buf(struct meta_node *n, const char *what, const void *buf, size_t len, struct meta_result *res)
{
	uint64_t deadline = meta_now_ms() + n->p.request_timeout_ms;
	unsigned backoff = RETRY_MIN_MS;
	char last[512] = "no attempt";

	for (;;) {
		struct meta_req r;
		struct meta_rpc_reply rep;
		uint64_t now;

		memset(&r, 0, sizeof r);
		r.kind = META_REQ_APPLY, r.buf = buf, r.len = len;
		meta_node_call(n, &r);
		if (r.rc == 0) {
			*res = r.res;
			return 0;
		}
		if (r.rc == DANN_ECANCELED || r.rc == DANN_ENOMEM || r.rc == DANN_EUNSUPPORTED)
			return dann_fail(r.rc, "meta: %s: %s", what, r.msg);
		snprintf(last, sizeof last, "%s", r.msg);
		if (r.rc == META_RC_NOTLEADER && r.leader_id && r.leader_id != n->id) {
			unsigned left = (unsigned)(deadline > meta_now_ms() ? deadline - meta_now_ms() : 1);

			if (meta_rpc_call(r.leader_addr, META_RPC_APPLY, buf, len, left, &rep) < 0) {
				snprintf(last, sizeof last, "%s", dann_errmsg());
			} else if (rep.rc != META_RC_NOTLEADER && rep.rc != META_RC_RETRY && rep.rc != DANN_ECANCELED &&
				   rep.index != 0) {
				/* Applied on the leader (refused or not): it is in the log. */
				res->rc = rep.rc, res->value = rep.value;
				snprintf(res->msg, sizeof res->msg, "%.200s", rep.msg);
				free(rep.extra);
				return wait_applied(n, rep.index, deadline);
			} else {
				snprintf(last, sizeof last, "leader %s: %s", r.leader_addr, rep.msg);
				free(rep.extra);
			}
		}
		now = meta_now_ms();
		if (now >= deadline)
			return dann_fail(DANN_ETIMEDOUT, "meta: %s: no answer within %u ms (last: %s)", what,
					 n->p.request_timeout_ms, last);
		sleep_ms(backoff < deadline - now ? backoff : (unsigned)(deadline - now));
		backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
	}
}

int meta_submit(struct meta_node *n, struct meta_cmd *c, struct meta_result *out)
{
	struct meta_result local, *res = out ? out : &local;
	void *buf;
	size_t len;
	int rc;

	memset(res, 0, sizeof *res);
	/* A halted copy would not apply it: said at once, not at the deadline. */
	if ((rc = meta_fsm_check(&n->fsm)) < 0)
		return rc;
	if (c->req.client == 0) {
		c->req.client = n->client_id;
		c->req.seq = atomic_fetch_add(&n->seq, 1) + 1;
	}
	if ((rc = meta_cmd_encode(c, &buf, &len)) < 0)
		return rc;
	rc = submit_buf(n, meta_cmd_name(c->type), buf, len, res);
	free(buf);
	if (rc < 0)
		return rc;
	if (res->rc != 0)
		return dann_fail(res->rc, "meta: %s", res->msg);
	return 0;
}

static int change(struct meta_node *n, enum meta_req_kind kind, uint64_t id, const char *addr)
{
	uint64_t deadline = meta_now_ms() + n->p.request_timeout_ms;
	const char *what = kind == META_REQ_ADD ? "adding" : "removing";
	unsigned backoff = RETRY_MIN_MS;

	for (;;) {
		struct meta_req r;
		struct meta_rpc_reply rep;
		struct meta_wbuf w;
		int rc;

		memset(&r, 0, sizeof r);
		r.kind = kind, r.id = id, r.addr = addr;
		meta_node_call(n, &r);
		rc = r.rc;
		if (rc == META_RC_NOTLEADER && r.leader_id && r.leader_id != n->id) {
			meta_wbuf_init(&w);
			meta_put_u64(&w, id);
			if (kind == META_REQ_ADD)
				meta_put_str(&w, addr, META_ADDR_MAX);
			rc = meta_rpc_call(r.leader_addr, kind == META_REQ_ADD ? META_RPC_ADD : META_RPC_REMOVE, w.p,
					   w.len, n->p.request_timeout_ms, &rep);
			meta_wbuf_free(&w);
			if (rc == 0) {
				rc = rep.rc;
				snprintf(r.msg, sizeof r.msg, "%s", rep.msg);
				free(rep.extra);
			} else {
				rc = META_RC_RETRY;
				snprintf(r.msg, sizeof r.msg, "%s", dann_errmsg());
			}
		}
		if (rc <= 0)
			return rc == 0 ? 0 : dann_fail(rc, "meta: %s node %llu: %s", what, (unsigned long long)id, r.msg);
		if (meta_now_ms() >= deadline)
			return dann_fail(DANN_ETIMEDOUT, "meta: %s node %llu: no answer within %u ms (last: %s)", what,
					 (unsigned long long)id, n->p.request_timeout_ms, r.msg);
		sleep_ms(backoff);
		backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
	}
}

int meta_member_add(struct meta_node *n, uint64_t id, const char *addr)
{
	struct meta_member m;
	char item[META_ADDR_MAX + 32];
	uint32_t k;
	int rc;

	snprintf(item, sizeof item, "%llu@%s", (unsigned long long)id, addr ? addr : "");
	if ((rc = meta_members_parse(item, &m, &k)) < 0)
		return rc;
	return change(n, META_REQ_ADD, id, m.addr);
}

int meta_member_remove(struct meta_node *n, uint64_t id)
{
	return change(n, META_REQ_REMOVE, id, NULL);
}

int meta_status(struct meta_node *n, struct meta_status *out)
{
	struct meta_req r;

	memset(&r, 0, sizeof r);
	r.kind = META_REQ_STATUS, r.status = out;
	meta_node_call(n, &r);
	return r.rc == 0 ? 0 : dann_fail(r.rc, "meta: status: %s", r.msg);
}
