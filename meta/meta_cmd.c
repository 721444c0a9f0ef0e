/*
 * meta_cmd.c — encoding and decoding of catalog commands (meta_cmd.h).
 *
 * The codec checks structure only (lengths, ranges, checksum); whether a
 * command makes sense against the catalog (a name taken, an id unknown) is
 * the state machine's decision, made the same way on every node.
 */
#include "meta_cmd.h"

#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "error.h"
#include "meta_buf.h"

#define CMD_HEADER_BYTES 28  /* magic, version, type, client, seq, payload length */
#define META_INDEX_HAS_FLAGS 0x80u  /* in the schema's metric byte */
#define META_INDEX_FLAG_OPQ 1u      /* index.opq */

const char *meta_cmd_name(enum meta_cmd_type t)
{
	switch (t) {
	case META_CMD_COLL_CREATE: return "coll_create";
	case META_CMD_COLL_DROP: return "coll_drop";
	case META_CMD_COLL_UPDATE: return "coll_update";
	case META_CMD_SEG_APPLY: return "seg_apply";
	case META_CMD_ALLOC: return "alloc";
	case META_CMD_USER_CREATE: return "user_create";
	case META_CMD_USER_DROP: return "user_drop";
	case META_CMD_USER_PASSWORD: return "user_password";
	case META_CMD_USER_ROLES: return "user_roles";
	case META_CMD_COLL_IMPORT: return "coll_import";
	case META_CMD_COLL_CREATE_PROPS: return "coll_create_props";
	}
	return "unknown";
}

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static uint64_t f64_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	return u;
}

void meta_put_schema(struct meta_wbuf *w, const struct dann_schema *s)
{
	uint32_t nf = s->nfields > DANN_MAX_FIELDS ? DANN_MAX_FIELDS : s->nfields;

	meta_put_str(w, s->name, DANN_NAME_MAX);
	meta_put_str(w, s->description, DANN_NAME_MAX);
	meta_put_str(w, s->pk_field, DANN_NAME_MAX);
	meta_put_str(w, s->vector_field, DANN_NAME_MAX);
	meta_put_u32(w, s->dim);
	meta_put_u8(w, (uint8_t)s->dtype);
	meta_put_u8(w, (uint8_t)(s->auto_id != 0));
	meta_put_u8(w, (uint8_t)(s->dynamic_field != 0));
	meta_put_u32(w, nf);
	for (uint32_t i = 0; i < nf; i++) {
		const struct dann_default *d = &s->fields[i].def;

		meta_put_str(w, s->fields[i].name, DANN_NAME_MAX);
		meta_put_u8(w, (uint8_t)s->fields[i].type);
		meta_put_u32(w, s->fields[i].max_length);
		/* bit 1 of the nullable byte: a default follows (older
		 * encodings have 0 or 1 here, so they read as no default) */
		meta_put_u8(w, (uint8_t)((s->fields[i].nullable != 0) | (d->type ? 2 : 0)));
		if (d->type) {
			meta_put_u8(w, (uint8_t)d->type);
			meta_put_u64(w, (uint64_t)d->i);
			meta_put_u64(w, f64_bits(d->d));
			meta_put_str(w, d->s, DANN_DEFAULT_MAX);
		}
	}
	/* bit 7 of the metric byte: a u32 of index flags follows (older
	 * encodings have the metric alone, 0..2, so they read as no flags) */
	meta_put_u8(w, (uint8_t)(s->index.metric | (s->index.opq ? META_INDEX_HAS_FLAGS : 0)));
	if (s->index.opq)
		meta_put_u32(w, META_INDEX_FLAG_OPQ);
	meta_put_u32(w, s->index.R);
	meta_put_u32(w, s->index.L);
	meta_put_u32(w, f32_bits(s->index.alpha));
	meta_put_u32(w, s->index.pq_bytes);
	meta_put_u64(w, f64_bits(s->index.build_ram_gib));
	meta_put_u64(w, s->seal_rows);
	meta_put_u64(w, s->seal_bytes);
}

