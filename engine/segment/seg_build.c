/*
 * seg_build.c — turning the oldest sealed segment into a flushed one.
 *
 * The build reads the sealed rows (immutable; only their delete bits
 * change) without the collection lock, so writes and searches go on.
 * Then, under c->mu, one step swaps it in: deletes made during the build
 * are carried over, every changed delete bitmap is written, the catalog
 * records the segment FLUSHED (the commit point), and a new version lists
 * the flushed segment where the sealed one was. Last the WAL is
 * checkpointed past the segment's LSNs. Sealed segments are built in seal
 * order, so the checkpoint never passes rows still only in RAM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "seg_files.h"
#include "wal.h"

static struct seg *oldest_sealed(struct dann_coll *c)
{
	for (size_t i = 0; i < c->ver->n; i++) {
		struct seg *s = c->ver->s[i];
		if (atomic_load(&s->state) == DANN_SEG_SEALED && s->mem)
			return s;
	}
	return NULL;
}

int seg_segment_dir(const struct dann_coll *c, uint64_t id, char *out)
{
	if (snprintf(out, PATH_MAX, "%s/s%llu", c->dir, (unsigned long long)id) >= PATH_MAX)
		return dann_fail(DANN_EINVAL, "%s: path too long", c->dir);
	return 0;
}

/* Writes every changed delete bitmap of the current version (c->mu held). */
int seg_persist_deletes(struct dann_coll *c)
{
	int rc;

	for (size_t i = 0; i < c->ver->n; i++)
		if (c->ver->s[i]->disk && (rc = seg_disk_persist_del(c->ver->s[i])) < 0)
			return rc;
	return 0;
}

static int swap_in(struct dann_coll *c, struct seg *s, struct seg *f)
{
	struct dann_cat_segment rec;
	int rc;

	for (uint64_t r = 0; r < s->mem->n; r++)
		if (seg_mem_deleted(s->mem, r))
			seg_disk_delete(f, r);
	f->ndel = s->ndel;
	f->first_lsn = s->first_lsn;
	f->last_lsn = s->last_lsn;
	if ((rc = seg_disk_persist_del(f)) < 0 || (rc = seg_persist_deletes(c)) < 0)
		return rc;
	seg_failpoint(c->db, "swap");
	seg_cat_record(f, &rec);
	rec.state = DANN_SEG_FLUSHED;
	if ((rc = c->db->cat->seg_apply(c->db->cat_ctx, &rec, 1)) < 0)
		return rc;
	atomic_store(&f->state, DANN_SEG_FLUSHED);
	seg_failpoint(c->db, "swapped");
	/* The catalog has it: from here the swap must complete. */
	if ((rc = seg_ver_swap(c, &s, 1, &f, 1)) < 0) {
		c->failed = rc;
		return rc;
	}
	atomic_store(&s->state, DANN_SEG_DROPPED);
	if (s->last_lsn > c->ckpt_lsn)
		c->ckpt_lsn = s->last_lsn;
	if ((rc = wal_checkpoint(c->wal, c->ckpt_lsn)) < 0) {
		dann_log(DANN_LOG_WARN, "segment", "%s: WAL checkpoint failed: %s", c->schema.name,
			 dann_errmsg());
		rc = 0; /* the old files stay; replay skips what the catalog holds */
	}
	return 0;
}

static int build(struct dann_coll *c, struct seg *s)
{
	struct seg_rowref *refs = NULL;
	char dir[PATH_MAX];
	struct seg *f = NULL;
	uint64_t n = s->mem->n;
	int rc;

	if ((rc = seg_segment_dir(c, s->id, dir)) < 0)
		return rc;
	if (!(refs = malloc((n ? n : 1) * sizeof *refs)))
		return dann_fail(DANN_ENOMEM, "%s: build of %llu rows", c->schema.name,
				 (unsigned long long)n);
	for (uint64_t r = 0; r < n; r++)
		refs[r] = (struct seg_rowref){ s, r };
	rc = seg_write_segment(c, dir, refs, s->mem->keys, n, "build");
	free(refs);
	if (rc < 0)
		return rc;
	if (!(f = seg_new(c, s->id, DANN_SEG_SEALED)))
		rc = DANN_ENOMEM;
	else
		rc = seg_disk_open(c, f, dir, 0);
	pthread_mutex_lock(&c->mu);
	if (rc == 0 && atomic_load(&c->dropped))
		rc = dann_fail(DANN_ECANCELED, "collection %s was dropped", c->schema.name);
	if (rc == 0)
		rc = swap_in(c, s, f);
	pthread_cond_broadcast(&c->cv); /* flush waits for the sealed segments to go */
	pthread_mutex_unlock(&c->mu);
	if (rc < 0 && f && atomic_load(&f->state) != DANN_SEG_FLUSHED)
		atomic_store(&f->dropped, true); /* never committed: its files go with it */
	if (rc < 0 && !f)
		fsu_rmtree(dir);
	seg_unref(f);
	return rc;
}

int seg_build_next(struct dann_coll *c)
{
	struct seg *s;
	int rc;

	pthread_mutex_lock(&c->mu);
	s = oldest_sealed(c);
	if (s)
		seg_ref(s);
	pthread_mutex_unlock(&c->mu);
	if (!s)
		return 1;
	rc = build(c, s);
	if (rc < 0)
		dann_log(rc == DANN_ECANCELED ? DANN_LOG_DEBUG : DANN_LOG_ERROR, "segment",
			 "%s: build of segment %llu failed: %s", c->schema.name,
			 (unsigned long long)s->id, dann_errmsg());
	seg_unref(s);
	return rc;
}
