/*
 * srv_search.c — Search: many query vectors per request, top-k by the
 * collection's metric, scores in Milvus's conventions, output fields.
 *
 * dann's distances are "smaller is closer" (dann.h); Milvus reports L2 as
 * the squared distance (ascending) and IP and COSINE as similarities
 * (descending): score = -d for IP and 1 - d for COSINE. The order of the
 * results is the same either way. search_list (DiskANN's search-time list
 * size) maps to L and must be at least the limit, as in Milvus. The call's
 * deadline and cancellation go into the search, so an abandoned search
 * stops and frees its slots. A request of one query goes to the searcher
 * (dann_searcher, search_inflight), whose threads admit the concurrent
 * calls' queries into their in-flight slots as slots free (a filter is
 * planned by its selectivity per segment, as dann_coll_search does). When
 * it needs no stored field, its worker does not wait for it: the handler
 * defers (SRV_DEFERRED) and the searcher's thread builds and sends the
 * answer, saving two thread switches a query and keeping workers free.
 * Many queries go to dann_coll_search_batch.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.pb-c.h"
#include "error.h"
#include "milvus.pb-c.h"
#include "srv_coll.h"
#include "srv_handlers.h"
#include "srv_impl.h"
#include "srv_load.h"
#include "srv_output.h"
#include "srv_status.h"
#include "srv_template.h"

#define SEARCH_TOPK_MAX 16384
#define SEARCH_NQ_MAX 16384
#define SEARCH_L_MAX 100000
#define SEARCH_L_DEFAULT 100
#define SEARCH_INFLIGHT 16

struct search_args {
	uint32_t k, offset, L;
	enum dann_metric metric;
	int metric_given;
};

static const char *sparam(struct srv_req *rq, const Milvus__Proto__Milvus__SearchRequest *q, const cJSON *params,
			  const char *key)
{
	const char *v = srv_kv_find(q->search_params, q->n_search_params, key);
	const cJSON *j;

	if (v)
		return v;
	if (!params || !(j = cJSON_GetObjectItemCaseSensitive(params, key)))
		return NULL;
	if (cJSON_IsNumber(j))
		return srv_arena_printf(rq->arena, "%.17g", j->valuedouble);
	if (cJSON_IsString(j))
		return srv_arena_strdup(rq->arena, j->valuestring);
	return "";
}

static int uparam(struct srv_req *rq, const char *key, const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	double x;

	if (!v)
		return 0;
	x = strtod(v, &end);
	if (!*v || *end || x != floor(x) || x < lo || x > hi)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"search param %s '%s': expected an integer in %u..%u", key, v, lo, hi);
	*out = (uint32_t)x;
	return 0;
}

static int parse_args(struct srv_req *rq, const Milvus__Proto__Milvus__SearchRequest *q, const struct dann_schema *s,
		      struct search_args *a)
{
	const char *ptxt = srv_kv_find(q->search_params, q->n_search_params, "params");
	const char *metric, *field, *list;
	cJSON *params = NULL;
	int rc;

	memset(a, 0, sizeof *a);
	a->k = 10;
	a->metric = s->index.metric;
	if (ptxt && ptxt[0] && !(params = cJSON_Parse(ptxt)))
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "search params '%s' are not JSON", ptxt);
	field = sparam(rq, q, params, "anns_field");
	if (field && field[0] && strcmp(field, s->vector_field) != 0) {
		rc = srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
			      "anns_field %s: the collection's vector field is %s", field, s->vector_field);
		goto out;
	}
	if ((rc = uparam(rq, "topk", sparam(rq, q, params, "topk"), 1, SEARCH_TOPK_MAX, &a->k)) < 0 ||
	    (rc = uparam(rq, "limit", sparam(rq, q, params, "limit"), 1, SEARCH_TOPK_MAX, &a->k)) < 0 ||
	    (rc = uparam(rq, "offset", sparam(rq, q, params, "offset"), 0, SEARCH_TOPK_MAX, &a->offset)) < 0)
		goto out;
	list = sparam(rq, q, params, "search_list");
	if (!list)
		list = sparam(rq, q, params, "search_list_size");
	a->L = 0;
	if ((rc = uparam(rq, "search_list", list, 1, SEARCH_L_MAX, &a->L)) < 0)
		goto out;
	if (a->L && a->L < a->k + a->offset) {
		rc = srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
			      "search_list %u must be at least limit + offset (%u)", a->L, a->k + a->offset);
		goto out;
	}
	if (!a->L)
		a->L = a->k + a->offset > SEARCH_L_DEFAULT ? a->k + a->offset : SEARCH_L_DEFAULT;
	metric = sparam(rq, q, params, "metric_type");
	if (metric && metric[0]) {
		enum dann_metric m;
		if ((rc = srv_metric_parse(rq, metric, &m)) < 0)
			goto out;
		if (m != s->index.metric) {
			rc = srv_fail(rq, SRV_M_METRIC_INVALID, DANN_EINVAL,
				      "metric type not match: the index uses %s, the search asked %s",
				      dann_metric_name(s->index.metric), metric);
			goto out;
		}
	}
	if (sparam(rq, q, params, "group_by_field"))
		rc = srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EUNSUPPORTED, "group_by_field is not supported by dannd");
out:
	cJSON_Delete(params);
	return rc;
}

/* The query vectors as float32 (nq * dim, in the arena). */
static int queries_of(struct srv_req *rq, const Milvus__Proto__Milvus__SearchRequest *q, const struct dann_schema *s,
		      float **out, uint32_t *nq)
{
	Milvus__Proto__Common__PlaceholderGroup *g;
	Milvus__Proto__Common__PlaceholderValue *pv;
	float *v;
	size_t n;

	if (q->placeholder_group.len == 0)
		return srv_fail(rq, SRV_M_PARAM_MISSING, DANN_EINVAL, "Search: no query vectors (placeholder_group is empty)");
	g = milvus__proto__common__placeholder_group__unpack(srv_arena_allocator(rq->arena), q->placeholder_group.len,
							     q->placeholder_group.data);
	if (!g || g->n_placeholders != 1)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"Search: placeholder_group is not one PlaceholderValue");
	pv = g->placeholders[0];
	n = pv->n_values;
	if (!n || n > SEARCH_NQ_MAX)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "Search: %zu query vectors: expected 1..%d", n,
				SEARCH_NQ_MAX);
	if (!(v = srv_arena_alloc(rq->arena, n * s->dim * sizeof *v)))
		return DANN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const ProtobufCBinaryData *b = &pv->values[i];
		float *dst = v + i * s->dim;
		if (pv->type == MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector) {
			if (b->len != (size_t)s->dim * sizeof(float))
				return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
						"Search: query %zu: dimension mismatch: %zu floats, the collection's dim is %u",
						i, b->len / sizeof(float), s->dim);
			memcpy(dst, b->data, b->len);
		} else if (pv->type == MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__Int8Vector) {
			if (b->len != s->dim)
				return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
						"Search: query %zu: dimension mismatch: %zu int8s, the collection's dim is %u",
						i, b->len, s->dim);
			for (uint32_t d = 0; d < s->dim; d++)
				dst[d] = (float)(int8_t)b->data[d];
		} else {
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"Search: query vectors of placeholder type %d are not supported", (int)pv->type);
		}
		for (uint32_t d = 0; d < s->dim; d++)
			if (!isfinite(dst[d]))
				return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
						"Search: query %zu: element %u is %s", i, d, isnan(dst[d]) ? "NaN" : "infinite");
	}
	*out = v;
	*nq = (uint32_t)n;
	return 0;
}

