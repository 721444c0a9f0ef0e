/*
 * seg_db.c — a data directory: its lock, its catalog, its collections.
 *
 * Layout: <dir>/LOCK (flock held while open), <dir>/CATALOG (the local
 * catalog, unless the caller supplies one), <dir>/c<id>/ per collection
 * (wal/ and s<id>/ per flushed segment). Opening recovers every collection
 * (seg_recover.c) and removes directories of collections the catalog has
 * dropped (a drop that crashed before its files were gone): only those
 * whose id the catalog handed out (below its collection-id counter). Any
 * other c<id> is not this catalog's to judge — a collection of another
 * catalog (dannd's, an older CATALOG), or a catalog lost — so opening
 * stops, naming it, and deletes nothing.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "seg_impl.h"
#include "seg_tier.h"

#define LOCK_FILE "LOCK"

void dann_db_params_default(struct dann_db_params *p)
{
	memset(p, 0, sizeof *p);
	p->cache_bytes = DANN_CACHE_AUTO;
	p->cache_policy = DANN_CACHE_DEFAULT_POLICY;
}

int seg_dir_lock(const char *dir, int *fd)
{
	char path[PATH_MAX], pid[32];
	int rc, n;

	*fd = -1;
	if ((rc = seg_join(path, dir, LOCK_FILE)) < 0)
		return rc;
	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open", path);
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		n = (int)pread(*fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(*fd);
		*fd = -1;
		if (err == EWOULDBLOCK)
			return dann_fail(DANN_EBUSY, "%s: the data directory is open in another process%s%s%s",
					 path, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
		return dann_fail_errno(DANN_EIO, err, "%s: cannot lock", path);
	}
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(*fd, 0) < 0 || pwrite(*fd, pid, (size_t)n, 0) != n)
		dann_log(DANN_LOG_WARN, "segment", "%s: cannot record the pid", path);
	return 0;
}

int seg_dir_has_meta(const char *dir)
{
	char path[PATH_MAX];

	return seg_join(path, dir, SEG_META_IDENT) == 0 && access(path, F_OK) == 0;
}

static int cmp_coll(const void *a, const void *b)
{
	const struct dann_coll *x = *(struct dann_coll *const *)a, *y = *(struct dann_coll *const *)b;
	return strcmp(x->schema.name, y->schema.name);
}

static int add_coll(struct dann_db *db, struct dann_coll *c)
{
	struct dann_coll **a;

	pthread_mutex_lock(&db->mu);
	a = realloc(db->colls, (db->ncolls + 1) * sizeof *a);
	if (a) {
		a[db->ncolls++] = c;
		db->colls = a;
	}
	pthread_mutex_unlock(&db->mu);
	return a ? 0 : dann_fail(DANN_ENOMEM, "collection list");
}

/* Removes c<id> directories of collections the catalog dropped; refuses
 * (deleting nothing) a c<id> it never handed out. Checked before any
 * removal, so a refusal leaves the directory as it was. */
