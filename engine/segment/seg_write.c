/*
 * seg_write.c — insert, upsert and delete: each batch one WAL record,
 * acknowledged once it is durable and applied.
 *
 * A write goes through three steps so that concurrent writers share the
 * WAL's group commit and still apply in LSN order (which is the order
 * replay will use after a crash):
 *   1. under c->mu: check (an inserted key must not exist nor be in flight
 *      in another write), claim the keys (c->pending), reserve memory;
 *   2. without locks: wal_append2 (durable on return);
 *   3. under c->mu: wait until every earlier LSN is applied, apply, release
 *      the claims, seal the growing segment at its threshold.
 * A failure after the record is durable (out of memory while applying)
 * leaves memory behind the log: the collection refuses writes until the
 * data directory is reopened, which replays the log.
 */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../log.h"
#include "seg_impl.h"
#include "wal.h"

static int mark_deleted(struct dann_coll *c, int64_t key)
{
	uint64_t sid, row;
	struct seg *s;

	if (!seg_pk_get(&c->pk, key, &sid, &row))
		return 0;
	if (!(s = seg_find(c, sid)))
		return dann_fail(DANN_ECORRUPT, "%s: key %lld maps to segment %llu, not open",
				 c->schema.name, (long long)key, (unsigned long long)sid);
	if (s->disk)
		seg_disk_delete(s, row);
	else
		seg_mem_delete(s->mem, row);
	s->ndel++;
	seg_pk_del(&c->pk, key);
	return 1;
}

int seg_apply(struct dann_coll *c, uint64_t lsn, const struct seg_rec *r, uint64_t *deleted)
{
	struct seg *g = c->growing;
	uint64_t n = 0, at;
	int rc;

	/* An insert replayed after a crash may find its key already gone from
	 * a flushed segment's bitmap, never present: the checks ran before it
	 * was logged. Deleting first keeps replay exact either way. */
	for (uint64_t i = 0; i < r->b.n; i++) {
		if ((rc = mark_deleted(c, r->b.keys[i])) < 0)
			return rc;
		n += (uint64_t)rc;
	}
	if (r->type != SEG_REC_DELETE) {
		if ((rc = seg_pk_reserve(&c->pk, r->b.n)) < 0)
			return rc;
		at = g->mem->n;
		if ((rc = seg_mem_append(c, g->mem, &r->b, r->b.keys)) < 0)
			return rc;
		for (uint64_t i = 0; i < r->b.n; i++)
			seg_pk_put(&c->pk, r->b.keys[i], g->id, at + i);
		n = r->type == SEG_REC_UPSERT ? n : 0;
	}
	if (!g->first_lsn)
		g->first_lsn = lsn;
	g->last_lsn = lsn;
	c->applied_lsn = lsn;
	if (deleted)
		*deleted = n;
	return 0;
}

int seg_growing_new(struct dann_coll *c)
{
	uint64_t id;
	struct seg *s;
	int rc;

	if ((rc = c->db->cat->alloc(c->db->cat_ctx, DANN_CAT_SEGMENT_ID, 1, &id)) < 0)
		return rc;
	if (!(s = seg_new(c, id, DANN_SEG_GROWING)))
		return DANN_ENOMEM;
	if ((rc = seg_mem_new(c, &s->mem)) < 0) {
		seg_unref(s);
		return rc;
	}
	if (c->growing)
		atomic_store(&c->growing->state, DANN_SEG_SEALED);
	if ((rc = seg_ver_swap(c, NULL, 0, &s, 1)) < 0) {
		if (c->growing)
			atomic_store(&c->growing->state, DANN_SEG_GROWING);
		seg_unref(s);
		return rc;
	}
	c->growing = s;
	seg_unref(s); /* the version holds it */
	return 0;
}