static float score_of(enum dann_metric m, float d)
{
	return m == DANN_METRIC_IP ? -d : m == DANN_METRIC_COSINE ? 1.0f - d : d;
}

/* One Search call between its handler and its answer (in the arena): a
 * deferred single-query search builds its results from it on the
 * searcher's thread. */
struct search_job {
	struct srv_req *rq;
	const Milvus__Proto__Milvus__SearchRequest *q;
	Milvus__Proto__Milvus__SearchResults *r;
	struct dann_coll *c;
	struct dann_schema s;
	struct search_args a;
	struct srv_outspec os;
	int64_t *keys;
	float *dists;
	uint32_t *found, nq, kk;
};

/* The engine's top kk per query (offset dropped) into the response. */
static int results_of(struct search_job *j)
{
	struct srv_req *rq = j->rq;
	Milvus__Proto__Schema__SearchResultData *rd;
	int64_t *hit_keys, *topks;
	uint64_t total = 0;
	uint32_t nq = j->nq, kk = j->kk, off = j->a.offset;
	float *scores;
	int rc;

	hit_keys = srv_arena_alloc(rq->arena, ((size_t)nq * j->a.k + 1) * sizeof *hit_keys);
	scores = srv_arena_alloc(rq->arena, ((size_t)nq * j->a.k + 1) * sizeof *scores);
	topks = srv_arena_alloc(rq->arena, nq * sizeof *topks);
	rd = srv_arena_msg(rq->arena, &milvus__proto__schema__search_result_data__descriptor);
	if (!hit_keys || !scores || !topks || !rd)
		return DANN_ENOMEM;
	for (uint32_t i = 0; i < nq; i++) {
		uint32_t f = j->found[i] > off ? j->found[i] - off : 0;
		for (uint32_t x = 0; x < f; x++) {
			hit_keys[total + x] = j->keys[(size_t)i * kk + off + x];
			scores[total + x] = score_of(j->s.index.metric, j->dists[(size_t)i * kk + off + x]);
		}
		topks[i] = f;
		total += f;
	}
	rd->num_queries = nq;
	rd->top_k = j->a.k;
	rd->scores = scores;
	rd->n_scores = total;
	rd->topks = topks;
	rd->n_topks = nq;
	rd->primary_field_name = j->s.pk_field;
	if ((rc = srv_output_build(rq, j->c, &j->s, &j->os, hit_keys, total, &rd->fields_data,
				   &rd->n_fields_data)) < 0)
		return rc;
	rd->ids = srv_arena_msg(rq->arena, &milvus__proto__schema__ids__descriptor);
	if (!rd->ids || !(rd->ids->int_id = srv_arena_msg(rq->arena, &milvus__proto__schema__long_array__descriptor)))
		return DANN_ENOMEM;
	rd->ids->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
	rd->ids->int_id->data = hit_keys;
	rd->ids->int_id->n_data = total;
	rd->output_fields = j->os.names;
	rd->n_output_fields = j->os.nnames;
	j->r->results = rd;
	j->r->collection_name = j->q->collection_name;
	return 0;
}

