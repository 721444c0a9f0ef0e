/*
 * meta.h — dann's replicated catalog: what dannd (and `dann cluster`)
 * calls. Everything about Raft stays behind this header, so the backend
 * (libraft today, which upstream no longer develops) can be swapped.
 *
 * A meta node keeps the catalog (collections, segments, counters, users;
 * see meta_fsm.h) in a Raft group. The embedded default is one voter:
 * meta_open with members NULL, nothing else to configure. A cluster is 3
 * or 5 nodes, each opened with its id and the same initial member list;
 * any node accepts every change and forwards it to the leader.
 *
 * Addresses: a member is "ID@HOST:PORT". Raft's own traffic uses PORT; the
 * node's request port (forwarded changes, status, membership, dumps; see
 * meta_rpc.h) is PORT + 1. Clients name a node by its member address.
 *
 * Outcomes: a change returns 0 once it is committed and applied on this
 * node (a later list here sees it). A refused change (a name taken, an id
 * unknown) returns its code and changed nothing. DANN_ETIMEDOUT means no
 * leader answered within request_timeout_ms: the change may or may not
 * have been applied; retrying the same request id is safe (meta_submit).
 */
#ifndef META_H
#define META_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"
#include "meta_cmd.h"
#include "meta_fsm.h"

#define META_ADDR_MAX 127
#define META_MEMBERS_MAX 16
#define META_CLUSTER_MAX 63
/* The collection property naming the node that owns (serves) it, which
 * dannd writes in a cluster ("dann.owner=<node id>"). */
#define META_OWNER_PROP "dann.owner"

struct meta_params {
	const char *dir;               /* the node's directory (dannd: D/meta); made if missing */
	const char *cluster;           /* the cluster's name, stored on first start (default "dann") */
	uint64_t node_id;              /* this node's id, >= 1 (default 1) */
	const char *members;           /* "1@127.0.0.1:7001,2@..."; NULL: one voter, this node */
	int join;                      /* 1: do not bootstrap; wait to be added (meta_member_add) */
	unsigned election_timeout_ms;  /* default 1000 */
	unsigned heartbeat_timeout_ms; /* default 100 */
	unsigned snapshot_threshold;   /* log entries between snapshots (default 1024) */
	unsigned snapshot_trailing;    /* entries kept behind a snapshot (default 256) */
	unsigned request_timeout_ms;   /* a change's deadline, retries included (default 10000) */
	size_t segment_bytes;          /* Raft log segment size (default 1 MiB; libraft's is 8) */
};

void meta_params_default(struct meta_params *p);

struct meta_node;

/* Opens (creating on first start) the node in p->dir and starts it.
 * Refuses, naming the problem and changing nothing: a directory of another
 * cluster or node id, a member list that disagrees with the stored
 * configuration, a corrupt snapshot or log, a bad member list. A restart
 * recovers the catalog from the snapshot and the log. If SIGPIPE still has
 * its default action (kill the process), it is set to ignored: libuv writes
 * to peers whose sockets may have closed. */
int meta_open(const struct meta_params *p, struct meta_node **out);
/* Stops the node: pending changes fail with DANN_ECANCELED. NULL: no-op. */
void meta_close(struct meta_node *n);

/* The catalog interface for dann_db_params.catalog; its ctx is the node. */
const struct dann_catalog_ops *meta_catalog_ops(void);

/* Issues one command (its request id is filled in when c->req.client is 0)
 * and waits for its outcome, forwarding to the leader and retrying the same
 * request id until request_timeout_ms. Returns res->rc (0 or a refusal) or
 * a code for a failure to get an answer; res (may be NULL) gets the value. */
int meta_submit(struct meta_node *n, struct meta_cmd *c, struct meta_result *res);

/* Creates a collection with its first properties ("key=value\n" lines)
 * in one command: like the catalog's coll_create, and no crash can leave
 * the collection without them. */
int meta_coll_create(struct meta_node *n, const struct dann_schema *s, const char *props, uint64_t *id);

