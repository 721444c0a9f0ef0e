/*
 * test_srv_opq.c — dann's "opq" index parameter through CreateIndex
 * (issue 16): true in DISKANN's params JSON (or "true"/"false" as its own
 * key-value pair) reaches the collection's index parameters, so its
 * segments are built with the OPQ rotation; DescribeIndex shows it back
 * as a JSON bool; it survives a restart (the Raft catalog's records);
 * a bad value is refused naming it and changes nothing.
 */
#include "srvunit.h"

#include <glob.h>

#include "srv_impl.h"

#define T(x) MILVUS__PROTO__SCHEMA__DATA_TYPE__##x
#define DIM 32
#define ROWS 1000

TestSuite(srv_opq, .init = srvunit_open, .fini = srvunit_close, .timeout = 240);

static const ProtobufCMessageDescriptor *status_d = &milvus__proto__common__status__descriptor;

static void create_collection(const char *name)
{
	Milvus__Proto__Common__KeyValuePair kv = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, *kvs[1] = { &kv };
	Milvus__Proto__Schema__FieldSchema pk = MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT, v = pk;
	Milvus__Proto__Schema__FieldSchema *fields[2] = { &pk, &v };
	Milvus__Proto__Schema__CollectionSchema s = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
	Milvus__Proto__Milvus__CreateCollectionRequest q = MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
	struct srv_reply r;
	uint8_t buf[1024];

	pk.name = "id";
	pk.is_primary_key = 1;
	pk.data_type = T(Int64);
	kv.key = "dim";
	kv.value = "32";
	v.name = "vector";
	v.data_type = T(FloatVector);
	v.type_params = kvs;
	v.n_type_params = 1;
	s.name = (char *)name;
	s.fields = fields;
	s.n_fields = 2;
	q.collection_name = (char *)name;
	q.schema.len = protobuf_c_message_pack(&s.base, buf);
	q.schema.data = buf;
	r = srvunit_send("CreateCollection", &q.base);
	cr_assert_eq(srvunit_status(&r, status_d, NULL)->code, 0);
}

/* CreateIndex with DISKANN, L2 and the given params JSON (NULL: none)
 * and optional own pair opq=kv_opq; the reply's status. */
static Milvus__Proto__Common__Status *create_index(const char *json, const char *kv_opq)
{
	Milvus__Proto__Common__KeyValuePair p[4] = { MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT,
						     MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT,
						     MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT,
						     MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT };
	Milvus__Proto__Common__KeyValuePair *ps[4] = { &p[0], &p[1], &p[2], &p[3] };
	Milvus__Proto__Milvus__CreateIndexRequest ci = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
	struct srv_reply r;
	size_t n = 0;

	p[n].key = "index_type", p[n++].value = "DISKANN";
	p[n].key = "metric_type", p[n++].value = "L2";
	if (json)
		p[n].key = "params", p[n++].value = (char *)json;
	if (kv_opq)
		p[n].key = "opq", p[n++].value = (char *)kv_opq;
	ci.collection_name = "emb";
	ci.field_name = "vector";
	ci.extra_params = ps;
	ci.n_extra_params = n;
	r = srvunit_send("CreateIndex", &ci.base);
	return srvunit_status(&r, status_d, NULL);
}

/* DescribeIndex's "params" JSON. */
static const char *described_params(void)
{
	Milvus__Proto__Milvus__DescribeIndexRequest q = MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
	Milvus__Proto__Milvus__DescribeIndexResponse *resp;
	Milvus__Proto__Milvus__IndexDescription *d;
	struct srv_reply r;

	q.collection_name = "emb";
	r = srvunit_send("DescribeIndex", &q.base);
	cr_assert_eq(srvunit_status(&r, &milvus__proto__milvus__describe_index_response__descriptor,
				    (void **)&resp)->code, 0);
	cr_assert_eq(resp->n_index_descriptions, 1);
	d = resp->index_descriptions[0];
	for (size_t i = 0; i < d->n_params; i++)
		if (!strcmp(d->params[i]->key, "params"))
			return d->params[i]->value;
	cr_assert_fail("DescribeIndex has no params");
	return NULL;
}

