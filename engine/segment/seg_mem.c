/*
 * seg_mem.c — rows held in RAM: the growing segment and sealed segments
 * whose disk index is still being built.
 *
 * Rows are appended in LSN order (seg_apply) into arrays that grow under
 * the write side of m->rw; searches and reads hold the read side. Below
 * SEG_EXACT_ROWS a search scans every row exactly; past it the rows also
 * go into an in-memory Vamana graph (vamana.h; FreshDiskANN inserts and
 * deletes) whose ids are the row numbers (from half the seal threshold
 * when that is smaller). The graph is grown by the data directory's graph
 * thread, never by a write: a search walks the graph for the rows it has
 * published (graph_n) and scans the rows after them exactly, and searches walk the graph.
 * Deletes set a bit per row (atomic, read by concurrent scans) and mark
 * the graph node.
 */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../topk.h"
#include "../vamana/vamana.h"
#include "seg_impl.h"

int seg_mem_new(const struct dann_coll *c, struct seg_mem **out)
{
	struct seg_mem *m = calloc(1, sizeof *m);
	uint32_t nc = seg_ncols(&c->schema);

	if (!m || (nc && !(m->cols = calloc(nc, sizeof *m->cols)))) {
		free(m);
		return dann_fail(DANN_ENOMEM, "growing segment of %s", c->schema.name);
	}
	m->ncols = nc;
	for (uint32_t i = 0; i < nc; i++) {
		m->cols[i].type = seg_col_type(&c->schema, i);
		m->cols[i].esz = seg_field_size(m->cols[i].type);
	}
	pthread_rwlock_init(&m->rw, NULL);
	*out = m;
	return 0;
}

void seg_mem_free(struct seg_mem *m)
{
	if (!m)
		return;
	vam_free(m->vam);
	for (uint32_t i = 0; i < m->ncols; i++) {
		free(m->cols[i].vals);
		free(m->cols[i].offs);
		free(m->cols[i].valid);
	}
	free(m->cols);
	free(m->keys);
	free(m->vecs);
	free((void *)m->delw);
	pthread_rwlock_destroy(&m->rw);
	free(m);
}

static int grow(void **p, size_t bytes)
{
	void *q = realloc(*p, bytes ? bytes : 1);

	if (!q)
		return DANN_ENOMEM;
	*p = q;
	return 0;
}

/* Bytes of the variable-length values a batch adds to column ci. */
static size_t batch_var_bytes(const struct dann_batch *b, const char *name)
{
	for (uint32_t j = 0; j < b->ncols; j++)
		if (!strcmp(b->cols[j].name, name))
			return b->cols[j].offsets[b->n] - b->cols[j].offsets[0];
	return 0;
}

static const char *col_name(const struct dann_coll *c, uint32_t i)
{
	return i < c->schema.nfields ? c->schema.fields[i].name : SEG_META_FIELD;
}

static int reserve_cols(const struct dann_coll *c, struct seg_mem *m, uint64_t cap,
			const struct dann_batch *b)
{
	for (uint32_t i = 0; i < m->ncols; i++) {
		struct seg_col *sc = &m->cols[i];
		if (grow((void **)&sc->valid, cap) < 0)
			return DANN_ENOMEM;
		if (sc->esz) {
			if (grow((void **)&sc->vals, cap * sc->esz) < 0)
				return DANN_ENOMEM;
			continue;
		}
		if (grow((void **)&sc->offs, (cap + 1) * sizeof *sc->offs) < 0)
			return DANN_ENOMEM;
		if (m->n == 0)
			sc->offs[0] = 0;
		size_t need = sc->bytes + (b ? batch_var_bytes(b, col_name(c, i)) : 0);
		/* room for a default in every row: missing or null rows get it */
		if (b && i < c->schema.nfields && c->schema.fields[i].def.type)
			need += b->n * c->schema.fields[i].def.len;
		if (need > sc->vals_cap) {
			size_t nc = sc->vals_cap * 2 > need ? sc->vals_cap * 2 : need;
			if (grow((void **)&sc->vals, nc) < 0)
				return DANN_ENOMEM;
			sc->vals_cap = nc;
		}
	}
	return 0;
}

