/*
 * tier_snapshot.c — a collection's record in the bucket, and restoring a
 * data directory's segments from it.
 *
 * The object is "DANNSNAP 1 <crc32c of the rest, hex>\n" then JSON: the
 * collection's id, properties and schema, and each uploaded segment's
 * catalog record. JSON because it outlives builds and machines (no struct
 * layout in it) and an operator can read it; the header's CRC catches a
 * damaged object before any of it is believed. Everything read is checked
 * as if it came from a stranger: ranges, and paths that must stay inside
 * the data directory.
 */
#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "tier.h"

#define SNAP_MAGIC "DANNSNAP 1 "
#define SNAP_MAX_BYTES (64u << 20)

/* A field's default; "i" is a string, as a JSON number is a double. */
static cJSON *default_json(const struct dann_default *d)
{
	cJSON *j = cJSON_CreateObject();
	char num[24];

	snprintf(num, sizeof num, "%lld", (long long)d->i);
	cJSON_AddNumberToObject(j, "type", d->type);
	cJSON_AddStringToObject(j, "i", num);
	cJSON_AddNumberToObject(j, "d", d->d);
	cJSON_AddStringToObject(j, "s", d->s);
	return j;
}

static cJSON *schema_json(const struct dann_schema *s)
{
	cJSON *j = cJSON_CreateObject(), *ix = cJSON_CreateObject(), *fs = cJSON_CreateArray();
	uint32_t i;

	cJSON_AddStringToObject(j, "name", s->name);
	cJSON_AddStringToObject(j, "description", s->description);
	cJSON_AddStringToObject(j, "pk_field", s->pk_field);
	cJSON_AddStringToObject(j, "vector_field", s->vector_field);
	cJSON_AddNumberToObject(j, "dim", s->dim);
	cJSON_AddNumberToObject(j, "dtype", s->dtype);
	cJSON_AddNumberToObject(j, "auto_id", s->auto_id);
	cJSON_AddNumberToObject(j, "dynamic_field", s->dynamic_field);
	cJSON_AddNumberToObject(j, "seal_rows", (double)s->seal_rows);
	cJSON_AddNumberToObject(j, "seal_bytes", (double)s->seal_bytes);
	cJSON_AddNumberToObject(ix, "metric", s->index.metric);
	cJSON_AddNumberToObject(ix, "R", s->index.R);
	cJSON_AddNumberToObject(ix, "L", s->index.L);
	cJSON_AddNumberToObject(ix, "alpha", s->index.alpha);
	cJSON_AddNumberToObject(ix, "pq_bytes", s->index.pq_bytes);
	cJSON_AddNumberToObject(ix, "build_ram_gib", s->index.build_ram_gib);
	cJSON_AddNumberToObject(ix, "opq", s->index.opq);
	cJSON_AddItemToObject(j, "index", ix);
	for (i = 0; i < s->nfields && i < DANN_MAX_FIELDS; i++) {
		cJSON *f = cJSON_CreateObject();

		cJSON_AddStringToObject(f, "name", s->fields[i].name);
		cJSON_AddNumberToObject(f, "type", s->fields[i].type);
		cJSON_AddNumberToObject(f, "max_length", s->fields[i].max_length);
		cJSON_AddNumberToObject(f, "nullable", s->fields[i].nullable);
		if (s->fields[i].def.type)
			cJSON_AddItemToObject(f, "default", default_json(&s->fields[i].def));
		cJSON_AddItemToArray(fs, f);
	}
	cJSON_AddItemToObject(j, "fields", fs);
	return j;
}

static cJSON *seg_json(const struct dann_cat_segment *g)
{
	cJSON *j = cJSON_CreateObject();
	char num[24];

	/* 64-bit counters as strings: a JSON number is a double */
	snprintf(num, sizeof num, "%llu", (unsigned long long)g->id);
	cJSON_AddStringToObject(j, "id", num);
	snprintf(num, sizeof num, "%llu", (unsigned long long)g->rows);
	cJSON_AddStringToObject(j, "rows", num);
	snprintf(num, sizeof num, "%llu", (unsigned long long)g->first_lsn);
	cJSON_AddStringToObject(j, "first_lsn", num);
	snprintf(num, sizeof num, "%llu", (unsigned long long)g->last_lsn);
	cJSON_AddStringToObject(j, "last_lsn", num);
	snprintf(num, sizeof num, "%08x", g->manifest_crc);
	cJSON_AddStringToObject(j, "manifest_crc", num);
	cJSON_AddStringToObject(j, "files", g->files);
	cJSON_AddStringToObject(j, "object_key", g->object_key);
	return j;
}

