/*
 * meta_fsm.h — the catalog as a deterministic state machine.
 *
 * State: live collections, their segment records (DROPPED ones are
 * forgotten: nothing reads them), four counters, users, and a bounded
 * table of the request ids applied most recently with their results.
 * Applying the same sequence of commands on any node gives the same state,
 * byte for byte in a snapshot: no clock, no randomness, no hash order.
 *
 * Idempotence: a command whose request id is in the table is not applied
 * again; its recorded result is returned. The table keeps the last
 * META_DEDUPE_MAX ids in apply order and travels in snapshots, so a retry
 * arriving at a new leader is recognised there too. A retry later than
 * META_DEDUPE_MAX commands after its first apply would apply again:
 * clients retry within seconds, far inside that window.
 *
 * Thread safety: apply, restore and snapshot run on one thread (Raft's);
 * the readers (lists, get) may run on any thread; a rwlock inside keeps
 * them consistent.
 */
#ifndef META_FSM_H
#define META_FSM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "dann.h"
#include "meta_cmd.h"

#define META_DEDUPE_MAX 8192
#define META_USERS_MAX 4096
#define META_SNAP_MAGIC 0x314e5344u  /* "DSN1" */
#define META_SNAP_VERSION 1

/* The outcome of one command: rc 0 or a DANN_E* code (the command was
 * applied but refused: a name taken, an unknown id), value (the new
 * collection id, the first allocated value), msg (why it was refused). */
struct meta_result {
	int rc;
	uint64_t value;
	char msg[240];
};

struct meta_dedupe {
	struct meta_reqid req;
	int32_t rc;
	uint64_t value;
};

struct meta_fsm {
	pthread_rwlock_t lock;
	uint64_t counters[4];            /* next value of each dann_cat_counter */
	struct dann_cat_coll *colls;
	size_t ncolls, capcolls;
	struct dann_cat_segment *segs;
	size_t nsegs, capsegs;
	struct meta_user *users;
	size_t nusers, capusers;
	struct meta_dedupe *dedupe;      /* ring of META_DEDUPE_MAX */
	size_t ndedupe, dedupe_head;     /* entries held, oldest entry's slot */
	uint64_t applied;                /* commands applied (including refused ones) */
	int halted;                      /* an entry of a newer build stopped apply (meta_fsm_apply) */
	char halt_msg[240];              /* why, naming the entry and "upgrade this node" */
};

int meta_fsm_init(struct meta_fsm *f);
void meta_fsm_destroy(struct meta_fsm *f);

/* Applies one encoded command. Returns 0 whenever the state is consistent
 * afterwards — a refused or malformed command included (it changes
 * nothing; res says why) — so every node moves past it the same way. res
 * may be NULL.
 * A well-framed command of a type or version this build does not know (a
 * newer build wrote it) is not skipped: a newer node applies it, so
 * skipping would make this copy diverge silently. The fsm halts instead:
 * DANN_EUNSUPPORTED, nothing changed or counted, and from then on every
 * apply and every reader fails with the halt message until a restore
 * replaces the state (or the node is upgraded and restarted). */
int meta_fsm_apply(struct meta_fsm *f, const void *buf, size_t len, struct meta_result *res);
/* DANN_EUNSUPPORTED with the halt message if the fsm halted, else 0. */
int meta_fsm_check(struct meta_fsm *f);

/* Encodes the whole state (checksummed, versioned) into a malloc'd buffer. */
int meta_fsm_snapshot(struct meta_fsm *f, void **buf, size_t *len);
/* Replaces the state with a snapshot's. DANN_ECORRUPT naming what is wrong,
 * and the state is unchanged, if the bytes do not decode. */
int meta_fsm_restore(struct meta_fsm *f, const void *buf, size_t len);

/* Readers (any thread): copies into malloc'd arrays the caller frees;
 * the halt's DANN_EUNSUPPORTED rather than a stale copy once halted. */
int meta_fsm_coll_list(struct meta_fsm *f, struct dann_cat_coll **out, size_t *n);
int meta_fsm_seg_list(struct meta_fsm *f, uint64_t coll_id, struct dann_cat_segment **out, size_t *n);
int meta_fsm_user_list(struct meta_fsm *f, struct meta_user **out, size_t *n);
/* DANN_ENOTFOUND naming it if there is no such user. */
int meta_fsm_user_get(struct meta_fsm *f, const char *name, struct meta_user *out);
/* The next value of a counter (what the next alloc would return first). */
uint64_t meta_fsm_counter(struct meta_fsm *f, enum dann_cat_counter which);

#endif
