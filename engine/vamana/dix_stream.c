/*
 * dix_stream.c — the stream engine (dix_search.h, "continuous admission"):
 * a searcher's slots kept full from a source instead of an array.
 *
 * The loop is the batch loop's (dix_search.c): fill free slots, run each
 * ready slot until it has reads out, submit them all, reap at least one,
 * repeat. What differs: a freed slot asks the source for its next task,
 * which brings its own index, parameters, deadline and cancel flag; each
 * slot's task ends on its own (done, error, deadline or cancel) and goes
 * back to the source, never ending the run; a slot stopped with reads out
 * ends once they are back (their buffers are its). A task the slots are
 * not sized for is parked until every slot is free, then the searcher is
 * resized for it. The dio file table is shared by the slots' indexes: an
 * entry read by a busy slot is never evicted (its users count).
 */
#include <stdio.h>

#include "../error.h"
#include "dix_search_impl.h"

static bool any_busy(const struct dix_searcher *s)
{
	for (uint32_t i = 0; s->slots && i < s->p.inflight; i++)
		if (s->slots[i].state != Q_FREE)
			return true;
	return false;
}

/* The file map entry of ix for a stream slot, its users counted. 1 if
 * every entry is read by other indexes' slots now (the task waits). */
static int stream_file(struct dix_searcher *s, const struct dix_index *ix, uint32_t *fmap)
{
	int rc;

	for (uint32_t i = 0; i < DIO_DEFAULT_FILES; i++)
		if (s->files[i].serial == ix->serial) {
			s->files[i].users++;
			*fmap = i;
			return 0;
		}
	for (uint32_t n = 0; n < DIO_DEFAULT_FILES; n++) {
		uint32_t i = (s->next_evict + n) % DIO_DEFAULT_FILES;
		struct file_map *f = &s->files[i];
		if (f->users)
			continue;
		if (f->serial && (rc = dio_file_remove(s->dio, f->slot)) < 0)
			return rc;
		f->serial = 0;
		if ((rc = dio_file_add(s->dio, ix->fd, &f->slot)) < 0)
			return rc;
		f->serial = ix->serial;
		f->users = 1;
		s->next_evict = (i + 1) % DIO_DEFAULT_FILES;
		*fmap = i;
		return 0;
	}
	return 1;
}

static void task_fail(const struct dix_source *src, struct dix_task *t, int rc)
{
	char msg[DIX_TASK_ERR_MAX];

	snprintf(msg, sizeof msg, "%s", dann_errmsg());
	src->done(src->arg, t, rc, msg);
}

/* Slot q's task ends: its file entry let go, the slot free, the source
 * told (rc 0: results in the task's outputs). */
static void stream_end(struct dix_searcher *s, const struct dix_source *src, struct qslot *q, int rc)
{
	s->files[q->fmap].users--;
	q->state = Q_FREE;
	src->done(src->arg, &q->task, rc, rc < 0 ? q->err : "");
}

/* Slot q's task failed with rc (the message set): it ends now, or once
 * its reads are back if it has some out (their buffers are its). */
static void stream_fail(struct dix_searcher *s, const struct dix_source *src, struct qslot *q, int rc)
{
	if (!q->stop_rc) {
		q->stop_rc = rc;
		snprintf(q->err, sizeof q->err, "%s", dann_errmsg());
	}
	if (q->pending) {
		q->state = Q_WAIT;
		return;
	}
	stream_end(s, src, q, q->stop_rc);
}

static void stream_start(struct dix_searcher *s, const struct dix_source *src, struct qslot *q,
			 const struct dix_task *t, uint32_t fmap)
{
	const struct dix_index *ix = t->ix;
	int rc;

	q->task = *t;
	q->ix = ix;
	q->sp = &q->task.p;
	q->fmap = fmap;
	q->file = s->files[fmap].slot;
	/* as dix_search_run resolves it */
	q->sector_expand = t->p.sector_expand != DANN_SECTOR_AUTO ? t->p.sector_expand
			   : ix->h.layout != DIX_LAYOUT_PLAIN	  ? DANN_SECTOR_EXACT
								  : DANN_SECTOR_OFF;
	q->q = t->query;
	q->rot = t->p.rotated;
	q->o_ids = t->ids;
	q->o_dists = t->dists;
	q->o_found = t->found;
	q->o_stats = t->stats;
	q->stop_rc = 0;
	q->pending = 0;
	q->err[0] = 0;
	q->state = Q_READY; /* busy from here on, even if it fails at once */
	if ((rc = dix_slot_begin(q)) < 0)
		stream_fail(s, src, q, rc);
}

/* Gives free slot i a task: the parked one once no slot is busy, else the
 * source's next. 1 if slot i took one, 0 if there is none to take now,
 * < 0 the source's error. Tasks that fail before they start go straight
 * back to the source. */