int seg_mem_reserve(const struct dann_coll *c, struct seg_mem *m, const struct dann_batch *b)
{
	uint64_t need = m->n + b->n, cap = m->cap;
	int rc = 0;

	pthread_rwlock_wrlock(&m->rw);
	if (need > cap) {
		cap = cap ? cap : 1024;
		while (cap < need)
			cap *= 2;
		size_t oldw = (m->cap + 63) / 64, neww = (cap + 63) / 64;
		if (grow((void **)&m->keys, cap * sizeof *m->keys) < 0 ||
		    grow((void **)&m->vecs, cap * c->row_bytes) < 0 ||
		    grow((void **)&m->delw, neww * sizeof *m->delw) < 0) {
			rc = DANN_ENOMEM;
			goto out;
		}
		memset((void *)(m->delw + oldw), 0, (neww - oldw) * sizeof *m->delw);
		m->cap = cap;
	}
	rc = reserve_cols(c, m, m->cap, b);
out:
	pthread_rwlock_unlock(&m->rw);
	if (rc < 0)
		return dann_fail(DANN_ENOMEM, "%s: room for %llu rows in RAM", c->schema.name,
				 (unsigned long long)need);
	return 0;
}

/* row gets the default d (a fixed-width value, or its bytes appended to a
 * varlen column). */
static void put_default(struct seg_col *sc, const struct dann_default *d, uint64_t row)
{
	uint8_t *p = sc->vals + row * sc->esz;

	sc->valid[row] = 1;
	switch (d->type) {
	case DANN_FIELD_BOOL:
	case DANN_FIELD_INT8: *(int8_t *)p = (int8_t)d->i; break;
	case DANN_FIELD_INT16: *(int16_t *)p = (int16_t)d->i; break;
	case DANN_FIELD_INT32: *(int32_t *)p = (int32_t)d->i; break;
	case DANN_FIELD_INT64: *(int64_t *)p = d->i; break;
	case DANN_FIELD_FLOAT: *(float *)p = (float)d->d; break;
	case DANN_FIELD_DOUBLE: *(double *)p = d->d; break;
	default:
		memcpy(sc->vals + sc->bytes, d->s, d->len);
		sc->bytes += d->len;
		sc->offs[row + 1] = sc->bytes;
		break;
	}
}

/* Appends n rows of col (NULL: the batch left the field out). A field with
 * a default stores it where the row is missing or null, as Milvus does;
 * WAL replay runs this same code on the same batch, so it stores the same. */
static void append_col(struct seg_col *sc, const struct dann_column *col,
		       const struct dann_default *def, uint64_t at, uint64_t n)
{
	if (def && def->type && (!col || col->valid)) {
		for (uint64_t r = 0; r < n; r++) {
			if (!col || !col->valid[r]) {
				put_default(sc, def, at + r);
				continue;
			}
			sc->valid[at + r] = 1;
			if (sc->esz) {
				memcpy(sc->vals + (at + r) * sc->esz,
				       (const uint8_t *)col->values + r * sc->esz, sc->esz);
				continue;
			}
			uint64_t len = col->offsets[r + 1] - col->offsets[r];
			memcpy(sc->vals + sc->bytes, (const char *)col->values + col->offsets[r], len);
			sc->bytes += len;
			sc->offs[at + r + 1] = sc->bytes;
		}
		return;
	}
	if (!col) {
		memset(sc->valid + at, 0, n);
		if (sc->esz)
			memset(sc->vals + at * sc->esz, 0, n * sc->esz);
		else
			for (uint64_t r = 0; r < n; r++)
				sc->offs[at + r + 1] = sc->bytes;
		return;
	}
	if (col->valid)
		memcpy(sc->valid + at, col->valid, n);
	else
		memset(sc->valid + at, 1, n);
	if (sc->esz) {
		memcpy(sc->vals + at * sc->esz, col->values, n * sc->esz);
		return;
	}
	for (uint64_t r = 0; r < n; r++) {
		uint64_t len = col->offsets[r + 1] - col->offsets[r];
		memcpy(sc->vals + sc->bytes, (const char *)col->values + col->offsets[r], len);
		sc->bytes += len;
		sc->offs[at + r + 1] = sc->bytes;
	}
}

uint64_t seg_mem_exact_rows(const struct dann_coll *c)
{
	/* a segment sealed small never needs the graph; one near its seal
	 * threshold is scanned often enough to pay for it */
	return c->seal_rows / 2 < SEG_EXACT_ROWS ? c->seal_rows / 2 : SEG_EXACT_ROWS;
}

/* One step of the graph's catch-up, run by the graph thread without
 * c->mu: copies the next rows not in the graph (so appends may move the
 * arrays meanwhile), inserts them, then under c->mu marks those deleted
 * meanwhile and publishes the new graph_n. Deletes (under c->mu) mark a
 * graph node only below graph_n, so every deleted row ends up marked. */
