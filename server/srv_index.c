/*
 * srv_index.c — CreateIndex, DescribeIndex, GetIndexState,
 * GetIndexBuildProgress.
 *
 * Every sealed segment of a dann collection is a DiskANN index, so the
 * index a client creates is the parameters those builds use: index type
 * DISKANN (AUTOINDEX means the same here), metric L2 / IP / COSINE, and
 * DiskANN's build parameters mapped onto dann's: max_degree -> R,
 * search_list_size -> L, pq_code_budget_gb_ratio (PQ code bytes as a share
 * of the raw vector bytes) -> pq_bytes, build_dram_budget_gb -> build RAM;
 * and dann's own "opq" (true/false: a learned rotation before PQ, for
 * embedding-like data), which DescribeIndex shows back as a JSON bool.
 * Parameters come either as their own key-value pairs or inside the
 * "params" JSON, as the SDKs send them. Other index types are refused.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "milvus.pb-c.h"
#include "srv_coll.h"
#include "srv_handlers.h"
#include "srv_impl.h"
#include "srv_status.h"

#define INDEX_PARAMS_MAX 2048
#define INDEX_R_MAX 512
#define INDEX_L_MAX 100000

/* A parameter's text: its own pair, else the member of the "params" JSON. */
static const char *param(struct srv_req *rq, const Milvus__Proto__Milvus__CreateIndexRequest *q,
			 const cJSON *params, const char *key)
{
	const char *v = srv_kv_find(q->extra_params, q->n_extra_params, key);
	const cJSON *j;

	if (v)
		return v;
	if (!params || !(j = cJSON_GetObjectItemCaseSensitive(params, key)))
		return NULL;
	if (cJSON_IsString(j))
		return srv_arena_strdup(rq->arena, j->valuestring);
	if (cJSON_IsNumber(j))
		return srv_arena_printf(rq->arena, "%.17g", j->valuedouble);
	return "";
}

static int num_param(struct srv_req *rq, const char *key, const char *v, double lo, double hi, double *out)
{
	char *end;
	double x;

	if (!v)
		return 0;
	x = strtod(v, &end);
	if (!*v || *end || !isfinite(x) || x < lo || x > hi)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"index param %s '%s': expected a number in %g..%g", key, v, lo, hi);
	*out = x;
	return 0;
}

/* "opq": a JSON bool, or the text true/false/1/0 (a key-value pair's
 * value is text); absent keeps *out. */
static int opq_param(struct srv_req *rq, const Milvus__Proto__Milvus__CreateIndexRequest *q,
		     const cJSON *params, int *out)
{
	const char *v = srv_kv_find(q->extra_params, q->n_extra_params, "opq");
	const cJSON *j = params ? cJSON_GetObjectItemCaseSensitive(params, "opq") : NULL;

	if (!v && j) {
		if (cJSON_IsBool(j)) {
			*out = cJSON_IsTrue(j);
			return 0;
		}
		if (cJSON_IsNumber(j) && (j->valuedouble == 0 || j->valuedouble == 1)) {
			*out = j->valuedouble == 1;
			return 0;
		}
		if (!cJSON_IsString(j))
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"index param opq: expected true or false");
		v = j->valuestring;
	}
	if (!v)
		return 0;
	if (!strcasecmp(v, "true") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcmp(v, "0"))
		*out = 0;
	else
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"index param opq '%s': expected true or false", v);
	return 0;
}

int srv_metric_parse(struct srv_req *rq, const char *v, enum dann_metric *out)
{
	char low[16];
	size_t i;

	for (i = 0; v[i] && i + 1 < sizeof low; i++)
		low[i] = (char)tolower((unsigned char)v[i]);
	low[i] = 0;
	if (v[i] || dann_metric_parse(low, out) < 0)
		return srv_fail(rq, SRV_M_METRIC_INVALID, DANN_EINVAL,
				"metric type '%s' is not supported (L2, IP or COSINE)", v);
	return 0;
}

