/*
 * seg_version.c — segments' lifetimes and the versions that list them.
 *
 * A version is an immutable array of referenced segments. Searches take
 * the current one (a reference under vmu) and read only what it lists; a
 * swap publishes a new version and drops the old one's reference. A
 * segment marked dropped keeps its files until its last reference goes
 * (the last search that could read them), then its directory is removed.
 */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../fsutil.h"
#include "../log.h"
#include "seg_impl.h"

struct seg *seg_new(const struct dann_coll *c, uint64_t id, enum dann_seg_state st)
{
	struct seg *s = calloc(1, sizeof *s);

	if (!s) {
		dann_fail(DANN_ENOMEM, "segment %llu", (unsigned long long)id);
		return NULL;
	}
	s->id = id;
	atomic_init(&s->state, (int)st);
	atomic_init(&s->refs, 1);
	atomic_init(&s->dropped, false);
	s->coll = c;
	return s;
}

void seg_ref(struct seg *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void seg_unref(struct seg *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	seg_mem_free(s->mem);
	seg_disk_close(s->disk);
	if (atomic_load(&s->dropped) && s->dir[0] && fsu_rmtree(s->dir) < 0)
		dann_log(DANN_LOG_WARN, "segment", "cannot remove %s: %s", s->dir, dann_errmsg());
	free(s);
}

struct seg_ver *seg_ver_get(struct dann_coll *c)
{
	struct seg_ver *v;

	pthread_mutex_lock(&c->vmu);
	v = c->ver;
	atomic_fetch_add(&v->refs, 1);
	pthread_mutex_unlock(&c->vmu);
	return v;
}

void seg_ver_unref(struct seg_ver *v)
{
	if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (size_t i = 0; i < v->n; i++)
		seg_unref(v->s[i]);
	free(v);
}

struct seg *seg_find(struct dann_coll *c, uint64_t id)
{
	struct seg_ver *v = c->ver; /* stable: only c->mu holders replace it */

	for (size_t i = 0; i < v->n; i++)
		if (v->s[i]->id == id)
			return v->s[i];
	return NULL;
}

static bool listed(struct seg *const *a, size_t n, const struct seg *s)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] == s)
			return true;
	return false;
}

int seg_ver_swap(struct dann_coll *c, struct seg *const *drop, size_t ndrop,
		 struct seg *const *add, size_t nadd)
{
	struct seg_ver *old = c->ver, *v;
	size_t n = 0;
	bool added = false;

	v = calloc(1, sizeof *v + (old->n + nadd) * sizeof v->s[0]);
	if (!v)
		return dann_fail(DANN_ENOMEM, "segment version of %zu", old->n + nadd);
	atomic_init(&v->refs, 1);
	for (size_t i = 0; i < old->n; i++) {
		struct seg *s = old->s[i];
		bool place = !added && (listed(drop, ndrop, s) ||
					atomic_load(&s->state) == DANN_SEG_GROWING);
		if (place) {
			for (size_t j = 0; j < nadd; j++) {
				seg_ref(add[j]);
				v->s[n++] = add[j];
			}
			added = true;
		}
		if (listed(drop, ndrop, s))
			continue;
		seg_ref(s);
		v->s[n++] = s;
	}
	if (!added)
		for (size_t j = 0; j < nadd; j++) {
			seg_ref(add[j]);
			v->s[n++] = add[j];
		}
	v->n = n;
	pthread_mutex_lock(&c->vmu);
	c->ver = v;
	pthread_mutex_unlock(&c->vmu);
	seg_ver_unref(old);
	return 0;
}
