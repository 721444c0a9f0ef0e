/*
 * test_srv_decode.c — every served message from malformed bytes: empty,
 * truncated at every length, wrong wire types, lengths far past the end,
 * random bytes. Each gets a status (INVALID_ARGUMENT for bytes that do not
 * decode, a Milvus status for ones that do) and never a crash; the ASan
 * build checks that no byte outside the message is read.
 */
#include "srvunit.h"

#include <grpc/status.h>

static const char *const served[] = {
	"GetVersion", "CheckHealth", "Connect", "CreateCollection", "DropCollection", "HasCollection",
	"DescribeCollection", "ShowCollections", "GetCollectionStatistics", "LoadCollection",
	"ReleaseCollection", "GetLoadingProgress", "GetLoadState", "CreateIndex", "DescribeIndex",
	"GetIndexState", "GetIndexBuildProgress", "Insert", "Upsert", "Delete", "Flush", "GetFlushState",
	"Search", "Query",
};
#define NSERVED (sizeof served / sizeof served[0])

TestSuite(srv_decode, .init = srvunit_open, .fini = srvunit_close, .timeout = 120);

static const ProtobufCMessageDescriptor *req_desc(const char *method)
{
	char path[128];
	const struct srv_method *m;

	snprintf(path, sizeof path, SRVUNIT_PREFIX "%s", method);
	m = srv_method_find(path);
	cr_assert_not_null(m, "%s is served", method);
	return m->in;
}

/* A reply is either a decodable response or INVALID_ARGUMENT naming the
 * method: never anything else. */
static void expect_sane(const char *method, const struct srv_reply *r, size_t len)
{
	if (r->grpc == GRPC_STATUS_INVALID_ARGUMENT) {
		cr_expect(r->grpc_msg && strstr(r->grpc_msg, method), "%s (%zu bytes): message '%s'", method, len,
			  r->grpc_msg ? r->grpc_msg : "");
		return;
	}
	cr_expect_eq(r->grpc, GRPC_STATUS_OK, "%s (%zu bytes): grpc %d %s", method, len, r->grpc,
		     r->grpc_msg ? r->grpc_msg : "");
	cr_expect(r->bytes != NULL || r->len == 0, "%s: response bytes", method);
}

Test(srv_decode, every_served_method_answers_an_empty_request_with_a_status)
{
	for (size_t i = 0; i < NSERVED; i++) {
		struct srv_reply r = srvunit_call(served[i], "", 0);
		cr_expect_eq(r.grpc, GRPC_STATUS_OK, "%s: grpc %d", served[i], r.grpc);
	}
}

Test(srv_decode, unknown_methods_are_unimplemented_and_named)
{
	struct srv_reply r = srvunit_call("CreatePartition", "", 0);

	cr_assert_eq(r.grpc, GRPC_STATUS_UNIMPLEMENTED);
	cr_assert(strstr(r.grpc_msg, "CreatePartition"), "%s", r.grpc_msg);
}

/* A length-delimited field (string, bytes, message) sent as a varint, and a
 * single varint field sent length-delimited. (protobuf-c reads a bool from
 * any wire type, within the message's bytes; bools are left out.) */
Test(srv_decode, wrong_wire_types_are_invalid_argument)
{
	for (size_t i = 0; i < NSERVED; i++) {
		const ProtobufCMessageDescriptor *d = req_desc(served[i]);
		for (unsigned f = 0; f < d->n_fields; f++) {
			const ProtobufCFieldDescriptor *fd = &d->fields[f];
			uint8_t buf[8];
			size_t n = 0;
			int len_type = fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_BYTES ||
				       fd->type == PROTOBUF_C_TYPE_MESSAGE;
			int varint_type = fd->type == PROTOBUF_C_TYPE_INT32 || fd->type == PROTOBUF_C_TYPE_INT64 ||
					  fd->type == PROTOBUF_C_TYPE_UINT32 || fd->type == PROTOBUF_C_TYPE_UINT64 ||
					  fd->type == PROTOBUF_C_TYPE_ENUM;
			struct srv_reply r;

			if (fd->id > 15 || (!len_type && !(varint_type && fd->label != PROTOBUF_C_LABEL_REPEATED)))
				continue;
			if (len_type) {
				buf[n++] = (uint8_t)(fd->id << 3 | 0);
				buf[n++] = 5;
			} else {
				buf[n++] = (uint8_t)(fd->id << 3 | 2);
				buf[n++] = 1;
				buf[n++] = 1;
			}
			r = srvunit_call(served[i], buf, n);
			cr_expect_eq(r.grpc, GRPC_STATUS_INVALID_ARGUMENT, "%s.%s with a wrong wire type: grpc %d",
				     served[i], fd->name, r.grpc);
		}
	}
}

