/*
 * seg_catalog.h — which catalog a data directory uses, and the local one,
 * for programs above the engine that move a data directory from the local
 * catalog to another (dannd imports it into its Raft catalog, meta/).
 *
 * A data directory's catalog is the local file D/CATALOG unless D/meta
 * holds a Raft node's identity (SEG_META_IDENT): then it is that node's
 * catalog, and dann_db_open refuses to use the local one (it would be
 * stale). The engine knows only the file's name, never Raft.
 */
#ifndef SEG_CATALOG_H
#define SEG_CATALOG_H

#include "../dann.h"

#define SEG_CATALOG_FILE "CATALOG"
#define SEG_META_DIR "meta"
#define SEG_META_IDENT "meta/IDENTITY"

/* Opens D/CATALOG (creating an empty one if missing) as a catalog. */
int seg_catalog_local_open(const char *dir, void **ctx);
void seg_catalog_local_close(void *ctx);
extern const struct dann_catalog_ops seg_catalog_local_ops;

/* 1 if dir's catalog is a Raft node's (D/meta/IDENTITY exists). */
int seg_dir_has_meta(const char *dir);

/* Takes D/LOCK as dann_db_open does (flock, our pid written in it): *fd
 * holds it until closed. DANN_EBUSY naming the holder's pid if another
 * open file holds it (another process, or a dann_db_open in this one). */
int seg_dir_lock(const char *dir, int *fd);

#endif
