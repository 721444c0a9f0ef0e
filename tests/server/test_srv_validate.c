/*
 * test_srv_validate.c — request validation: each bad request gets a Milvus
 * status whose code and reason name the problem (field, row, collection,
 * position in an expression), and changes nothing.
 */
#include "srvunit.h"

#include <math.h>

#define T(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define DIM 4

TestSuite(srv_validate, .init = srvunit_open, .fini = srvunit_close, .timeout = 120);

static const ProtobufCMessageDescriptor *status_d = &milvus__proto__common__status__descriptor;

/* A schema of an int64 key "id", the vector (type, dim text) and an
 * optional extra field. */
static struct srv_reply create(const char *name, int pk_type, int vec_type, const char *dim, int second_vector)
{
	Milvus__Proto__Common__KeyValuePair kv = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, *kvs[1] = { &kv };
	Milvus__Proto__Schema__FieldSchema pk = MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT, v = pk, v2 = pk;
	Milvus__Proto__Schema__FieldSchema *fields[3] = { &pk, &v, &v2 };
	Milvus__Proto__Schema__CollectionSchema s = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
	Milvus__Proto__Milvus__CreateCollectionRequest q = MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
	uint8_t buf[1024];

	pk.name = "id";
	pk.is_primary_key = 1;
	pk.data_type = pk_type;
	kv.key = "dim";
	kv.value = (char *)dim;
	v.name = "vector";
	v.data_type = vec_type;
	v.type_params = kvs;
	v.n_type_params = dim ? 1 : 0;
	v2 = v;
	v2.name = "vector2";
	s.name = (char *)name;
	s.fields = fields;
	s.n_fields = second_vector ? 3 : 2;
	q.collection_name = (char *)name;
	q.schema.len = protobuf_c_message_pack(&s.base, buf);
	q.schema.data = buf;
	return srvunit_send("CreateCollection", &q.base);
}

static void expect_status(const struct srv_reply *r, const ProtobufCMessageDescriptor *d, int code,
			  const char *needle)
{
	Milvus__Proto__Common__Status *st = srvunit_status(r, d, NULL);

	cr_expect_eq(st->code, code, "code %d (reason '%s'), expected %d", st->code, st->reason, code);
	if (needle)
		cr_expect(strstr(st->reason, needle), "reason '%s' should name '%s'", st->reason, needle);
}

Test(srv_validate, create_collection_refuses_bad_schemas_naming_the_field)
{
	struct srv_reply r;
	Milvus__Proto__Milvus__CreateCollectionRequest q = MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;

	r = create("c", T(VarChar), T(FloatVector), "4", 0);
	expect_status(&r, status_d, 105, "field id");
	r = create("c", T(Int64), T(BinaryVector), "4", 0);
	expect_status(&r, status_d, 105, "field vector");
	r = create("c", T(Int64), T(FloatVector), NULL, 0);
	expect_status(&r, status_d, 1101, "dim");
	r = create("c", T(Int64), T(FloatVector), "0", 0);
	expect_status(&r, status_d, 1100, "dim");
	r = create("c", T(Int64), T(FloatVector), "4x", 0);
	expect_status(&r, status_d, 1100, "dim");
	r = create("c", T(Int64), T(FloatVector), "4", 1);
	expect_status(&r, status_d, 105, "vector2");
	q.collection_name = "c";
	q.schema.data = (uint8_t *)"\x22\xff\x01";
	q.schema.len = 3;
	r = srvunit_send("CreateCollection", &q.base);
	expect_status(&r, status_d, 1100, "CollectionSchema");
	/* nothing was created by any of them */
	{
		Milvus__Proto__Milvus__HasCollectionRequest h = MILVUS__PROTO__MILVUS__HAS_COLLECTION_REQUEST__INIT;
		Milvus__Proto__Milvus__BoolResponse *b;
		h.collection_name = "c";
		r = srvunit_send("HasCollection", &h.base);
		srvunit_status(&r, &milvus__proto__milvus__bool_response__descriptor, (void **)&b);
		cr_assert_eq(b->value, 0);
	}
	r = create("c", T(Int64), T(Int8Vector), "4", 0);
	expect_status(&r, status_d, 0, NULL);
	r = create("c", T(Int64), T(FloatVector), "4", 0);
	cr_assert_neq(srvunit_status(&r, status_d, NULL)->code, 0, "a duplicate name is refused");
}

