/*
 * meta_client.c — a client of a meta cluster from outside (meta_client.h).
 */
#include "meta_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "error.h"
#include "meta_node.h"
#include "meta_rpc.h"

#define CLIENT_RETRY_MS 50

int meta_client_init(struct meta_client *c, const char *addrs, unsigned timeout_ms)
{
	const char *p = addrs;

	memset(c, 0, sizeof *c);
	c->timeout_ms = timeout_ms ? timeout_ms : 10000;
	while (p && *p) {
		const char *end = strchr(p, ','), *at;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[META_ADDR_MAX + 32];

		if (len == 0 || len >= sizeof item || c->n == META_MEMBERS_MAX)
			return dann_fail(DANN_EINVAL, "meta client: bad address list '%s'", addrs);
		memcpy(item, p, len);
		item[len] = '\0';
		at = strchr(item, '@');
		snprintf(c->addrs[c->n++], sizeof c->addrs[0], "%.127s", at ? at + 1 : item);
		p = end ? end + 1 : NULL;
	}
	if (c->n == 0)
		return dann_fail(DANN_EINVAL, "meta client: no address given");
	if (getrandom(&c->client_id, sizeof c->client_id, 0) != sizeof c->client_id || !c->client_id)
		c->client_id = (uint64_t)time(NULL) * 2654435761u + 1;
	return 0;
}

static void nap(void)
{
	struct timespec ts = { 0, CLIENT_RETRY_MS * 1000000L };

	nanosleep(&ts, NULL);
}

static int find_addr(struct meta_client *c, const char *addr)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (strcmp(c->addrs[i], addr) == 0)
			return (int)i;
	return -1;
}

/* Sends one request, going where the nodes point, until an answer that is
 * not NOTLEADER / RETRY, or the deadline. */
static int call_leader(struct meta_client *c, enum meta_rpc_type type, const void *body, size_t len,
		       struct meta_rpc_reply *rep, const char *what)
{
	uint64_t deadline = meta_now_ms() + c->timeout_ms;
	unsigned at = atomic_load(&c->leader_hint) % c->n;
	char last[400] = "no attempt";

	for (;;) {
		uint64_t now = meta_now_ms();
		unsigned left = now < deadline ? (unsigned)(deadline - now) : 0;
		int k;

		if (left == 0)
			return dann_fail(DANN_ETIMEDOUT, "meta client: %s: no leader answered within %u ms (last: %s)",
					 what, c->timeout_ms, last);
		if (meta_rpc_call(c->addrs[at], type, body, len, left < 2000 ? left : 2000, rep) < 0) {
			snprintf(last, sizeof last, "%s", dann_errmsg());
			at = (at + 1) % c->n;
			nap();
			continue;
		}
		if (rep->rc != META_RC_NOTLEADER && rep->rc != META_RC_RETRY) {
			atomic_store(&c->leader_hint, at);
			return 0;
		}
		snprintf(last, sizeof last, "%s: %s", c->addrs[at], rep->msg);
		k = rep->rc == META_RC_NOTLEADER && rep->leader_addr[0] ? find_addr(c, rep->leader_addr) : -1;
		if (k < 0 && rep->rc == META_RC_NOTLEADER && rep->leader_addr[0] && c->n < META_MEMBERS_MAX) {
			/* A member the caller did not list (added since): remember it. */
			snprintf(c->addrs[c->n], sizeof c->addrs[0], "%s", rep->leader_addr);
			k = (int)c->n++;
		}
		free(rep->extra);
		if (k >= 0 && (unsigned)k != at) {
			at = (unsigned)k;  /* go straight to the named leader */
			continue;
		}
		at = (at + 1) % c->n;
		nap();
	}
}

int meta_client_submit(struct meta_client *c, struct meta_cmd *cmd, struct meta_result *out)
{
	struct meta_result local, *res = out ? out : &local;
	struct meta_rpc_reply rep;
	void *buf;
	size_t len;
	int rc;

	memset(res, 0, sizeof *res);
	if (cmd->req.client == 0) {
		cmd->req.client = c->client_id;
		cmd->req.seq = atomic_fetch_add(&c->seq, 1) + 1;
	}
	if ((rc = meta_cmd_encode(cmd, &buf, &len)) < 0)
		return rc;
	rc = call_leader(c, META_RPC_APPLY, buf, len, &rep, meta_cmd_name(cmd->type));
	free(buf);
	if (rc < 0)
		return rc;
	free(rep.extra);
	res->rc = rep.rc;
	res->value = rep.value;
	snprintf(res->msg, sizeof res->msg, "%.200s", rep.msg);
	if (rep.rc != 0)
		return dann_fail(rep.rc, "meta client: %s: %s", meta_cmd_name(cmd->type), rep.msg);
	return 0;
}