int tier_snapshot_put(struct obj_store *s, const char *key, const struct dann_cat_coll *c,
		      const struct dann_cat_segment *segs, size_t n)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	char num[24], *text = NULL, *buf = NULL;
	size_t i, tlen, hlen;
	int rc;

	if (!root || !arr) {
		rc = dann_fail(DANN_ENOMEM, "tier_snapshot_put %s", key);
		goto out;
	}
	snprintf(num, sizeof num, "%llu", (unsigned long long)c->id);
	cJSON_AddStringToObject(root, "coll_id", num);
	cJSON_AddStringToObject(root, "props", c->props);
	cJSON_AddItemToObject(root, "schema", schema_json(&c->schema));
	for (i = 0; i < n; i++)
		if (segs[i].coll_id == c->id && segs[i].state == DANN_SEG_FLUSHED && segs[i].object_key[0])
			cJSON_AddItemToArray(arr, seg_json(&segs[i]));
	cJSON_AddItemToObject(root, "segments", arr);
	arr = NULL;
	if (!(text = cJSON_PrintUnformatted(root))) {
		rc = dann_fail(DANN_ENOMEM, "tier_snapshot_put %s", key);
		goto out;
	}
	tlen = strlen(text);
	if (!(buf = malloc(tlen + 64))) {
		rc = dann_fail(DANN_ENOMEM, "tier_snapshot_put %s", key);
		goto out;
	}
	hlen = (size_t)snprintf(buf, 64, SNAP_MAGIC "%08x\n", crc32c(0, text, tlen));
	memcpy(buf + hlen, text, tlen);
	rc = obj_put(s, key, buf, hlen + tlen);
out:
	cJSON_Delete(arr);
	cJSON_Delete(root);
	free(text);
	free(buf);
	return rc;
}

/* ---- reading, with every field checked ---- */

struct rd {
	const char *key;
	int rc;
};

static int bad(struct rd *r, const char *what)
{
	if (r->rc == 0)
		r->rc = dann_fail(DANN_ECORRUPT, "snapshot %s: %s", r->key, what);
	return r->rc;
}

static void get_str(struct rd *r, const cJSON *o, const char *name, char *out, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char msg[128];

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap) {
		snprintf(msg, sizeof msg, "field \"%s\" missing, not a string or over %zu bytes", name, cap - 1);
		bad(r, msg);
		out[0] = 0;
		return;
	}
	strcpy(out, v->valuestring);
}

static double get_num(struct rd *r, const cJSON *o, const char *name, double lo, double hi)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char msg[160];

	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) {
		snprintf(msg, sizeof msg, "field \"%s\" missing or outside %g..%g", name, lo, hi);
		bad(r, msg);
		return lo;
	}
	return v->valuedouble;
}

static uint64_t get_u64(struct rd *r, const cJSON *o, const char *name)
{
	char s[24], *e, msg[128];
	unsigned long long v;

	get_str(r, o, name, s, sizeof s);
	v = strtoull(s, &e, 10);
	if (r->rc == 0 && (!s[0] || *e)) {
		snprintf(msg, sizeof msg, "field \"%s\" is not a decimal count", name);
		bad(r, msg);
	}
	return v;
}

/* A field's default (absent in snapshots written before defaults: none). */
static void get_default(struct rd *r, const cJSON *j, struct dann_default *d)
{
	char num[24], *e;

	if (!j)
		return;
	d->type = (enum dann_field_type)get_num(r, j, "type", DANN_FIELD_BOOL, DANN_FIELD_VARCHAR);
	get_str(r, j, "i", num, sizeof num);
	d->i = strtoll(num, &e, 10);
	if (r->rc == 0 && (!num[0] || *e))
		bad(r, "a default's \"i\" is not a decimal integer");
	d->d = get_num(r, j, "d", -DBL_MAX, DBL_MAX);
	get_str(r, j, "s", d->s, sizeof d->s);
	d->len = (uint32_t)strlen(d->s);
}