static struct srv_reply insert(const char *coll, const int64_t *keys, size_t nkeys, float *vec, size_t nvec,
			       int64_t dim)
{
	Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
	Milvus__Proto__Schema__ScalarField sc = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
	Milvus__Proto__Schema__FloatArray fa = MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
	Milvus__Proto__Schema__VectorField vf = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
	Milvus__Proto__Schema__FieldData f0 = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT, f1 = f0;
	Milvus__Proto__Schema__FieldData *fields[2] = { &f0, &f1 };
	Milvus__Proto__Milvus__InsertRequest q = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;

	la.data = (int64_t *)keys;
	la.n_data = nkeys;
	sc.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
	sc.long_data = &la;
	f0.field_name = "id";
	f0.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
	f0.scalars = &sc;
	fa.data = vec;
	fa.n_data = nvec;
	vf.dim = dim;
	vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
	vf.float_vector = &fa;
	f1.field_name = "vector";
	f1.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
	f1.vectors = &vf;
	q.collection_name = (char *)coll;
	q.fields_data = fields;
	q.n_fields_data = 2;
	return srvunit_send("Insert", &q.base);
}

static uint64_t row_count(const char *coll)
{
	Milvus__Proto__Milvus__GetCollectionStatisticsRequest q =
		MILVUS__PROTO__MILVUS__GET_COLLECTION_STATISTICS_REQUEST__INIT;
	Milvus__Proto__Milvus__GetCollectionStatisticsResponse *resp;
	struct srv_reply r;

	q.collection_name = (char *)coll;
	r = srvunit_send("GetCollectionStatistics", &q.base);
	cr_assert_eq(srvunit_status(&r, &milvus__proto__milvus__get_collection_statistics_response__descriptor,
				    (void **)&resp)->code, 0);
	cr_assert_eq(resp->n_stats, 1);
	return strtoull(resp->stats[0]->value, NULL, 10);
}

Test(srv_validate, insert_refuses_bad_rows_naming_field_and_row_and_writes_nothing)
{
	const ProtobufCMessageDescriptor *mr = &milvus__proto__milvus__mutation_result__descriptor;
	int64_t keys[2] = { 1, 2 };
	float vec[2 * DIM] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct srv_reply r;

	r = insert("nope", keys, 2, vec, 2 * DIM, DIM);
	expect_status(&r, mr, 100, "collection not found[collection=nope]");
	cr_assert_eq(srvunit_status(&r, mr, NULL)->error_code, MILVUS__PROTO__COMMON__ERROR_CODE__CollectionNotExists);

	r = create("c", T(Int64), T(FloatVector), "4", 0);
	expect_status(&r, status_d, 0, NULL);
	vec[DIM + 2] = NAN;
	r = insert("c", keys, 2, vec, 2 * DIM, DIM);
	expect_status(&r, mr, 1100, "field vector: row 1: element 2 is NaN");
	vec[DIM + 2] = INFINITY;
	r = insert("c", keys, 2, vec, 2 * DIM, DIM);
	expect_status(&r, mr, 1100, "infinite");
	vec[DIM + 2] = 7;
	r = insert("c", keys, 2, vec, 2 * DIM, 3);
	expect_status(&r, mr, 1100, "dimension mismatch");
	r = insert("c", keys, 2, vec, 2 * DIM - 1, DIM);
	expect_status(&r, mr, 1100, "dimension mismatch");
	r = insert("c", keys, 1, vec, 2 * DIM, DIM);
	expect_status(&r, mr, 1100, "field id");
	cr_assert_eq(row_count("c"), 0, "no bad request wrote anything");
	r = insert("c", keys, 2, vec, 2 * DIM, DIM);
	expect_status(&r, mr, 0, NULL);
	cr_assert_eq(row_count("c"), 2);
}

static struct srv_reply delete_expr(const char *coll, const char *expr)
{
	Milvus__Proto__Milvus__DeleteRequest q = MILVUS__PROTO__MILVUS__DELETE_REQUEST__INIT;

	q.collection_name = (char *)coll;
	q.expr = (char *)expr;
	return srvunit_send("Delete", &q.base);
}