static int admit(struct dix_searcher *s, const struct dix_source *src, uint32_t i)
{
	struct dix_task t;
	uint32_t fmap;
	int rc;

	for (;;) {
		if (s->has_parked) {
			if (any_busy(s))
				return 0;
			t = s->parked;
			s->has_parked = false;
		} else {
			if ((rc = src->next(src->arg, &t)) <= 0)
				return rc;
			if ((rc = dix_search_params_check(&t.p)) < 0 ||
			    (rc = dix_searcher_depth_check(s->p.inflight, t.p.W)) < 0) {
				task_fail(src, &t, rc);
				continue;
			}
		}
		if (!dix_sized_for(s, t.ix, &t.p)) {
			if (any_busy(s)) {
				s->parked = t;
				s->has_parked = true;
				return 0;
			}
			if ((rc = dix_configure(s, t.ix, &t.p)) < 0) {
				task_fail(src, &t, rc);
				continue;
			}
		}
		if ((rc = stream_file(s, t.ix, &fmap)) < 0) {
			task_fail(src, &t, rc);
			continue;
		}
		if (rc > 0) {
			s->parked = t;
			s->has_parked = true;
			return 0;
		}
		stream_start(s, src, &s->slots[i], &t, fmap);
		return 1;
	}
}

/* One completion of a stream: the read's slot expands its nodes once all
 * its reads are back, or ends if it was stopped meanwhile. */
static void stream_cqe(struct dix_searcher *s, const struct dix_source *src, const struct dio_cqe *c)
{
	uint32_t si = (uint32_t)(c->tag >> TAG_SLOT_SHIFT), b = (uint32_t)(c->tag & 0xff);
	struct qslot *q = &s->slots[si];
	int rc = 0;

	if (c->res != (int64_t)q->ix->read_bytes && !q->stop_rc)
		rc = c->res < 0 ? dann_fail_errno(DANN_EIO, (int)-c->res, "%s/%s: read of node %u",
						  q->ix->dir, DIX_DATA_FILE, q->beam[b])
				: dann_fail(DANN_ECORRUPT, "%s/%s: short read of node %u (truncated?)",
					    q->ix->dir, DIX_DATA_FILE, q->beam[b]);
	q->pending--;
	if (rc < 0 || q->stop_rc) {
		stream_fail(s, src, q, rc < 0 ? rc : q->stop_rc);
		return;
	}
	if (q->pending == 0 && (rc = dix_slot_reads_done(s, q)) < 0)
		stream_fail(s, src, q, rc);
}

/* Runs slot q until it waits for reads or is free, ending it at its
 * deadline or cancel and when it finishes. */
static void stream_step(struct dix_searcher *s, const struct dix_source *src, struct qslot *q,
			uint32_t i)
{
	struct stop st = { .cancel = q->task.p.cancel, .deadline_ns = q->task.p.deadline_ns };
	int rc;

	if (q->state == Q_FREE)
		return;
	if (!q->stop_rc && (rc = stop_check(&st, "search")) < 0) {
		stream_fail(s, src, q, rc);
		return;
	}
	if (q->state != Q_READY)
		return;
	if ((rc = dix_slot_advance(s, q, i)) < 0)
		stream_fail(s, src, q, rc);
	else if (q->state == Q_FREE)
		stream_end(s, src, q, 0);
}

/* The ring failed: every read still out is drained (its buffer is a
 * slot's), then every task held goes back with rc. */
static int stream_abort(struct dix_searcher *s, const struct dix_source *src, int rc)
{
	char msg[DIX_TASK_ERR_MAX];
	struct dio_cqe c;

	snprintf(msg, sizeof msg, "%s", dann_errmsg());
	while (dio_pending(s->dio) > 0 && dio_reap(s->dio, &c, 1, 1, -1) > 0)
		;
	s->nreqs = 0;
	for (uint32_t i = 0; s->slots && i < s->p.inflight; i++) {
		struct qslot *q = &s->slots[i];
		if (q->state == Q_FREE)
			continue;
		s->files[q->fmap].users--;
		q->state = Q_FREE;
		src->done(src->arg, &q->task, rc, msg);
	}
	if (s->has_parked) {
		s->has_parked = false;
		src->done(src->arg, &s->parked, rc, msg);
	}
	return dann_fail(rc, "%s", msg);
}

int dix_stream_run(struct dix_searcher *s, const struct dix_source *src)
{
	int rc;

	for (;;) {
		/* dry: the source had none since the last task ended */
		bool waiting = false, dry = false;
		for (uint32_t i = 0; i < s->p.inflight; i++) {
			for (;;) {
				if (!s->slots || s->slots[i].state == Q_FREE) {
					if (dry || (rc = admit(s, src, i)) == 0) {
						dry = true;
						break;
					}
					if (rc < 0)
						return stream_abort(s, src, rc);
				}
				stream_step(s, src, &s->slots[i], i);
				if (s->slots[i].state != Q_FREE)
					break;
				dry = false; /* a task ended: its query may have a next one */
			}
			waiting |= s->slots && s->slots[i].state == Q_WAIT;
		}
		if (!waiting) {
			if (s->has_parked)
				continue; /* every slot is free: the parked task starts */
			return 0;
		}
		if ((rc = dix_submit_all(s)) < 0)
			return stream_abort(s, src, rc);
		if ((rc = dio_reap(s->dio, s->cqes, s->p.inflight * s->cap_W, 1, -1)) < 0)
			return stream_abort(s, src, rc);
		for (int j = 0, n = rc; j < n; j++)
			stream_cqe(s, src, &s->cqes[j]);
	}
}