/* Moves data_dir's local catalog (data_dir/CATALOG, the library's) into
 * this node's catalog, once: each collection with its id, schema,
 * properties and live segments (fix, if given, may amend each record
 * first, e.g. stamp an owner), and the counters raised so no id comes back;
 * then CATALOG is renamed CATALOG.imported (durably) and one line is
 * logged. No CATALOG: nothing to do, 0. Safe to run again after a crash at
 * any point (a collection already here with the same id and name is left
 * as it is). Refused, naming it: another process holding data_dir/LOCK; a
 * collection whose id or name this catalog already gives to another; more
 * than META_SEG_APPLY_MAX segments in one collection. *imported (may be
 * NULL): the collections in CATALOG. Call it before dann_db_open. */
int meta_import_local(struct meta_node *n, const char *data_dir,
		      int (*fix)(void *arg, struct dann_cat_coll *c), void *arg, size_t *imported);

/* One process per meta directory (libraft's files are not safe to share):
 * flock on dir/LOCK (dir is made if missing), held until *fd is closed.
 * DANN_EBUSY naming dir if another open file holds it. */
int meta_lock(const char *dir, int *fd);
/* The cluster name and node id recorded in dir/IDENTITY; DANN_ENOTFOUND
 * if dir has none (never used by a node). */
int meta_identity(const char *dir, char *cluster, size_t cap, uint64_t *node_id);

/* Users (the server's authentication reads them from here). */
int meta_user_create(struct meta_node *n, const char *name, const char *hash, const char *roles);
int meta_user_drop(struct meta_node *n, const char *name);
int meta_user_set_password(struct meta_node *n, const char *name, const char *hash);
int meta_user_set_roles(struct meta_node *n, const char *name, const char *roles);
int meta_user_get(struct meta_node *n, const char *name, struct meta_user *out);
int meta_user_list(struct meta_node *n, struct meta_user **out, size_t *count);

enum meta_role { META_FOLLOWER = 1, META_CANDIDATE = 2, META_LEADER = 3, META_UNAVAILABLE = 0 };

struct meta_member {
	uint64_t id;
	char addr[META_ADDR_MAX + 1];
	int voter;
};

struct meta_status {
	uint64_t id;
	char cluster[META_CLUSTER_MAX + 1];
	enum meta_role role;
	uint64_t term;
	uint64_t leader_id;            /* 0: none known */
	char leader_addr[META_ADDR_MAX + 1];
	uint64_t commit_index, applied_index, last_index;
	uint32_t nmembers;
	struct meta_member members[META_MEMBERS_MAX];
	uint64_t ncolls, nsegs;        /* catalog size on this node */
	char service_addr[META_ADDR_MAX + 1]; /* where its host serves clients ("" if not said) */
};

int meta_status(struct meta_node *n, struct meta_status *out);
/* The address at which the process hosting n serves its clients (dannd:
 * its gRPC address), reported in n's status so that other nodes can send
 * requests there. Runtime state, not the catalog's: it follows the process
 * (a restart on another port is seen at once). */
void meta_set_service_addr(struct meta_node *n, const char *addr);
/* Member id's service address, asked from that member's request port (this
 * node's own without asking). DANN_ENOTFOUND if id is not a member or says
 * no address; DANN_EIO naming the member when it does not answer in
 * timeout_ms. */
int meta_member_service_addr(struct meta_node *n, uint64_t id, unsigned timeout_ms, char *out, size_t cap);
/* Membership changes (through the leader): a new node, opened with join,
 * is added and promoted to voter; remove takes one out. */
int meta_member_add(struct meta_node *n, uint64_t id, const char *addr);
int meta_member_remove(struct meta_node *n, uint64_t id);

/* The node's catalog state, for readers in this process (lists). */
struct meta_fsm *meta_node_fsm(struct meta_node *n);

/* "ID@HOST:PORT,..." into members; DANN_EINVAL naming the bad entry. */
int meta_members_parse(const char *s, struct meta_member *out, uint32_t *n);
/* HOST:PORT+1, the request port of a member address. */
int meta_rpc_addr(const char *member_addr, char *out, size_t cap);

#endif