int seg_mem_graph_step(struct dann_coll *c, struct seg_mem *m, int *did)
{
	uint64_t a, cnt;
	uint8_t *buf;
	struct vam *v = NULL, *stale = NULL;
	struct dann_index_params ip;
	uint32_t id0, epoch;
	int rc;

	*did = 0;
	/* The metric with its epoch; a graph of an older metric goes, and
	 * is grown again from the first row. */
	pthread_mutex_lock(&c->mu);
	ip = c->schema.index;
	epoch = atomic_load(&c->metric_epoch);
	if (m->vam && m->vam_epoch != epoch) {
		pthread_rwlock_wrlock(&m->rw);
		stale = m->vam;
		m->vam = NULL;
		atomic_store(&m->graph_n, 0);
		pthread_rwlock_unlock(&m->rw);
	}
	pthread_mutex_unlock(&c->mu);
	vam_free(stale);
	pthread_rwlock_rdlock(&m->rw);
	a = atomic_load(&m->graph_n);
	cnt = m->n - a;
	if ((!m->vam && m->n < seg_mem_exact_rows(c)) || cnt == 0) {
		pthread_rwlock_unlock(&m->rw);
		return 0;
	}
	cnt = cnt > SEG_GRAPH_STEP_ROWS ? SEG_GRAPH_STEP_ROWS : cnt;
	if (!(buf = malloc(cnt * c->row_bytes))) {
		pthread_rwlock_unlock(&m->rw);
		return dann_fail(DANN_ENOMEM, "%s: graph rows", c->schema.name);
	}
	memcpy(buf, m->vecs + a * c->row_bytes, cnt * c->row_bytes);
	pthread_rwlock_unlock(&m->rw);
	if (!m->vam) {
		struct vam_params vp;
		vam_params_default(&vp);
		vp.R = ip.R;
		vp.L = ip.L;
		vp.alpha = ip.alpha;
		vp.threads = c->db->p.threads;
		rc = vam_build(ip.metric, c->schema.dtype, c->schema.dim, buf, cnt, &vp, &v);
	} else if ((rc = vam_insert_batch(m->vam, buf, cnt, &id0)) == 0 && id0 != a) {
		rc = dann_fail(DANN_ECORRUPT, "%s: graph id %u for row %llu", c->schema.name, id0,
			       (unsigned long long)a);
	}
	free(buf);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->mu);
	if (atomic_load(&c->metric_epoch) != epoch) {
		/* the metric changed meanwhile: the next step starts over */
		pthread_mutex_unlock(&c->mu);
		vam_free(v);
		*did = 1;
		return 0;
	}
	if (v) {
		pthread_rwlock_wrlock(&m->rw);
		m->vam = v;
		m->vam_epoch = epoch;
		pthread_rwlock_unlock(&m->rw);
	}
	for (uint64_t r = a; r < a + cnt; r++)
		if (seg_mem_deleted(m, r))
			vam_delete(m->vam, (uint32_t)r);
	atomic_store(&m->graph_n, a + cnt);
	pthread_mutex_unlock(&c->mu);
	*did = 1;
	return 0;
}

int seg_mem_append(const struct dann_coll *c, struct seg_mem *m, const struct dann_batch *b,
		   const int64_t *keys)
{
	uint64_t at;
	int rc;

	if ((rc = seg_mem_reserve(c, m, b)) < 0)
		return rc;
	pthread_rwlock_wrlock(&m->rw);
	at = m->n;
	memcpy(m->keys + at, keys, b->n * sizeof *keys);
	memcpy(m->vecs + at * c->row_bytes, b->vectors, b->n * c->row_bytes);
	for (uint32_t i = 0; i < m->ncols; i++) {
		const struct dann_column *col = NULL;
		for (uint32_t j = 0; j < b->ncols; j++)
			if (!strcmp(b->cols[j].name, col_name(c, i)))
				col = &b->cols[j];
		append_col(&m->cols[i], col, i < c->schema.nfields ? &c->schema.fields[i].def : NULL,
			   at, b->n);
	}
	m->n = at + b->n;
	pthread_rwlock_unlock(&m->rw);
	return 0;
}

void seg_mem_delete(struct seg_mem *m, uint64_t row)
{
	atomic_fetch_or(&m->delw[row / 64], 1ull << (row % 64));
	if (m->vam && row < atomic_load(&m->graph_n))
		vam_delete(m->vam, (uint32_t)row);
}

