/*
 * meta_raftfsm.h — the catalog state machine as libraft's struct raft_fsm.
 *
 * The only place libraft calls into the catalog. Apply hands libraft a
 * pointer to the result of the command just applied (valid until the next
 * apply: libraft passes it to the apply callback synchronously, on the same
 * thread), so nothing is allocated per command. Snapshot encodes the state
 * into one raft_malloc'd buffer; restore decodes it and, on success, frees
 * the buffer (libraft's rule); on failure it leaves the state alone and
 * keeps the reason for whoever reports it (meta_raftfsm_error). Apply
 * returns non-zero only when the fsm halted on a newer build's command:
 * libraft then does not count the entry as applied.
 */
#ifndef META_RAFTFSM_H
#define META_RAFTFSM_H

#include <raft.h>

#include "meta_fsm.h"

struct meta_raftfsm {
	struct raft_fsm raft;      /* handed to raft_init; raft.data points here */
	struct meta_fsm *fsm;
	struct meta_result last;   /* the latest apply's result */
	char error[256];           /* why the latest restore, snapshot or apply failed */
	int halt_logged;           /* the fsm's halt is in the log already */
	void (*on_apply)(void *arg); /* optional: after every apply and restore */
	void *arg;
};

/* The size of the raft buffer that carries a command of len bytes: libraft
 * stores entries in 8-byte units, so commands are padded with zeros (apply
 * strips the padding again). */
size_t meta_raftfsm_padded(size_t len);

void meta_raftfsm_init(struct meta_raftfsm *rf, struct meta_fsm *fsm);

#endif