static int coll_opq(void)
{
	struct dann_coll *c;
	struct dann_schema s;

	cr_assert_eq(dann_coll_get(srvunit_srv->db, "emb", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_schema(c, &s), 0, "%s", dann_errmsg());
	return s.index.opq;
}

static void restart(void)
{
	struct srv_config c;

	srv_close(srvunit_srv);
	srv_config_default(&c);
	snprintf(c.data_dir, sizeof c.data_dir, "%s", tmpdir_path("data"));
	snprintf(c.listen, sizeof c.listen, "127.0.0.1:0");
	c.metrics[0] = 0;
	c.workers = 1;
	c.cq_threads = 1;
	cr_assert_eq(srv_open(&c, &srvunit_srv), 0, "srv_open: %s", dann_errmsg());
}

Test(srv_opq, create_index_opq_reaches_the_segments_and_describe_shows_it)
{
	struct dann_index_info info;
	struct dann_index *ix;
	struct dann_coll *c;
	int64_t *keys = malloc(ROWS * sizeof *keys);
	float *vecs = malloc(ROWS * DIM * sizeof *vecs);
	struct dann_batch b = { .n = ROWS, .keys = keys, .vectors = vecs };
	char pat[4096];
	glob_t g;
	uint64_t x = 88172645463325252ull;

	create_collection("emb");
	cr_assert_eq(create_index("{\"max_degree\": 16, \"search_list_size\": 32, \"opq\": true}", NULL)->code, 0);
	cr_assert(strstr(described_params(), "\"opq\":true"), "%s", described_params());
	cr_assert_eq(coll_opq(), 1);

	for (int i = 0; i < ROWS; i++) {
		keys[i] = i;
		for (int d = 0; d < DIM; d++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			vecs[i * DIM + d] = (float)(x % 1000) / 1000.0f;
		}
	}
	cr_assert_eq(dann_coll_get(srvunit_srv->db, "emb", &c), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_insert(c, &b, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_coll_flush(c), 0, "%s", dann_errmsg());
	snprintf(pat, sizeof pat, "%s/c*/s*", tmpdir_path("data"));
	cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no segment directory");
	cr_assert_eq(dann_index_open(g.gl_pathv[0], NULL, &ix), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_index_info(ix, &info), 0);
	cr_assert_eq(info.opq, 1, "the segment was built without the rotation");
	dann_index_close(ix);
	globfree(&g);
	free(keys);
	free(vecs);

	restart();
	cr_assert_eq(coll_opq(), 1, "opq lost across a restart");
	cr_assert(strstr(described_params(), "\"opq\":true"), "%s", described_params());

	/* its own key-value pair, as text, turns it off */
	cr_assert_eq(create_index(NULL, "false")->code, 0);
	cr_assert_eq(coll_opq(), 0);
	cr_assert(strstr(described_params(), "\"opq\":false"), "%s", described_params());
}

Test(srv_opq, bad_opq_values_are_refused_naming_it_and_change_nothing)
{
	static const char *const bad_json[] = { "{\"opq\": \"maybe\"}", "{\"opq\": 2}", "{\"opq\": [1]}" };
	Milvus__Proto__Common__Status *st;

	create_collection("emb");
	cr_assert_eq(create_index("{\"opq\": true}", NULL)->code, 0);
	for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
		st = create_index(bad_json[i], NULL);
		cr_assert_neq(st->code, 0, "%s accepted", bad_json[i]);
		cr_assert(strstr(st->reason, "opq"), "reason '%s' should name opq", st->reason);
		cr_assert_eq(coll_opq(), 1, "%s changed it", bad_json[i]);
	}
	st = create_index(NULL, "yes");
	cr_assert_neq(st->code, 0);
	cr_assert(strstr(st->reason, "opq 'yes'"), "%s", st->reason);
	cr_assert_eq(coll_opq(), 1);
	cr_assert(strstr(described_params(), "\"opq\":true"), "%s", described_params());
}