int seg_seal(struct dann_coll *c)
{
	struct seg *g = c->growing;
	int rc;

	if (!g->mem->n)
		return 0;
	g->last_lsn = c->applied_lsn;
	if ((rc = seg_growing_new(c)) < 0)
		return rc;
	dann_log(DANN_LOG_DEBUG, "segment", "%s: sealed segment %llu (%llu rows)", c->schema.name,
		 (unsigned long long)g->id, (unsigned long long)g->mem->n);
	seg_worker_kick(c->db);
	return 0;
}

static bool over_threshold(const struct dann_coll *c)
{
	const struct seg_mem *m = c->growing->mem;

	return m->n >= c->seal_rows || m->n * c->row_bytes >= c->seal_bytes;
}

static int usable(struct dann_coll *c)
{
	if (atomic_load(&c->dropped))
		return dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	if (c->failed)
		return dann_fail(c->failed, "%s: an earlier write failed after it was logged; "
				 "reopen the data directory to recover", c->schema.name);
	return 0;
}

/* Step 1: check and claim under c->mu. */
static int claim(struct dann_coll *c, enum seg_rec_type t, const struct dann_batch *b,
		 const int64_t *keys)
{
	int rc;

	for (;;) {
		bool busy = false;
		if ((rc = usable(c)) < 0)
			return rc;
		for (uint64_t i = 0; i < b->n && !busy; i++)
			busy = seg_pk_get(&c->pending, keys[i], NULL, NULL);
		if (!busy)
			break;
		pthread_cond_wait(&c->cv, &c->mu);
	}
	if (t == SEG_REC_INSERT)
		for (uint64_t i = 0; i < b->n; i++)
			if (seg_pk_get(&c->pk, keys[i], NULL, NULL))
				return dann_fail(DANN_EEXIST, "%s: key %lld already exists (upsert replaces a row)",
						 c->schema.name, (long long)keys[i]);
	if (t == SEG_REC_DELETE)
		return 0;
	if ((rc = seg_pk_reserve(&c->pending, b->n)) < 0 ||
	    (rc = seg_pk_reserve(&c->pk, b->n)) < 0 ||
	    (rc = seg_mem_reserve(c, c->growing->mem, b)) < 0)
		return rc;
	for (uint64_t i = 0; i < b->n; i++)
		seg_pk_put(&c->pending, keys[i], 1, 0);
	return 0;
}

static void unclaim(struct dann_coll *c, enum seg_rec_type t, const int64_t *keys, uint64_t n)
{
	if (t != SEG_REC_DELETE)
		for (uint64_t i = 0; i < n; i++)
			seg_pk_del(&c->pending, keys[i]);
	pthread_cond_broadcast(&c->cv);
}

static int alloc_keys(struct dann_coll *c, uint64_t n, int64_t *keys)
{
	for (uint64_t i = 0; i < n; i++) {
		if (c->auto_next == c->auto_end) {
			uint64_t want = n - i > SEG_AUTO_ID_BLOCK ? n - i : SEG_AUTO_ID_BLOCK, first;
			int rc = c->db->cat->alloc(c->db->cat_ctx, DANN_CAT_AUTO_ID, want, &first);
			if (rc < 0)
				return rc;
			c->auto_next = first;
			c->auto_end = first + want;
		}
		keys[i] = (int64_t)c->auto_next++;
	}
	return 0;
}