static int build_params(struct srv_req *rq, const Milvus__Proto__Milvus__CreateIndexRequest *q,
			const cJSON *params, const struct dann_schema *s, struct dann_index_params *ip)
{
	const char *type = param(rq, q, params, "index_type");
	const char *metric = param(rq, q, params, "metric_type");
	double R = ip->R, L = ip->L, ratio = -1, ram = ip->build_ram_gib;
	int rc;

	if (type && type[0] && strcasecmp(type, "DISKANN") != 0 && strcasecmp(type, "AUTOINDEX") != 0)
		return srv_fail(rq, SRV_M_INDEX_NOT_SUPPORTED, DANN_EUNSUPPORTED,
				"index type %s is not supported: dannd builds DISKANN (or AUTOINDEX)", type);
	ip->metric = DANN_METRIC_COSINE; /* Milvus's default for AUTOINDEX */
	if (metric && metric[0] && (rc = srv_metric_parse(rq, metric, &ip->metric)) < 0)
		return rc;
	if ((rc = num_param(rq, "max_degree", param(rq, q, params, "max_degree"), 1, INDEX_R_MAX, &R)) < 0 ||
	    (rc = num_param(rq, "search_list_size", param(rq, q, params, "search_list_size"), 1,
			    INDEX_L_MAX, &L)) < 0 ||
	    (rc = num_param(rq, "pq_code_budget_gb_ratio", param(rq, q, params, "pq_code_budget_gb_ratio"),
			    1e-6, 1, &ratio)) < 0 ||
	    (rc = num_param(rq, "build_dram_budget_gb", param(rq, q, params, "build_dram_budget_gb"), 0,
			    1e6, &ram)) < 0 ||
	    (rc = opq_param(rq, q, params, &ip->opq)) < 0)
		return rc;
	ip->R = (uint32_t)R;
	ip->L = (uint32_t)L;
	ip->build_ram_gib = ram;
	if (ratio > 0) {
		double raw = (double)s->dim * (double)dann_dtype_size(s->dtype);
		uint32_t pq = (uint32_t)lround(ratio * raw);
		ip->pq_bytes = pq < 1 ? 1 : pq > s->dim ? s->dim : pq;
	}
	return 0;
}

/* The request's parameters as one JSON object, for DescribeIndex. */
static char *params_json(struct srv_req *rq, const Milvus__Proto__Milvus__CreateIndexRequest *q,
			 const cJSON *params, const struct dann_index_params *ip)
{
	cJSON *o = params ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
	char *txt, *copy = NULL;

	if (!o)
		return NULL;
	for (size_t i = 0; i < q->n_extra_params; i++) {
		const char *k = q->extra_params[i]->key;
		if (!k || strcmp(k, "params") == 0)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(o, k);
		cJSON_AddStringToObject(o, k, q->extra_params[i]->value ? q->extra_params[i]->value : "");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "metric_type");
	cJSON_AddStringToObject(o, "metric_type", ip->metric == DANN_METRIC_L2 ? "L2"
						  : ip->metric == DANN_METRIC_IP ? "IP" : "COSINE");
	/* what the builds use, as a bool, whichever way it was asked */
	if (ip->opq || cJSON_GetObjectItemCaseSensitive(o, "opq")) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "opq");
		cJSON_AddBoolToObject(o, "opq", ip->opq);
	}
	if ((txt = cJSON_PrintUnformatted(o))) {
		if (strlen(txt) < INDEX_PARAMS_MAX)
			copy = srv_arena_strdup(rq->arena, txt);
		cJSON_free(txt);
	}
	cJSON_Delete(o);
	return copy;
}

/* Milvus fixes a collection's metric when its index is created; dann at
 * collection creation, and the segment layer cannot change it yet once a
 * collection exists. A collection that holds no row yet is recreated with
 * the new metric (its server properties carried over), with writers held
 * off so that nothing lands in the collection being replaced. */
