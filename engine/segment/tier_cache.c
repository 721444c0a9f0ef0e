/*
 * tier_cache.c — the local SSD as a bounded cache of segment directories
 * whose master copy is in the object store (see tier.h for the contract).
 *
 * Each segment is an entry: REMOTE (only in the store), FETCHING (one pin
 * is downloading it; other pins wait for that download instead of starting
 * their own), LOCAL, or EVICTING (its files are being closed and removed;
 * pins wait, then fetch it again). Entries are kept by pointer so they stay
 * put while the lock is dropped for a download or an eviction; the lock is
 * never held across I/O.
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "../vamana/dix_manifest.h"
#include "tier.h"

enum tier_state { T_REMOTE, T_FETCHING, T_LOCAL, T_EVICTING };

struct tent {
	uint64_t id;
	char dir[PATH_MAX];
	char prefix[OBJ_KEY_MAX + 1];
	uint32_t crc;
	enum tier_state state;
	unsigned pins;
	uint64_t bytes;             /* local bytes while LOCAL */
	uint64_t last_used;
	int removed, delete_objects;
	int fetch_rc;               /* the last failed download's code and message */
	uint64_t fetch_gen;         /* failed downloads so far */
	char fetch_err[512];
};

struct tier_cache {
	struct tier_cache_params p;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tent **e;
	size_t n, cap;
	uint64_t clock;             /* ticks at each pin / unpin: the LRU order */
	uint64_t local_bytes;
	uint64_t hits, fetches, shared, evictions;
};

int tier_cache_open(const struct tier_cache_params *p, struct tier_cache **out)
{
	struct tier_cache *c;

	*out = NULL;
	if (!p || !p->store)
		return dann_fail(DANN_EINVAL, "tier_cache_open: no object store");
	if (!(c = calloc(1, sizeof *c)))
		return dann_fail(DANN_ENOMEM, "tier_cache_open");
	c->p = *p;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	*out = c;
	return 0;
}

void tier_cache_close(struct tier_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		free(c->e[i]);
	free(c->e);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static struct tent *find(struct tier_cache *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->e[i]->id == id)
			return c->e[i];
	return NULL;
}

static void forget(struct tier_cache *c, struct tent *e)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->e[i] == e) {
			c->e[i] = c->e[--c->n];
			break;
		}
	free(e);
}

/* Bytes of the regular files below dir. */
static uint64_t dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t sum = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= sizeof p || lstat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			sum += dir_bytes(p);
		else if (S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	closedir(d);
	return sum;
}

/* Closes (through the callback) and removes the local copy of e, which the
 * caller has set EVICTING; called and returns with c->mu held. An eviction
 * (removing 0) the callback refuses keeps the copy and returns its code. */
static int drop_local(struct tier_cache *c, struct tent *e, int removing)
{
	int rc = 0;

	pthread_mutex_unlock(&c->mu);
	if (c->p.evict)
		rc = c->p.evict(c->p.evict_arg, e->id, e->dir);
	if (rc < 0 && !removing) {
		dann_log(DANN_LOG_WARN, "tier", "segment %llu stays local: %s", (unsigned long long)e->id,
			 dann_errmsg());
		pthread_mutex_lock(&c->mu);
		return rc;
	}
	if (fsu_rmtree(e->dir) < 0)
		dann_log(DANN_LOG_WARN, "tier", "segment %llu: %s", (unsigned long long)e->id, dann_errmsg());
	pthread_mutex_lock(&c->mu);
	c->local_bytes -= e->bytes;
	e->bytes = 0;
	return 0;
}

/* Evicts least recently used, unpinned, uploaded segments until the local
 * bytes fit the budget; each segment is tried at most once per call, so a
 * refused eviction does not spin. Called and returns with c->mu held. */
static void evict_to_budget(struct tier_cache *c)
{
	uint64_t start = c->clock;

	while (c->local_bytes > c->p.budget_bytes) {
		struct tent *v = NULL;
		size_t i;

		for (i = 0; i < c->n; i++) {
			struct tent *e = c->e[i];

			if (e->state == T_LOCAL && e->pins == 0 && e->prefix[0] && !e->removed &&
			    e->last_used <= start && (!v || e->last_used < v->last_used))
				v = e;
		}
		if (!v)
			return; /* everything local is pinned, not uploaded yet, or refused */
		v->state = T_EVICTING;
		if (drop_local(c, v, 0) < 0) {
			v->state = T_LOCAL;
			v->last_used = ++c->clock; /* tried again after the others */
		} else {
			v->state = T_REMOTE;
			c->evictions++;
		}
		pthread_cond_broadcast(&c->cv);
	}
}

