/*
 * tier.h — tiering of flushed segments to the object store: the local SSD
 * as a bounded cache of segment directories, and background uploads.
 *
 * Written beside the segment layer, not inside it: the segment layer calls
 * these at four points (see DESIGN.md, "Scale beyond one machine"):
 *   flushed      tier_sync (run by tier_syncer, kicked after a flush)
 *                uploads it and, once complete and verified, records its
 *                object_key in the catalog; tier_cache_add with that prefix
 *                then makes its local copy evictable;
 *   open/recover tier_cache_add for every flushed segment the catalog lists
 *                (present or not: a node that starts with an empty data dir
 *                fetches them as searches need them);
 *   search       tier_cache_pin before reading a segment's files,
 *                tier_cache_unpin after; the evict callback closes the
 *                segment's open files before its directory goes;
 *   drop         tier_cache_remove(..., delete_objects = 1) after the catalog
 *                has recorded the drop.
 *
 * Invariants:
 *   - a segment directory appears under its name only whole and checked:
 *     downloads go to "<dir>.obj-tmp-XXXXXX", are checked against the
 *     MANIFEST's CRC32C the catalog holds and the file CRCs in that MANIFEST,
 *     and are renamed into place (obj_get_dir); leftovers of a crash are
 *     removed by tier_cache_add;
 *   - a segment is evicted only when it is uploaded and not pinned; pinned
 *     segments may hold the cache above its budget until they are unpinned;
 *   - eviction takes the least recently used unpinned segment first;
 *   - concurrent pins of an evicted segment share one download;
 *   - an upload's callback says "done" only after every file is stored, the
 *     MANIFEST last, and the stored MANIFEST read back matches the local one.
 */
#ifndef DANN_TIER_H
#define DANN_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "../dann.h"
#include "../io/obj.h"

#define TIER_MANIFEST "MANIFEST"

/* ---- the cache (tier_cache.c) ---- */

/* Called before an evicted segment's directory is removed, without cache
 * locks held and with the segment unpinned (new pins wait until the
 * eviction is over): close every file of it, and keep locally what opening
 * the segment again needs. A negative return keeps the directory (the
 * segment becomes the most recently used; other segments are evicted in
 * its place), except when the segment is being removed for good. */
typedef int (*tier_evict_fn)(void *arg, uint64_t seg_id, const char *dir);

struct tier_cache_params {
	struct obj_store *store;   /* where uploaded segments are (not owned) */
	uint64_t budget_bytes;     /* local bytes of evictable segments to keep */
	tier_evict_fn evict;       /* may be NULL */
	void *evict_arg;
};

struct tier_cache;

int tier_cache_open(const struct tier_cache_params *p, struct tier_cache **out);
/* Frees the cache; nothing may be pinned. Local directories stay. */
void tier_cache_close(struct tier_cache *c);

/* Registers segment id: its local directory dir, its object prefix in the
 * store ("" while not uploaded), its MANIFEST's CRC32C from the catalog.
 * Whether it is local is looked up (a leftover partial download beside dir
 * is removed first). Registering an id again updates prefix and crc (after
 * its upload). May evict others to keep to the budget. DANN_ENOTFOUND if
 * the segment is neither local nor uploaded. */
int tier_cache_add(struct tier_cache *c, uint64_t id, const char *dir, const char *prefix,
		   uint32_t manifest_crc);

/* Makes id's directory local (downloading it if evicted; concurrent pins
 * share one download) and keeps it until the matching unpin. DANN_ENOTFOUND
 * for an unknown id; download errors as obj_get_dir's. */
int tier_cache_pin(struct tier_cache *c, uint64_t id);
void tier_cache_unpin(struct tier_cache *c, uint64_t id);

/* Forgets id: once it is unpinned, its local directory is removed and, if
 * delete_objects, its objects in the store. */
int tier_cache_remove(struct tier_cache *c, uint64_t id, int delete_objects);

/* 1 if id's directory is local now, 0 if not, DANN_ENOTFOUND if unknown. */
int tier_cache_is_local(struct tier_cache *c, uint64_t id);

struct tier_cache_stats {
	uint64_t segments, local, pinned;
	uint64_t local_bytes;
	uint64_t hits;             /* pins that found the segment local */
	uint64_t fetches;          /* downloads done */
	uint64_t shared;           /* pins that waited on another pin's download */
	uint64_t evictions;
};
void tier_cache_stats_get(struct tier_cache *c, struct tier_cache_stats *out);

/* Downloads the segment directory stored under prefix into dir (which
 * must not exist), checked: its MANIFEST against manifest_crc (0: not
 * checked), every file the MANIFEST lists against its CRC32C; whole or
 * not at all (obj_get_dir). */
int tier_fetch_dir(struct obj_store *s, const char *prefix, const char *dir, uint32_t manifest_crc);

/* ---- uploads (tier_upload.c) ---- */

/* Uploads one segment directory now, in this thread: files, the MANIFEST
 * last, then the stored MANIFEST read back and compared. */
int tier_upload_dir(struct obj_store *store, const char *dir, const char *prefix);

