/*
 * seg_props.c — a collection's small durable properties: "key=value\n"
 * lines in its catalog record (struct dann_cat_coll.props), changed
 * through coll_update so the catalog keeps them with the schema. Keys
 * starting with "dann." are the engine's own (the WAL checkpoint).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "seg_impl.h"

int seg_prop_find(const char *props, const char *key, char *buf, size_t cap)
{
	size_t klen = strlen(key);

	for (const char *p = props; *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			size_t vlen = len - klen - 1;
			if (cap) {
				size_t m = vlen < cap - 1 ? vlen : cap - 1;
				memcpy(buf, p + klen + 1, m);
				buf[m] = '\0';
			}
			return 0;
		}
		p += len + (eol ? 1 : 0);
	}
	return DANN_ENOTFOUND;
}

/* The props text with key set to value (value NULL: removed). */
static int edit(const char *props, const char *key, const char *value, char *out, size_t cap)
{
	size_t klen = strlen(key), n = 0;

	for (const char *p = props; *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (!(len > klen && !strncmp(p, key, klen) && p[klen] == '=')) {
			if (n + len + 2 > cap)
				return -1;
			memcpy(out + n, p, len);
			n += len;
			out[n++] = '\n';
		}
		p += len + (eol ? 1 : 0);
	}
	if (value) {
		int w = snprintf(out + n, cap - n, "%s=%s\n", key, value);
		if (w < 0 || (size_t)w >= cap - n)
			return -1;
		n += (size_t)w;
	}
	out[n] = '\0';
	return 0;
}

static int set_locked(struct dann_coll *c, const char *key, const char *value)
{
	struct dann_cat_coll *cc = calloc(1, sizeof *cc);
	int rc;

	if (!cc)
		return dann_fail(DANN_ENOMEM, "%s: properties", c->schema.name);
	cc->id = c->id;
	cc->schema = c->schema;
	if (edit(c->props, key, value, cc->props, sizeof cc->props) < 0) {
		free(cc);
		return dann_fail(DANN_EINVAL, "%s: properties would pass %d bytes", c->schema.name,
				 DANN_CAT_PROPS_MAX);
	}
	if ((rc = c->db->cat->coll_update(c->db->cat_ctx, cc)) == 0)
		memcpy(c->props, cc->props, sizeof c->props);
	free(cc);
	return rc;
}

int seg_prop_set_str_locked(struct dann_coll *c, const char *key, const char *value)
{
	return set_locked(c, key, value);
}

int seg_prop_set_locked(struct dann_coll *c, const char *key, uint64_t value)
{
	char v[32];

	snprintf(v, sizeof v, "%llu", (unsigned long long)value);
	return set_locked(c, key, v);
}

static int check_text(const struct dann_coll *c, const char *what, const char *s, bool key)
{
	if (!s || (key && !*s))
		return dann_fail(DANN_EINVAL, "%s: property %s is empty", c->schema.name, what);
	for (const char *p = s; *p; p++)
		if (*p == '\n' || (key && *p == '='))
			return dann_fail(DANN_EINVAL, "%s: property %s \"%s\" may not hold '%c'",
					 c->schema.name, what, s, *p == '\n' ? ' ' : '=');
	return 0;
}

int dann_coll_set_prop(struct dann_coll *c, const char *key, const char *value)
{
	int rc;

	if (!c)
		return dann_fail(DANN_EINVAL, "set_prop: no collection");
	if ((rc = check_text(c, "key", key, true)) < 0 || (rc = check_text(c, "value", value, false)) < 0)
		return rc;
	if (!strncmp(key, "dann.", 5))
		return dann_fail(DANN_EINVAL, "%s: property keys starting with \"dann.\" are reserved",
				 c->schema.name);
	pthread_mutex_lock(&c->mu);
	rc = atomic_load(&c->dropped)
		     ? dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name)
		     : set_locked(c, key, value);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int get_prop(struct dann_coll *c, const char *key, char *buf, size_t cap, bool wait)
{
	int rc;

	if (!c || !key)
		return dann_fail(DANN_EINVAL, "get_prop: no collection or key");
	if (wait)
		pthread_mutex_lock(&c->mu);
	else if (pthread_mutex_trylock(&c->mu) != 0)
		return dann_fail(DANN_EBUSY, "%s: property %s: the collection is busy", c->schema.name, key);
	if (atomic_load(&c->dropped))
		rc = dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	else if ((rc = seg_prop_find(c->props, key, buf, cap)) < 0)
		rc = dann_fail(DANN_ENOTFOUND, "%s: no property \"%s\"", c->schema.name, key);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int dann_coll_get_prop(struct dann_coll *c, const char *key, char *buf, size_t cap)
{
	return get_prop(c, key, buf, cap, true);
}

int dann_coll_get_prop_nowait(struct dann_coll *c, const char *key, char *buf, size_t cap)
{
	return get_prop(c, key, buf, cap, false);
}
