/*
 * meta_rpc.h — the request port of a meta node (member PORT + 1).
 *
 * A tiny framed protocol over TCP, used by nodes to forward changes to
 * their leader and by clients (`dann cluster`, tests, benchmarks) to issue
 * changes, read status, change membership and fetch a node's catalog.
 *   request:  u32 magic "DMR1" | u32 type | u32 body bytes | body
 *   reply:    u32 magic "DMR1" | u32 body bytes | body, where body is
 *             i32 rc | u64 value | u64 index | u64 leader id |
 *             str leader address | str message | u32 n | n bytes of extra
 * rc is 0, a DANN_E* code, or META_RC_NOTLEADER / META_RC_RETRY
 * (meta_node.h). A node never forwards a request that came in on this
 * port: it answers NOTLEADER with the leader it knows, and the caller goes
 * there. One thread per connection, at most META_RPC_CONNS at once.
 */
#ifndef META_RPC_H
#define META_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "meta_buf.h"

#define META_RPC_MAGIC 0x31524d44u  /* "DMR1" */
#define META_RPC_BODY_MAX (64u << 20)
#define META_RPC_CONNS 64

enum meta_rpc_type {
	META_RPC_APPLY = 1,    /* body: an encoded command; reply value, index */
	META_RPC_STATUS = 2,   /* reply extra: an encoded struct meta_status */
	META_RPC_DUMP = 3,     /* reply extra: the node's catalog as a snapshot */
	META_RPC_ADD = 4,      /* body: u64 id, str address */
	META_RPC_REMOVE = 5,   /* body: u64 id */
};

struct meta_rpc_reply {
	int rc;
	uint64_t value, index, leader_id;
	char leader_addr[META_ADDR_MAX + 1];
	char msg[256];
	void *extra;           /* malloc'd, the caller frees */
	size_t extra_len;
};

struct meta_node;

/* Server side (meta_node.c calls these). */
int meta_rpc_start(struct meta_node *n);
void meta_rpc_shutdown(struct meta_node *n);   /* unblocks connections */
void meta_rpc_stop(struct meta_node *n);       /* joins the threads */

/* One request to the node with member address addr (its request port is
 * PORT + 1), within timeout_ms. DANN_EIO naming the address when it cannot
 * be reached or the connection breaks; reply->rc holds the node's answer. */
int meta_rpc_call(const char *addr, enum meta_rpc_type type, const void *body, size_t len,
		  unsigned timeout_ms, struct meta_rpc_reply *reply);

void meta_status_encode(struct meta_wbuf *w, const struct meta_status *s);
int meta_status_decode(const void *buf, size_t len, struct meta_status *s);

#endif