/* Removes what a download killed halfway left beside dir. */
static void remove_leftovers(const char *dir)
{
	char pat[PATH_MAX + 16];
	glob_t g;
	size_t i;

	if ((size_t)snprintf(pat, sizeof pat, "%s.obj-tmp-*", dir) >= sizeof pat)
		return;
	if (glob(pat, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		dann_log(DANN_LOG_INFO, "tier", "removing %s, a download that did not finish", g.gl_pathv[i]);
		fsu_rmtree(g.gl_pathv[i]);
	}
	globfree(&g);
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int tier_cache_add(struct tier_cache *c, uint64_t id, const char *dir, const char *prefix, uint32_t manifest_crc)
{
	struct tent *e;
	int local;

	if (!dir || strlen(dir) >= PATH_MAX || !prefix || strlen(prefix) > OBJ_KEY_MAX)
		return dann_fail(DANN_EINVAL, "tier_cache_add: segment %llu: bad directory or prefix",
				 (unsigned long long)id);
	remove_leftovers(dir);
	local = is_dir(dir);
	pthread_mutex_lock(&c->mu);
	if ((e = find(c, id))) {
		snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
		e->crc = manifest_crc;
		evict_to_budget(c);
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	if (!local && !prefix[0]) {
		pthread_mutex_unlock(&c->mu);
		return dann_fail(DANN_ENOTFOUND, "segment %llu: %s is missing and it was never uploaded",
				 (unsigned long long)id, dir);
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct tent **ne = realloc(c->e, cap * sizeof *ne);

		if (!ne) {
			pthread_mutex_unlock(&c->mu);
			return dann_fail(DANN_ENOMEM, "tier_cache_add");
		}
		c->e = ne;
		c->cap = cap;
	}
	if (!(e = calloc(1, sizeof *e))) {
		pthread_mutex_unlock(&c->mu);
		return dann_fail(DANN_ENOMEM, "tier_cache_add");
	}
	e->id = id;
	snprintf(e->dir, sizeof e->dir, "%s", dir);
	snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
	e->crc = manifest_crc;
	e->state = local ? T_LOCAL : T_REMOTE;
	e->bytes = local ? dir_bytes(dir) : 0;
	e->last_used = ++c->clock;
	c->e[c->n++] = e;
	c->local_bytes += e->bytes;
	evict_to_budget(c);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* The CRC32C the segment's MANIFEST (already in the stage) lists for name;
 * files it does not list (the delete bitmap, which changes after the
 * flush) carry their own checksum and are checked when opened. */
static int manifest_crc_cb(void *arg, const char *stage, const char *name, uint32_t *crc)
{
	struct dix_manifest *m = arg;
	const struct dix_manifest_entry *me;
	int rc;

	if (m->n == 0 && (rc = dix_manifest_read(stage, m)) < 0)
		return rc;
	if (!(me = dix_manifest_find(m, name)))
		return 0;
	*crc = me->crc;
	return 1;
}

int tier_fetch_dir(struct obj_store *s, const char *prefix, const char *dir, uint32_t manifest_crc)
{
	struct dix_manifest *m = calloc(1, sizeof *m);
	int rc;

	if (!m)
		return dann_fail(DANN_ENOMEM, "%s: manifest", dir);
	rc = obj_get_dir(s, prefix, dir, TIER_MANIFEST, manifest_crc ? &manifest_crc : NULL, manifest_crc_cb, m);
	free(m);
	return rc;
}

static int fetch(struct tier_cache *c, struct tent *e)
{
	int rc = tier_fetch_dir(c->p.store, e->prefix, e->dir, e->crc);

	if (rc < 0)
		return dann_fail_wrap(rc, "segment %llu", (unsigned long long)e->id);
	return 0;
}

int tier_cache_pin(struct tier_cache *c, uint64_t id)
{
	int waited = 0, rc;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct tent *e = find(c, id);
		uint64_t gen;

		if (!e || e->removed) {
			pthread_mutex_unlock(&c->mu);
			return dann_fail(DANN_ENOTFOUND, "segment %llu is not in the tier cache", (unsigned long long)id);
		}
		switch (e->state) {
		case T_LOCAL:
			e->pins++;
			e->last_used = ++c->clock;
			if (!waited)
				c->hits++;
			pthread_mutex_unlock(&c->mu);
			return 0;
		case T_FETCHING:
		case T_EVICTING:
			if (e->state == T_FETCHING && !waited)
				c->shared++;
			waited = 1;
			gen = e->fetch_gen;
			while (e->state == T_FETCHING || e->state == T_EVICTING)
				pthread_cond_wait(&c->cv, &c->mu);
			if (e->state == T_REMOTE && e->fetch_gen != gen) {
				/* the download we waited for failed: its error is ours */
				rc = e->fetch_rc;
				dann_fail(rc, "%s", e->fetch_err);
				pthread_mutex_unlock(&c->mu);
				return rc;
			}
			continue;
		case T_REMOTE:
			e->state = T_FETCHING;
			pthread_mutex_unlock(&c->mu);
			rc = fetch(c, e);
			pthread_mutex_lock(&c->mu);
			if (rc < 0) {
				e->state = T_REMOTE;
				e->fetch_rc = rc;
				e->fetch_gen++;
				snprintf(e->fetch_err, sizeof e->fetch_err, "%s", dann_errmsg());
				pthread_cond_broadcast(&c->cv);
				pthread_mutex_unlock(&c->mu);
				return rc;
			}
			e->state = T_LOCAL;
			e->bytes = dir_bytes(e->dir);
			c->local_bytes += e->bytes;
			c->fetches++;
			e->pins++;
			e->last_used = ++c->clock;
			pthread_cond_broadcast(&c->cv);
			evict_to_budget(c);
			pthread_mutex_unlock(&c->mu);
			return 0;
		}
	}
}

/* Removes e for good (caller holds mu, e is unpinned and settled). */
static int remove_now(struct tier_cache *c, struct tent *e)
{
	char prefix[OBJ_KEY_MAX + 2];
	int rc = 0, del = e->delete_objects && e->prefix[0];

	snprintf(prefix, sizeof prefix, "%s/", e->prefix);
	e->state = T_EVICTING;
	drop_local(c, e, 1);
	if (del) {
		pthread_mutex_unlock(&c->mu);
		rc = obj_delete_prefix(c->p.store, prefix, NULL);
		pthread_mutex_lock(&c->mu);
	}
	forget(c, e);
	pthread_cond_broadcast(&c->cv);
	return rc;
}

void tier_cache_unpin(struct tier_cache *c, uint64_t id)
{
	struct tent *e;

	pthread_mutex_lock(&c->mu);
	if ((e = find(c, id)) && e->pins > 0) {
		e->pins--;
		e->last_used = ++c->clock;
		if (e->pins == 0 && e->removed) {
			if (remove_now(c, e) < 0)
				dann_log(DANN_LOG_WARN, "tier", "segment %llu: %s", (unsigned long long)id, dann_errmsg());
		} else {
			evict_to_budget(c);
		}
	}
	pthread_mutex_unlock(&c->mu);
}

int tier_cache_remove(struct tier_cache *c, uint64_t id, int delete_objects)
{
	struct tent *e;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	while ((e = find(c, id)) && (e->state == T_FETCHING || e->state == T_EVICTING))
		pthread_cond_wait(&c->cv, &c->mu);
	if (!e) {
		pthread_mutex_unlock(&c->mu);
		return dann_fail(DANN_ENOTFOUND, "segment %llu is not in the tier cache", (unsigned long long)id);
	}
	e->removed = 1;
	e->delete_objects = delete_objects;
	if (e->pins == 0)
		rc = remove_now(c, e);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int tier_cache_is_local(struct tier_cache *c, uint64_t id)
{
	struct tent *e;
	int rc;

	pthread_mutex_lock(&c->mu);
	e = find(c, id);
	rc = !e ? DANN_ENOTFOUND : e->state == T_LOCAL;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void tier_cache_stats_get(struct tier_cache *c, struct tier_cache_stats *o)
{
	size_t i;

	memset(o, 0, sizeof *o);
	pthread_mutex_lock(&c->mu);
	o->segments = c->n;
	for (i = 0; i < c->n; i++) {
		o->local += c->e[i]->state == T_LOCAL;
		o->pinned += c->e[i]->pins > 0;
	}
	o->local_bytes = c->local_bytes;
	o->hits = c->hits;
	o->fetches = c->fetches;
	o->shared = c->shared;
	o->evictions = c->evictions;
	pthread_mutex_unlock(&c->mu);
}
