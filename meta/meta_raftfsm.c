/*
 * meta_raftfsm.c — libraft's FSM callbacks over meta_fsm (meta_raftfsm.h).
 */
#include "meta_raftfsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "meta_buf.h"

size_t meta_raftfsm_padded(size_t len)
{
	return (len + 7) & ~(size_t)7;
}

/* The command's own length: libraft's disk format keeps entries in 8-byte
 * units, so a command comes back from the log padded with zeros. The frame
 * says how long it is (meta_cmd.h: payload length at byte 24). */
static size_t unpadded(const struct raft_buffer *buf)
{
	const uint8_t *p = buf->base;
	size_t len;

	if (buf->len < 28)
		return buf->len;
	len = 28 + (size_t)meta_le32(p + 24) + 4;
	if (len > buf->len || buf->len - len >= 8)
		return buf->len;  /* not padding: let the decoder say what is wrong */
	for (size_t i = len; i < buf->len; i++)
		if (p[i])
			return buf->len;
	return len;
}

static int rf_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct meta_raftfsm *rf = fsm->data;

	if (meta_fsm_apply(rf->fsm, buf->base, unpadded(buf), &rf->last) < 0) {
		/* Halted (meta_fsm_apply): non-zero keeps libraft from moving
		 * last_applied past the entry; 0.15 tries it again on later
		 * commits (a follower turns unavailable, a one-voter group does
		 * not start), so it is logged once. */
		if (!rf->halt_logged++)
			dann_log(DANN_LOG_ERROR, "meta", "%s", rf->last.msg);
		snprintf(rf->error, sizeof rf->error, "%s", rf->last.msg);
		if (rf->on_apply)
			rf->on_apply(rf->arg);
		return RAFT_INVALID;
	}
	rf->halt_logged = 0;
	if (rf->last.rc == DANN_ECORRUPT)
		dann_log(DANN_LOG_ERROR, "meta", "a log entry was refused: %s", rf->last.msg);
	*result = &rf->last;
	if (rf->on_apply)
		rf->on_apply(rf->arg);
	return 0;
}

static int rf_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct meta_raftfsm *rf = fsm->data;
	struct raft_buffer *b;
	void *snap;
	size_t len;

	if (meta_fsm_snapshot(rf->fsm, &snap, &len) < 0) {
		snprintf(rf->error, sizeof rf->error, "%s", dann_errmsg());
		return RAFT_NOMEM;
	}
	if (!(b = raft_malloc(sizeof *b)) || !(b->base = raft_malloc(len))) {
		raft_free(b);
		free(snap);
		return RAFT_NOMEM;
	}
	memcpy(b->base, snap, len);
	b->len = len;
	free(snap);
	*bufs = b;
	*n_bufs = 1;
	return 0;
}

static int rf_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct meta_raftfsm *rf = fsm->data;

	if (meta_fsm_restore(rf->fsm, buf->base, buf->len) < 0) {
		snprintf(rf->error, sizeof rf->error, "%s", dann_errmsg());
		dann_log(DANN_LOG_ERROR, "meta", "snapshot refused: %s", rf->error);
		return RAFT_CORRUPT;
	}
	raft_free(buf->base);
	if (rf->on_apply)
		rf->on_apply(rf->arg);
	return 0;
}

void meta_raftfsm_init(struct meta_raftfsm *rf, struct meta_fsm *fsm)
{
	memset(rf, 0, sizeof *rf);
	rf->fsm = fsm;
	rf->raft.version = 1;
	rf->raft.data = rf;
	rf->raft.apply = rf_apply;
	rf->raft.snapshot = rf_snapshot;
	rf->raft.restore = rf_restore;
}
