/*
 * seg_tier.h — a tiered data directory: the segment layer's side of
 * tier.h. With dann_db_params.store_uri set, dann_db_open opens the store,
 * a tier cache of tier_cache_bytes and a tier_syncer; every flushed
 * segment is registered with the cache, and its files are opened on use
 * (seg_disk_use) and closed when the cache evicts its directory.
 *
 * What the cache may evict: a segment whose catalog record has its object
 * key (uploaded and verified) and whose delete bitmap file, as last
 * written locally, is the one the store holds (seg_disk.del_gen ==
 * del_synced). Until then it is registered with an empty prefix, which the
 * cache never evicts — so a delete bitmap the WAL checkpoint relies on is
 * always either in the data dir or in the store, never only in a removed
 * directory. Writing a bitmap of an evicted segment downloads it first.
 *
 * Locks: the registry lock (tier->mu) is taken inside the cache's evict
 * callback and then a segment's fmu; it is never held across a call into
 * the cache. c->mu may be held around calls into the cache.
 */
#ifndef DANN_SEG_TIER_H
#define DANN_SEG_TIER_H

#include "seg_impl.h"
#include "tier.h"

/* Store and cache (before the collections open) / the syncer (after). */
int seg_tier_open(struct dann_db *db);
int seg_tier_start(struct dann_db *db);
/* The syncer (before the collections close) / cache and store (after). */
void seg_tier_stop(struct dann_db *db);
void seg_tier_close(struct dann_db *db);

/* Registers flushed segment s with the cache (again after its object key
 * or delete generations changed), evictable only as said above. c->mu
 * held, or the collection being opened. 0 without tiering. */
int seg_tier_register(struct seg *s);
/* s's last reference is going: unregisters it, and removes its cache
 * entry (and local directory) if it or its collection was dropped. */
void seg_tier_forget(struct seg *s);
/* Pins / unpins s's directory (no files opened). 0 if not tiered. */
int seg_tier_pin(struct seg *s);
void seg_tier_unpin(struct seg *s);
/* Whether s's directory is local now (1 if not tiered). */
bool seg_tier_is_local(struct seg *s);
/* Whether a segment of this id is still held by some version (a reader
 * of an older version may fetch it): the store must keep its objects.
 * false if db is not tiered. */
bool seg_tier_held(struct dann_db *db, uint64_t id);
/* The store of a tiered db (NULL if not tiered). */
struct obj_store *seg_tier_store(struct dann_db *db);
/* Asks for a sync pass now (after a flush, a compaction, a drop). */
void seg_tier_kick(struct dann_db *db);

/* For tests and tools: waits for a sync pass begun after the call and
 * returns its result; the cache's and the syncer's counters.
 * DANN_EINVAL if db is not tiered. */
int seg_tier_sync_wait(struct dann_db *db);
int seg_tier_stats(struct dann_db *db, struct tier_cache_stats *cache, struct tier_sync_stats *sync);

#endif