Test(srv_validate, delete_expressions_are_evaluated_or_refused_with_their_position)
{
	const ProtobufCMessageDescriptor *mr = &milvus__proto__milvus__mutation_result__descriptor;
	int64_t keys[3] = { 10, 20, 30 };
	float vec[3 * DIM] = { 0 };
	Milvus__Proto__Milvus__MutationResult *res;
	struct srv_reply r;

	r = create("c", T(Int64), T(FloatVector), "4", 0);
	r = insert("c", keys, 3, vec, 3 * DIM, DIM);
	expect_status(&r, mr, 0, NULL);
	r = delete_expr("c", "id in [10, 20");
	expect_status(&r, mr, 1100, "column 14");
	r = delete_expr("c", "id in [10, x]");
	expect_status(&r, mr, 1100, "column 12");
	r = delete_expr("c", "age > 3");
	expect_status(&r, mr, 1100, "unknown field 'age'");
	r = delete_expr("c", "id > 3 and");
	expect_status(&r, mr, 1100, "column 11");
	r = delete_expr("c", "");
	expect_status(&r, mr, 1101, "empty");
	r = delete_expr("c", "id in [99999999999999999999]");
	expect_status(&r, mr, 1100, "int64");
	cr_assert_eq(row_count("c"), 3, "refused deletes removed nothing");
	r = delete_expr("c", " id  in[ 10 ,30, 40 ] ");
	cr_assert_eq(srvunit_status(&r, mr, (void **)&res)->code, 0);
	cr_assert_eq(res->delete_cnt, 2);
	r = delete_expr("c", "id > 15 && id % 2 == 0");
	cr_assert_eq(srvunit_status(&r, mr, (void **)&res)->code, 0, "delete by any expression");
	cr_assert_eq(res->delete_cnt, 1);
	cr_assert_eq(row_count("c"), 0);
}

Test(srv_validate, search_checks_load_state_dimension_and_parameters)
{
	const ProtobufCMessageDescriptor *sr = &milvus__proto__milvus__search_results__descriptor;
	float qv[DIM] = { 1, 0, 0, 0 };
	ProtobufCBinaryData val = { sizeof qv, (uint8_t *)qv };
	Milvus__Proto__Common__PlaceholderValue pv = MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT, *pvs[1] = { &pv };
	Milvus__Proto__Common__PlaceholderGroup pg = MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
	Milvus__Proto__Common__KeyValuePair kv = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, *kvs[1] = { &kv };
	Milvus__Proto__Milvus__SearchRequest q = MILVUS__PROTO__MILVUS__SEARCH_REQUEST__INIT;
	Milvus__Proto__Milvus__CreateIndexRequest ci = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
	Milvus__Proto__Milvus__LoadCollectionRequest lc = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
	Milvus__Proto__Common__KeyValuePair it = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, *its[1] = { &it };
	uint8_t buf[256];
	struct srv_reply r;

	r = create("c", T(Int64), T(FloatVector), "4", 0);
	pv.type = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
	pv.values = &val;
	pv.n_values = 1;
	pg.placeholders = pvs;
	pg.n_placeholders = 1;
	q.collection_name = "c";
	q.placeholder_group.len = protobuf_c_message_pack(&pg.base, buf);
	q.placeholder_group.data = buf;
	r = srvunit_send("Search", &q.base);
	expect_status(&r, sr, 101, "not loaded");

	lc.collection_name = "c";
	r = srvunit_send("LoadCollection", &lc.base);
	expect_status(&r, status_d, 700, "index not found");
	ci.collection_name = "c";
	ci.field_name = "vector";
	it.key = "index_type";
	it.value = "HNSW";
	ci.extra_params = its;
	ci.n_extra_params = 1;
	r = srvunit_send("CreateIndex", &ci.base);
	expect_status(&r, status_d, 701, "HNSW");
	it.value = "DISKANN";
	r = srvunit_send("CreateIndex", &ci.base);
	expect_status(&r, status_d, 0, NULL);
	r = srvunit_send("LoadCollection", &lc.base);
	expect_status(&r, status_d, 0, NULL);

	q.search_params = kvs;
	q.n_search_params = 1;
	kv.key = "topk";
	kv.value = "0";
	r = srvunit_send("Search", &q.base);
	expect_status(&r, sr, 1100, "topk");
	kv.key = "params";
	kv.value = "{\"search_list\": 5, \"topk\": 10}";
	r = srvunit_send("Search", &q.base);
	expect_status(&r, sr, 1100, "search_list 5");
	kv.key = "metric_type";
	kv.value = "IP";
	r = srvunit_send("Search", &q.base);
	expect_status(&r, sr, 1200, "IP");
	q.n_search_params = 0;
	qv[1] = NAN;
	q.placeholder_group.len = protobuf_c_message_pack(&pg.base, buf);
	r = srvunit_send("Search", &q.base);
	expect_status(&r, sr, 1100, "NaN");
	qv[1] = 0;
	val.len = 3 * sizeof(float);
	q.placeholder_group.len = protobuf_c_message_pack(&pg.base, buf);
	r = srvunit_send("Search", &q.base);
	expect_status(&r, sr, 1100, "dimension mismatch");
	val.len = sizeof qv;
	q.placeholder_group.len = protobuf_c_message_pack(&pg.base, buf);
	r = srvunit_send("Search", &q.base);
	expect_status(&r, sr, 0, NULL);
}

