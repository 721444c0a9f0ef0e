/*
 * meta_node.h — inside a meta node: the libuv loop thread that owns the
 * Raft instance, and how other threads hand it work.
 *
 * Every libraft call runs on the loop thread. Another thread fills a
 * struct meta_req, queues it under the node's mutex, wakes the loop with
 * uv_async_send and waits on the request's semaphore; the loop answers
 * every request exactly once (a result, NOTLEADER with the leader's
 * address, or ECANCELED when the node closes).
 */
#ifndef META_NODE_H
#define META_NODE_H

#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <uv.h>

#include "meta.h"
#include "meta_raftfsm.h"

enum meta_req_kind {
	META_REQ_APPLY = 1,     /* buf: an encoded command; leader only */
	META_REQ_WAIT = 2,      /* until this node has applied index */
	META_REQ_STATUS = 3,
	META_REQ_ADD = 4,       /* id, addr; leader only */
	META_REQ_REMOVE = 5,    /* id; leader only */
};

/* A request's answer: rc 0 or DANN_E*; META_RC_NOTLEADER when this node is
 * not the leader (leader_id/addr say who is, if known); META_RC_RETRY when
 * the outcome is unknown and the same request may be retried. */
#define META_RC_NOTLEADER 1
#define META_RC_RETRY 2

struct meta_req {
	enum meta_req_kind kind;
	const void *buf;
	size_t len;
	uint64_t id;
	const char *addr;
	uint64_t index;             /* WAIT: the index; APPLY: the entry's index */
	uint64_t deadline_ms;       /* WAIT */
	/* answer */
	int rc;
	char msg[256];
	struct meta_result res;
	uint64_t leader_id;
	char leader_addr[META_ADDR_MAX + 1];
	struct meta_status *status;
	/* loop-side state */
	struct meta_node *node;
	struct raft_change change;
	struct meta_req *next;
	sem_t done;
};

struct meta_rpc_server;

/* One raft_apply in flight. Kept apart from its meta_req (on the caller's
 * stack) so that a halted catalog can answer the caller at once while
 * libraft still holds the request: req is NULL then, and the callback
 * libraft fires in the end (at close at the latest) only frees it. */
struct meta_applying {
	struct raft_apply a;
	struct meta_req *req;
	struct meta_applying *next;
};

struct meta_node {
	char dir[4096];
	char cluster[META_CLUSTER_MAX + 1];
	uint64_t id;
	char addr[META_ADDR_MAX + 1];           /* this node's member address */
	struct meta_params p;
	struct meta_member members[META_MEMBERS_MAX];
	uint32_t nmembers;

	struct meta_fsm fsm;
	struct meta_raftfsm rfsm;
	struct raft_tracer tracer;
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t sweep;
	uv_check_t check;
	struct raft_uv_transport transport;
	struct raft_io io;
	struct raft raft;
	int loop_ready, io_ready, transport_ready, raft_ready;

	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	struct meta_req *queue, *queue_tail;    /* under mu */
	int closing;                            /* under mu */
	struct meta_req *waits;                 /* loop thread only */
	struct meta_applying *applying;         /* loop thread only: applies in flight */

	uint64_t client_id;
	atomic_uint_fast64_t seq;
	struct meta_rpc_server *rpc;
	char service_addr[META_ADDR_MAX + 1];   /* under mu (meta_set_service_addr) */
};

/* Queues r and waits for the loop's answer. */
void meta_node_call(struct meta_node *n, struct meta_req *r);
/* Milliseconds on a monotonic clock. */
uint64_t meta_now_ms(void);

#endif