static void read_schema(struct rd *r, const cJSON *j, struct dann_schema *s)
{
	const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
	const cJSON *fs = cJSON_GetObjectItemCaseSensitive(j, "fields"), *f;
	uint32_t i = 0;

	if (!cJSON_IsObject(j) || !cJSON_IsObject(ix) || !cJSON_IsArray(fs)) {
		bad(r, "schema, its index or its fields missing");
		return;
	}
	get_str(r, j, "name", s->name, sizeof s->name);
	get_str(r, j, "description", s->description, sizeof s->description);
	get_str(r, j, "pk_field", s->pk_field, sizeof s->pk_field);
	get_str(r, j, "vector_field", s->vector_field, sizeof s->vector_field);
	s->dim = (uint32_t)get_num(r, j, "dim", 1, DANN_MAX_DIM);
	s->dtype = (enum dann_dtype)get_num(r, j, "dtype", DANN_DTYPE_F32, DANN_DTYPE_I8);
	s->auto_id = (int)get_num(r, j, "auto_id", 0, 1);
	s->dynamic_field = (int)get_num(r, j, "dynamic_field", 0, 1);
	s->seal_rows = (uint64_t)get_num(r, j, "seal_rows", 0, 1e18);
	s->seal_bytes = (uint64_t)get_num(r, j, "seal_bytes", 0, 1e18);
	s->index.metric = (enum dann_metric)get_num(r, ix, "metric", DANN_METRIC_L2, DANN_METRIC_COSINE);
	s->index.R = (uint32_t)get_num(r, ix, "R", 0, 1 << 16);
	s->index.L = (uint32_t)get_num(r, ix, "L", 0, 1 << 16);
	s->index.alpha = (float)get_num(r, ix, "alpha", 0, 100);
	s->index.pq_bytes = (uint32_t)get_num(r, ix, "pq_bytes", 0, DANN_MAX_DIM);
	s->index.build_ram_gib = get_num(r, ix, "build_ram_gib", 0, 1e9);
	/* snapshots written before OPQ lack it: plain PQ */
	if (cJSON_GetObjectItemCaseSensitive(ix, "opq"))
		s->index.opq = (int)get_num(r, ix, "opq", 0, 1);
	if (cJSON_GetArraySize(fs) > DANN_MAX_FIELDS) {
		bad(r, "more fields than DANN_MAX_FIELDS");
		return;
	}
	cJSON_ArrayForEach(f, fs)
	{
		get_str(r, f, "name", s->fields[i].name, sizeof s->fields[i].name);
		s->fields[i].type = (enum dann_field_type)get_num(r, f, "type", DANN_FIELD_BOOL, DANN_FIELD_JSON);
		s->fields[i].max_length = (uint32_t)get_num(r, f, "max_length", 0, 65535);
		s->fields[i].nullable = (int)get_num(r, f, "nullable", 0, 1);
		get_default(r, cJSON_GetObjectItemCaseSensitive(f, "default"), &s->fields[i].def);
		i++;
	}
	s->nfields = i;
}

/* A segment directory must stay inside the data directory. */
static int safe_relative(const char *p)
{
	return p[0] && p[0] != '/' && !strstr(p, "..") && !strstr(p, "//") && !strstr(p, "./");
}

static void read_segment(struct rd *r, const cJSON *j, uint64_t coll_id, struct dann_cat_segment *g)
{
	char crc[16], *e, msg[600];

	if (!cJSON_IsObject(j)) {
		bad(r, "a segment is not an object");
		return;
	}
	g->id = get_u64(r, j, "id");
	g->coll_id = coll_id;
	g->state = DANN_SEG_FLUSHED;
	g->rows = get_u64(r, j, "rows");
	g->first_lsn = get_u64(r, j, "first_lsn");
	g->last_lsn = get_u64(r, j, "last_lsn");
	get_str(r, j, "manifest_crc", crc, sizeof crc);
	g->manifest_crc = (uint32_t)strtoul(crc, &e, 16);
	if (r->rc == 0 && (strlen(crc) != 8 || *e))
		bad(r, "manifest_crc is not 8 hex digits");
	get_str(r, j, "files", g->files, sizeof g->files);
	get_str(r, j, "object_key", g->object_key, sizeof g->object_key);
	if (r->rc == 0 && !safe_relative(g->files)) {
		snprintf(msg, sizeof msg, "segment directory \"%.500s\" is not a plain relative path", g->files);
		bad(r, msg);
	}
	if (r->rc == 0 && obj_key_check(g->object_key) < 0) {
		snprintf(msg, sizeof msg, "segment object key \"%.500s\" is not a valid key", g->object_key);
		bad(r, msg);
	}
}