static int change(struct meta_client *c, enum meta_rpc_type type, uint64_t id, const char *addr)
{
	struct meta_rpc_reply rep;
	struct meta_wbuf w;
	int rc;

	meta_wbuf_init(&w);
	meta_put_u64(&w, id);
	if (type == META_RPC_ADD)
		meta_put_str(&w, addr, META_ADDR_MAX);
	rc = call_leader(c, type, w.p, w.len, &rep, type == META_RPC_ADD ? "add" : "remove");
	meta_wbuf_free(&w);
	if (rc < 0)
		return rc;
	free(rep.extra);
	if (rep.rc != 0)
		return dann_fail(rep.rc, "meta client: %s node %llu: %s", type == META_RPC_ADD ? "adding" : "removing",
				 (unsigned long long)id, rep.msg);
	return 0;
}

int meta_client_add(struct meta_client *c, uint64_t id, const char *addr)
{
	return change(c, META_RPC_ADD, id, addr);
}

int meta_client_remove(struct meta_client *c, uint64_t id)
{
	return change(c, META_RPC_REMOVE, id, NULL);
}

int meta_client_status(const char *addr, unsigned timeout_ms, struct meta_status *out)
{
	struct meta_rpc_reply rep;
	int rc;

	if ((rc = meta_rpc_call(addr, META_RPC_STATUS, NULL, 0, timeout_ms, &rep)) < 0)
		return rc;
	if (rep.rc != 0) {
		free(rep.extra);
		return dann_fail(rep.rc < 0 ? rep.rc : DANN_EIO, "meta: status of %s: %s", addr, rep.msg);
	}
	rc = meta_status_decode(rep.extra, rep.extra_len, out);
	free(rep.extra);
	return rc;
}

int meta_client_dump(const char *addr, unsigned timeout_ms, struct meta_fsm *f)
{
	struct meta_rpc_reply rep;
	int rc;

	if ((rc = meta_rpc_call(addr, META_RPC_DUMP, NULL, 0, timeout_ms, &rep)) < 0)
		return rc;
	if (rep.rc != 0) {
		free(rep.extra);
		return dann_fail(rep.rc < 0 ? rep.rc : DANN_EIO, "meta: catalog of %s: %s", addr, rep.msg);
	}
	rc = meta_fsm_restore(f, rep.extra, rep.extra_len);
	free(rep.extra);
	return rc;
}

int meta_member_service_addr(struct meta_node *n, uint64_t id, unsigned timeout_ms, char *out, size_t cap)
{
	struct meta_status *st = malloc(sizeof *st);
	char member[META_ADDR_MAX + 1] = "";
	int rc;

	if (!st)
		return dann_fail(DANN_ENOMEM, "meta: status");
	if ((rc = meta_status(n, st)) < 0)
		goto out;
	if (id != n->id) {
		for (uint32_t i = 0; i < st->nmembers; i++)
			if (st->members[i].id == id)
				snprintf(member, sizeof member, "%s", st->members[i].addr);
		if (!member[0]) {
			rc = dann_fail(DANN_ENOTFOUND, "meta: node %llu is not a member of the cluster",
				       (unsigned long long)id);
			goto out;
		}
		if ((rc = meta_client_status(member, timeout_ms, st)) < 0)
			goto out;
	}
	if (!st->service_addr[0]) {
		rc = dann_fail(DANN_ENOTFOUND, "meta: node %llu (%s) serves no clients", (unsigned long long)id,
			       member[0] ? member : n->addr);
		goto out;
	}
	if (snprintf(out, cap, "%s", st->service_addr) >= (int)cap)
		rc = dann_fail(DANN_EINVAL, "meta: node %llu: service address too long", (unsigned long long)id);
out:
	free(st);
	return rc;
}