/* ---- the bucket's own record of a collection (tier_snapshot.c) ----
 *
 * So that a node with an empty data dir and no catalog can serve a
 * collection again (`dann restore --from s3://bucket/prefix`), the segment
 * layer stores, after each upload and each drop, one object per collection
 * (by convention "<collection prefix>/SNAPSHOT"): its catalog record and
 * its uploaded, flushed segments, as JSON behind a checksummed header. */

#define TIER_SNAPSHOT "SNAPSHOT"

struct tier_snapshot {
	struct dann_cat_coll coll;
	struct dann_cat_segment *segs;   /* FLUSHED, each with an object_key */
	size_t nsegs;
};

/* Writes the snapshot of c with the segments of segs[0..n) that are
 * FLUSHED and uploaded (others are left out) as the object key. */
int tier_snapshot_put(struct obj_store *s, const char *key, const struct dann_cat_coll *c,
		      const struct dann_cat_segment *segs, size_t n);
/* Reads and checks a snapshot: its checksum, every field's range, every
 * segment's directory a relative path inside the data dir and its object
 * key a valid key. DANN_ECORRUPT naming the key and the field otherwise. */
int tier_snapshot_get(struct obj_store *s, const char *key, struct tier_snapshot *out);
void tier_snapshot_free(struct tier_snapshot *snap);

/* Downloads every segment of snap into <data_dir>/<files>, each checked
 * (its MANIFEST against the snapshot's CRC, its files against the
 * MANIFEST) and renamed into place whole; a directory already there is
 * kept as it is. *restored (optional) counts the segments downloaded. */
int tier_restore(struct obj_store *s, const struct tier_snapshot *snap, const char *data_dir, uint64_t *restored);

/* ---- a data directory and its bucket (tier_sync.c) ----
 *
 * Key layout under the store's prefix: "c<coll id>/s<segment id>/<file>"
 * for each uploaded segment and "c<coll id>/SNAPSHOT" for its collection.
 * What the bucket holds is the flushed segments (and their delete bitmaps
 * as of the last sync); rows still in a growing segment or the WAL are not
 * in it, as in Milvus, whose log lives elsewhere. A store prefix belongs to
 * one data directory: a sync deletes what its catalog no longer has. */

struct tier_sync_stats {
	uint64_t collections;
	uint64_t uploaded;          /* segments uploaded and recorded */
	uint64_t deletes_refreshed; /* delete bitmaps stored again */
	uint64_t dropped;           /* collections whose objects were deleted */
	uint64_t orphans_deleted;   /* segments no longer in the catalog (compacted) */
	uint64_t orphans_kept;      /* ... but still held by a reader: left for a later sync */
	uint64_t colls_kept;        /* not open here, but the catalog lists their segments */
	uint64_t restored;          /* segments downloaded by a restore */
};

/* Uploads every flushed segment of db that has no object_key yet
 * (tier_upload_dir: verified), then records the key in the catalog (under
 * the collection's lock, only if the segment is still flushed); stores
 * every flushed segment's current delete bitmap; deletes the objects of
 * segments the catalog no longer names (replaced by a compaction, or an
 * upload cut short before it was recorded) once no version a reader holds
 * has them (a search on an older version may still fetch them); writes
 * each collection's
 * SNAPSHOT; deletes the objects of collections the catalog no longer has
 * (their SNAPSHOT last): not open in db and with no uploaded segment in
 * the catalog. Runs beside searches and writes: the segments it
 * reads are held by a version reference. st may be NULL. */
int tier_sync(struct dann_db *db, struct obj_store *store, struct tier_sync_stats *st);

/* Makes the data directory dir (missing or empty) serve what the store
 * holds: each SNAPSHOT's collection created with its schema and
 * properties, its segments downloaded and checked, registered in the
 * catalog as flushed under new segment ids (with no object key, so the
 * restored node uploads its own copy on its first sync). Built in
 * "<dir>.restore-XXXXXX" and renamed to dir when complete: a failed or
 * killed restore leaves no dir. dann_db_open it to serve. DANN_EEXIST if
 * dir is not empty, DANN_ENOTFOUND if the store has no snapshot. */
int tier_restore_db(struct obj_store *store, const char *dir, struct tier_sync_stats *st);

/* ---- syncing in the background (tier_syncer.c) ----
 *
 * A thread that runs tier_sync every interval_ms, and at once when kicked
 * (after a flush, a drop). A failed pass is logged and retried at the next
 * one; nothing is recorded for what did not finish. */

struct tier_syncer;

int tier_syncer_start(struct dann_db *db, struct obj_store *store, uint32_t interval_ms, struct tier_syncer **out);
/* Asks for a pass now. */
void tier_syncer_kick(struct tier_syncer *s);
/* Kicks and waits until a pass that began after the call has finished;
 * returns that pass's result (its message on this thread). */
int tier_syncer_wait(struct tier_syncer *s);
/* Totals over every pass, and the passes run. */
void tier_syncer_stats(struct tier_syncer *s, struct tier_sync_stats *st, uint64_t *passes);
/* Waits for a pass in progress, stops the thread, frees s. */
void tier_syncer_stop(struct tier_syncer *s);

#endif
