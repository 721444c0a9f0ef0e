/*
 * seg_query.c — query by expression and count(*) with a filter (Milvus's
 * Query): every segment of one version gives its live rows that pass the
 * filter (seg_filter_mask minus its deleted rows); their keys are sorted
 * so that offset and limit page through a stable order, and the page's
 * fields come from dann_coll_fetch.
 */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "expr.h"
#include "seg_impl.h"

struct keyvec {
	int64_t *k;
	uint64_t n, cap;
};

static int push(struct keyvec *v, int64_t key)
{
	if (v->n == v->cap) {
		uint64_t cap = v->cap ? v->cap * 2 : 1024;
		int64_t *k = realloc(v->k, cap * sizeof *k);
		if (!k)
			return dann_fail(DANN_ENOMEM, "query: no memory for %llu keys",
					 (unsigned long long)cap);
		v->k = k;
		v->cap = cap;
	}
	v->k[v->n++] = key;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Live keys of s passing e (NULL: all). */
static int seg_keys(const struct dann_coll *c, struct seg *s, const struct expr *e, struct keyvec *v)
{
	uint64_t *allowed = NULL, n;
	int rc = 0;

	if (e && (rc = seg_filter_mask(c, s, e, &allowed, &n)) < 0)
		return rc;
	if (s->disk) {
		n = e ? n : s->nrows;
		for (uint64_t r = 0; r < n && rc == 0; r++) {
			if (allowed && !(allowed[r >> 6] >> (r & 63) & 1))
				continue;
			if (atomic_load(&s->disk->delw[r >> 6]) >> (r & 63) & 1)
				continue;
			rc = push(v, s->disk->keys[r]);
		}
	} else {
		pthread_rwlock_rdlock(&s->mem->rw);
		if (!e || n > s->mem->n)
			n = s->mem->n;
		for (uint64_t r = 0; r < n && rc == 0; r++) {
			if (allowed && !(allowed[r >> 6] >> (r & 63) & 1))
				continue;
			if (seg_mem_deleted(s->mem, r))
				continue;
			rc = push(v, s->mem->keys[r]);
		}
		pthread_rwlock_unlock(&s->mem->rw);
	}
	free(allowed);
	return rc;
}

/* Sorted, distinct live keys passing filter. */
static int matching(struct dann_coll *c, const char *filter, struct keyvec *v)
{
	struct expr *e = NULL;
	struct seg_ver *ver;
	uint64_t w = 0;
	int rc = 0;

	if (!c)
		return dann_fail(DANN_EINVAL, "query: no collection");
	if (atomic_load(&c->dropped))
		return dann_fail(DANN_ENOTFOUND, "collection \"%s\" was dropped", c->schema.name);
	if (filter && *filter && (rc = expr_compile(filter, &c->schema, &e)) < 0)
		return dann_fail_wrap(rc, "%s", c->schema.name);
	ver = seg_ver_get(c);
	for (size_t i = 0; i < ver->n && rc == 0; i++)
		rc = seg_keys(c, ver->s[i], e, v);
	seg_ver_unref(ver);
	expr_free(e);
	if (rc < 0)
		return rc;
	if (v->n) /* none passed: v->k may be NULL, which qsort must not get */
		qsort(v->k, v->n, sizeof *v->k, cmp_key);
	/* A key being upserted can sit in two segments for a moment. */
	for (uint64_t r = 0; r < v->n; r++)
		if (w == 0 || v->k[r] != v->k[w - 1])
			v->k[w++] = v->k[r];
	v->n = w;
	return 0;
}

int dann_coll_count_filter(struct dann_coll *c, const char *filter, uint64_t *rows)
{
	struct keyvec v = { 0 };
	int rc;

	if (!rows)
		return dann_fail(DANN_EINVAL, "count: no output");
	if (!filter || !*filter)
		return dann_coll_count(c, rows);
	if ((rc = matching(c, filter, &v)) == 0)
		*rows = v.n;
	free(v.k);
	return rc;
}

int dann_coll_query(struct dann_coll *c, const struct dann_coll_query_params *p, int64_t **keys,
		    uint64_t *n, struct dann_rows **out)
{
	struct keyvec v = { 0 };
	uint64_t first, count;
	int rc;

	if (!p || !keys || !n)
		return dann_fail(DANN_EINVAL, "query: no parameters or output");
	*keys = NULL;
	*n = 0;
	if (out)
		*out = NULL;
	if ((rc = matching(c, p->filter, &v)) < 0)
		goto fail;
	first = p->offset < v.n ? p->offset : v.n;
	count = v.n - first;
	if (p->limit && count > p->limit)
		count = p->limit;
	if (count) /* none passed: v.k may be NULL */
		memmove(v.k, v.k + first, count * sizeof *v.k);
	if (out && (rc = dann_coll_fetch(c, v.k, count, p->fields, p->nfields, p->with_vectors, out)) < 0)
		goto fail;
	if (!v.k && !(v.k = malloc(sizeof *v.k))) {
		rc = dann_fail(DANN_ENOMEM, "query");
		goto fail;
	}
	*keys = v.k;
	*n = count;
	return 0;
fail:
	free(v.k);
	return rc;
}
