/*
 * datadir.h — a data directory opened by a tool (the dann CLI, the
 * benchmarks) with the catalog that directory uses:
 *
 *   - D/meta holds dannd's Raft node (D/meta/IDENTITY): that catalog. The
 *     tool opens the node itself, as the one voter dannd runs by default,
 *     so dannd must not be running (D/meta/LOCK); a node of a cluster, or
 *     one dannd gave a Raft address, cannot be opened alone: the tool
 *     refuses, naming the directory, and the server is the way in. A local
 *     D/CATALOG left beside it (an older build's) is imported first, as
 *     dannd does (meta_import_local).
 *   - otherwise the local catalog, D/CATALOG.
 *
 * Never a stale local catalog beside a Raft one: the engine refuses that
 * too (seg_catalog.h).
 */
#ifndef DANN_DATADIR_H
#define DANN_DATADIR_H

#include "../engine/dann.h"

struct meta_node;

struct datadir {
	struct dann_db *db;
	struct meta_node *meta;      /* NULL: the local catalog */
	int meta_lock_fd;
};

/* Opens dir with params p (NULL: defaults; its catalog fields are set
 * here). 0, or a DANN_E* code with the message naming the directory. */
int datadir_open(const char *dir, const struct dann_db_params *p, struct datadir *out);
/* Closes the database, then the catalog's node. Zeroed or closed: no-op. */
void datadir_close(struct datadir *d);

#endif