bool seg_mem_deleted(struct seg_mem *m, uint64_t row)
{
	return (atomic_load(&m->delw[row / 64]) >> (row % 64)) & 1;
}

static bool row_allowed(const uint64_t *allowed, uint64_t nallowed, uint64_t r)
{
	return !allowed || (r < nallowed && (allowed[r >> 6] >> (r & 63) & 1));
}

/* Rows [from, n) a filter allows (allowed NULL: all) by exact distance, into t. */
static void exact_scan(const struct dann_coll *c, struct seg_mem *m, const float *q, uint64_t from,
		       const uint64_t *allowed, uint64_t nallowed, struct topk *t)
{
	for (uint64_t r = from; r < m->n; r++) {
		if (seg_mem_deleted(m, r) || !row_allowed(allowed, nallowed, r))
			continue;
		float d = c->dist(q, m->vecs + r * c->row_bytes, c->schema.dim);
		if (d < topk_bound(t))
			topk_push(t, (uint32_t)r, d);
	}
}

struct graph_filter {
	struct seg_mem *m;
	uint64_t graph_n;
	const uint64_t *allowed;     /* a filter's rows, or NULL */
	uint64_t nallowed;
};

/* Only rows the graph has published, live, and passing the filter: a row
 * being inserted is found by the exact scan of the tail instead. */
static bool graph_allows(void *arg, uint32_t id)
{
	struct graph_filter *g = arg;
	return id < g->graph_n && !seg_mem_deleted(g->m, id) &&
	       row_allowed(g->allowed, g->nallowed, id);
}

/* Fraction of rows a filter passes at or below which a RAM segment is
 * scanned exactly instead of searched through its graph (the graph's list
 * would have to grow like 1/fraction, as on disk: engine/vamana/dix_filter.h). */
#define MEM_FILTER_SCAN_FRACTION 0.2

int seg_mem_search(const struct dann_coll *c, struct seg_mem *m, const float *q, uint32_t k,
		   uint32_t L, const uint64_t *allowed, uint64_t nallowed, int64_t *keys,
		   float *dists, uint32_t *found)
{
	struct graph_filter gf = { .m = m, .allowed = allowed, .nallowed = nallowed };
	struct vam_filter vf = { .fn = graph_allows, .arg = &gf };
	uint32_t *ids = NULL, gfound = 0;
	float *gd = NULL;
	double frac = 1;
	struct topk t;
	int rc;

	if (allowed) {
		uint64_t count = 0;
		for (uint64_t w = 0; w < (nallowed + 63) / 64; w++)
			count += (uint64_t)__builtin_popcountll(allowed[w]);
		frac = nallowed ? (double)count / (double)nallowed : 0;
	}
	L = L < k ? k : L;
	if (allowed && frac > MEM_FILTER_SCAN_FRACTION) /* about L allowed among the candidates */
		L = L / frac > VAM_MAX_L ? VAM_MAX_L : (uint32_t)(L / frac);
	if ((rc = topk_init(&t, k)) < 0)
		return rc;
	pthread_rwlock_rdlock(&m->rw);
	/* a graph of the metric before a change is not searched */
	gf.graph_n = m->vam && m->vam_epoch == atomic_load(&c->metric_epoch) && frac > MEM_FILTER_SCAN_FRACTION
			     ? atomic_load(&m->graph_n)
			     : 0;
	if (gf.graph_n) {
		if (!(ids = malloc(k * sizeof *ids)) || !(gd = malloc(k * sizeof *gd))) {
			rc = dann_fail(DANN_ENOMEM, "search: %u results", k);
			goto out;
		}
		if ((rc = vam_search(m->vam, q, k, L, &vf, ids, gd, &gfound, NULL)) < 0)
			goto out;
		for (uint32_t i = 0; i < gfound; i++)
			topk_push(&t, ids[i], gd[i]);
	}
	exact_scan(c, m, q, gf.graph_n, allowed, nallowed, &t);
	*found = topk_sort(&t);
	for (uint32_t i = 0; i < *found; i++) {
		keys[i] = m->keys[t.id[i]];
		dists[i] = t.dist[i];
	}
out:
	pthread_rwlock_unlock(&m->rw);
	topk_destroy(&t);
	free(ids);
	free(gd);
	return rc;
}

void seg_mem_vector(const struct dann_coll *c, struct seg_mem *m, uint64_t row, void *out)
{
	pthread_rwlock_rdlock(&m->rw);
	memcpy(out, m->vecs + row * c->row_bytes, c->row_bytes);
	pthread_rwlock_unlock(&m->rw);
}
