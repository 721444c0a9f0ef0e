/*
 * seg_tier.c — connecting a data directory's flushed segments to the tier
 * cache and the background syncer (see seg_tier.h for the rules).
 *
 * The cache knows segments by id; the registry maps an id back to its
 * struct seg so the evict callback can close the segment's files. The
 * registry holds no reference: a segment leaves it (seg_tier_forget)
 * before its memory goes, under the same lock the callback holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../log.h"
#include "seg_stub.h"
#include "seg_tier.h"

struct seg_tier {
	struct obj_store *store;
	struct tier_cache *cache;
	struct tier_syncer *syncer;
	pthread_mutex_t mu;      /* the registry */
	struct seg **reg;
	size_t n, cap;
};

static struct seg *reg_find(struct seg_tier *t, uint64_t id, size_t *at)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->reg[i]->id == id) {
			if (at)
				*at = i;
			return t->reg[i];
		}
	return NULL;
}

/* The cache is removing id's directory: its stub is written (so the next
 * open needs no download) and its files closed first; no stub, no
 * eviction. The segment is unpinned and new pins wait, so no reader has
 * its files. The stub is written under the registry lock, which keeps the
 * segment from going meanwhile: one write per eviction. A segment that
 * left the registry is being removed for good and needs neither. */
static int on_evict(void *arg, uint64_t id, const char *dir)
{
	struct seg_tier *t = arg;
	struct seg *s;
	int rc = 0;

	(void)dir;
	pthread_mutex_lock(&t->mu);
	/* a segment that a compaction or a drop replaced is never opened
	 * again: no stub */
	if ((s = reg_find(t, id, NULL)) && s->disk &&
	    (atomic_load(&s->dropped) || atomic_load(&s->coll->dropped) || (rc = seg_stub_write(s)) == 0))
		seg_disk_close_files(s->disk);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int seg_tier_open(struct dann_db *db)
{
	struct tier_cache_params cp = { 0 };
	struct seg_tier *t;
	int rc;

	if (!db->p.store_uri || !db->p.store_uri[0])
		return 0;
	if (!(t = calloc(1, sizeof *t)))
		return dann_fail(DANN_ENOMEM, "tiering");
	pthread_mutex_init(&t->mu, NULL);
	db->tier = t;
	if ((rc = obj_open(db->p.store_uri, db->p.store_config, &t->store)) < 0)
		return dann_fail_wrap(rc, "%s: object store", db->dir);
	cp.store = t->store;
	cp.budget_bytes = db->p.tier_cache_bytes ? db->p.tier_cache_bytes : UINT64_MAX;
	cp.evict = on_evict;
	cp.evict_arg = t;
	if ((rc = tier_cache_open(&cp, &t->cache)) < 0)
		return rc;
	dann_log(DANN_LOG_INFO, "tier", "%s: segments tiered to %s (%s), local cache %llu bytes", db->dir,
		 obj_uri(t->store), obj_backend_name(t->store),
		 (unsigned long long)db->p.tier_cache_bytes);
	return 0;
}

int seg_tier_start(struct dann_db *db)
{
	uint32_t ms = db->p.sync_interval_ms ? db->p.sync_interval_ms : DANN_DEFAULT_SYNC_INTERVAL_MS;

	if (!db->tier)
		return 0;
	return tier_syncer_start(db, db->tier->store, ms, &db->tier->syncer);
}

void seg_tier_stop(struct dann_db *db)
{
	if (!db->tier)
		return;
	tier_syncer_stop(db->tier->syncer);
	db->tier->syncer = NULL;
}

void seg_tier_close(struct dann_db *db)
{
	struct seg_tier *t = db->tier;

	if (!t)
		return;
	tier_syncer_stop(t->syncer);
	tier_cache_close(t->cache);
	obj_close(t->store);
	free(t->reg);
	pthread_mutex_destroy(&t->mu);
	free(t);
	db->tier = NULL;
}

int seg_tier_register(struct seg *s)
{
	struct seg_tier *t = s->coll->db->tier;
	struct seg_disk *d = s->disk;
	const char *prefix;
	int rc = 0;

	if (!t || !d)
		return 0;
	pthread_mutex_lock(&t->mu);
	if (!reg_find(t, s->id, NULL)) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 64;
			struct seg **r = realloc(t->reg, cap * sizeof *r);

			if (!r)
				rc = dann_fail(DANN_ENOMEM, "tier registry");
			else {
				t->reg = r;
				t->cap = cap;
			}
		}
		if (rc == 0)
			t->reg[t->n++] = s;
	}
	pthread_mutex_unlock(&t->mu);
	if (rc < 0)
		return rc;
	/* evictable only when the store has the segment and its deletes */
	prefix = d->obj_key[0] && d->del_gen == d->del_synced ? d->obj_key : "";
	if ((rc = tier_cache_add(t->cache, s->id, s->dir, prefix, d->manifest_crc)) < 0)
		return dann_fail_wrap(rc, "%s: segment %llu", s->coll->schema.name, (unsigned long long)s->id);
	d->tiered = true;
	return 0;
}

