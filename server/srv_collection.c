/*
 * srv_collection.c — CreateCollection, DropCollection, HasCollection,
 * DescribeCollection, ShowCollections, GetCollectionStatistics.
 *
 * Milvus keeps a collection's creation time, consistency level and load
 * state beside its schema; dannd keeps them as the collection's durable
 * properties (srv_coll.h) so they survive a restart with the data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "error.h"
#include "milvus.pb-c.h"
#include "srv_coll.h"
#include "srv_handlers.h"
#include "srv_impl.h"
#include "srv_meta.h"
#include "srv_schema.h"
#include "srv_status.h"

#define PROP_BUF 64

static uint64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Milvus timestamps are hybrid: physical ms << 18 | logical counter. */
static uint64_t hybrid_ts(uint64_t ms)
{
	return ms << 18;
}

static uint64_t created_ms(struct dann_coll *c)
{
	char buf[PROP_BUF];

	if (dann_coll_get_prop(c, SRV_PROP_CREATED, buf, sizeof buf) < 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

int srv_h_create_collection(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__CreateCollectionRequest *q = in;
	Milvus__Proto__Schema__CollectionSchema *m;
	struct dann_schema s;
	struct dann_coll *c;
	char buf[PROP_BUF];
	size_t n = q->collection_name ? strlen(q->collection_name) : 0;
	int rc;

	(void)out;
	rq->coll = q->collection_name;
	if (!n || n > DANN_NAME_MAX)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"collection name '%s': expected 1..%d bytes", q->collection_name ? q->collection_name : "",
				DANN_NAME_MAX);
	m = milvus__proto__schema__collection_schema__unpack(srv_arena_allocator(rq->arena),
							       q->schema.len, q->schema.data);
	if (!m)
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"CreateCollection: schema is not a valid CollectionSchema (%zu bytes)",
				q->schema.len);
	dann_schema_default(&s);
	/* Milvus picks the metric with the index, often after rows are in;
	 * the segment layer fixes it at creation (srv_index.c recreates a
	 * collection only while empty). Start from Milvus's default metric, so
	 * the common insert-then-index flow with a default index works. */
	s.index.metric = DANN_METRIC_COSINE;
	memcpy(s.name, q->collection_name, n + 1);
	if ((rc = srv_schema_decode(rq, m, &s)) < 0)
		return rc;
	if ((rc = dann_coll_create(rq->srv->db, &s)) < 0) {
		if (rc == DANN_EEXIST)
			rq->mcode = SRV_M_DUPLICATE;
		return rc;
	}
	if ((rc = dann_coll_get(rq->srv->db, s.name, &c)) < 0)
		return rc;
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)wall_ms());
	if ((rc = dann_coll_set_prop(c, SRV_PROP_CREATED, buf)) < 0)
		return rc;
	snprintf(buf, sizeof buf, "%d", (int)q->consistency_level);
	return dann_coll_set_prop(c, SRV_PROP_CONSISTENCY, buf);
}

int srv_h_drop_collection(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__DropCollectionRequest *q = in;
	struct dann_coll *c;
	int rc;

	(void)out;
	/* Milvus answers success for a collection that is already gone. */
	if ((rc = srv_coll_get(rq, q->collection_name, &c)) == DANN_ENOTFOUND) {
		dann_clear_error();
		rq->mcode = 0;
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = dann_coll_drop(rq->srv->db, q->collection_name);
	return rc == DANN_ENOTFOUND ? 0 : rc;
}

int srv_h_has_collection(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__HasCollectionRequest *q = in;
	Milvus__Proto__Milvus__BoolResponse *r = out;
	struct dann_coll *c;
	int rc = srv_coll_get(rq, q->collection_name, &c);

	if (rc == DANN_EUNSUPPORTED) { /* another node's (srv_meta.h) */
		rq->mcode = 0;
		dann_clear_error();
		r->value = 1;
		return 0;
	}
	if (rc == DANN_ENOTFOUND) {
		rq->mcode = 0;
		dann_clear_error();
		return 0;
	}
	r->value = rc == 0;
	return rc;
}

int srv_h_describe_collection(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__DescribeCollectionRequest *q = in;
	Milvus__Proto__Milvus__DescribeCollectionResponse *r = out;
	struct dann_coll *c;
	struct dann_schema s;
	char buf[PROP_BUF];
	uint64_t ms;
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0)
		return rc;
	if ((rc = dann_coll_schema(c, &s)) < 0)
		return rc;
	if (!(r->schema = srv_schema_encode(rq, &s)))
		return DANN_ENOMEM;
	ms = created_ms(c);
	r->collectionid = srv_coll_id(s.name);
	r->collection_name = r->schema->name;
	r->created_timestamp = hybrid_ts(ms);
	r->created_utc_timestamp = ms;
	r->shards_num = 1;
	r->num_partitions = 1;
	r->db_name = "default";
	r->consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Bounded;
	if (dann_coll_get_prop(c, SRV_PROP_CONSISTENCY, buf, sizeof buf) == 0)
		r->consistency_level = atoi(buf);
	return 0;
}