/* The searcher finished a deferred query (on its thread). */
static void search_done(void *arg, int rc, const char *msg)
{
	struct search_job *j = arg;
	struct srv *s = j->rq->srv;

	rc = rc < 0 ? dann_fail(rc, "%s", msg) : results_of(j);
	atomic_fetch_sub(&s->search_deferred, 1);
	srv_dispatch_resume(j->rq, rc); /* the call may be freed from here on */
}

/* A search the searcher's thread can answer by itself: one query, and no
 * stored field to fetch, which could wait on the disk and stall every
 * other query of that thread's ring. */
static int deferrable(struct srv_req *rq, const struct search_job *j)
{
	return j->nq == 1 && rq->srv->searcher && rq->on_resume && !j->os.vector && !j->os.nscalar &&
	       !j->os.meta;
}

static void note_deferred(struct srv *s)
{
	unsigned now = atomic_fetch_add(&s->search_deferred, 1) + 1;
	unsigned peak = atomic_load(&s->search_deferred_peak);

	while (now > peak && !atomic_compare_exchange_weak(&s->search_deferred_peak, &peak, now))
		;
}

/* Everything before the search: collection, arguments, query vectors,
 * outputs, filter, result buffers and the engine's parameters. Blocks on
 * nothing, so a completion-queue thread may run it (inline_only). */