void seg_tier_forget(struct seg *s)
{
	struct seg_tier *t = s->coll->db->tier;
	size_t at;

	if (!t || !s->disk)
		return;
	pthread_mutex_lock(&t->mu);
	if (reg_find(t, s->id, &at) == s)
		t->reg[at] = t->reg[--t->n];
	pthread_mutex_unlock(&t->mu);
	if (!s->disk->tiered)
		return;
	/* at close the entry stays (the cache goes with the db); a dropped
	 * segment's local copy goes now, its objects with the next sync */
	if (!atomic_load(&s->dropped) && !atomic_load(&s->coll->dropped))
		return;
	if (tier_cache_remove(t->cache, s->id, 0) < 0)
		dann_log(DANN_LOG_WARN, "tier", "segment %llu: %s", (unsigned long long)s->id, dann_errmsg());
	seg_stub_remove(s);
}

int seg_tier_pin(struct seg *s)
{
	int rc;

	if (!s->disk || !s->disk->tiered)
		return 0;
	if ((rc = tier_cache_pin(s->coll->db->tier->cache, s->id)) < 0)
		return dann_fail_wrap(rc, "%s", s->coll->schema.name);
	return 0;
}

void seg_tier_unpin(struct seg *s)
{
	if (s->disk && s->disk->tiered)
		tier_cache_unpin(s->coll->db->tier->cache, s->id);
}

bool seg_tier_is_local(struct seg *s)
{
	if (!s->disk || !s->disk->tiered)
		return true;
	return tier_cache_is_local(s->coll->db->tier->cache, s->id) == 1;
}

struct obj_store *seg_tier_store(struct dann_db *db)
{
	return db->tier ? db->tier->store : NULL;
}

bool seg_tier_held(struct dann_db *db, uint64_t id)
{
	struct seg_tier *t = db->tier;
	bool held;

	if (!t)
		return false;
	pthread_mutex_lock(&t->mu);
	held = reg_find(t, id, NULL) != NULL;
	pthread_mutex_unlock(&t->mu);
	return held;
}

void seg_tier_kick(struct dann_db *db)
{
	if (db->tier && db->tier->syncer)
		tier_syncer_kick(db->tier->syncer);
}

int seg_tier_sync_wait(struct dann_db *db)
{
	if (!db || !db->tier || !db->tier->syncer)
		return dann_fail(DANN_EINVAL, "sync: the data directory has no object store");
	return tier_syncer_wait(db->tier->syncer);
}

int seg_tier_stats(struct dann_db *db, struct tier_cache_stats *cache, struct tier_sync_stats *sync)
{
	uint64_t passes;

	if (!db || !db->tier)
		return dann_fail(DANN_EINVAL, "tier stats: the data directory has no object store");
	if (cache)
		tier_cache_stats_get(db->tier->cache, cache);
	if (sync && db->tier->syncer)
		tier_syncer_stats(db->tier->syncer, sync, &passes);
	return 0;
}