void meta_get_schema(struct meta_rbuf *r, struct dann_schema *s)
{
	uint32_t u32;
	uint64_t u64;

	memset(s, 0, sizeof *s);
	meta_get_str(r, s->name, sizeof s->name, "schema.name");
	meta_get_str(r, s->description, sizeof s->description, "schema.description");
	meta_get_str(r, s->pk_field, sizeof s->pk_field, "schema.pk_field");
	meta_get_str(r, s->vector_field, sizeof s->vector_field, "schema.vector_field");
	s->dim = meta_get_u32(r, "schema.dim");
	s->dtype = (enum dann_dtype)meta_get_u8(r, "schema.dtype");
	if (s->dtype > DANN_DTYPE_I8)
		meta_rbuf_bad(r, "schema.dtype: %d, expected 0..2", (int)s->dtype);
	s->auto_id = meta_get_u8(r, "schema.auto_id");
	s->dynamic_field = meta_get_u8(r, "schema.dynamic_field");
	s->nfields = meta_get_u32(r, "schema.nfields");
	if (s->nfields > DANN_MAX_FIELDS) {
		meta_rbuf_bad(r, "schema.nfields: %u, at most %d", s->nfields, DANN_MAX_FIELDS);
		s->nfields = 0;
	}
	for (uint32_t i = 0; i < s->nfields && !r->err; i++) {
		struct dann_field *f = &s->fields[i];

		meta_get_str(r, f->name, sizeof f->name, "schema.field.name");
		f->type = (enum dann_field_type)meta_get_u8(r, "schema.field.type");
		if (!r->err && (f->type < DANN_FIELD_BOOL || f->type > DANN_FIELD_JSON))
			meta_rbuf_bad(r, "schema.field[%u].type: %d, expected 1..9", i, (int)f->type);
		f->max_length = meta_get_u32(r, "schema.field.max_length");
		uint8_t flags = meta_get_u8(r, "schema.field.nullable");
		f->nullable = flags & 1;
		if (flags & 2) {
			f->def.type = (enum dann_field_type)meta_get_u8(r, "schema.field.default.type");
			f->def.i = (int64_t)meta_get_u64(r, "schema.field.default.i");
			u64 = meta_get_u64(r, "schema.field.default.d");
			memcpy(&f->def.d, &u64, 8);
			meta_get_str(r, f->def.s, sizeof f->def.s, "schema.field.default.s");
			f->def.len = (uint32_t)strlen(f->def.s);
		}
	}
	u32 = meta_get_u8(r, "schema.index.metric");
	s->index.metric = (enum dann_metric)(u32 & ~META_INDEX_HAS_FLAGS);
	if (s->index.metric > DANN_METRIC_COSINE)
		meta_rbuf_bad(r, "schema.index.metric: %d, expected 0..2", (int)s->index.metric);
	if (u32 & META_INDEX_HAS_FLAGS) {
		u32 = meta_get_u32(r, "schema.index.flags");
		if (u32 & ~META_INDEX_FLAG_OPQ)
			meta_rbuf_bad(r, "schema.index.flags: 0x%x, this build knows 0x%x", u32,
				      META_INDEX_FLAG_OPQ);
		s->index.opq = (u32 & META_INDEX_FLAG_OPQ) != 0;
	}
	s->index.R = meta_get_u32(r, "schema.index.R");
	s->index.L = meta_get_u32(r, "schema.index.L");
	u32 = meta_get_u32(r, "schema.index.alpha");
	memcpy(&s->index.alpha, &u32, 4);
	s->index.pq_bytes = meta_get_u32(r, "schema.index.pq_bytes");
	u64 = meta_get_u64(r, "schema.index.build_ram_gib");
	memcpy(&s->index.build_ram_gib, &u64, 8);
	s->seal_rows = meta_get_u64(r, "schema.seal_rows");
	s->seal_bytes = meta_get_u64(r, "schema.seal_bytes");
}

void meta_put_coll(struct meta_wbuf *w, const struct dann_cat_coll *c)
{
	meta_put_u64(w, c->id);
	meta_put_schema(w, &c->schema);
	meta_put_str(w, c->props, DANN_CAT_PROPS_MAX - 1);
}