static int prepare(struct srv_req *rq, struct search_job *j, struct dann_coll_search_params *sp, float **queries)
{
	const char *filter = NULL;
	int rc;

	if ((rc = srv_coll_get(rq, j->q->collection_name, &j->c)) < 0 || (rc = dann_coll_schema(j->c, &j->s)) < 0 ||
	    (rc = srv_coll_require_loaded(rq, j->c)) < 0)
		return rc;
	if ((rc = parse_args(rq, j->q, &j->s, &j->a)) < 0 || (rc = queries_of(rq, j->q, &j->s, queries, &j->nq)) < 0 ||
	    (rc = srv_output_resolve(rq, &j->s, j->q->output_fields, j->q->n_output_fields, &j->os)) < 0 ||
	    (rc = SRV_TEMPLATE_RENDER(rq, j->q->dsl, j->q->expr_template_values, j->q->n_expr_template_values,
				      &filter)) < 0)
		return rc;
	j->kk = j->a.k + j->a.offset;
	j->keys = srv_arena_alloc(rq->arena, (size_t)j->nq * j->kk * sizeof *j->keys);
	j->dists = srv_arena_alloc(rq->arena, (size_t)j->nq * j->kk * sizeof *j->dists);
	j->found = srv_arena_alloc(rq->arena, j->nq * sizeof *j->found);
	if (!j->keys || !j->dists || !j->found)
		return DANN_ENOMEM;
	dann_coll_search_params_default(sp);
	sp->k = j->kk;
	sp->L = j->a.L;
	sp->threads = 1;
	sp->inflight = SEARCH_INFLIGHT;
	sp->filter = filter && filter[0] ? filter : NULL;
	sp->deadline_ns = rq->deadline_ns;
	sp->cancel = rq->cancel;
	return 0;
}

int srv_h_search(struct srv_req *rq, const void *in, void *out)
{
	struct dann_coll_search_params sp;
	struct search_job *j = srv_arena_alloc(rq->arena, sizeof *j);
	float *queries = NULL;
	int rc;

	if (!j)
		return rq->inline_only ? SRV_NOT_INLINE : DANN_ENOMEM;
	memset(j, 0, sizeof *j);
	j->rq = rq;
	j->q = in;
	j->r = out;
	if ((rc = prepare(rq, j, &sp, &queries)) < 0)
		return rq->inline_only ? SRV_NOT_INLINE : rc; /* a worker answers the error */
	if (deferrable(rq, j)) {
		struct srv *s = rq->srv;
		note_deferred(s);
		rc = dann_searcher_submit(s->searcher, j->c, queries, &sp, j->keys, j->dists, j->found,
					  search_done, j);
		if (rc == 0)
			return SRV_DEFERRED; /* search_done answers; j and rq are its */
		atomic_fetch_sub(&s->search_deferred, 1);
		return rq->inline_only ? SRV_NOT_INLINE : rc;
	}
	if (rq->inline_only)
		return SRV_NOT_INLINE;
	if (j->nq == 1 && rq->srv->searcher)
		rc = dann_searcher_search(rq->srv->searcher, j->c, queries, &sp, j->keys, j->dists, j->found);
	else if (j->nq == 1)
		rc = dann_coll_search(j->c, queries, &sp, j->keys, j->dists, j->found, NULL);
	else
		rc = dann_coll_search_batch(j->c, queries, j->nq, &sp, j->keys, j->dists, j->found, NULL);
	return rc < 0 ? rc : results_of(j);
}