static int sweep(struct dann_db *db, const struct dann_cat_coll *cc, size_t n)
{
	struct dirent *de;
	DIR *d = opendir(db->dir);
	char path[PATH_MAX], (*dropped)[NAME_MAX + 1] = NULL;
	size_t ndropped = 0, cap = 0;
	uint64_t next = 0;
	int rc = 0;

	if (!d)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot list", db->dir);
	if (db->cat->counter)
		rc = db->cat->counter(db->cat_ctx, DANN_CAT_COLL_ID, &next);
	while (rc == 0 && (de = readdir(d))) {
		unsigned long long id;
		char tail;
		bool live = false;
		if (sscanf(de->d_name, "c%llu%c", &id, &tail) != 1 || !isdigit((unsigned char)de->d_name[1]))
			continue;
		for (size_t i = 0; i < n; i++)
			live |= cc[i].id == id;
		if (live)
			continue;
		if (id >= next) {
			rc = dann_fail(DANN_ECORRUPT,
				       "%s/%s: a collection directory this data directory's %s never had (the ids it "
				       "handed out are below %llu); nothing was removed. It may belong to another "
				       "catalog (dannd's %s/%s, or a %s moved away): open the directory with that "
				       "catalog, or move %s out of %s",
				       db->dir, de->d_name, db->local_cat ? "catalog (" SEG_CATALOG_FILE ")" : "catalog",
				       (unsigned long long)next, db->dir, SEG_META_DIR, SEG_CATALOG_FILE, de->d_name,
				       db->dir);
			break;
		}
		if (ndropped == cap) {
			void *a = realloc(dropped, (cap = cap ? 2 * cap : 8) * sizeof *dropped);
			if (!a) {
				rc = dann_fail(DANN_ENOMEM, "%s: listing", db->dir);
				break;
			}
			dropped = a;
		}
		snprintf(dropped[ndropped++], sizeof *dropped, "%s", de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < ndropped && rc == 0; i++) {
		dann_log(DANN_LOG_INFO, "segment", "%s: removing %s (a dropped collection)", db->dir, dropped[i]);
		if ((rc = seg_join(path, db->dir, dropped[i])) == 0)
			rc = fsu_rmtree(path);
	}
	free(dropped);
	return rc;
}

static int open_colls(struct dann_db *db)
{
	struct dann_cat_coll *cc = NULL;
	size_t n = 0;
	int rc;

	if ((rc = db->cat->coll_list(db->cat_ctx, &cc, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct dann_coll *c;
		if ((rc = seg_coll_open(db, &cc[i], &c)) == 0 && (rc = add_coll(db, c)) < 0)
			seg_coll_close(c);
	}
	if (rc == 0)
		rc = sweep(db, cc, n);
	free(cc);
	return rc;
}

int dann_db_open(const char *dir, const struct dann_db_params *p, struct dann_db **out)
{
	struct dann_db *db;
	char path[PATH_MAX];
	const char *fp;
	int rc;

	if (!dir || !*dir || !out)
		return dann_fail(DANN_EINVAL, "db_open: no directory");
	if (p && p->cache_policy != DANN_CACHE_BFS && p->cache_policy != DANN_CACHE_VISITS)
		return dann_fail(DANN_EINVAL, "db_open: cache_policy %d, expected 0 (bfs) or 1 (visits)",
				 p->cache_policy);
	if (!(db = calloc(1, sizeof *db)))
		return dann_fail(DANN_ENOMEM, "db_open: %s", dir);
	db->lock_fd = -1;
	pthread_mutex_init(&db->mu, NULL);
	pthread_cond_init(&db->cv, NULL);
	pthread_cond_init(&db->gcv, NULL);
	atomic_init(&db->stopping, false);
	if (p)
		db->p = *p;
	else
		dann_db_params_default(&db->p);
	if (snprintf(db->dir, sizeof db->dir, "%s", dir) >= (int)sizeof db->dir) {
		rc = dann_fail(DANN_EINVAL, "%s: path too long", dir);
		goto fail;
	}
	if ((fp = getenv("DANN_FAILPOINT")))
		snprintf(db->failpoint, sizeof db->failpoint, "%s", fp);
	if ((rc = fsu_mkdirs(dir)) < 0 || (rc = seg_dir_lock(dir, &db->lock_fd)) < 0)
		goto fail;
	/* a rewrite of CATALOG cut short by a crash leaves its temporary */
	if (snprintf(path, sizeof path, "%s/CATALOG.tmp", dir) < (int)sizeof path)
		unlink(path);
	if (db->p.catalog) {
		db->cat = db->p.catalog;
		db->cat_ctx = db->p.catalog_ctx;
	} else {
		/* Never a stale local catalog beside the one dannd keeps. */
		if (seg_dir_has_meta(dir)) {
			rc = dann_fail(DANN_EINVAL,
				       "%s: its catalog is dannd's Raft catalog (%s/%s), not a local %s: stop dannd "
				       "and use the dann CLI (which opens it), use the server, or open it with "
				       "meta_catalog_ops (meta/meta.h)",
				       dir, dir, SEG_META_DIR, SEG_CATALOG_FILE);
			goto fail;
		}
		if ((rc = seg_catalog_local_open(dir, &db->local_cat)) < 0)
			goto fail;
		db->cat = &seg_catalog_local_ops;
		db->cat_ctx = db->local_cat;
	}
	if ((rc = seg_tier_open(db)) < 0 || (rc = open_colls(db)) < 0 ||
	    (rc = seg_worker_start(db)) < 0 || (rc = seg_tier_start(db)) < 0)
		goto fail;
	seg_tier_kick(db);
	seg_worker_kick(db);
	*out = db;
	return 0;
fail:
	dann_db_close(db);
	return rc;
}

void dann_db_close(struct dann_db *db)
{
	if (!db)
		return;
	seg_tier_stop(db);
	seg_worker_stop(db);
	for (size_t i = 0; i < db->ncolls; i++)
		seg_coll_close(db->colls[i]);
	free(db->colls);
	seg_tier_close(db);
	seg_catalog_local_close(db->local_cat);
	if (db->lock_fd >= 0)
		close(db->lock_fd); /* releases the flock */
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
	pthread_cond_destroy(&db->gcv);
	free(db);
}

static struct dann_coll *find(struct dann_db *db, const char *name)
{
	for (size_t i = 0; i < db->ncolls; i++)
		if (!atomic_load(&db->colls[i]->dropped) && !strcmp(db->colls[i]->schema.name, name))
			return db->colls[i];
	return NULL;
}

int dann_coll_create(struct dann_db *db, const struct dann_schema *s)
{
	struct dann_cat_coll *cc;
	struct dann_coll *c;
	int rc;

	if (!db || !s)
		return dann_fail(DANN_EINVAL, "coll_create: no database or schema");
	if ((rc = seg_schema_check(s)) < 0)
		return rc;
	if (!(cc = calloc(1, sizeof *cc)))
		return dann_fail(DANN_ENOMEM, "coll_create %s", s->name);
	cc->schema = *s;
	/* one creator at a time, so the name check and the create agree */
	pthread_mutex_lock(&db->mu);
	if (find(db, s->name))
		rc = dann_fail(DANN_EEXIST, "collection \"%s\" already exists", s->name);
	else
		rc = db->cat->coll_create(db->cat_ctx, s, &cc->id);
	pthread_mutex_unlock(&db->mu);
	if (rc == 0 && (rc = seg_coll_open(db, cc, &c)) == 0 && (rc = add_coll(db, c)) < 0)
		seg_coll_close(c);
	free(cc);
	return rc;
}

static int coll_get(struct dann_db *db, const char *name, struct dann_coll **out, bool wait)
{
	struct dann_coll *c;

	if (!db || !name || !out)
		return dann_fail(DANN_EINVAL, "coll_get: no database or name");
	if (wait)
		pthread_mutex_lock(&db->mu);
	else if (pthread_mutex_trylock(&db->mu) != 0)
		return dann_fail(DANN_EBUSY, "coll_get %s: the database is busy (a catalog write)", name);
	c = find(db, name);
	pthread_mutex_unlock(&db->mu);
	if (!c)
		return dann_fail(DANN_ENOTFOUND, "no collection \"%s\"", name);
	*out = c;
	return 0;
}

int dann_coll_get(struct dann_db *db, const char *name, struct dann_coll **out)
{
	return coll_get(db, name, out, true);
}

int dann_coll_get_nowait(struct dann_db *db, const char *name, struct dann_coll **out)
{
	return coll_get(db, name, out, false);
}

int dann_coll_drop(struct dann_db *db, const char *name)
{
	struct dann_coll *c;
	struct seg_ver *empty;
	int rc;

	if ((rc = dann_coll_get(db, name, &c)) < 0)
		return rc;
	if (!(empty = calloc(1, sizeof *empty)))
		return dann_fail(DANN_ENOMEM, "drop %s", name);
	atomic_init(&empty->refs, 1);
	seg_busy_enter(c); /* no build or compaction writes into its directory */
	pthread_mutex_lock(&c->mu);
	if ((rc = db->cat->coll_drop(db->cat_ctx, c->id)) == 0) {
		atomic_store(&c->dropped, true);
		pthread_mutex_lock(&c->vmu);
		struct seg_ver *old = c->ver;
		c->ver = empty;
		empty = NULL;
		pthread_mutex_unlock(&c->vmu);
		seg_ver_unref(old);
		c->growing = NULL;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	seg_busy_leave(c);
	free(empty);
	if (rc < 0)
		return rc;
	/* Searches still running keep their open files (unlinked files stay
	 * readable); the directory goes now. */
	if ((rc = fsu_rmtree(c->dir)) < 0)
		dann_log(DANN_LOG_WARN, "segment", "%s: %s (removed at next open)", c->dir, dann_errmsg());
	seg_tier_kick(db); /* its objects go */
	return 0;
}

int dann_coll_list(struct dann_db *db, char ***names, size_t *n)
{
	struct dann_coll **live;
	size_t k = 0, bytes = 0;
	char **out, *p;

	if (!db || !names || !n)
		return dann_fail(DANN_EINVAL, "coll_list: no database or output");
	pthread_mutex_lock(&db->mu);
	live = malloc((db->ncolls + 1) * sizeof *live);
	for (size_t i = 0; live && i < db->ncolls; i++)
		if (!atomic_load(&db->colls[i]->dropped)) {
			live[k++] = db->colls[i];
			bytes += strlen(db->colls[i]->schema.name) + 1;
		}
	pthread_mutex_unlock(&db->mu);
	if (!live)
		return dann_fail(DANN_ENOMEM, "coll_list");
	qsort(live, k, sizeof *live, cmp_coll);
	if (!(out = malloc((k + 1) * sizeof *out + bytes))) {
		free(live);
		return dann_fail(DANN_ENOMEM, "coll_list");
	}
	p = (char *)(out + k + 1);
	for (size_t i = 0; i < k; i++) {
		size_t len = strlen(live[i]->schema.name) + 1;
		memcpy(p, live[i]->schema.name, len);
		out[i] = p;
		p += len;
	}
	out[k] = NULL;
	free(live);
	*names = out;
	*n = k;
	return 0;
}

int dann_coll_schema(struct dann_coll *c, struct dann_schema *out)
{
	if (!c || !out)
		return dann_fail(DANN_EINVAL, "coll_schema: no collection or output");
	if (atomic_load(&c->dropped))
		return dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	*out = c->schema;
	return 0;
}

int dann_coll_set_index(struct dann_coll *c, const struct dann_index_params *ip)
{
	struct dann_cat_coll *cc;
	struct dann_schema s;
	int rc;

	if (!c || !ip)
		return dann_fail(DANN_EINVAL, "set_index: no collection or parameters");
	pthread_mutex_lock(&c->mu);
	s = c->schema;
	s.index = *ip;
	if (atomic_load(&c->dropped))
		rc = dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	else
		rc = seg_schema_check(&s);
	if (rc == 0 && ip->metric != c->schema.index.metric) {
		/* Distances of two metrics cannot be merged: the flushed
		 * segments are rebuilt first, and everything flips at once
		 * (seg_reindex.c). */
		rc = seg_reindex_request(c, ip);
		pthread_mutex_unlock(&c->mu);
		if (rc == 0 && c->db->worker_started)
			seg_worker_kick(c->db);
		return rc;
	}
	/* the metric stays: a change still pending is called off */
	if (rc == 0)
		rc = seg_reindex_cancel(c);
	if (rc == 0 && !(cc = calloc(1, sizeof *cc)))
		rc = dann_fail(DANN_ENOMEM, "set_index");
	if (rc == 0) {
		cc->id = c->id;
		cc->schema = s;
		memcpy(cc->props, c->props, sizeof cc->props);
		if ((rc = c->db->cat->coll_update(c->db->cat_ctx, cc)) == 0)
			c->schema.index = *ip; /* builds read it under no lock: words, set once */
		free(cc);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}