int srv_h_show_collections(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__ShowCollectionsRequest *q = in;
	Milvus__Proto__Milvus__ShowCollectionsResponse *r = out;
	char **names = NULL;
	size_t n = 0, k = 0;
	int rc;

	struct srv_meta_remote *rem = NULL;
	size_t nrem = 0;

	if ((rc = dann_coll_list(rq->srv->db, &names, &n)) < 0)
		return rc;
	/* in a cluster, the other nodes' collections too (srv_meta.h) */
	if ((rc = srv_meta_remote(rq->srv->meta, &rem, &nrem)) < 0) {
		free(names);
		return rc;
	}
	n += nrem;
	r->collection_names = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->collection_names);
	r->collection_ids = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->collection_ids);
	r->created_timestamps = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->created_timestamps);
	r->created_utc_timestamps = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->created_utc_timestamps);
	r->inmemory_percentages = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->inmemory_percentages);
	r->query_service_available = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->query_service_available);
	if (!r->collection_names || !r->collection_ids || !r->created_timestamps ||
	    !r->created_utc_timestamps || !r->inmemory_percentages || !r->query_service_available) {
		free(names);
		free(rem);
		return DANN_ENOMEM;
	}
	n -= nrem;
	for (size_t i = 0; i < nrem; i++) {
		if (q->type == MILVUS__PROTO__MILVUS__SHOW_TYPE__InMemory && !rem[i].loaded)
			continue;
		r->collection_names[k] = srv_arena_strdup(rq->arena, rem[i].name);
		r->collection_ids[k] = srv_coll_id(rem[i].name);
		r->created_timestamps[k] = hybrid_ts(rem[i].created_ms);
		r->created_utc_timestamps[k] = rem[i].created_ms;
		r->inmemory_percentages[k] = rem[i].loaded ? 100 : 0;
		r->query_service_available[k] = rem[i].loaded;
		k++;
	}
	free(rem);
	for (size_t i = 0; i < n; i++) {
		struct dann_coll *c;
		char buf[PROP_BUF];
		int loaded;
		uint64_t ms;

		if (dann_coll_get(rq->srv->db, names[i], &c) < 0)
			continue; /* dropped since the list was taken */
		loaded = dann_coll_get_prop(c, SRV_PROP_LOADED, buf, sizeof buf) == 0 && buf[0] == '1';
		if (q->type == MILVUS__PROTO__MILVUS__SHOW_TYPE__InMemory && !loaded)
			continue;
		ms = created_ms(c);
		r->collection_names[k] = srv_arena_strdup(rq->arena, names[i]);
		r->collection_ids[k] = srv_coll_id(names[i]);
		r->created_timestamps[k] = hybrid_ts(ms);
		r->created_utc_timestamps[k] = ms;
		r->inmemory_percentages[k] = loaded ? 100 : 0;
		r->query_service_available[k] = loaded;
		k++;
	}
	free(names);
	r->n_collection_names = r->n_collection_ids = r->n_created_timestamps = k;
	r->n_created_utc_timestamps = r->n_inmemory_percentages = r->n_query_service_available = k;
	return 0;
}

int srv_h_get_collection_statistics(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__GetCollectionStatisticsRequest *q = in;
	Milvus__Proto__Milvus__GetCollectionStatisticsResponse *r = out;
	struct dann_coll *c;
	uint64_t rows;
	char buf[PROP_BUF];
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0)
		return rc;
	if ((rc = dann_coll_count(c, &rows)) < 0)
		return rc;
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)rows);
	r->stats = srv_arena_alloc(rq->arena, sizeof *r->stats);
	if (!r->stats || !(r->stats[0] = srv_kv_new(rq, "row_count", buf)))
		return DANN_ENOMEM;
	r->n_stats = 1;
	return 0;
}
