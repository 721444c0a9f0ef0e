/*
 * srv_meta.h — dannd's catalog in Raft: the meta node (meta.h) that dannd
 * runs in <data-dir>/meta, and the catalog dannd's database uses over it.
 *
 * Single node (no peers nor raft_listen, the default): a one-voter group;
 * every collection in the catalog is this node's. Cluster (peers or
 * raft_listen set; a node alone at its Raft address may be joined by
 * others): each collection is owned by the node that created it (the
 * catalog property dann.owner); a node's database opens only its own
 * collections, the catalog lists let any node answer for the others'
 * (ShowCollections, HasCollection), and their data requests are forwarded
 * to their owners (srv_fwd.h). Catalog changes from any node go to the
 * Raft leader (meta forwards).
 */
#ifndef SRV_META_H
#define SRV_META_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"
#include "meta.h"
#include "srv.h"

#define SRV_META_OWNER_PROP META_OWNER_PROP

struct srv_meta;

/* Takes <data-dir>/meta/LOCK, opens the meta node. DANN_EBUSY naming the
 * data dir if another process holds it; DANN_EINVAL naming a bad
 * node_id / raft_listen / peers. */
int srv_meta_open(const struct srv_config *c, struct srv_meta **out);
void srv_meta_close(struct srv_meta *m);

/* The catalog for dann_db_params (ctx: m). */
const struct dann_catalog_ops *srv_meta_catalog(void);
/* 1 when peers or raft_listen were given. */
int srv_meta_clustered(const struct srv_meta *m);
/* 0 if the catalog is usable; DANN_EUNSUPPORTED with its message (naming
 * the entry, "upgrade this node") if it halted on a newer build's entry. */
int srv_meta_check(struct srv_meta *m);

/* A collection of another node, as the catalog has it. */
struct srv_meta_remote {
	char name[DANN_NAME_MAX + 1];
	uint64_t owner;
	int loaded;                  /* its loaded property is 1 */
	uint64_t created_ms;         /* its created property (0 if none) */
};
/* 1 (and *owner) if the catalog has a live collection name that another
 * node owns; 0 if not (or in single-node mode). */
int srv_meta_owner(struct srv_meta *m, const char *name, uint64_t *owner);
/* Node id's gRPC address, as its meta node reports it (this node's own:
 * srv_meta_set_service_addr). DANN_ENOTFOUND / DANN_EIO naming the node. */
int srv_meta_service_addr(struct srv_meta *m, uint64_t id, unsigned timeout_ms, char *out, size_t cap);
/* Publishes this node's gRPC address (listen's host, or raft_listen's when
 * listen names every interface, and the bound port) to the cluster. */
void srv_meta_set_service_addr(struct srv_meta *m, const struct srv_config *c, int port);
/* Collections in the catalog that this node does not own (malloc'd;
 * none in single-node mode). */
int srv_meta_remote(struct srv_meta *m, struct srv_meta_remote **out, size_t *n);

#endif
