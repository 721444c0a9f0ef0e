/*
 * seg_fetch.c — rows by key: their vectors and scalar fields, from
 * whichever segment holds each key. A field may also name a key inside
 * the dynamic field "$meta"; it comes back as a JSON column (null where
 * the row's $meta lacks it).
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "seg_files.h"

struct out_col {
	int ci;                  /* column of the segment */
	const char *json_key;    /* non-NULL: a key inside $meta */
	size_t esz;
	size_t bytes, cap;
};

void dann_rows_free(struct dann_rows *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; r->cols && i < r->ncols; i++) {
		free((void *)r->cols[i].name);
		free((void *)r->cols[i].values);
		free((void *)r->cols[i].offsets);
		free((void *)r->cols[i].valid);
	}
	free(r->cols);
	free(r->found);
	free(r->vectors);
	free(r);
}

static int resolve(struct dann_coll *c, const char *name, struct out_col *oc, struct dann_column *col)
{
	const struct dann_schema *s = &c->schema;
	int ci = seg_col_index(s, name);

	oc->json_key = NULL;
	if (ci < 0 && s->dynamic_field && strcmp(name, s->pk_field) && strcmp(name, s->vector_field)) {
		ci = (int)s->nfields;
		oc->json_key = name;
	}
	if (ci < 0)
		return dann_fail(DANN_EINVAL, "%s: no field \"%s\" to fetch", s->name, name);
	oc->ci = ci;
	col->type = oc->json_key ? DANN_FIELD_JSON : seg_col_type(s, (uint32_t)ci);
	oc->esz = seg_field_size(col->type);
	if (!(col->name = strdup(name)))
		return dann_fail(DANN_ENOMEM, "fetch");
	return 0;
}

static int alloc_col(struct dann_column *col, const struct out_col *oc, uint64_t n)
{
	col->valid = calloc(n ? n : 1, 1);
	col->values = calloc(oc->esz ? (n ? n : 1) * oc->esz : 1, 1);
	if (!oc->esz)
		col->offsets = calloc(n + 1, sizeof *col->offsets);
	if (!col->valid || !col->values || (!oc->esz && !col->offsets))
		return dann_fail(DANN_ENOMEM, "fetch: column %s", col->name);
	return 0;
}

/* Picks json_key out of a $meta document: v becomes its JSON text. */
static int meta_key(struct seg_val *v, const char *key)
{
	cJSON *doc, *item;
	char *txt = NULL;

	if (!v->valid)
		return 0;
	doc = cJSON_ParseWithLength(v->var, v->len);
	item = doc ? cJSON_GetObjectItemCaseSensitive(doc, key) : NULL;
	if (item)
		txt = cJSON_PrintUnformatted(item);
	cJSON_Delete(doc);
	free(v->var);
	v->var = txt;
	v->len = txt ? strlen(txt) : 0;
	v->valid = txt != NULL;
	return 0;
}

static int put_value(struct dann_column *col, struct out_col *oc, uint64_t i, struct seg_val *v)
{
	uint64_t *offs = (uint64_t *)col->offsets;

	((uint8_t *)col->valid)[i] = (uint8_t)(v->valid != 0);
	if (oc->esz) {
		memcpy((uint8_t *)col->values + i * oc->esz, &v->fixed, oc->esz);
		return 0;
	}
	if (v->valid && v->len) {
		if (oc->bytes + v->len > oc->cap) {
			size_t nc = (oc->bytes + v->len) * 2;
			void *p = realloc((void *)col->values, nc);
			if (!p)
				return dann_fail(DANN_ENOMEM, "fetch: column %s", col->name);
			col->values = p;
			oc->cap = nc;
		}
		memcpy((uint8_t *)col->values + oc->bytes, v->var, v->len);
		oc->bytes += v->len;
	}
	offs[i + 1] = oc->bytes;
	return 0;
}

static int fetch_row(struct dann_coll *c, struct dann_rows *r, struct out_col *oc, uint64_t i,
		     int64_t key, int with_vectors)
{
	struct seg *s = NULL;
	uint64_t row = 0;
	int rc;

	if ((rc = seg_locate(c, key, &s, &row)) == DANN_ENOTFOUND && !atomic_load(&c->dropped)) {
		dann_clear_error();
		for (uint32_t j = 0; j < r->ncols; j++)
			if (!oc[j].esz)
				((uint64_t *)r->cols[j].offsets)[i + 1] = oc[j].bytes;
		return 0;
	}
	if (rc < 0)
		return rc;
	r->found[i] = 1;
	if (with_vectors) {
		uint8_t *dst = (uint8_t *)r->vectors + i * c->row_bytes;
		if (s->disk)
			rc = seg_disk_vector(c, s, row, dst);
		else
			seg_mem_vector(c, s->mem, row, dst);
	}
	for (uint32_t j = 0; j < r->ncols && rc == 0; j++) {
		struct seg_val v;
		if ((rc = seg_col_get(c, s, (uint32_t)oc[j].ci, row, &v)) == 0 &&
		    (!oc[j].json_key || (rc = meta_key(&v, oc[j].json_key)) == 0))
			rc = put_value(&r->cols[j], &oc[j], i, &v);
		free(v.var);
	}
	seg_unref(s);
	return rc;
}

int dann_coll_fetch(struct dann_coll *c, const int64_t *keys, uint64_t n, const char *const *fields,
		    uint32_t nfields, int with_vectors, struct dann_rows **out)
{
	struct dann_rows *r;
	struct out_col *oc = NULL;
	int rc = 0;

	if (!c || !out || (n && !keys) || (nfields && !fields))
		return dann_fail(DANN_EINVAL, "fetch: no collection, keys, fields or output");
	if (nfields > DANN_MAX_FIELDS + 1)
		return dann_fail(DANN_EINVAL, "%s: %u fields to fetch, at most %d", c->schema.name,
				 nfields, DANN_MAX_FIELDS + 1);
	if (!(r = calloc(1, sizeof *r)) || !(r->found = calloc(n ? n : 1, 1)) ||
	    (nfields && (!(r->cols = calloc(nfields, sizeof *r->cols)) ||
			 !(oc = calloc(nfields, sizeof *oc)))) ||
	    (with_vectors && !(r->vectors = calloc(n ? n : 1, c->row_bytes)))) {
		rc = dann_fail(DANN_ENOMEM, "fetch of %llu rows", (unsigned long long)n);
		goto out;
	}
	r->n = n;
	for (uint32_t j = 0; j < nfields && rc == 0; j++) {
		r->ncols = j + 1;
		if ((rc = resolve(c, fields[j], &oc[j], &r->cols[j])) == 0)
			rc = alloc_col(&r->cols[j], &oc[j], n);
	}
	for (uint64_t i = 0; i < n && rc == 0; i++)
		rc = fetch_row(c, r, oc, i, keys[i], with_vectors);
out:
	free(oc);
	if (rc < 0) {
		dann_rows_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
