/*
 * srv_delete.c — Delete (by keys or by any filter expression), Flush,
 * GetFlushState.
 *
 * Delete by a filter deletes the rows that pass it when the call runs; a
 * row inserted meanwhile may or may not be among them, as in Milvus.
 *
 * Flush seals each named collection's growing segment and waits until the
 * sealed segments are disk indexes (dann_coll_flush), so the segment ids
 * it returns are flushed when it answers and GetFlushState can say so.
 */
#include <stdlib.h>
#include <string.h>

#include "milvus.pb-c.h"
#include "srv_coll.h"
#include "srv_handlers.h"
#include "srv_impl.h"
#include "srv_meta.h"
#include "srv_pkexpr.h"
#include "srv_status.h"
#include "srv_template.h"

/* Keys an expression selects: the key fast path, or every live row that
 * passes the filter (a bad expression is an error naming its column or
 * field, and nothing is deleted). */
static int delete_keys(struct srv_req *rq, struct dann_coll *c, const struct dann_schema *s, const char *expr,
		       int64_t **keys, uint64_t *n)
{
	struct dann_coll_query_params qp = { .filter = expr };
	int64_t *found = NULL;
	int rc;

	if (!expr || !expr[0])
		return srv_fail(rq, SRV_M_PARAM_MISSING, DANN_EINVAL,
				"Delete: the expression is empty (to delete every row, drop the collection)");
	if ((rc = srv_pkexpr_match(rq, expr, s->pk_field, keys, n)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = dann_coll_query(c, &qp, &found, n, NULL)) < 0)
		return rc;
	*keys = srv_arena_alloc(rq->arena, (*n + 1) * sizeof **keys);
	if (*keys)
		memcpy(*keys, found, *n * sizeof **keys);
	free(found);
	return *keys ? 0 : DANN_ENOMEM;
}

int srv_h_delete(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__DeleteRequest *q = in;
	Milvus__Proto__Milvus__MutationResult *r = out;
	struct dann_coll *c;
	struct dann_schema s;
	const char *expr = NULL;
	int64_t *keys;
	uint64_t n, deleted = 0;
	int rc;

	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0 || (rc = dann_coll_schema(c, &s)) < 0 ||
	    (rc = SRV_TEMPLATE_RENDER(rq, q->expr, q->expr_template_values, q->n_expr_template_values, &expr)) < 0)
		return rc;
	/* The rows are chosen and deleted under the write lock, so a
	 * CreateIndex recreating the collection cannot fall between. */
	pthread_rwlock_rdlock(&rq->srv->write_lock);
	rc = delete_keys(rq, c, &s, expr, &keys, &n);
	if (rc == 0)
		rc = dann_coll_delete(c, keys, n, &deleted);
	pthread_rwlock_unlock(&rq->srv->write_lock);
	if (rc < 0)
		return rc;
	r->delete_cnt = (int64_t)deleted;
	r->timestamp = srv_hybrid_now();
	return 0;
}