static const char *const kept_props[] = { SRV_PROP_CREATED, SRV_PROP_CONSISTENCY };
#define NKEPT (sizeof kept_props / sizeof kept_props[0])

static int empty(struct dann_coll *c)
{
	struct dann_seg_info *segs = NULL;
	size_t n = 0;
	uint64_t rows = 0;
	int ok;

	if (dann_coll_count(c, &rows) < 0 || rows || dann_coll_segments(c, &segs, &n) < 0)
		return 0;
	ok = 1;
	for (size_t i = 0; i < n; i++)
		if (segs[i].rows)
			ok = 0;
	free(segs);
	return ok;
}

static int recreate_with(struct srv_req *rq, struct dann_coll **cp, const struct dann_index_params *ip)
{
	struct dann_schema s;
	char vals[NKEPT][64];
	int have[NKEPT];
	int rc;

	pthread_rwlock_wrlock(&rq->srv->write_lock);
	if ((rc = dann_coll_schema(*cp, &s)) < 0)
		goto out;
	if (!empty(*cp)) {
		rc = srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EUNSUPPORTED,
			      "collection %s: the metric is %s and the collection holds rows; dannd cannot "
			      "change the metric of a collection with data yet (create the index before "
			      "inserting)", s.name, dann_metric_name(s.index.metric));
		goto out;
	}
	for (size_t i = 0; i < NKEPT; i++)
		have[i] = dann_coll_get_prop(*cp, kept_props[i], vals[i], sizeof vals[i]) == 0;
	s.index = *ip;
	if ((rc = dann_coll_drop(rq->srv->db, s.name)) < 0 || (rc = dann_coll_create(rq->srv->db, &s)) < 0 ||
	    (rc = dann_coll_get(rq->srv->db, s.name, cp)) < 0)
		goto out;
	for (size_t i = 0; i < NKEPT && rc == 0; i++)
		if (have[i])
			rc = dann_coll_set_prop(*cp, kept_props[i], vals[i]);
	dann_log(DANN_LOG_INFO, "server", "collection %s: recreated empty with metric %s for its index",
		 s.name, dann_metric_name(ip->metric));
out:
	pthread_rwlock_unlock(&rq->srv->write_lock);
	return rc;
}

int srv_h_create_index(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__CreateIndexRequest *q = in;
	const char *ptxt = srv_kv_find(q->extra_params, q->n_extra_params, "params");
	const char *field = q->field_name;
	struct dann_coll *c;
	struct dann_schema s;
	struct dann_index_params ip;
	cJSON *params = NULL;
	char *json;
	char *type;
	int rc;

	(void)out;
	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0 || (rc = dann_coll_schema(c, &s)) < 0)
		return rc;
	if (!field || !field[0])
		field = s.vector_field;
	if (strcmp(field, s.vector_field) != 0)
		return srv_fail(rq, SRV_M_INDEX_NOT_SUPPORTED, DANN_EUNSUPPORTED,
				"field %s: dannd indexes the vector field (%s) only", field, s.vector_field);
	if (ptxt && ptxt[0] && !(params = cJSON_Parse(ptxt)))
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL, "index params '%s' are not JSON", ptxt);
	ip = s.index;
	if ((rc = build_params(rq, q, params, &s, &ip)) < 0)
		goto out;
	type = (char *)param(rq, q, params, "index_type");
	if (!(json = params_json(rq, q, params, &ip))) {
		rc = DANN_ENOMEM;
		goto out;
	}
	if (ip.metric != s.index.metric && (rc = recreate_with(rq, &c, &ip)) < 0)
		goto out;
	if ((rc = dann_coll_set_index(c, &ip)) < 0 ||
	    (rc = dann_coll_set_prop(c, SRV_PROP_INDEX_TYPE, type && type[0] ? type : "AUTOINDEX")) < 0 ||
	    (rc = dann_coll_set_prop(c, SRV_PROP_INDEX_PARAMS, json)) < 0 ||
	    (rc = dann_coll_set_prop(c, SRV_PROP_INDEX_NAME,
				     q->index_name && q->index_name[0] ? q->index_name : field)) < 0)
		goto out;
