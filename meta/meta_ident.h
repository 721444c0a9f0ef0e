/*
 * meta_ident.h — the identity file of a meta node's directory.
 *
 * DIR/IDENTITY records the cluster's name and the node's id when the
 * directory is first used, so that a directory copied from another cluster
 * or another node is refused before Raft reads or writes anything in it.
 * Format: u32 magic "DMI1" | str cluster | u64 node id | u32 CRC32C.
 */
#ifndef META_IDENT_H
#define META_IDENT_H

#include <stdint.h>

#define META_IDENT_FILE "IDENTITY"

/* Creates dir (and its parent) if missing. If dir holds an identity, it
 * must match cluster and node_id (DANN_EINVAL naming both otherwise; a
 * damaged file is DANN_ECORRUPT naming it). If it holds none, dir must hold
 * no Raft files (DANN_EINVAL) and the identity is written durably.
 * *fresh is 1 when the identity was written now. */
int meta_ident_check(const char *dir, const char *cluster, uint64_t node_id, int *fresh);

#endif