static int seg_ids(struct srv_req *rq, struct dann_coll *c, Milvus__Proto__Schema__LongArray **out)
{
	Milvus__Proto__Schema__LongArray *la =
		srv_arena_msg(rq->arena, &milvus__proto__schema__long_array__descriptor);
	struct dann_seg_info *segs = NULL;
	size_t n = 0;
	int rc;

	if (!la)
		return DANN_ENOMEM;
	if ((rc = dann_coll_segments(c, &segs, &n)) < 0)
		return rc;
	la->data = srv_arena_alloc(rq->arena, (n + 1) * sizeof *la->data);
	if (!la->data) {
		free(segs);
		return DANN_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (segs[i].state == DANN_SEG_FLUSHED)
			la->data[la->n_data++] = (int64_t)segs[i].id;
	free(segs);
	*out = la;
	return 0;
}

/* The node serving name: this one, or its owner in the cluster (0 when
 * nobody has it: the flush loop names it). */
static uint64_t server_of(struct srv_req *rq, const char *name)
{
	struct dann_coll *c;
	uint64_t owner = 0;

	if (name && dann_coll_get(rq->srv->db, name, &c) == 0)
		return rq->srv->cfg.node_id;
	if (name && srv_meta_owner(rq->srv->meta, name, &owner))
		return owner;
	return 0;
}

int srv_h_flush(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__FlushRequest *q = in;
	Milvus__Proto__Milvus__FlushResponse *r = out;
	size_t n = q->n_collection_names;
	int rc;

	/* One request goes to one node (srv_fwd.h): collections of several
	 * nodes are refused before any is flushed. */
	for (size_t i = 1; i < n; i++) {
		uint64_t a = server_of(rq, q->collection_names[0]), b = server_of(rq, q->collection_names[i]);

		if (a && b && a != b)
			return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
					"Flush names collections served by different nodes of the cluster (%s: node "
					"%llu, %s: node %llu): send one Flush per node", q->collection_names[0],
					(unsigned long long)a, q->collection_names[i], (unsigned long long)b);
	}

	r->db_name = "default";
	r->coll_segids = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->coll_segids);
	r->flush_coll_segids = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->flush_coll_segids);
	r->coll_seal_times = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->coll_seal_times);
	r->coll_flush_ts = srv_arena_alloc(rq->arena, (n + 1) * sizeof *r->coll_flush_ts);
	if (!r->coll_segids || !r->flush_coll_segids || !r->coll_seal_times || !r->coll_flush_ts)
		return DANN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *name = q->collection_names[i];
		Milvus__Proto__Milvus__FlushResponse__CollSegIDsEntry *e1;
		Milvus__Proto__Milvus__FlushResponse__FlushCollSegIDsEntry *e2;
		Milvus__Proto__Milvus__FlushResponse__CollSealTimesEntry *e3;
		Milvus__Proto__Milvus__FlushResponse__CollFlushTsEntry *e4;
		struct dann_coll *c;
		Milvus__Proto__Schema__LongArray *ids;

		if ((rc = srv_coll_get(rq, name, &c)) < 0 || (rc = dann_coll_flush(c)) < 0 ||
		    (rc = seg_ids(rq, c, &ids)) < 0)
			return rc;
		e1 = srv_arena_msg(rq->arena, &milvus__proto__milvus__flush_response__coll_seg_ids_entry__descriptor);
		e2 = srv_arena_msg(rq->arena, &milvus__proto__milvus__flush_response__flush_coll_seg_ids_entry__descriptor);
		e3 = srv_arena_msg(rq->arena, &milvus__proto__milvus__flush_response__coll_seal_times_entry__descriptor);
		e4 = srv_arena_msg(rq->arena, &milvus__proto__milvus__flush_response__coll_flush_ts_entry__descriptor);
		if (!e1 || !e2 || !e3 || !e4)
			return DANN_ENOMEM;
		e1->key = e2->key = e3->key = e4->key = (char *)name;
		e1->value = e2->value = ids;
		e4->value = srv_hybrid_now();
		e3->value = (int64_t)(e4->value >> 18) / 1000;
		r->coll_segids[i] = e1;
		r->flush_coll_segids[i] = e2;
		r->coll_seal_times[i] = e3;
		r->coll_flush_ts[i] = e4;
		r->n_coll_segids = r->n_flush_coll_segids = r->n_coll_seal_times = r->n_coll_flush_ts = i + 1;
	}
	return 0;
}

/* Flushed when every segment asked about is a disk index (or already
 * replaced by compaction, which only takes flushed ones) and no sealed
 * segment still waits for its index: the SDK's flushSync ignores Flush's
 * own status and polls this, so answering "flushed" regardless would hide
 * a failed flush. Without a collection there is nothing to look at, and a
 * Flush that answered OK left nothing unflushed. */
int srv_h_get_flush_state(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__GetFlushStateRequest *q = in;
	Milvus__Proto__Milvus__GetFlushStateResponse *r = out;
	struct dann_seg_info *segs = NULL;
	struct dann_coll *c;
	size_t n = 0;
	int rc;

	r->flushed = 1;
	if (!q->collection_name || !q->collection_name[0])
		return 0;
	if ((rc = srv_coll_get(rq, q->collection_name, &c)) < 0 || (rc = dann_coll_segments(c, &segs, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n && r->flushed; i++) {
		if (segs[i].state == DANN_SEG_SEALED)
			r->flushed = 0;
		for (size_t j = 0; j < q->n_segmentids && r->flushed; j++)
			if ((uint64_t)q->segmentids[j] == segs[i].id && segs[i].state == DANN_SEG_GROWING)
				r->flushed = 0;
	}
	free(segs);
	return 0;
}
