/*
 * meta_fsm.c — the catalog state machine (meta_fsm.h): apply, snapshot,
 * restore, and the readers.
 *
 * Every apply validates the whole command against the state first and
 * changes nothing unless all of it is acceptable, so a command is all or
 * nothing on every node. Records live in plain arrays; removal moves the
 * last record into the hole, which is deterministic and keeps snapshots
 * of equal states equal.
 */
#include "meta_fsm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "error.h"
#include "meta_buf.h"

int meta_fsm_init(struct meta_fsm *f)
{
	memset(f, 0, sizeof *f);
	if (pthread_rwlock_init(&f->lock, NULL) != 0)
		return dann_fail(DANN_ENOMEM, "meta fsm: rwlock");
	if (!(f->dedupe = calloc(META_DEDUPE_MAX, sizeof *f->dedupe))) {
		pthread_rwlock_destroy(&f->lock);
		return dann_fail(DANN_ENOMEM, "meta fsm: dedupe table");
	}
	for (int i = 0; i < 4; i++)
		f->counters[i] = 1;  /* 0 is never handed out: it means "none" */
	return 0;
}

static void free_state(struct meta_fsm *f)
{
	free(f->colls);
	free(f->segs);
	free(f->users);
	free(f->dedupe);
}

void meta_fsm_destroy(struct meta_fsm *f)
{
	free_state(f);
	pthread_rwlock_destroy(&f->lock);
	memset(f, 0, sizeof *f);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (!(p = realloc(*arr, c * elem)))
		return DANN_ENOMEM;
	*arr = p, *cap = c;
	return 0;
}