void meta_get_coll(struct meta_rbuf *r, struct dann_cat_coll *c)
{
	c->id = meta_get_u64(r, "coll.id");
	meta_get_schema(r, &c->schema);
	meta_get_str(r, c->props, sizeof c->props, "coll.props");
}

void meta_put_segment(struct meta_wbuf *w, const struct dann_cat_segment *s)
{
	meta_put_u64(w, s->id);
	meta_put_u64(w, s->coll_id);
	meta_put_u8(w, (uint8_t)s->state);
	meta_put_u64(w, s->rows);
	meta_put_u64(w, s->first_lsn);
	meta_put_u64(w, s->last_lsn);
	meta_put_u32(w, s->manifest_crc);
	meta_put_str(w, s->files, DANN_CAT_FILES_MAX - 1);
	meta_put_str(w, s->object_key, DANN_CAT_FILES_MAX - 1);
}

void meta_get_segment(struct meta_rbuf *r, struct dann_cat_segment *s)
{
	memset(s, 0, sizeof *s);
	s->id = meta_get_u64(r, "segment.id");
	s->coll_id = meta_get_u64(r, "segment.coll_id");
	s->state = (enum dann_seg_state)meta_get_u8(r, "segment.state");
	if (s->state > DANN_SEG_DROPPED)
		meta_rbuf_bad(r, "segment.state: %d, expected 0..3", (int)s->state);
	s->rows = meta_get_u64(r, "segment.rows");
	s->first_lsn = meta_get_u64(r, "segment.first_lsn");
	s->last_lsn = meta_get_u64(r, "segment.last_lsn");
	s->manifest_crc = meta_get_u32(r, "segment.manifest_crc");
	meta_get_str(r, s->files, sizeof s->files, "segment.files");
	meta_get_str(r, s->object_key, sizeof s->object_key, "segment.object_key");
}

void meta_put_user(struct meta_wbuf *w, const struct meta_user *u)
{
	meta_put_str(w, u->name, META_USER_NAME_MAX);
	meta_put_str(w, u->hash, META_USER_HASH_MAX);
	meta_put_str(w, u->roles, META_USER_ROLES_MAX);
}

void meta_get_user(struct meta_rbuf *r, struct meta_user *u)
{
	meta_get_str(r, u->name, sizeof u->name, "user.name");
	meta_get_str(r, u->hash, sizeof u->hash, "user.hash");
	meta_get_str(r, u->roles, sizeof u->roles, "user.roles");
}

static int put_payload(struct meta_wbuf *w, const struct meta_cmd *c)
{
	const char *name = meta_cmd_name(c->type);

	switch (c->type) {
	case META_CMD_COLL_CREATE:
		if (!c->schema)
			return dann_fail(DANN_EINVAL, "meta command %s: no schema", name);
		meta_put_schema(w, c->schema);
		return 0;
	case META_CMD_COLL_DROP:
		meta_put_u64(w, c->id);
		return 0;
	case META_CMD_COLL_UPDATE:
	case META_CMD_COLL_CREATE_PROPS:
		if (!c->coll)
			return dann_fail(DANN_EINVAL, "meta command %s: no collection", name);
		meta_put_coll(w, c->coll);
		return 0;
	case META_CMD_SEG_APPLY:
		if (c->nsegs == 0 || c->nsegs > META_SEG_APPLY_MAX || !c->segs)
			return dann_fail(DANN_EINVAL, "meta command %s: %u segments, expected 1..%d", name,
					 c->nsegs, META_SEG_APPLY_MAX);
		meta_put_u32(w, c->nsegs);
		for (uint32_t i = 0; i < c->nsegs; i++)
			meta_put_segment(w, &c->segs[i]);
		return 0;
	case META_CMD_ALLOC:
		meta_put_u8(w, (uint8_t)c->counter);
		meta_put_u64(w, c->count);
		return 0;
	case META_CMD_USER_CREATE:
	case META_CMD_USER_DROP:
	case META_CMD_USER_PASSWORD:
	case META_CMD_USER_ROLES:
		meta_put_user(w, &c->user);
		return 0;
	case META_CMD_COLL_IMPORT:
		if (c->nsegs > META_SEG_APPLY_MAX || (c->nsegs && (!c->segs || !c->coll)))
			return dann_fail(DANN_EINVAL, "meta command %s: %u segments, expected 0..%d of a collection",
					 name, c->nsegs, META_SEG_APPLY_MAX);
		for (int i = 0; i < 4; i++)
			meta_put_u64(w, c->counters[i]);
		meta_put_u8(w, c->coll != NULL);
		if (c->coll)
			meta_put_coll(w, c->coll);
		meta_put_u32(w, c->nsegs);
		for (uint32_t i = 0; i < c->nsegs; i++)
			meta_put_segment(w, &c->segs[i]);
		return 0;
	}
	return dann_fail(DANN_EINVAL, "meta command: unknown type %d", (int)c->type);
}