Test(srv_decode, lengths_past_the_end_are_invalid_argument)
{
	for (size_t i = 0; i < NSERVED; i++) {
		const ProtobufCMessageDescriptor *d = req_desc(served[i]);
		for (unsigned f = 0; f < d->n_fields; f++) {
			const ProtobufCFieldDescriptor *fd = &d->fields[f];
			/* tag, then a length of 2^35 - 1, then 3 bytes */
			uint8_t buf[] = { (uint8_t)(fd->id << 3 | 2), 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3 };
			uint8_t buf2[] = { (uint8_t)(fd->id << 3 | 2), 0x80, 0x80, 0x80, 0x80, 0x10, 1 };
			struct srv_reply r;

			if (fd->id > 15)
				continue;
			r = srvunit_call(served[i], buf, sizeof buf);
			cr_expect_eq(r.grpc, GRPC_STATUS_INVALID_ARGUMENT, "%s.%s huge length: grpc %d", served[i],
				     fd->name, r.grpc);
			r = srvunit_call(served[i], buf2, sizeof buf2);
			cr_expect_eq(r.grpc, GRPC_STATUS_INVALID_ARGUMENT, "%s.%s 2^32 length: grpc %d", served[i],
				     fd->name, r.grpc);
		}
	}
}

/* Rich requests (schema inside bytes, field data, placeholders) cut at
 * every length. */
static size_t rich_insert(uint8_t **out)
{
	static float vec[2 * 4] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static int64_t keys[2] = { 1, 2 };
	Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
	Milvus__Proto__Schema__ScalarField sc = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
	Milvus__Proto__Schema__FloatArray fa = MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
	Milvus__Proto__Schema__VectorField vf = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
	Milvus__Proto__Schema__FieldData f0 = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT, f1 = f0;
	Milvus__Proto__Schema__FieldData *fields[2] = { &f0, &f1 };
	Milvus__Proto__Milvus__InsertRequest q = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;

	la.data = keys;
	la.n_data = 2;
	sc.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
	sc.long_data = &la;
	f0.field_name = "id";
	f0.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
	f0.scalars = &sc;
	fa.data = vec;
	fa.n_data = 8;
	vf.dim = 4;
	vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
	vf.float_vector = &fa;
	f1.field_name = "vector";
	f1.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
	f1.vectors = &vf;
	q.collection_name = "c";
	q.fields_data = fields;
	q.n_fields_data = 2;
	q.num_rows = 2;
	*out = malloc(protobuf_c_message_get_packed_size(&q.base));
	return protobuf_c_message_pack(&q.base, *out);
}

Test(srv_decode, truncated_requests_never_crash)
{
	uint8_t *buf;
	size_t n = rich_insert(&buf);

	for (size_t len = 0; len < n; len++) {
		struct srv_reply r = srvunit_call("Insert", buf, len);
		expect_sane("Insert", &r, len);
		r = srvunit_call("Upsert", buf, len);
		expect_sane("Upsert", &r, len);
		r = srvunit_call("Search", buf, len);
		expect_sane("Search", &r, len);
		r = srvunit_call("CreateCollection", buf, len);
		expect_sane("CreateCollection", &r, len);
	}
	free(buf);
}

Test(srv_decode, random_bytes_never_crash)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t buf[96];

	for (size_t i = 0; i < NSERVED; i++)
		for (int round = 0; round < 300; round++) {
			size_t len = (size_t)(x % sizeof buf);
			struct srv_reply r;
			for (size_t b = 0; b < len; b++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				buf[b] = (uint8_t)x;
			}
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			r = srvunit_call(served[i], buf, len);
			expect_sane(served[i], &r, len);
		}
}
