/*
 * fields_file.c — reading a JSON-lines field file into columns (see
 * fields_file.h). The whole file is parsed and checked before anything is
 * written, so a bad line changes nothing.
 */
#include "fields_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/error.h"

#define META "$meta"

struct col_buf {
	struct dann_field f;        /* the field ($meta: a nullable JSON field) */
	size_t esz;                 /* 0 for varchar / JSON */
	uint8_t *vals;
	size_t vals_cap, bytes;
	uint64_t *offs;
	uint8_t *valid;
};

struct fields_file {
	uint64_t n, cap;
	uint32_t ncols;
	struct col_buf col[DANN_MAX_FIELDS + 1];
};

static size_t esize(enum dann_field_type t)
{
	switch (t) {
	case DANN_FIELD_BOOL: case DANN_FIELD_INT8: return 1;
	case DANN_FIELD_INT16: return 2;
	case DANN_FIELD_INT32: case DANN_FIELD_FLOAT: return 4;
	case DANN_FIELD_INT64: case DANN_FIELD_DOUBLE: return 8;
	default: return 0;
	}
}

static int grow_rows(struct fields_file *f)
{
	uint64_t cap = f->cap ? f->cap * 2 : 1024;

	for (uint32_t i = 0; i < f->ncols; i++) {
		struct col_buf *c = &f->col[i];
		uint8_t *valid = realloc(c->valid, cap);
		if (!valid)
			return DANN_ENOMEM;
		c->valid = valid;
		if (c->esz) {
			uint8_t *v = realloc(c->vals, cap * c->esz);
			if (!v)
				return DANN_ENOMEM;
			c->vals = v;
		} else {
			uint64_t *o = realloc(c->offs, (cap + 1) * sizeof *o);
			if (!o)
				return DANN_ENOMEM;
			if (!c->offs)
				o[0] = 0;
			c->offs = o;
		}
	}
	f->cap = cap;
	return 0;
}

static int put_bytes(struct col_buf *c, uint64_t row, const char *s, size_t n)
{
	if (c->bytes + n > c->vals_cap) {
		size_t cap = c->vals_cap ? c->vals_cap : 4096;
		uint8_t *v;
		while (cap < c->bytes + n)
			cap *= 2;
		if (!(v = realloc(c->vals, cap)))
			return DANN_ENOMEM;
		c->vals = v;
		c->vals_cap = cap;
	}
	if (n)
		memcpy(c->vals + c->bytes, s, n);
	c->bytes += n;
	c->offs[row + 1] = c->bytes;
	return 0;
}

static int bad(const char *path, uint64_t line, const char *field, const char *what)
{
	return dann_fail(DANN_EINVAL, "%s: line %llu: field '%s': %s", path, (unsigned long long)line,
			 field, what);
}

/* Stores item (NULL: null) as row `row` of column c. */
static int put_value(const char *path, uint64_t line, struct col_buf *c, uint64_t row, const cJSON *item)
{
	uint8_t *slot = c->esz ? c->vals + row * c->esz : NULL;
	double d;

	if (!item || cJSON_IsNull(item)) {
		/* null: the engine stores the field's default, if it has one */
		if (!c->f.nullable && !c->f.def.type)
			return bad(path, line, c->f.name, "missing or null, and the field is not nullable "
							   "and has no default");
		c->valid[row] = 0;
		if (slot)
			memset(slot, 0, c->esz);
		return c->esz ? 0 : put_bytes(c, row, "", 0);
	}
	c->valid[row] = 1;
	switch (c->f.type) {
	case DANN_FIELD_BOOL:
		if (!cJSON_IsBool(item))
			return bad(path, line, c->f.name, "expected true or false");
		*slot = cJSON_IsTrue(item);
		return 0;
	case DANN_FIELD_INT8: case DANN_FIELD_INT16: case DANN_FIELD_INT32: case DANN_FIELD_INT64: {
		static const double lim[] = { [DANN_FIELD_INT8] = 128.0, [DANN_FIELD_INT16] = 32768.0,
					      [DANN_FIELD_INT32] = 2147483648.0,
					      [DANN_FIELD_INT64] = 9223372036854775808.0 };
		d = cJSON_IsNumber(item) ? item->valuedouble : NAN;
		if (d != floor(d) || d < -lim[c->f.type] || d >= lim[c->f.type])
			return bad(path, line, c->f.name, "expected an integer in the field's range");
		switch (c->f.type) {
		case DANN_FIELD_INT8: *(int8_t *)slot = (int8_t)d; break;
		case DANN_FIELD_INT16: { int16_t v = (int16_t)d; memcpy(slot, &v, 2); break; }
		case DANN_FIELD_INT32: { int32_t v = (int32_t)d; memcpy(slot, &v, 4); break; }
		default: { int64_t v = (int64_t)d; memcpy(slot, &v, 8); break; }
		}
		return 0;
	}
	case DANN_FIELD_FLOAT: case DANN_FIELD_DOUBLE:
		if (!cJSON_IsNumber(item))
			return bad(path, line, c->f.name, "expected a number");
		if (c->f.type == DANN_FIELD_FLOAT) {
			float v = (float)item->valuedouble;
			memcpy(slot, &v, 4);
		} else {
			memcpy(slot, &item->valuedouble, 8);
		}
		return 0;
	case DANN_FIELD_VARCHAR: {
		size_t n;
		if (!cJSON_IsString(item))
			return bad(path, line, c->f.name, "expected a string");
		if ((n = strlen(item->valuestring)) > c->f.max_length)
			return bad(path, line, c->f.name, "string longer than the field's max_length");
		return put_bytes(c, row, item->valuestring, n);
	}
	default: {
		char *txt = cJSON_PrintUnformatted(item);
		int rc;
		if (!txt)
			return DANN_ENOMEM;
		rc = put_bytes(c, row, txt, strlen(txt));
		cJSON_free(txt);
		return rc;
	}
	}
}

