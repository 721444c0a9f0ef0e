/*
 * tier_sync.c — keeping a data directory's flushed segments in the object
 * store, and making a new data directory from the store alone.
 *
 * The sync reads the catalog and the current version of each collection,
 * has the segment layer write its pending delete bitmaps (what a WAL
 * checkpoint would do), and records one thing: a segment's object_key,
 * after its upload is complete and verified, under the collection's lock
 * and only while the segment is still FLUSHED (a compaction may have
 * replaced it meanwhile; then its objects are simply left for the drop of
 * the collection or a later cleanup).
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "seg_files.h"
#include "seg_impl.h"
#include "seg_tier.h"
#include "tier.h"

#define SYNC_KEY_MAX 128

static struct seg *in_version(struct seg_ver *v, uint64_t id)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->s[i]->id == id)
			return v->s[i];
	return NULL;
}

/* Records prefix as the object_key of segment id if it is still flushed;
 * the store has its delete bitmap as of generation gen. On a tiered data
 * dir this is what lets the cache evict the segment's local copy. */
static int record_key(struct dann_coll *c, uint64_t id, const char *prefix, uint64_t gen)
{
	struct dann_cat_segment rec;
	struct seg *s;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	s = seg_find(c, id);
	if (s && atomic_load(&s->state) == DANN_SEG_FLUSHED) {
		seg_cat_record(s, &rec);
		snprintf(rec.object_key, sizeof rec.object_key, "%s", prefix);
		if ((rc = c->db->cat->seg_apply(c->db->cat_ctx, &rec, 1)) == 0) {
			snprintf(s->disk->obj_key, sizeof s->disk->obj_key, "%s", prefix);
			if (gen > s->disk->del_synced)
				s->disk->del_synced = gen;
			rc = seg_tier_register(s);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* The delete-bitmap generation written locally, and whether the store
 * already has it. */
static uint64_t del_gen(struct dann_coll *c, struct seg *s, int *synced)
{
	uint64_t gen;

	pthread_mutex_lock(&c->mu);
	gen = s->disk->del_gen;
	*synced = gen == s->disk->del_synced;
	pthread_mutex_unlock(&c->mu);
	return gen;
}

static int deletes_stored(struct dann_coll *c, struct seg *s, uint64_t gen)
{
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (gen > s->disk->del_synced) {
		s->disk->del_synced = gen;
		rc = seg_tier_register(s);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sync_segment(struct dann_coll *c, struct obj_store *store, struct seg *s,
			const struct dann_cat_segment *rec, struct tier_sync_stats *st)
{
	char prefix[SYNC_KEY_MAX], key[DANN_CAT_FILES_MAX + 32], path[PATH_MAX];
	struct stat sb;
	uint64_t gen;
	int synced, rc;

	/* a segment not uploaded, or whose bitmap the store lacks, is never
	 * evicted, so its directory is there to read */
	gen = del_gen(c, s, &synced);
	if (!rec->object_key[0]) {
		snprintf(prefix, sizeof prefix, "c%llu/s%llu", (unsigned long long)c->id,
			 (unsigned long long)s->id);
		if ((rc = tier_upload_dir(store, s->dir, prefix)) < 0 ||
		    (rc = record_key(c, s->id, prefix, gen)) < 0)
			return dann_fail_wrap(rc, "tier_sync: segment %llu of %s", (unsigned long long)s->id,
					      c->schema.name);
		st->uploaded++;
		return 0;
	}
	/* the delete bitmap is the one file that changes after the flush;
	 * stored again only when it did */
	if (synced)
		return 0;
	if ((rc = seg_join(path, s->dir, SEG_DELETES_FILE)) < 0)
		return rc;
	if (stat(path, &sb) != 0)
		return 0;
	snprintf(key, sizeof key, "%s/%s", rec->object_key, SEG_DELETES_FILE);
	if ((rc = obj_put_file(store, key, path)) < 0 || (rc = deletes_stored(c, s, gen)) < 0)
		return rc;
	st->deletes_refreshed++;
	return 0;
}

struct seg_objs {
	const struct dann_cat_segment *recs;
	size_t n;
	uint64_t coll_id;
	uint64_t *orphans;
	size_t norphans, cap;
};

/* Notes "c<coll>/s<id>/..." objects whose prefix no catalog record names:
 * segments replaced by a compaction, or an upload that never got recorded. */
static int note_orphan(void *arg, const char *key, uint64_t size)
{
	struct seg_objs *o = arg;
	unsigned long long cid, sid;
	char prefix[SYNC_KEY_MAX];
	size_t i;

	(void)size;
	if (sscanf(key, "c%llu/s%llu/", &cid, &sid) != 2 || cid != o->coll_id)
		return 0;
	snprintf(prefix, sizeof prefix, "c%llu/s%llu", cid, sid);
	for (i = 0; i < o->n; i++)
		if (strcmp(o->recs[i].object_key, prefix) == 0)
			return 0;
	if (o->norphans && o->orphans[o->norphans - 1] == sid)
		return 0;
	if (o->norphans == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 16;
		uint64_t *a = realloc(o->orphans, cap * sizeof *a);

		if (!a)
			return dann_fail(DANN_ENOMEM, "tier_sync: orphan list");
		o->orphans = a;
		o->cap = cap;
	}
	o->orphans[o->norphans++] = sid;
	return 0;
}

/* A segment a compaction replaced may still be in a version some search
 * holds, and an evicted one is fetched from the store: its objects stay
 * until its last reference is gone (the registry forgets it then). */
static int delete_orphans(struct dann_coll *c, struct obj_store *store, const struct dann_cat_segment *recs,
			  size_t n, struct tier_sync_stats *st)
{
	struct seg_objs o = { recs, n, c->id, NULL, 0, 0 };
	char prefix[SYNC_KEY_MAX];
	int rc;

	snprintf(prefix, sizeof prefix, "c%llu/s", (unsigned long long)c->id);
	if ((rc = obj_list(store, prefix, note_orphan, &o)) == 0)
		for (size_t i = 0; i < o.norphans && rc == 0; i++) {
			if (seg_tier_held(c->db, o.orphans[i])) {
				st->orphans_kept++;
				continue;
			}
			snprintf(prefix, sizeof prefix, "c%llu/s%llu/", (unsigned long long)c->id,
				 (unsigned long long)o.orphans[i]);
			if ((rc = obj_delete_prefix(store, prefix, NULL)) == 0)
				st->orphans_deleted++;
		}
	free(o.orphans);
	return rc;
}

static int sync_coll(struct dann_coll *c, struct obj_store *store, struct tier_sync_stats *st)
{
	const struct dann_catalog_ops *cat = c->db->cat;
	struct dann_cat_segment *recs = NULL;
	struct dann_cat_coll *cc = NULL;
	struct seg_ver *v = seg_ver_get(c);
	char key[SYNC_KEY_MAX];
	size_t n = 0, i;
	int rc;

	/* deletes acknowledged so far (in the WAL) into the segments' bitmap
	 * files, so the bucket gets them; replaying them again is harmless */
	pthread_mutex_lock(&c->mu);
	rc = seg_persist_deletes(c);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0 || (rc = cat->seg_list(c->db->cat_ctx, c->id, &recs, &n)) < 0)
		goto out;
	for (i = 0; i < n && rc == 0; i++) {
		struct seg *s = in_version(v, recs[i].id);

		if (recs[i].state == DANN_SEG_FLUSHED && s && s->disk)
			rc = sync_segment(c, store, s, &recs[i], st);
	}
	free(recs);
	recs = NULL;
	if (rc < 0 || (rc = cat->seg_list(c->db->cat_ctx, c->id, &recs, &n)) < 0 ||
	    (rc = delete_orphans(c, store, recs, n, st)) < 0)
		goto out;
	if (!(cc = calloc(1, sizeof *cc))) {
		rc = dann_fail(DANN_ENOMEM, "tier_sync");
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	cc->id = c->id;
	cc->schema = c->schema;
	memcpy(cc->props, c->props, sizeof cc->props);
	pthread_mutex_unlock(&c->mu);
	snprintf(key, sizeof key, "c%llu/%s", (unsigned long long)c->id, TIER_SNAPSHOT);
	rc = tier_snapshot_put(store, key, cc, recs, n);
	st->collections++;
out:
	free(cc);
	free(recs);
	seg_ver_unref(v);
	return rc;
}

struct snap_keys {
	uint64_t *ids;
	size_t n, cap;
};

/* Collects the ids of "c<id>/SNAPSHOT" keys. */
static int note_snapshot(void *arg, const char *key, uint64_t size)
{
	struct snap_keys *k = arg;
	unsigned long long id;
	char tail[16];

	(void)size;
	if (sscanf(key, "c%llu/%15s", &id, tail) != 2 || strcmp(tail, TIER_SNAPSHOT) != 0)
		return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 16;
		uint64_t *ids = realloc(k->ids, cap * sizeof *ids);

		if (!ids)
			return dann_fail(DANN_ENOMEM, "tier_sync: snapshot list");
		k->ids = ids;
		k->cap = cap;
	}
	k->ids[k->n++] = id;
	return 0;
}

/* 1 if the catalog still lists uploaded, flushed segments of collection
 * id: not dropped, only not open here (a catalog that has not caught up
 * yet, or a collection another node of a cluster owns). */
static int still_listed(struct dann_db *db, uint64_t id)
{
	struct dann_cat_segment *recs = NULL;
	size_t n = 0, live = 0;
	int rc;

	if ((rc = db->cat->seg_list(db->cat_ctx, id, &recs, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		live += recs[i].state == DANN_SEG_FLUSHED && recs[i].object_key[0];
	free(recs);
	return live > 0;
}

static int drop_gone(struct dann_db *db, struct obj_store *store, const uint64_t *live, size_t nlive,
		     struct tier_sync_stats *st)
{
	struct snap_keys k = { 0 };
	char prefix[SYNC_KEY_MAX];
	size_t i, j;
	int rc;

	if ((rc = obj_list(store, "c", note_snapshot, &k)) != 0)
		goto out;
	for (i = 0; i < k.n && rc == 0; i++) {
		for (j = 0; j < nlive && live[j] != k.ids[i]; j++)
			;
		if (j < nlive)
			continue;
		if ((rc = still_listed(db, k.ids[i])) != 0) {
			if (rc > 0) {
				st->colls_kept++;
				rc = 0;
			}
			continue;
		}
		/* segments first, the SNAPSHOT last: a crash in between leaves
		 * the SNAPSHOT, so the next sync finishes the job */
		snprintf(prefix, sizeof prefix, "c%llu/s", (unsigned long long)k.ids[i]);
		if ((rc = obj_delete_prefix(store, prefix, NULL)) < 0)
			break;
		snprintf(prefix, sizeof prefix, "c%llu/%s", (unsigned long long)k.ids[i], TIER_SNAPSHOT);
		if ((rc = obj_delete(store, prefix)) == 0)
			st->dropped++;
	}
out:
	free(k.ids);
	return rc;
}

int tier_sync(struct dann_db *db, struct obj_store *store, struct tier_sync_stats *st_out)
{
	struct tier_sync_stats st = { 0 };
	struct dann_coll **colls = NULL;
	uint64_t *live = NULL;
	size_t n = 0, i;
	int rc = 0;

	pthread_mutex_lock(&db->mu);
	if (db->ncolls && (!(colls = malloc(db->ncolls * sizeof *colls)) || !(live = malloc(db->ncolls * sizeof *live))))
		rc = dann_fail(DANN_ENOMEM, "tier_sync");
	for (i = 0; rc == 0 && i < db->ncolls; i++)
		if (!atomic_load(&db->colls[i]->dropped)) {
			live[n] = db->colls[i]->id;
			colls[n++] = db->colls[i];
		}
	pthread_mutex_unlock(&db->mu);
	for (i = 0; rc == 0 && i < n; i++)
		rc = sync_coll(colls[i], store, &st);
	if (rc == 0)
		rc = drop_gone(db, store, live, n, &st);
	free(colls);
	free(live);
	if (st_out)
		*st_out = st;
	return rc;
}

/* ---- restore ---- */

/* Properties the collection keeps for itself ("dann.*") are not carried
 * over: they describe the old data dir's WAL. */
static int restore_props(struct dann_coll *c, const char *props)
{
	const char *p = props;
	int rc;

	while (*p) {
		const char *nl = strchr(p, '\n'), *eq;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[DANN_CAT_PROPS_MAX];

		memcpy(line, p, len);
		line[len] = 0;
		p += len + (nl ? 1 : 0);
		if (!(eq = strchr(line, '=')) || strncmp(line, "dann.", 5) == 0)
			continue;
		line[eq - line] = 0;
		if ((rc = dann_coll_set_prop(c, line, line + (eq - line) + 1)) < 0)
			return rc;
	}
	return 0;
}

static int restore_coll(struct dann_db *db, struct obj_store *store, const struct tier_snapshot *snap,
			struct tier_sync_stats *st)
{
	struct dann_coll *c;
	int rc;

	if ((rc = dann_coll_create(db, &snap->coll.schema)) < 0 ||
	    (rc = dann_coll_get(db, snap->coll.schema.name, &c)) < 0 || (rc = restore_props(c, snap->coll.props)) < 0)
		return rc;
	for (size_t i = 0; i < snap->nsegs; i++) {
		struct dann_cat_segment rec = snap->segs[i];
		char dir[PATH_MAX];
		uint64_t id;

		/* a new id from this data dir's counter: the old one may be taken */
		if ((rc = db->cat->alloc(db->cat_ctx, DANN_CAT_SEGMENT_ID, 1, &id)) < 0 ||
		    (rc = seg_segment_dir(c, id, dir)) < 0)
			return rc;
		if ((rc = tier_fetch_dir(store, rec.object_key, dir, rec.manifest_crc)) < 0)
			return dann_fail_wrap(rc, "restoring segment %llu of %s", (unsigned long long)rec.id,
					      snap->coll.schema.name);
		rec.id = id;
		rec.coll_id = c->id;
		rec.first_lsn = rec.last_lsn = 0; /* this data dir's WAL has none of them */
		rec.object_key[0] = 0;
		snprintf(rec.files, sizeof rec.files, "c%llu/s%llu", (unsigned long long)c->id, (unsigned long long)id);
		if ((rc = db->cat->seg_apply(db->cat_ctx, &rec, 1)) < 0)
			return rc;
		st->restored++;
	}
	st->collections++;
	return 0;
}

/* Stages of restores that were killed: never a data dir anyone opens. */
static void remove_stale_stages(const char *dir)
{
	char pat[PATH_MAX + 16];
	glob_t g;

	if ((size_t)snprintf(pat, sizeof pat, "%s.restore-*", dir) >= sizeof pat || glob(pat, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		dann_log(DANN_LOG_INFO, "tier", "removing %s, a restore that did not finish", g.gl_pathv[i]);
		fsu_rmtree(g.gl_pathv[i]);
	}
	globfree(&g);
}

/* An empty or missing directory is a place to restore into. */
static int restorable(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int empty = 1;

	if (!d)
		return errno == ENOENT ? 0 : dann_fail_errno(DANN_EIO, errno, "restore: %s", dir);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty)
		return dann_fail(DANN_EEXIST, "restore: %s is not empty; restore makes a new data dir", dir);
	return 1;
}

static int restore_into(struct obj_store *store, const char *stage, struct tier_sync_stats *st)
{
	struct dann_db_params p;
	struct snap_keys k = { 0 };
	struct dann_db *db = NULL;
	int rc;

	dann_db_params_default(&p);
	p.no_background = 1;
	if ((rc = dann_db_open(stage, &p, &db)) < 0)
		return rc;
	if ((rc = obj_list(store, "c", note_snapshot, &k)) != 0)
		goto out;
	if (k.n == 0) {
		rc = dann_fail(DANN_ENOTFOUND, "restore: no collection snapshot (c<id>/%s) in %s", TIER_SNAPSHOT,
			       obj_uri(store));
		goto out;
	}
	for (size_t i = 0; i < k.n && rc == 0; i++) {
		struct tier_snapshot snap;
		char key[SYNC_KEY_MAX];

		snprintf(key, sizeof key, "c%llu/%s", (unsigned long long)k.ids[i], TIER_SNAPSHOT);
		if ((rc = tier_snapshot_get(store, key, &snap)) < 0)
			break;
		rc = restore_coll(db, store, &snap, st);
		tier_snapshot_free(&snap);
	}
out:
	free(k.ids);
	dann_db_close(db);
	return rc;
}

int tier_restore_db(struct obj_store *store, const char *dir, struct tier_sync_stats *st_out)
{
	struct tier_sync_stats st = { 0 };
	char stage[PATH_MAX];
	int exists, rc;

	/* built beside its name and renamed into place: a restore that fails
	 * or is killed leaves no data dir that looks usable */
	if ((exists = restorable(dir)) < 0)
		return exists;
	remove_stale_stages(dir);
	if ((size_t)snprintf(stage, sizeof stage, "%s.restore-XXXXXX", dir) >= sizeof stage)
		return dann_fail(DANN_EINVAL, "restore: %s: path too long", dir);
	if (!mkdtemp(stage))
		return dann_fail_errno(DANN_EIO, errno, "restore: cannot create %s", stage);
	rc = restore_into(store, stage, &st);
	if (rc == 0 && exists && rmdir(dir) != 0)
		rc = dann_fail_errno(DANN_EIO, errno, "restore: %s", dir);
	if (rc == 0)
		rc = fsu_rename_noreplace(stage, dir);
	if (rc < 0)
		fsu_rmtree(stage);
	if (st_out)
		*st_out = st;
	return rc;
}