static int write_batch(struct dann_coll *c, enum seg_rec_type t, const struct dann_batch *b,
		       int64_t *out_keys, uint64_t *deleted)
{
	struct seg_rec r;
	int64_t *keys = (int64_t *)b->keys, *own = NULL;
	void *head = NULL;
	size_t head_len;
	uint64_t lsn = 0;
	int rc;

	if (deleted)
		*deleted = 0;
	if (b->n == 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	if (!keys) {
		if (!(own = malloc(b->n * sizeof *own))) {
			rc = dann_fail(DANN_ENOMEM, "%s: %llu keys", c->schema.name, (unsigned long long)b->n);
			goto unlock;
		}
		if ((rc = usable(c)) < 0 || (rc = alloc_keys(c, b->n, own)) < 0)
			goto unlock;
		keys = own;
	}
	if ((rc = claim(c, t, b, keys)) < 0)
		goto unlock;
	pthread_mutex_unlock(&c->mu);

	struct dann_batch kb = *b;
	kb.keys = keys;
	rc = seg_rec_encode(c, t, &kb, keys, &head, &head_len);
	if (rc == 0)
		rc = wal_append2(c->wal, head, head_len, t == SEG_REC_DELETE ? NULL : b->vectors,
				 t == SEG_REC_DELETE ? 0 : b->n * c->row_bytes, &lsn);
	free(head);
	pthread_mutex_lock(&c->mu);
	if (rc < 0) {
		/* The log may have taken an LSN it will never deliver (it refuses
		 * appends after an I/O error): later writers must not wait for it. */
		c->failed = rc;
		pthread_cond_broadcast(&c->cv);
		unclaim(c, t, keys, b->n);
		goto unlock;
	}
	seg_failpoint(c->db, "append");
	while (c->applied_lsn + 1 != lsn && !c->failed)
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->failed) {
		rc = usable(c);
		unclaim(c, t, keys, b->n);
		goto unlock;
	}
	memset(&r.b, 0, sizeof r.b);
	r.type = t;
	r.b = kb;
	if ((rc = seg_apply(c, lsn, &r, deleted)) < 0) {
		dann_log(DANN_LOG_ERROR, "segment", "%s: applying LSN %llu failed: %s", c->schema.name,
			 (unsigned long long)lsn, dann_errmsg());
		c->failed = rc;
	}
	unclaim(c, t, keys, b->n);
	if (rc == 0 && c->growing->mem->n >= seg_mem_exact_rows(c) &&
	    c->growing->mem->n - atomic_load(&c->growing->mem->graph_n) >= SEG_GRAPH_STEP_ROWS / 4)
		seg_graph_kick(c->db);
	if (rc == 0 && out_keys)
		memcpy(out_keys, keys, b->n * sizeof *keys);
	if (rc == 0 && over_threshold(c) && (rc = seg_seal(c)) < 0) {
		/* the write is durable and applied; sealing is retried on the next write */
		dann_log(DANN_LOG_WARN, "segment", "%s: seal failed: %s", c->schema.name, dann_errmsg());
		rc = 0;
	}
unlock:
	pthread_mutex_unlock(&c->mu);
	free(own);
	return rc;
}

int dann_coll_insert(struct dann_coll *c, const struct dann_batch *b, int64_t *out_keys)
{
	int rc;

	if (!c)
		return dann_fail(DANN_EINVAL, "insert: no collection");
	if ((rc = seg_validate_batch(c, b, !c->schema.auto_id)) < 0)
		return rc;
	return write_batch(c, SEG_REC_INSERT, b, out_keys, NULL);
}

int dann_coll_upsert(struct dann_coll *c, const struct dann_batch *b)
{
	int rc;

	if (!c)
		return dann_fail(DANN_EINVAL, "upsert: no collection");
	if ((rc = seg_validate_batch(c, b, 1)) < 0)
		return rc;
	return write_batch(c, SEG_REC_UPSERT, b, NULL, NULL);
}

int dann_coll_delete(struct dann_coll *c, const int64_t *keys, uint64_t n, uint64_t *deleted)
{
	struct dann_batch b = { .n = n, .keys = keys };
	int rc;

	if (!c)
		return dann_fail(DANN_EINVAL, "delete: no collection");
	if (n && !keys)
		return dann_fail(DANN_EINVAL, "%s: delete of %llu keys without an array", c->schema.name,
				 (unsigned long long)n);
	if ((rc = seg_check_keys(c, keys, n)) < 0)
		return rc;
	return write_batch(c, SEG_REC_DELETE, &b, NULL, deleted);
}