static int refuse(struct meta_result *res, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(struct meta_result *res, int rc, const char *fmt, ...)
{
	va_list ap;

	res->rc = rc;
	va_start(ap, fmt);
	vsnprintf(res->msg, sizeof res->msg, fmt, ap);
	va_end(ap);
	return rc;
}

static ssize_t coll_by_id(const struct meta_fsm *f, uint64_t id)
{
	for (size_t i = 0; i < f->ncolls; i++)
		if (f->colls[i].id == id)
			return (ssize_t)i;
	return -1;
}

static ssize_t coll_by_name(const struct meta_fsm *f, const char *name)
{
	for (size_t i = 0; i < f->ncolls; i++)
		if (strcmp(f->colls[i].schema.name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static ssize_t seg_by_id(const struct meta_fsm *f, uint64_t id)
{
	for (size_t i = 0; i < f->nsegs; i++)
		if (f->segs[i].id == id)
			return (ssize_t)i;
	return -1;
}

static ssize_t user_by_name(const struct meta_fsm *f, const char *name)
{
	for (size_t i = 0; i < f->nusers; i++)
		if (strcmp(f->users[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static void seg_remove_at(struct meta_fsm *f, size_t i)
{
	f->segs[i] = f->segs[--f->nsegs];
}

/* COLL_CREATE (schema) and COLL_CREATE_PROPS (schema and properties). */
static int apply_coll_create(struct meta_fsm *f, const struct meta_cmd *c, struct meta_result *res)
{
	const struct dann_schema *s = c->type == META_CMD_COLL_CREATE_PROPS ? &c->coll->schema : c->schema;
	struct dann_cat_coll *col;

	if (!s->name[0])
		return refuse(res, DANN_EINVAL, "collection name is empty");
	if (coll_by_name(f, s->name) >= 0)
		return refuse(res, DANN_EEXIST, "collection '%s' already exists", s->name);
	if (grow((void **)&f->colls, &f->capcolls, f->ncolls + 1, sizeof *f->colls))
		return refuse(res, DANN_ENOMEM, "collection '%s': out of memory", s->name);
	col = &f->colls[f->ncolls++];
	memset(col, 0, sizeof *col);
	col->id = f->counters[DANN_CAT_COLL_ID]++;
	col->schema = *s;
	if (c->type == META_CMD_COLL_CREATE_PROPS)
		memcpy(col->props, c->coll->props, sizeof col->props);
	res->value = col->id;
	return 0;
}

static int apply_coll_drop(struct meta_fsm *f, const struct meta_cmd *c, struct meta_result *res)
{
	ssize_t i = coll_by_id(f, c->id);

	if (i < 0)
		return refuse(res, DANN_ENOTFOUND, "collection id %llu does not exist", (unsigned long long)c->id);
	f->colls[i] = f->colls[--f->ncolls];
	for (size_t s = f->nsegs; s-- > 0;)
		if (f->segs[s].coll_id == c->id)
			seg_remove_at(f, s);
	return 0;
}

static int apply_coll_update(struct meta_fsm *f, const struct meta_cmd *c, struct meta_result *res)
{
	ssize_t i = coll_by_id(f, c->coll->id), j;

	if (i < 0)
		return refuse(res, DANN_ENOTFOUND, "collection id %llu does not exist",
			      (unsigned long long)c->coll->id);
	if (!c->coll->schema.name[0])
		return refuse(res, DANN_EINVAL, "collection id %llu: name is empty", (unsigned long long)c->coll->id);
	j = coll_by_name(f, c->coll->schema.name);
	if (j >= 0 && j != i)
		return refuse(res, DANN_EEXIST, "collection '%s' already exists", c->coll->schema.name);
	f->colls[i] = *c->coll;
	return 0;
}

static int apply_seg_apply(struct meta_fsm *f, const struct meta_cmd *c, struct meta_result *res)
{
	/* Check every record before changing any: all or nothing. */
	for (uint32_t k = 0; k < c->nsegs; k++) {
		const struct dann_cat_segment *s = &c->segs[k];

		if (s->id == 0)
			return refuse(res, DANN_EINVAL, "segment record %u: id 0", k);
		if (coll_by_id(f, s->coll_id) < 0)
			return refuse(res, DANN_ENOTFOUND, "segment %llu: collection id %llu does not exist",
				      (unsigned long long)s->id, (unsigned long long)s->coll_id);
	}
	if (grow((void **)&f->segs, &f->capsegs, f->nsegs + c->nsegs, sizeof *f->segs))
		return refuse(res, DANN_ENOMEM, "segment records: out of memory");
	for (uint32_t k = 0; k < c->nsegs; k++) {
		const struct dann_cat_segment *s = &c->segs[k];
		ssize_t i = seg_by_id(f, s->id);

		if (s->state == DANN_SEG_DROPPED) {
			if (i >= 0)
				seg_remove_at(f, (size_t)i);
		} else if (i >= 0) {
			f->segs[i] = *s;
		} else {
			f->segs[f->nsegs++] = *s;
		}
	}
	return 0;
}

static int apply_alloc(struct meta_fsm *f, const struct meta_cmd *c, struct meta_result *res)
{
	uint64_t *ctr = &f->counters[c->counter];

	if (c->count == 0)
		return refuse(res, DANN_EINVAL, "alloc of counter %d: count 0", (int)c->counter);
	if (c->count > UINT64_MAX - *ctr)
		return refuse(res, DANN_EINVAL, "alloc of counter %d: %llu more values overflow it", (int)c->counter,
			      (unsigned long long)c->count);
	res->value = *ctr;
	*ctr += c->count;
	return 0;
}

/* A collection of another catalog, with its id and segments (meta_import.c).
 * The same collection again (its id and name here already) changes no
 * record — a retried import must never put back older segment records —
 * and only raises the counters; a clash with anything else is refused. */
static int apply_coll_import(struct meta_fsm *f, const struct meta_cmd *c, struct meta_result *res)
{
	const struct dann_cat_coll *col = c->coll;
	uint64_t need[4];
	ssize_t i;

	memcpy(need, c->counters, sizeof need);
	if (col) {
		if (col->id == 0 || !col->schema.name[0])
			return refuse(res, DANN_EINVAL, "import: collection id %llu, name '%s'",
				      (unsigned long long)col->id, col->schema.name);
		i = coll_by_id(f, col->id);
		if (i >= 0 && strcmp(f->colls[i].schema.name, col->schema.name) != 0)
			return refuse(res, DANN_EEXIST, "import of '%s': collection id %llu is '%s' here",
				      col->schema.name, (unsigned long long)col->id, f->colls[i].schema.name);
		if (i < 0 && (i = coll_by_name(f, col->schema.name)) >= 0)
			return refuse(res, DANN_EEXIST, "import of '%s' (id %llu): '%s' exists here with id %llu",
				      col->schema.name, (unsigned long long)col->id, col->schema.name,
				      (unsigned long long)f->colls[i].id);
		if (coll_by_id(f, col->id) >= 0)
			col = NULL; /* imported before */
		if (need[DANN_CAT_COLL_ID] <= c->coll->id)
			need[DANN_CAT_COLL_ID] = c->coll->id + 1;
	}
	for (uint32_t k = 0; col && k < c->nsegs; k++) {
		const struct dann_cat_segment *s = &c->segs[k];

		if (s->id == 0 || s->coll_id != col->id || s->state == DANN_SEG_DROPPED)
			return refuse(res, DANN_EINVAL, "import of '%s': segment record %u (id %llu, collection %llu, "
				      "state %d) is not a live segment of it", col->schema.name, k,
				      (unsigned long long)s->id, (unsigned long long)s->coll_id, (int)s->state);
		if (seg_by_id(f, s->id) >= 0)
			return refuse(res, DANN_EEXIST, "import of '%s': segment id %llu exists here",
				      col->schema.name, (unsigned long long)s->id);
		if (need[DANN_CAT_SEGMENT_ID] <= s->id)
			need[DANN_CAT_SEGMENT_ID] = s->id + 1;
	}
	if (col && (grow((void **)&f->colls, &f->capcolls, f->ncolls + 1, sizeof *f->colls) ||
		    grow((void **)&f->segs, &f->capsegs, f->nsegs + c->nsegs, sizeof *f->segs)))
		return refuse(res, DANN_ENOMEM, "import of '%s': out of memory", col->schema.name);
	if (col) {
		f->colls[f->ncolls++] = *col;
		for (uint32_t k = 0; k < c->nsegs; k++)
			f->segs[f->nsegs++] = c->segs[k];
	}
	for (int k = 0; k < 4; k++)
		if (f->counters[k] < need[k])
			f->counters[k] = need[k];
	res->value = col != NULL;
	return 0;
}

static int apply_user(struct meta_fsm *f, const struct meta_cmd *c, struct meta_result *res)
{
	ssize_t i;

	if (!c->user.name[0])
		return refuse(res, DANN_EINVAL, "user name is empty");
	i = user_by_name(f, c->user.name);
	if (c->type == META_CMD_USER_CREATE) {
		if (i >= 0)
			return refuse(res, DANN_EEXIST, "user '%s' already exists", c->user.name);
		if (f->nusers >= META_USERS_MAX)
			return refuse(res, DANN_EBUSY, "user '%s': already %d users", c->user.name, META_USERS_MAX);
		if (grow((void **)&f->users, &f->capusers, f->nusers + 1, sizeof *f->users))
			return refuse(res, DANN_ENOMEM, "user '%s': out of memory", c->user.name);
		f->users[f->nusers++] = c->user;
		return 0;
	}
	if (i < 0)
		return refuse(res, DANN_ENOTFOUND, "user '%s' does not exist", c->user.name);
	if (c->type == META_CMD_USER_DROP)
		f->users[i] = f->users[--f->nusers];
	else if (c->type == META_CMD_USER_PASSWORD)
		memcpy(f->users[i].hash, c->user.hash, sizeof c->user.hash);
	else
		memcpy(f->users[i].roles, c->user.roles, sizeof c->user.roles);
	return 0;
}

static const struct meta_dedupe *dedupe_find(const struct meta_fsm *f, const struct meta_reqid *req)
{
	/* Newest first: a retry is usually of a recent command. */
	for (size_t k = f->ndedupe; k-- > 0;) {
		const struct meta_dedupe *d = &f->dedupe[(f->dedupe_head + k) % META_DEDUPE_MAX];

		if (d->req.client == req->client && d->req.seq == req->seq)
			return d;
	}
	return NULL;
}

static void dedupe_add(struct meta_fsm *f, const struct meta_reqid *req, const struct meta_result *res)
{
	struct meta_dedupe *d;

	if (f->ndedupe == META_DEDUPE_MAX) {
		d = &f->dedupe[f->dedupe_head];
		f->dedupe_head = (f->dedupe_head + 1) % META_DEDUPE_MAX;
	} else {
		d = &f->dedupe[(f->dedupe_head + f->ndedupe++) % META_DEDUPE_MAX];
	}
	d->req = *req;
	d->rc = res->rc;
	d->value = res->value;
}

static void apply_cmd(struct meta_fsm *f, const struct meta_cmd *c, struct meta_result *res)
{
	switch (c->type) {
	case META_CMD_COLL_CREATE:
	case META_CMD_COLL_CREATE_PROPS: apply_coll_create(f, c, res); break;
	case META_CMD_COLL_DROP: apply_coll_drop(f, c, res); break;
	case META_CMD_COLL_UPDATE: apply_coll_update(f, c, res); break;
	case META_CMD_SEG_APPLY: apply_seg_apply(f, c, res); break;
	case META_CMD_ALLOC: apply_alloc(f, c, res); break;
	case META_CMD_COLL_IMPORT: apply_coll_import(f, c, res); break;
	case META_CMD_USER_CREATE:
	case META_CMD_USER_DROP:
	case META_CMD_USER_PASSWORD:
	case META_CMD_USER_ROLES: apply_user(f, c, res); break;
	}
}

int meta_fsm_apply(struct meta_fsm *f, const void *buf, size_t len, struct meta_result *out)
{
	struct meta_result local, *res = out ? out : &local;
	const struct meta_dedupe *d;
	struct meta_cmd c;
	int rc;

	memset(res, 0, sizeof *res);
	if ((rc = meta_fsm_check(f)) < 0)
		return refuse(res, rc, "%s", dann_errmsg());
	if ((rc = meta_cmd_decode(buf, len, &c)) == DANN_EUNSUPPORTED) {
		/* A newer build's command: its nodes apply it, so moving past it
		 * would leave this copy different from theirs. Stop here. */
		pthread_rwlock_wrlock(&f->lock);
		f->halted = 1;
		snprintf(f->halt_msg, sizeof f->halt_msg,
			 "catalog halted at a log entry this build cannot apply (%s): upgrade this node",
			 dann_errmsg());
		pthread_rwlock_unlock(&f->lock);
		return refuse(res, rc, "%s", f->halt_msg);
	}
	if (rc < 0) {
		/* Every node sees the same bytes and refuses them the same way. */
		refuse(res, DANN_ECORRUPT, "%s", dann_errmsg());
		pthread_rwlock_wrlock(&f->lock);
		f->applied++;
		pthread_rwlock_unlock(&f->lock);
		return 0;
	}
	pthread_rwlock_wrlock(&f->lock);
	f->applied++;
	if (c.req.client != 0 && (d = dedupe_find(f, &c.req)) != NULL) {
		res->rc = d->rc;
		res->value = d->value;
		snprintf(res->msg, sizeof res->msg, "%s %llu/%llu already applied", meta_cmd_name(c.type),
			 (unsigned long long)c.req.client, (unsigned long long)c.req.seq);
	} else {
		apply_cmd(f, &c, res);
		if (c.req.client != 0)
			dedupe_add(f, &c.req, res);
	}
	pthread_rwlock_unlock(&f->lock);
	meta_cmd_free(&c);
	return 0;
}

/* ---- snapshots -------------------------------------------------------------
 *   u32 magic "DSN1" | u16 version | u16 0 | u64 applied | 4 x u64 counters |
 *   u32 n + collections | u32 n + segments | u32 n + users |
 *   u32 n + dedupe entries (oldest first: client, seq, i32 rc, value) |
 *   u32 CRC32C of everything before it */

int meta_fsm_snapshot(struct meta_fsm *f, void **buf, size_t *len)
{
	struct meta_wbuf w;

	meta_wbuf_init(&w);
	pthread_rwlock_rdlock(&f->lock);
	meta_put_u32(&w, META_SNAP_MAGIC);
	meta_put_u16(&w, META_SNAP_VERSION);
	meta_put_u16(&w, 0);
	meta_put_u64(&w, f->applied);
	for (int i = 0; i < 4; i++)
		meta_put_u64(&w, f->counters[i]);
	meta_put_u32(&w, (uint32_t)f->ncolls);
	for (size_t i = 0; i < f->ncolls; i++)
		meta_put_coll(&w, &f->colls[i]);
	meta_put_u32(&w, (uint32_t)f->nsegs);
	for (size_t i = 0; i < f->nsegs; i++)
		meta_put_segment(&w, &f->segs[i]);
	meta_put_u32(&w, (uint32_t)f->nusers);
	for (size_t i = 0; i < f->nusers; i++)
		meta_put_user(&w, &f->users[i]);
	meta_put_u32(&w, (uint32_t)f->ndedupe);
	for (size_t k = 0; k < f->ndedupe; k++) {
		const struct meta_dedupe *d = &f->dedupe[(f->dedupe_head + k) % META_DEDUPE_MAX];

		meta_put_u64(&w, d->req.client);
		meta_put_u64(&w, d->req.seq);
		meta_put_u32(&w, (uint32_t)d->rc);
		meta_put_u64(&w, d->value);
	}
	pthread_rwlock_unlock(&f->lock);
	if (!w.err)
		meta_put_u32(&w, crc32c(0, w.p, w.len));
	if (w.err) {
		meta_wbuf_free(&w);
		return dann_fail(DANN_ENOMEM, "meta snapshot: encoding");
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

/* Reads a record count and checks it against the bytes left (each record
 * is at least min_bytes), so a corrupt count cannot ask for a huge array. */
static uint32_t get_count(struct meta_rbuf *r, size_t min_bytes, const char *what)
{
	uint32_t n = meta_get_u32(r, what);

	if (!r->err && (uint64_t)n * min_bytes > r->len - r->off) {
		meta_rbuf_bad(r, "%s: %u records cannot fit in %zu bytes", what, n, r->len - r->off);
		return 0;
	}
	return n;
}

static void decode_snapshot(struct meta_rbuf *r, struct meta_fsm *t)
{
	uint32_t n;

	if (meta_get_u32(r, "magic") != META_SNAP_MAGIC)
		return meta_rbuf_bad(r, "magic is not \"DSN1\"");
	if (meta_get_u16(r, "version") != META_SNAP_VERSION)
		return meta_rbuf_bad(r, "version is not %d", META_SNAP_VERSION);
	(void)meta_get_u16(r, "reserved");
	t->applied = meta_get_u64(r, "applied");
	for (int i = 0; i < 4; i++)
		t->counters[i] = meta_get_u64(r, "counter");
	n = get_count(r, 8, "collections");
	if (n && !(t->colls = calloc(n, sizeof *t->colls)))
		return meta_rbuf_bad(r, "collections: out of memory");
	t->capcolls = n;
	for (; t->ncolls < n && !r->err; t->ncolls++)
		meta_get_coll(r, &t->colls[t->ncolls]);
	n = get_count(r, 16, "segments");
	if (n && !(t->segs = calloc(n, sizeof *t->segs)))
		return meta_rbuf_bad(r, "segments: out of memory");
	t->capsegs = n;
	for (; t->nsegs < n && !r->err; t->nsegs++)
		meta_get_segment(r, &t->segs[t->nsegs]);
	n = get_count(r, 6, "users");
	if (n && !(t->users = calloc(n, sizeof *t->users)))
		return meta_rbuf_bad(r, "users: out of memory");
	t->capusers = n;
	for (; t->nusers < n && !r->err; t->nusers++)
		meta_get_user(r, &t->users[t->nusers]);
	n = get_count(r, 28, "request ids");
	if (n > META_DEDUPE_MAX)
		return meta_rbuf_bad(r, "request ids: %u, at most %d", n, META_DEDUPE_MAX);
	for (; t->ndedupe < n && !r->err; t->ndedupe++) {
		struct meta_dedupe *d = &t->dedupe[t->ndedupe];

		d->req.client = meta_get_u64(r, "request id");
		d->req.seq = meta_get_u64(r, "request id");
		d->rc = (int32_t)meta_get_u32(r, "request result");
		d->value = meta_get_u64(r, "request value");
	}
	if (!r->err && r->off != r->len)
		meta_rbuf_bad(r, "%zu bytes left after the last record", r->len - r->off);
}

int meta_fsm_restore(struct meta_fsm *f, const void *buf, size_t len)
{
	struct meta_fsm t;
	struct meta_rbuf r;
	uint32_t crc;

	if (len < 4)
		return dann_fail(DANN_ECORRUPT, "meta snapshot: %zu bytes, too short", len);
	crc = meta_le32((const uint8_t *)buf + len - 4);
	if (crc != crc32c(0, buf, len - 4))
		return dann_fail(DANN_ECORRUPT, "meta snapshot: checksum 0x%08x does not match its %zu bytes", crc,
				 len);
	memset(&t, 0, sizeof t);
	if (!(t.dedupe = calloc(META_DEDUPE_MAX, sizeof *t.dedupe)))
		return dann_fail(DANN_ENOMEM, "meta snapshot: dedupe table");
	meta_rbuf_init(&r, buf, len - 4, "meta snapshot");
	decode_snapshot(&r, &t);
	if (r.err) {
		free_state(&t);
		return meta_rbuf_check(&r);
	}
	pthread_rwlock_wrlock(&f->lock);
	free_state(f);
	memcpy(f->counters, t.counters, sizeof f->counters);
	f->applied = t.applied;
	f->halted = 0;  /* a whole state from the leader: consistent again */
	f->colls = t.colls, f->ncolls = t.ncolls, f->capcolls = t.capcolls;
	f->segs = t.segs, f->nsegs = t.nsegs, f->capsegs = t.capsegs;
	f->users = t.users, f->nusers = t.nusers, f->capusers = t.capusers;
	f->dedupe = t.dedupe, f->ndedupe = t.ndedupe, f->dedupe_head = 0;
	pthread_rwlock_unlock(&f->lock);
	return 0;
}

/* ---- readers ---------------------------------------------------------------- */

static int copy_out(const void *src, size_t n, size_t elem, void **out, size_t *nout, const char *what)
{
	void *p = malloc(n ? n * elem : 1);

	if (!p)
		return dann_fail(DANN_ENOMEM, "meta: listing %zu %s", n, what);
	if (n)
		memcpy(p, src, n * elem);
	*out = p;
	*nout = n;
	return 0;
}

int meta_fsm_check(struct meta_fsm *f)
{
	char msg[sizeof f->halt_msg];
	int halted;

	pthread_rwlock_rdlock(&f->lock);
	halted = f->halted;
	if (halted)
		memcpy(msg, f->halt_msg, sizeof msg);
	pthread_rwlock_unlock(&f->lock);
	return halted ? dann_fail(DANN_EUNSUPPORTED, "meta: %s", msg) : 0;
}

int meta_fsm_coll_list(struct meta_fsm *f, struct dann_cat_coll **out, size_t *n)
{
	int rc;

	if ((rc = meta_fsm_check(f)) < 0)
		return rc;
	pthread_rwlock_rdlock(&f->lock);
	rc = copy_out(f->colls, f->ncolls, sizeof *f->colls, (void **)out, n, "collections");
	pthread_rwlock_unlock(&f->lock);
	return rc;
}

int meta_fsm_seg_list(struct meta_fsm *f, uint64_t coll_id, struct dann_cat_segment **out, size_t *n)
{
	struct dann_cat_segment *p;
	size_t k = 0, cnt = 0;
	int rc;

	if ((rc = meta_fsm_check(f)) < 0)
		return rc;
	pthread_rwlock_rdlock(&f->lock);
	for (size_t i = 0; i < f->nsegs; i++)
		cnt += f->segs[i].coll_id == coll_id;
	if (!(p = malloc(cnt ? cnt * sizeof *p : 1))) {
		pthread_rwlock_unlock(&f->lock);
		return dann_fail(DANN_ENOMEM, "meta: listing %zu segments", cnt);
	}
	for (size_t i = 0; i < f->nsegs; i++)
		if (f->segs[i].coll_id == coll_id)
			p[k++] = f->segs[i];
	pthread_rwlock_unlock(&f->lock);
	*out = p;
	*n = k;
	return 0;
}

int meta_fsm_user_list(struct meta_fsm *f, struct meta_user **out, size_t *n)
{
	int rc;

	if ((rc = meta_fsm_check(f)) < 0)
		return rc;
	pthread_rwlock_rdlock(&f->lock);
	rc = copy_out(f->users, f->nusers, sizeof *f->users, (void **)out, n, "users");
	pthread_rwlock_unlock(&f->lock);
	return rc;
}

int meta_fsm_user_get(struct meta_fsm *f, const char *name, struct meta_user *out)
{
	ssize_t i;
	int rc;

	if ((rc = meta_fsm_check(f)) < 0)
		return rc;
	pthread_rwlock_rdlock(&f->lock);
	i = user_by_name(f, name);
	if (i >= 0)
		*out = f->users[i];
	pthread_rwlock_unlock(&f->lock);
	return i >= 0 ? 0 : dann_fail(DANN_ENOTFOUND, "meta: user '%s' does not exist", name);
}

uint64_t meta_fsm_counter(struct meta_fsm *f, enum dann_cat_counter which)
{
	uint64_t v;

	pthread_rwlock_rdlock(&f->lock);
	v = f->counters[which];
	pthread_rwlock_unlock(&f->lock);
	return v;
}