int meta_cmd_encode(const struct meta_cmd *c, void **buf, size_t *len)
{
	struct meta_wbuf w;
	size_t body;
	int rc;

	meta_wbuf_init(&w);
	meta_put_u32(&w, META_CMD_MAGIC);
	meta_put_u16(&w, META_CMD_VERSION);
	meta_put_u16(&w, (uint16_t)c->type);
	meta_put_u64(&w, c->req.client);
	meta_put_u64(&w, c->req.seq);
	meta_put_u32(&w, 0);
	body = w.len;
	if ((rc = put_payload(&w, c)) < 0)
		goto fail;
	meta_patch_u32(&w, body - 4, (uint32_t)(w.len - body));
	if (!w.err)
		meta_put_u32(&w, crc32c(0, w.p, w.len));
	if (w.err) {
		rc = dann_fail(DANN_ENOMEM, "meta command %s: encoding", meta_cmd_name(c->type));
		goto fail;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
fail:
	meta_wbuf_free(&w);
	return rc;
}

static void get_payload(struct meta_rbuf *r, struct meta_cmd *c)
{
	switch (c->type) {
	case META_CMD_COLL_CREATE:
		if (!(c->schema = malloc(sizeof *c->schema)))
			return meta_rbuf_bad(r, "out of memory");
		meta_get_schema(r, c->schema);
		return;
	case META_CMD_COLL_DROP:
		c->id = meta_get_u64(r, "coll_drop.id");
		return;
	case META_CMD_COLL_UPDATE:
	case META_CMD_COLL_CREATE_PROPS:
		if (!(c->coll = calloc(1, sizeof *c->coll)))
			return meta_rbuf_bad(r, "out of memory");
		meta_get_coll(r, c->coll);
		return;
	case META_CMD_SEG_APPLY:
		c->nsegs = meta_get_u32(r, "seg_apply.count");
		if (r->err)
			return;
		if (c->nsegs == 0 || c->nsegs > META_SEG_APPLY_MAX) {
			meta_rbuf_bad(r, "seg_apply.count: %u, expected 1..%d", c->nsegs, META_SEG_APPLY_MAX);
			c->nsegs = 0;
			return;
		}
		if (!(c->segs = calloc(c->nsegs, sizeof *c->segs)))
			return meta_rbuf_bad(r, "out of memory");
		for (uint32_t i = 0; i < c->nsegs && !r->err; i++)
			meta_get_segment(r, &c->segs[i]);
		return;
	case META_CMD_ALLOC:
		c->counter = (enum dann_cat_counter)meta_get_u8(r, "alloc.counter");
		if (c->counter > DANN_CAT_TIMESTAMP)
			meta_rbuf_bad(r, "alloc.counter: %d, expected 0..3", (int)c->counter);
		c->count = meta_get_u64(r, "alloc.count");
		return;
	case META_CMD_USER_CREATE:
	case META_CMD_USER_DROP:
	case META_CMD_USER_PASSWORD:
	case META_CMD_USER_ROLES:
		meta_get_user(r, &c->user);
		return;
	case META_CMD_COLL_IMPORT:
		for (int i = 0; i < 4; i++)
			c->counters[i] = meta_get_u64(r, "coll_import.counter");
		if (meta_get_u8(r, "coll_import.has_coll")) {
			if (!(c->coll = calloc(1, sizeof *c->coll)))
				return meta_rbuf_bad(r, "out of memory");
			meta_get_coll(r, c->coll);
		}
		c->nsegs = meta_get_u32(r, "coll_import.count");
		if (r->err)
			return;
		if (c->nsegs > META_SEG_APPLY_MAX || (c->nsegs && !c->coll)) {
			meta_rbuf_bad(r, "coll_import.count: %u, expected 0..%d of a collection", c->nsegs,
				      META_SEG_APPLY_MAX);
			c->nsegs = 0;
			return;
		}
		if (c->nsegs && !(c->segs = calloc(c->nsegs, sizeof *c->segs)))
			return meta_rbuf_bad(r, "out of memory");
		for (uint32_t i = 0; i < c->nsegs && !r->err; i++)
			meta_get_segment(r, &c->segs[i]);
		return;
	}
}

int meta_cmd_decode(const void *buf, size_t len, struct meta_cmd *c)
{
	struct meta_rbuf r;
	uint32_t magic, plen, crc;
	uint16_t version, type;

	memset(c, 0, sizeof *c);
	meta_rbuf_init(&r, buf, len, "meta command");
	if (len < CMD_HEADER_BYTES + 4)
		return dann_fail(DANN_ECORRUPT, "meta command: %zu bytes, shorter than its %d-byte frame", len,
				 CMD_HEADER_BYTES + 4);
	magic = meta_get_u32(&r, "magic");
	version = meta_get_u16(&r, "version");
	type = meta_get_u16(&r, "type");
	c->req.client = meta_get_u64(&r, "client");
	c->req.seq = meta_get_u64(&r, "seq");
	plen = meta_get_u32(&r, "payload length");
	if (magic != META_CMD_MAGIC)
		return dann_fail(DANN_ECORRUPT, "meta command: magic 0x%08x, expected 0x%08x", magic,
				 META_CMD_MAGIC);
	/* A later version may frame its payload differently: the version is
	 * judged before the frame, and one above ours is a newer build's
	 * command (DANN_EUNSUPPORTED), not damage. */
	if (version == 0)
		return dann_fail(DANN_ECORRUPT, "meta command: version 0");
	if (version > META_CMD_VERSION)
		return dann_fail(DANN_EUNSUPPORTED, "meta command of version %u (type %u), this build reads up to %d",
				 version, type, META_CMD_VERSION);
	if ((uint64_t)plen + CMD_HEADER_BYTES + 4 != len)
		return dann_fail(DANN_ECORRUPT, "meta command: payload length %u does not match %zu bytes", plen,
				 len);
	crc = meta_le32((const uint8_t *)buf + len - 4);
	if (crc != crc32c(0, buf, len - 4))
		return dann_fail(DANN_ECORRUPT, "meta command: checksum 0x%08x does not match its bytes", crc);
	/* Intact (its checksum holds) but of a type added after this build. */
	if (type > META_CMD_TYPE_MAX)
		return dann_fail(DANN_EUNSUPPORTED, "meta command of unknown type %u (version %u), this build knows "
				 "types 1..%d", type, version, META_CMD_TYPE_MAX);
	if (type < 1)
		return dann_fail(DANN_ECORRUPT, "meta command: type 0");
	c->type = (enum meta_cmd_type)type;
	r.len = len - 4;
	get_payload(&r, c);
	if (!r.err && r.off != r.len)
		meta_rbuf_bad(&r, "%zu bytes left after the %s payload", r.len - r.off, meta_cmd_name(c->type));
	if (r.err) {
		meta_cmd_free(c);
		return dann_fail(DANN_ECORRUPT, "meta command %s: %s", meta_cmd_name(type), r.msg);
	}
	return 0;
}

void meta_cmd_free(struct meta_cmd *c)
{
	free(c->schema);
	free(c->coll);
	free(c->segs);
	c->schema = NULL, c->coll = NULL, c->segs = NULL, c->nsegs = 0;
}