static int parse(struct rd *r, const char *text, struct tier_snapshot *out)
{
	cJSON *root = cJSON_Parse(text), *segs, *g;
	size_t i = 0;

	if (!root)
		return bad(r, "not JSON");
	out->coll.id = get_u64(r, root, "coll_id");
	get_str(r, root, "props", out->coll.props, sizeof out->coll.props);
	read_schema(r, cJSON_GetObjectItemCaseSensitive(root, "schema"), &out->coll.schema);
	segs = cJSON_GetObjectItemCaseSensitive(root, "segments");
	if (!cJSON_IsArray(segs))
		bad(r, "\"segments\" missing");
	if (r->rc == 0 && cJSON_GetArraySize(segs) > 0 &&
	    !(out->segs = calloc((size_t)cJSON_GetArraySize(segs), sizeof *out->segs)))
		r->rc = dann_fail(DANN_ENOMEM, "snapshot %s", r->key);
	if (r->rc == 0)
		cJSON_ArrayForEach(g, segs)
			read_segment(r, g, out->coll.id, &out->segs[i++]);
	out->nsegs = i;
	cJSON_Delete(root);
	return r->rc;
}

int tier_snapshot_get(struct obj_store *s, const char *key, struct tier_snapshot *out)
{
	struct rd r = { key, 0 };
	char *buf = NULL, *nl, *e;
	size_t len;
	uint32_t want;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = obj_get_all(s, key, SNAP_MAX_BYTES, (void **)&buf, &len)) < 0)
		return rc;
	nl = memchr(buf, '\n', len);
	if (len < sizeof SNAP_MAGIC || strncmp(buf, SNAP_MAGIC, sizeof SNAP_MAGIC - 1) != 0 || !nl) {
		rc = bad(&r, "no DANNSNAP 1 header");
		goto out;
	}
	want = (uint32_t)strtoul(buf + sizeof SNAP_MAGIC - 1, &e, 16);
	if (e != nl || crc32c(0, nl + 1, len - (size_t)(nl + 1 - buf)) != want) {
		rc = bad(&r, "checksum does not match its contents");
		goto out;
	}
	rc = parse(&r, nl + 1, out);
out:
	free(buf);
	if (rc < 0)
		tier_snapshot_free(out);
	return rc;
}

void tier_snapshot_free(struct tier_snapshot *snap)
{
	free(snap->segs);
	snap->segs = NULL;
	snap->nsegs = 0;
}

int tier_restore(struct obj_store *s, const struct tier_snapshot *snap, const char *data_dir, uint64_t *restored)
{
	size_t i;
	int rc;

	if (restored)
		*restored = 0;
	for (i = 0; i < snap->nsegs; i++) {
		const struct dann_cat_segment *g = &snap->segs[i];
		char dir[PATH_MAX], parent[PATH_MAX], *slash;
		struct stat st;

		if ((size_t)snprintf(dir, sizeof dir, "%s/%s", data_dir, g->files) >= sizeof dir)
			return dann_fail(DANN_EINVAL, "tier_restore: %s/%s: path too long", data_dir, g->files);
		if (stat(dir, &st) == 0)
			continue; /* already here: whole, since directories appear only by rename */
		strcpy(parent, dir);
		slash = strrchr(parent, '/');
		*slash = 0;
		if ((rc = fsu_mkdirs(parent)) < 0)
			return rc;
		if ((rc = tier_fetch_dir(s, g->object_key, dir, g->manifest_crc)) < 0)
			return dann_fail_wrap(rc, "restoring segment %llu of %s", (unsigned long long)g->id,
					      snap->coll.schema.name);
		if (restored)
			(*restored)++;
	}
	return 0;
}
