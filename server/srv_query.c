/*
 * srv_query.c — Query: rows by any filter expression, with output fields,
 * limit/offset (query_params), and count(*) with or without a filter.
 *
 * `pk in [...]` / `pk == k` (what the SDKs send for get() and ids) takes
 * the key fast path: the keys are looked up, and rows come back in the
 * order asked, without the absent or deleted ones. Every other expression
 * goes to dann_coll_query, which evaluates it segment by segment and pages
 * through the passing rows in ascending key order; a parse or type error
 * comes back as an invalid-parameter status naming the column or field.
 * As in Milvus, an empty expression needs a limit (it would otherwise
 * return the whole collection).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "milvus.pb-c.h"
#include "srv_coll.h"
#include "srv_handlers.h"
#include "srv_impl.h"
#include "srv_load.h"
#include "srv_output.h"
#include "srv_pkexpr.h"
#include "srv_status.h"
#include "srv_template.h"

#define COUNT_FIELD "count(*)"
#define QUERY_LIMIT_MAX 16384u   /* Milvus's maximum query window (offset + limit) */

static int count_result(struct srv_req *rq, Milvus__Proto__Milvus__QueryResults *r, uint64_t count)
{
	Milvus__Proto__Schema__FieldData *f = srv_arena_msg(rq->arena, &milvus__proto__schema__field_data__descriptor);
	Milvus__Proto__Schema__ScalarField *sc = srv_arena_msg(rq->arena, &milvus__proto__schema__scalar_field__descriptor);
	Milvus__Proto__Schema__LongArray *la = srv_arena_msg(rq->arena, &milvus__proto__schema__long_array__descriptor);
	static char *names[] = { COUNT_FIELD };

	if (!f || !sc || !la || !(la->data = srv_arena_alloc(rq->arena, sizeof *la->data)) ||
	    !(r->fields_data = srv_arena_alloc(rq->arena, sizeof *r->fields_data)))
		return DANN_ENOMEM;
	la->data[0] = (int64_t)count;
	la->n_data = 1;
	sc->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
	sc->long_data = la;
	f->type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
	f->field_name = COUNT_FIELD;
	f->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
	f->scalars = sc;
	r->fields_data[0] = f;
	r->n_fields_data = 1;
	r->output_fields = names;
	r->n_output_fields = 1;
	return 0;
}

/* The keys of expr that are live, in the order asked, each once (an open
 * addressing set in the arena keeps it linear). */
static int live_keys(struct srv_req *rq, struct dann_coll *c, int64_t *keys, uint64_t n, uint64_t *nlive)
{
	struct dann_rows *rows = NULL;
	uint64_t k = 0, cap = 16, mask;
	int64_t *set;
	uint8_t *used;
	int rc;

	*nlive = 0;
	if (!n)
		return 0;
	while (cap < 2 * n)
		cap *= 2;
	mask = cap - 1;
	set = srv_arena_alloc(rq->arena, cap * sizeof *set);
	used = srv_arena_alloc(rq->arena, cap);
	if (!set || !used)
		return DANN_ENOMEM;
	if ((rc = dann_coll_fetch(c, keys, n, NULL, 0, 0, &rows)) < 0)
		return rc;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t h = ((uint64_t)keys[i] * 0x9e3779b97f4a7c15ull) & mask;
		if (!rows->found[i])
			continue;
		while (used[h] && set[h] != keys[i])
			h = (h + 1) & mask;
		if (used[h])
			continue;
		used[h] = 1;
		set[h] = keys[i];
		keys[k++] = keys[i];
	}
	dann_rows_free(rows);
	*nlive = k;
	return 0;
}

/* query_params "limit" / "offset" (absent: 0). */
static int window_param(struct srv_req *rq, const Milvus__Proto__Milvus__QueryRequest *q, const char *key,
			uint64_t *out)
{
	const char *v = srv_kv_find(q->query_params, q->n_query_params, key);
	char *end;
	unsigned long long x;

	*out = 0;
	if (!v || !v[0])
		return 0;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (*v == '-' || *end || errno || x > QUERY_LIMIT_MAX)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "Query: %s '%s': expected an integer in 0..%u",
				key, v, QUERY_LIMIT_MAX);
	*out = x;
	return 0;
}

/* Keys of the rows the request asks for, paged: the key fast path or the
 * filter language. */
static int query_keys(struct srv_req *rq, struct dann_coll *c, const struct dann_schema *s, const char *expr,
		      uint64_t offset, uint64_t limit, int64_t **keys, uint64_t *n)
{
	struct dann_coll_query_params qp = { .filter = expr, .offset = offset, .limit = limit };
	int64_t *found = NULL;
	uint64_t live;
	int rc;

	if ((rc = srv_pkexpr_match(rq, expr, s->pk_field, keys, n)) < 0)
		return rc;
	if (rc == 1) {
		if ((rc = live_keys(rq, c, *keys, *n, &live)) < 0)
			return rc;
		offset = offset < live ? offset : live;
		*keys += offset;
		*n = live - offset;
		if (limit && *n > limit)
			*n = limit;
		return 0;
	}
	if ((rc = dann_coll_query(c, &qp, &found, n, NULL)) < 0)
		return rc;
	*keys = srv_arena_alloc(rq->arena, (*n + 1) * sizeof **keys);
	if (*keys)
		memcpy(*keys, found, *n * sizeof **keys);
	free(found);
	return *keys ? 0 : DANN_ENOMEM;
}

int srv_h_query(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__QueryRequest *q = in;
	Milvus__Proto__Milvus__QueryResults *r = out;
	const char *expr = q->expr ? q->expr : "";
	struct dann_coll *c;
	struct dann_schema s;
	struct srv_outspec os;
	int64_t *keys;
	uint64_t n, limit, offset;
	int count = q->n_output_fields == 1 && strcmp(q->output_fields[0], COUNT_FIELD) == 0;
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0 || (rc = dann_coll_schema(c, &s)) < 0 ||
	    (rc = srv_coll_require_loaded(rq, c)) < 0)
		return rc;
	r->collection_name = q->collection_name;
	r->primary_field_name = s.pk_field;
	if ((rc = SRV_TEMPLATE_RENDER(rq, expr, q->expr_template_values, q->n_expr_template_values, &expr)) < 0)
		return rc;
	if (count) {
		uint64_t rows;
		if (srv_pkexpr_match(rq, expr, s.pk_field, &keys, &n) == 1) {
			if ((rc = live_keys(rq, c, keys, n, &rows)) < 0)
				return rc;
		} else if ((rc = dann_coll_count_filter(c, expr, &rows)) < 0) {
			return rc;
		}
		return count_result(rq, r, rows);
	}
	if ((rc = window_param(rq, q, "limit", &limit)) < 0 || (rc = window_param(rq, q, "offset", &offset)) < 0)
		return rc;
	if (!expr[0] && !limit)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"Query: an empty expression needs a limit (set limit, or filter the rows)");
	if (offset + limit > QUERY_LIMIT_MAX)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"Query: offset + limit is %llu, at most %u",
				(unsigned long long)(offset + limit), QUERY_LIMIT_MAX);
	if ((rc = srv_output_resolve(rq, &s, q->output_fields, q->n_output_fields, &os)) < 0 ||
	    (rc = query_keys(rq, c, &s, expr, offset, limit, &keys, &n)) < 0 ||
	    (rc = srv_output_build(rq, c, &s, &os, keys, n, &r->fields_data, &r->n_fields_data)) < 0)
		return rc;
	r->output_fields = os.names;
	r->n_output_fields = os.nnames;
	return 0;
}
