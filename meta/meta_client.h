/*
 * meta_client.h — talking to a meta cluster from outside its nodes
 * (`dann cluster`, tests, benchmarks): commands sent to the members'
 * request ports, following the leader a node names, retried with the same
 * request id until an answer or the deadline.
 */
#ifndef META_CLIENT_H
#define META_CLIENT_H

#include <stdatomic.h>
#include <stdint.h>

#include "meta.h"

struct meta_client {
	char addrs[META_MEMBERS_MAX][META_ADDR_MAX + 1];  /* member addresses */
	uint32_t n;
	unsigned timeout_ms;
	uint64_t client_id;
	atomic_uint_fast64_t seq;
	atomic_uint leader_hint;    /* index into addrs tried first */
};

/* addrs: "HOST:PORT,..." or "ID@HOST:PORT,..." (member addresses). */
int meta_client_init(struct meta_client *c, const char *addrs, unsigned timeout_ms);
/* Like meta_submit, from outside: 0 or the refusal's code, DANN_ETIMEDOUT
 * when no leader answered in time. Thread-safe. */
int meta_client_submit(struct meta_client *c, struct meta_cmd *cmd, struct meta_result *res);
/* Membership changes through the leader. */
int meta_client_add(struct meta_client *c, uint64_t id, const char *addr);
int meta_client_remove(struct meta_client *c, uint64_t id);

/* One node's status, and its catalog restored into f (initialized). */
int meta_client_status(const char *addr, unsigned timeout_ms, struct meta_status *out);
int meta_client_dump(const char *addr, unsigned timeout_ms, struct meta_fsm *f);

#endif