static int read_line(const char *path, uint64_t line, const struct dann_schema *s,
		     struct fields_file *f, const char *text)
{
	cJSON *obj = cJSON_Parse(text), *meta = NULL, *it;
	uint64_t row = f->n;
	int rc = 0;

	if (!obj || !cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return dann_fail(DANN_EINVAL, "%s: line %llu: not a JSON object", path, (unsigned long long)line);
	}
	if (f->n == f->cap && (rc = grow_rows(f)) < 0)
		goto out;
	for (uint32_t i = 0; i < s->nfields && rc == 0; i++)
		rc = put_value(path, line, &f->col[i], row, cJSON_GetObjectItemCaseSensitive(obj, s->fields[i].name));
	cJSON_ArrayForEach(it, obj) {
		int known = !strcmp(it->string, s->pk_field);
		for (uint32_t i = 0; i < s->nfields && !known; i++)
			known = !strcmp(it->string, s->fields[i].name);
		if (known || rc < 0)
			continue;
		if (!s->dynamic_field) {
			rc = bad(path, line, it->string, "no such field (and the collection has no dynamic field)");
			break;
		}
		if (!meta && !(meta = cJSON_CreateObject())) {
			rc = DANN_ENOMEM;
			break;
		}
		cJSON_AddItemReferenceToObject(meta, it->string, it);
	}
	if (rc == 0 && s->dynamic_field)
		rc = put_value(path, line, &f->col[s->nfields], row, meta ? meta : NULL);
	if (rc == 0)
		f->n++;
out:
	cJSON_Delete(meta);
	cJSON_Delete(obj);
	return rc == DANN_ENOMEM ? dann_fail(rc, "%s: no memory at line %llu", path, (unsigned long long)line) : rc;
}

int fields_file_read(const char *path, const struct dann_schema *s, struct fields_file **out)
{
	struct fields_file *f = calloc(1, sizeof *f);
	FILE *fp = NULL;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t line = 0;
	int rc = 0;

	*out = NULL;
	if (!f)
		return dann_fail(DANN_ENOMEM, "%s: no memory", path);
	f->ncols = s->nfields + (s->dynamic_field ? 1 : 0);
	for (uint32_t i = 0; i < s->nfields; i++)
		f->col[i].f = s->fields[i];
	if (s->dynamic_field) {
		snprintf(f->col[s->nfields].f.name, sizeof f->col[0].f.name, "%s", META);
		f->col[s->nfields].f.type = DANN_FIELD_JSON;
		f->col[s->nfields].f.nullable = 1;
	}
	for (uint32_t i = 0; i < f->ncols; i++)
		f->col[i].esz = esize(f->col[i].f.type);
	if (!(fp = fopen(path, "r"))) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot open", path);
		goto out;
	}
	while (rc == 0 && (len = getline(&buf, &cap, fp)) >= 0) {
		line++;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		if (len == 0)
			continue; /* blank lines carry no row */
		rc = read_line(path, line, s, f, buf);
	}
	if (rc == 0 && ferror(fp))
		rc = dann_fail(DANN_EIO, "%s: read error", path);
out:
	free(buf);
	if (fp)
		fclose(fp);
	if (rc < 0) {
		fields_file_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void fields_file_free(struct fields_file *f)
{
	for (uint32_t i = 0; f && i < f->ncols; i++) {
		free(f->col[i].vals);
		free(f->col[i].offs);
		free(f->col[i].valid);
	}
	free(f);
}

uint64_t fields_file_rows(const struct fields_file *f)
{
	return f->n;
}

uint32_t fields_file_slice(const struct fields_file *f, uint64_t first, struct dann_column *cols)
{
	for (uint32_t i = 0; i < f->ncols; i++) {
		const struct col_buf *c = &f->col[i];
		cols[i] = (struct dann_column){ .name = c->f.name, .type = c->f.type,
						.values = c->esz ? (const void *)(c->vals + first * c->esz)
								 : (const void *)c->vals,
						.offsets = c->esz ? NULL : c->offs + first,
						.valid = c->valid + first };
	}
	return f->ncols;
}