out:
	cJSON_Delete(params);
	return rc;
}

/* The index description of c, or DANN_ENOTFOUND with Milvus's status. */
static int describe(struct srv_req *rq, struct dann_coll *c, const char *want_name,
		    Milvus__Proto__Milvus__IndexDescription **out)
{
	Milvus__Proto__Milvus__IndexDescription *d;
	struct dann_schema s;
	char name[DANN_NAME_MAX + 1], type[64], params[INDEX_PARAMS_MAX];
	uint64_t rows;
	int rc;

	if (dann_coll_get_prop(c, SRV_PROP_INDEX_NAME, name, sizeof name) < 0 ||
	    (want_name && want_name[0] && strcmp(want_name, name) != 0))
		return srv_fail(rq, SRV_M_INDEX_NOT_FOUND, DANN_ENOTFOUND, "index not found[collection=%s]",
				rq->coll);
	if ((rc = dann_coll_schema(c, &s)) < 0 || (rc = dann_coll_count(c, &rows)) < 0)
		return rc;
	if (dann_coll_get_prop(c, SRV_PROP_INDEX_TYPE, type, sizeof type) < 0)
		snprintf(type, sizeof type, "DISKANN");
	if (dann_coll_get_prop(c, SRV_PROP_INDEX_PARAMS, params, sizeof params) < 0)
		snprintf(params, sizeof params, "{}");
	if (!(d = srv_arena_msg(rq->arena, &milvus__proto__milvus__index_description__descriptor)) ||
	    !(d->params = srv_arena_alloc(rq->arena, 3 * sizeof *d->params)))
		return DANN_ENOMEM;
	d->index_name = srv_arena_strdup(rq->arena, name);
	d->indexid = srv_coll_id(name) ^ srv_coll_id(s.name);
	d->field_name = srv_arena_strdup(rq->arena, s.vector_field);
	d->params[0] = srv_kv_new(rq, "index_type", type);
	d->params[1] = srv_kv_new(rq, "metric_type", s.index.metric == DANN_METRIC_L2 ? "L2"
						     : s.index.metric == DANN_METRIC_IP ? "IP" : "COSINE");
	d->params[2] = srv_kv_new(rq, "params", params);
	d->n_params = 3;
	d->indexed_rows = d->total_rows = (int64_t)rows;
	d->state = MILVUS__PROTO__COMMON__INDEX_STATE__Finished;
	*out = d;
	return 0;
}

int srv_h_describe_index(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__DescribeIndexRequest *q = in;
	Milvus__Proto__Milvus__DescribeIndexResponse *r = out;
	struct dann_coll *c;
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0)
		return rc;
	if (!(r->index_descriptions = srv_arena_alloc(rq->arena, sizeof *r->index_descriptions)))
		return DANN_ENOMEM;
	if ((rc = describe(rq, c, q->index_name, &r->index_descriptions[0])) < 0)
		return rc;
	r->n_index_descriptions = 1;
	return 0;
}

int srv_h_get_index_state(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__GetIndexStateRequest *q = in;
	Milvus__Proto__Milvus__GetIndexStateResponse *r = out;
	Milvus__Proto__Milvus__IndexDescription *d;
	struct dann_coll *c;
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0 ||
	    (rc = describe(rq, c, q->index_name, &d)) < 0)
		return rc;
	r->state = d->state;
	return 0;
}

int srv_h_get_index_build_progress(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__GetIndexBuildProgressRequest *q = in;
	Milvus__Proto__Milvus__GetIndexBuildProgressResponse *r = out;
	Milvus__Proto__Milvus__IndexDescription *d;
	struct dann_coll *c;
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0 ||
	    (rc = describe(rq, c, q->index_name, &d)) < 0)
		return rc;
	r->indexed_rows = d->indexed_rows;
	r->total_rows = d->total_rows;
	return 0;
}