Test(srv_validate, query_by_keys_returns_live_rows_once_in_the_order_asked)
{
	const ProtobufCMessageDescriptor *qd = &milvus__proto__milvus__query_results__descriptor;
	Milvus__Proto__Milvus__QueryRequest q = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
	Milvus__Proto__Milvus__LoadCollectionRequest lc = MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
	Milvus__Proto__Milvus__CreateIndexRequest ci = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
	Milvus__Proto__Milvus__QueryResults *res;
	int64_t keys[3] = { 10, 20, 30 };
	float vec[3 * DIM] = { 0 };
	char *out_fields[1] = { "count(*)" };
	struct srv_reply r;

	r = create("c", T(Int64), T(FloatVector), "4", 0);
	r = insert("c", keys, 3, vec, 3 * DIM, DIM);
	ci.collection_name = "c";
	r = srvunit_send("CreateIndex", &ci.base);
	lc.collection_name = "c";
	r = srvunit_send("LoadCollection", &lc.base);
	expect_status(&r, status_d, 0, NULL);
	q.collection_name = "c";
	q.expr = "id in [30, 10, 30, 99, 10]";
	r = srvunit_send("Query", &q.base);
	cr_assert_eq(srvunit_status(&r, qd, (void **)&res)->code, 0);
	cr_assert_eq(res->n_fields_data, 1);
	cr_assert_eq(res->fields_data[0]->scalars->long_data->n_data, 2);
	cr_assert_eq(res->fields_data[0]->scalars->long_data->data[0], 30);
	cr_assert_eq(res->fields_data[0]->scalars->long_data->data[1], 10);
	q.output_fields = out_fields;
	q.n_output_fields = 1;
	r = srvunit_send("Query", &q.base);
	cr_assert_eq(srvunit_status(&r, qd, (void **)&res)->code, 0);
	cr_assert_eq(res->fields_data[0]->scalars->long_data->data[0], 2, "count(*) of the live keys");
	q.expr = "";
	r = srvunit_send("Query", &q.base);
	cr_assert_eq(srvunit_status(&r, qd, (void **)&res)->code, 0);
	cr_assert_eq(res->fields_data[0]->scalars->long_data->data[0], 3, "count(*) of the collection");
}

/* Whether GetFlushState says the collection's segments ids[] are flushed. */
static int flush_state(const char *coll, int64_t *ids, size_t n)
{
	Milvus__Proto__Milvus__GetFlushStateRequest q = MILVUS__PROTO__MILVUS__GET_FLUSH_STATE_REQUEST__INIT;
	Milvus__Proto__Milvus__GetFlushStateResponse *resp;
	struct srv_reply r;

	q.collection_name = (char *)coll;
	q.segmentids = ids;
	q.n_segmentids = n;
	r = srvunit_send("GetFlushState", &q.base);
	cr_assert_eq(srvunit_status(&r, &milvus__proto__milvus__get_flush_state_response__descriptor,
				    (void **)&resp)->code, 0);
	return resp->flushed;
}

/* The SDK's flushSync ignores Flush's status and polls GetFlushState, so a
 * growing segment must not be reported flushed (it always was). */
Test(srv_validate, get_flush_state_reports_a_growing_segment_as_not_flushed)
{
	int64_t keys[3] = { 1, 2, 3 }, low[16], *flushed;
	float vec[12] = { 0 };
	Milvus__Proto__Milvus__FlushRequest fq = MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
	Milvus__Proto__Milvus__FlushResponse *fr;
	char *names[1] = { "fs" };
	struct srv_reply r;
	size_t nflushed;

	r = create("fs", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64, MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector, "4", 0);
	expect_status(&r, status_d, 0, NULL);
	r = insert("fs", keys, 3, vec, 12, 4);
	expect_status(&r, &milvus__proto__milvus__mutation_result__descriptor, 0, NULL);
	/* the one segment, growing, is among the first ids any catalog hands out */
	for (int i = 0; i < 16; i++)
		low[i] = i;
	cr_expect_eq(flush_state("fs", low, 16), 0, "a growing segment was reported flushed");

	fq.collection_names = names;
	fq.n_collection_names = 1;
	r = srvunit_send("Flush", &fq.base);
	cr_assert_eq(srvunit_status(&r, &milvus__proto__milvus__flush_response__descriptor, (void **)&fr)->code, 0);
	cr_assert_eq(fr->n_flush_coll_segids, 1);
	flushed = fr->flush_coll_segids[0]->value->data;
	nflushed = fr->flush_coll_segids[0]->value->n_data;
	cr_assert_gt(nflushed, 0);
	cr_expect_eq(flush_state("fs", flushed, nflushed), 1, "segments Flush returned are not reported flushed");
}
