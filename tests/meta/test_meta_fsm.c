/*
 * test_meta_fsm.c — the catalog state machine alone: every command encodes
 * and decodes to itself, malformed bytes are refused naming the problem,
 * apply follows the catalog's rules, retries are applied once, snapshots
 * restore the same state (and a corrupt one changes nothing).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "error.h"
#include "meta_fsm.h"
#include "meta_buf.h"
#include "meta_testutil.h"

static struct meta_fsm F;

static void setup(void)
{
	cr_assert_eq(meta_fsm_init(&F), 0);
}

static void teardown(void)
{
	meta_fsm_destroy(&F);
}

TestSuite(meta_fsm, .init = setup, .fini = teardown);

/* Applies c as (client, seq) and returns the result. */
static struct meta_result run(struct meta_cmd *c, uint64_t client, uint64_t seq)
{
	struct meta_result res;
	void *buf;
	size_t len;

	mt_encode(c, client, seq, &buf, &len);
	cr_assert_eq(meta_fsm_apply(&F, buf, len, &res), 0);
	free(buf);
	return res;
}

static uint64_t create(const char *name, uint64_t seq)
{
	struct dann_schema s;
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE, .schema = &s };
	struct meta_result r;

	mt_schema(&s, name, 16);
	r = run(&c, 7, seq);
	cr_assert_eq(r.rc, 0, "create %s: %s", name, r.msg);
	return r.value;
}

static void roundtrip(struct meta_cmd *c, struct meta_cmd *d)
{
	void *buf;
	size_t len;

	mt_encode(c, 0x1122334455667788ull, 42, &buf, &len);
	cr_assert_eq(meta_cmd_decode(buf, len, d), 0, "%s: %s", meta_cmd_name(c->type), dann_errmsg());
	cr_assert_eq(d->type, c->type);
	cr_assert_eq(d->req.client, 0x1122334455667788ull);
	cr_assert_eq(d->req.seq, 42);
	free(buf);
}

Test(meta_fsm, every_command_decodes_to_what_was_encoded)
{
	struct dann_schema s;
	struct dann_cat_coll col;
	struct dann_cat_segment segs[3];
	struct meta_cmd c, d;

	mt_schema(&s, "docs", 128);
	s.nfields = 2;
	snprintf(s.fields[0].name, sizeof s.fields[0].name, "title");
	s.fields[0].type = DANN_FIELD_VARCHAR;
	s.fields[0].max_length = 200;
	snprintf(s.fields[1].name, sizeof s.fields[1].name, "year");
	s.fields[1].type = DANN_FIELD_INT32;
	s.fields[1].nullable = 1;
	/* defaults ride in the field records (a flag bit, then the value) */
	s.fields[0].def.type = DANN_FIELD_VARCHAR;
	s.fields[0].def.len = 4;
	memcpy(s.fields[0].def.s, "none", 5);
	s.fields[1].def.type = DANN_FIELD_INT32;
	s.fields[1].def.i = -2024;
	s.index.alpha = 1.3f;
	s.index.build_ram_gib = 2.5;
	s.auto_id = 1;
	memset(&c, 0, sizeof c);
	c.type = META_CMD_COLL_CREATE, c.schema = &s;
	roundtrip(&c, &d);
	cr_assert_eq(memcmp(d.schema, &s, sizeof s), 0, "schema differs after a round trip");
	meta_cmd_free(&d);

	memset(&c, 0, sizeof c);
	c.type = META_CMD_COLL_DROP, c.id = 99;
	roundtrip(&c, &d);
	cr_assert_eq(d.id, 99);
	meta_cmd_free(&d);

	memset(&col, 0, sizeof col);
	col.id = 5, col.schema = s;
	snprintf(col.props, sizeof col.props, "ttl=3600\nowner=2\n");
	memset(&c, 0, sizeof c);
	c.type = META_CMD_COLL_UPDATE, c.coll = &col;
	roundtrip(&c, &d);
	cr_assert_eq(memcmp(d.coll, &col, sizeof col), 0, "collection record differs after a round trip");
	meta_cmd_free(&d);

	memset(&c, 0, sizeof c);
	c.type = META_CMD_COLL_CREATE_PROPS, c.coll = &col;
	roundtrip(&c, &d);
	cr_assert_eq(memcmp(d.coll, &col, sizeof col), 0, "created record differs after a round trip");
	meta_cmd_free(&d);

	for (int i = 0; i < 3; i++)
		mt_segment(&segs[i], 10 + (uint64_t)i, 5, (enum dann_seg_state)i);
	snprintf(segs[2].object_key, sizeof segs[2].object_key, "bucket/coll_5/seg_12");
	memset(&c, 0, sizeof c);
	c.type = META_CMD_SEG_APPLY, c.segs = segs, c.nsegs = 3;
	roundtrip(&c, &d);
	cr_assert_eq(d.nsegs, 3);
	cr_assert_eq(memcmp(d.segs, segs, sizeof segs), 0, "segment records differ after a round trip");
	meta_cmd_free(&d);

	memset(&c, 0, sizeof c);
	c.type = META_CMD_ALLOC, c.counter = DANN_CAT_AUTO_ID, c.count = 1000;
	roundtrip(&c, &d);
	cr_assert_eq(d.counter, DANN_CAT_AUTO_ID);
	cr_assert_eq(d.count, 1000);
	meta_cmd_free(&d);

	for (int t = META_CMD_USER_CREATE; t <= META_CMD_USER_ROLES; t++) {
		memset(&c, 0, sizeof c);
		c.type = (enum meta_cmd_type)t;
		snprintf(c.user.name, sizeof c.user.name, "alice");
		snprintf(c.user.hash, sizeof c.user.hash, "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA");
		snprintf(c.user.roles, sizeof c.user.roles, "admin,public");
		roundtrip(&c, &d);
		cr_assert_eq(memcmp(&d.user, &c.user, sizeof c.user), 0, "%s: user differs", meta_cmd_name(c.type));
		meta_cmd_free(&d);
	}
}

/* index.opq rides on bit 7 of the metric byte with a u32 of flags after
 * it: a schema without OPQ encodes as before OPQ existed (so records in a
 * Raft log or snapshot written then read as plain PQ), one with it round
 * trips, and flags this build does not know are refused. */
Test(meta_fsm, index_opq_round_trips_and_records_without_it_read_as_plain_pq)
{
	struct dann_schema s, got;
	struct meta_wbuf plain, opq;
	struct meta_rbuf r;
	size_t at;

	mt_schema(&s, "emb", 64);
	s.index.metric = DANN_METRIC_IP;
	meta_wbuf_init(&plain);
	meta_put_schema(&plain, &s);
	s.index.opq = 1;
	meta_wbuf_init(&opq);
	meta_put_schema(&opq, &s);
	cr_assert_eq(opq.len, plain.len + 4, "OPQ adds the flags word only");

	meta_rbuf_init(&r, plain.p, plain.len, "schema");
	meta_get_schema(&r, &got);
	cr_assert_eq(meta_rbuf_check(&r), 0, "%s", dann_errmsg());
	cr_assert_eq(r.off, plain.len);
	cr_assert_eq(got.index.opq, 0);
	cr_assert_eq(got.index.metric, DANN_METRIC_IP);

	meta_rbuf_init(&r, opq.p, opq.len, "schema");
	meta_get_schema(&r, &got);
	cr_assert_eq(meta_rbuf_check(&r), 0, "%s", dann_errmsg());
	cr_assert_eq(r.off, opq.len);
	cr_assert_eq(memcmp(&got, &s, sizeof s), 0, "schema differs after a round trip");

	/* the metric byte sits where the two encodings first differ */
	for (at = 0; at < plain.len && plain.p[at] == opq.p[at]; at++)
		;
	cr_assert_eq(opq.p[at], 0x80 | DANN_METRIC_IP);
	meta_st32(opq.p + at + 1, 0x3);
	meta_rbuf_init(&r, opq.p, opq.len, "schema");
	meta_get_schema(&r, &got);
	cr_assert_eq(meta_rbuf_check(&r), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "schema.index.flags"), "%s", dann_errmsg());
	meta_wbuf_free(&plain);
	meta_wbuf_free(&opq);
}

Test(meta_fsm, malformed_commands_are_refused_naming_the_problem)
{
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = DANN_CAT_SEGMENT_ID, .count = 4 }, d;
	uint8_t *b;
	void *buf;
	size_t len;

	mt_encode(&c, 1, 1, &buf, &len);
	b = buf;

	cr_assert_eq(meta_cmd_decode(buf, 10, &d), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "shorter than"), "%s", dann_errmsg());

	cr_assert_eq(meta_cmd_decode(buf, len - 1, &d), DANN_ECORRUPT, "a truncated command decodes");
	cr_assert(strstr(dann_errmsg(), "payload length"), "%s", dann_errmsg());

	b[20] ^= 1;  /* in the sequence number: only the checksum notices */
	cr_assert_eq(meta_cmd_decode(buf, len, &d), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "checksum"), "%s", dann_errmsg());
	b[20] ^= 1;

	b[0] = 'X';
	cr_assert_eq(meta_cmd_decode(buf, len, &d), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "magic"), "%s", dann_errmsg());
	b[0] = 'D';

	/* A newer version is not damage: a newer build wrote it. */
	b[4] = 9;
	cr_assert_eq(meta_cmd_decode(buf, len, &d), DANN_EUNSUPPORTED);
	cr_assert(strstr(dann_errmsg(), "version 9"), "%s", dann_errmsg());
	b[4] = 0;
	cr_assert_eq(meta_cmd_decode(buf, len, &d), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "version 0"), "%s", dann_errmsg());
	b[4] = 1;

	/* A counter out of range, with a valid checksum: the field is named. */
	b[28] = 7;
	meta_st32(b + len - 4, crc32c(0, b, len - 4));
	cr_assert_eq(meta_cmd_decode(buf, len, &d), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "alloc.counter"), "%s", dann_errmsg());

	/* An unknown type with a valid checksum: a newer build's command;
	 * with a bad one, damage. */
	b[28] = 1;
	b[6] = 77;
	meta_st32(b + len - 4, crc32c(0, b, len - 4));
	cr_assert_eq(meta_cmd_decode(buf, len, &d), DANN_EUNSUPPORTED);
	cr_assert(strstr(dann_errmsg(), "unknown type 77"), "%s", dann_errmsg());
	b[20] ^= 1;
	cr_assert_eq(meta_cmd_decode(buf, len, &d), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "checksum"), "%s", dann_errmsg());
	b[20] ^= 1;
	free(buf);

	/* A string longer than its field: named. */
	{
		struct dann_cat_segment s;
		struct meta_cmd sc = { .type = META_CMD_SEG_APPLY, .segs = &s, .nsegs = 1 };

		mt_segment(&s, 3, 1, DANN_SEG_FLUSHED);
		mt_encode(&sc, 1, 2, &buf, &len);
		b = buf;
		/* segment.files' length sits after 8+8+1+8+8+8+4 bytes of the record,
		 * which starts after the header and the u32 count. */
		b[28 + 4 + 45] = 0xff, b[28 + 4 + 46] = 0xff;
		meta_st32(b + len - 4, crc32c(0, b, len - 4));
		cr_assert_eq(meta_cmd_decode(buf, len, &d), DANN_ECORRUPT);
		cr_assert(strstr(dann_errmsg(), "segment.files"), "%s", dann_errmsg());
		free(buf);
	}

	/* Encoding refuses a command without what it needs. */
	memset(&c, 0, sizeof c);
	c.type = META_CMD_COLL_CREATE;
	cr_assert_eq(meta_cmd_encode(&c, &buf, &len), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "no schema"), "%s", dann_errmsg());
}

Test(meta_fsm, malformed_bytes_in_the_log_change_nothing)
{
	struct meta_result r;
	uint8_t junk[64];

	memset(junk, 0x5a, sizeof junk);
	create("a", 1);
	cr_assert_eq(meta_fsm_apply(&F, junk, sizeof junk, &r), 0, "a bad entry must not stop the log");
	cr_assert_eq(r.rc, DANN_ECORRUPT);
	cr_assert(strstr(r.msg, "magic"), "%s", r.msg);
	cr_assert_eq(F.ncolls, 1);
	cr_assert_eq(meta_fsm_counter(&F, DANN_CAT_COLL_ID), 2);
}

/* A newer build's command halts the fsm: not counted, nothing after it. */
Test(meta_fsm, a_newer_builds_command_halts_the_fsm)
{
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = DANN_CAT_SEGMENT_ID, .count = 4 };
	struct meta_result r;
	struct dann_cat_coll *cl;
	uint64_t applied;
	uint8_t *b;
	void *buf, *ok;
	size_t len, oklen, n;

	create("a", 1);
	applied = F.applied;
	mt_encode(&c, 1, 1, &buf, &len);
	mt_encode(&c, 1, 2, &ok, &oklen);
	b = buf;
	b[4] = 2;  /* version 2 */
	cr_assert_eq(meta_fsm_apply(&F, buf, len, &r), DANN_EUNSUPPORTED);
	cr_assert(strstr(r.msg, "version 2") && strstr(r.msg, "upgrade this node"), "%s", r.msg);
	cr_assert_eq(F.applied, applied, "a halting entry counted as applied");
	cr_assert_eq(meta_fsm_apply(&F, ok, oklen, &r), DANN_EUNSUPPORTED, "applied past the halt");
	cr_assert_eq(meta_fsm_counter(&F, DANN_CAT_SEGMENT_ID), 1);
	cr_assert_eq(meta_fsm_coll_list(&F, &cl, &n), DANN_EUNSUPPORTED);
	cr_assert(strstr(dann_errmsg(), "upgrade this node"), "%s", dann_errmsg());
	free(buf);
	free(ok);
}

Test(meta_fsm, collections_get_increasing_ids_and_unique_names)
{
	struct dann_schema s;
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE, .schema = &s };
	struct meta_result r;
	struct dann_cat_coll *list;
	size_t n;

	cr_assert_eq(create("a", 1), 1);
	cr_assert_eq(create("b", 2), 2);
	mt_schema(&s, "a", 8);
	r = run(&c, 7, 3);
	cr_assert_eq(r.rc, DANN_EEXIST);
	cr_assert(strstr(r.msg, "'a' already exists"), "%s", r.msg);
	mt_schema(&s, "", 8);
	r = run(&c, 7, 4);
	cr_assert_eq(r.rc, DANN_EINVAL);

	cr_assert_eq(meta_fsm_coll_list(&F, &list, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].schema.name, "a");
	cr_assert_eq(list[1].id, 2);
	free(list);
}

Test(meta_fsm, a_collection_is_created_with_its_properties_in_one_command)
{
	struct dann_cat_coll col, *list = NULL;
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE_PROPS, .coll = &col };
	struct meta_result r;
	size_t n = 0;
	uint64_t first = create("before", 1);

	memset(&col, 0, sizeof col);
	mt_schema(&col.schema, "owned", 16);
	col.id = 777; /* ignored: the catalog assigns ids */
	snprintf(col.props, sizeof col.props, "dann.owner=2\n");
	r = run(&c, 7, 2);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.value, first + 1, "id %llu after %llu", (unsigned long long)r.value, (unsigned long long)first);
	cr_assert_eq(meta_fsm_coll_list(&F, &list, &n), 0);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		if (list[i].id == r.value) {
			cr_assert_str_eq(list[i].schema.name, "owned");
			cr_assert_str_eq(list[i].props, "dann.owner=2\n");
		}
	free(list);
	/* A taken name is refused like any create, changing nothing. */
	r = run(&c, 7, 3);
	cr_assert_eq(r.rc, DANN_EEXIST, "%d %s", r.rc, r.msg);
}

Test(meta_fsm, drop_forgets_the_collection_and_its_segments)
{
	struct dann_cat_segment segs[3], *out;
	struct meta_cmd c = { .type = META_CMD_SEG_APPLY, .segs = segs, .nsegs = 3 };
	struct meta_result r;
	uint64_t a = create("a", 1), b = create("b", 2);
	size_t n;

	mt_segment(&segs[0], 1, a, DANN_SEG_GROWING);
	mt_segment(&segs[1], 2, a, DANN_SEG_FLUSHED);
	mt_segment(&segs[2], 3, b, DANN_SEG_SEALED);
	cr_assert_eq(run(&c, 7, 3).rc, 0);

	c = (struct meta_cmd){ .type = META_CMD_COLL_DROP, .id = a };
	cr_assert_eq(run(&c, 7, 4).rc, 0);
	r = run(&c, 7, 5);
	cr_assert_eq(r.rc, DANN_ENOTFOUND, "a second drop (a new request) finds nothing");
	cr_assert(strstr(r.msg, "does not exist"), "%s", r.msg);

	cr_assert_eq(meta_fsm_seg_list(&F, a, &out, &n), 0);
	cr_assert_eq(n, 0);
	free(out);
	cr_assert_eq(meta_fsm_seg_list(&F, b, &out, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(out[0].id, 3);
	free(out);
	cr_assert_eq(F.ncolls, 1);
}

Test(meta_fsm, update_replaces_schema_and_properties)
{
	struct dann_cat_coll col;
	struct meta_cmd c = { .type = META_CMD_COLL_UPDATE, .coll = &col };
	struct dann_cat_coll *list;
	size_t n;
	uint64_t a = create("a", 1);

	create("b", 2);
	memset(&col, 0, sizeof col);
	col.id = a;
	mt_schema(&col.schema, "a", 16);
	col.schema.index.R = 32;
	snprintf(col.props, sizeof col.props, "ttl=60\n");
	cr_assert_eq(run(&c, 7, 3).rc, 0);
	mt_schema(&col.schema, "b", 16);
	cr_assert_eq(run(&c, 7, 4).rc, DANN_EEXIST, "renaming onto a taken name");
	col.id = 99;
	cr_assert_eq(run(&c, 7, 5).rc, DANN_ENOTFOUND);

	cr_assert_eq(meta_fsm_coll_list(&F, &list, &n), 0);
	cr_assert_eq(list[0].schema.index.R, 32);
	cr_assert_str_eq(list[0].props, "ttl=60\n");
	free(list);
}

Test(meta_fsm, seg_apply_is_all_or_nothing_and_dropped_records_go)
{
	struct dann_cat_segment segs[2], *out;
	struct meta_cmd c = { .type = META_CMD_SEG_APPLY, .segs = segs, .nsegs = 2 };
	struct meta_result r;
	uint64_t a = create("a", 1);
	size_t n;

	mt_segment(&segs[0], 1, a, DANN_SEG_GROWING);
	mt_segment(&segs[1], 2, 777, DANN_SEG_GROWING);
	r = run(&c, 7, 2);
	cr_assert_eq(r.rc, DANN_ENOTFOUND);
	cr_assert(strstr(r.msg, "collection id 777"), "%s", r.msg);
	cr_assert_eq(F.nsegs, 0, "the valid record of a refused command was applied");

	mt_segment(&segs[1], 2, a, DANN_SEG_GROWING);
	cr_assert_eq(run(&c, 7, 3).rc, 0);
	mt_segment(&segs[0], 1, a, DANN_SEG_DROPPED);
	mt_segment(&segs[1], 2, a, DANN_SEG_FLUSHED);
	segs[1].rows = 12345;
	cr_assert_eq(run(&c, 7, 4).rc, 0);
	cr_assert_eq(meta_fsm_seg_list(&F, a, &out, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(out[0].id, 2);
	cr_assert_eq(out[0].state, DANN_SEG_FLUSHED);
	cr_assert_eq(out[0].rows, 12345);
	free(out);
}

Test(meta_fsm, counters_hand_out_disjoint_ranges)
{
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = DANN_CAT_AUTO_ID, .count = 1000 };
	struct meta_result r;

	r = run(&c, 7, 1);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.value, 1);
	r = run(&c, 7, 2);
	cr_assert_eq(r.value, 1001);
	c.counter = DANN_CAT_TIMESTAMP, c.count = 1;
	cr_assert_eq(run(&c, 7, 3).value, 1, "counters are independent");
	c.count = 0;
	cr_assert_eq(run(&c, 7, 4).rc, DANN_EINVAL);
	c.count = UINT64_MAX;
	r = run(&c, 7, 5);
	cr_assert_eq(r.rc, DANN_EINVAL);
	cr_assert(strstr(r.msg, "overflow"), "%s", r.msg);
	cr_assert_eq(meta_fsm_counter(&F, DANN_CAT_TIMESTAMP), 2);
}

Test(meta_fsm, users_are_created_changed_and_dropped)
{
	struct meta_cmd c = { .type = META_CMD_USER_CREATE };
	struct meta_user u;

	snprintf(c.user.name, sizeof c.user.name, "alice");
	snprintf(c.user.hash, sizeof c.user.hash, "h1");
	snprintf(c.user.roles, sizeof c.user.roles, "public");
	cr_assert_eq(run(&c, 7, 1).rc, 0);
	cr_assert_eq(run(&c, 7, 2).rc, DANN_EEXIST);
	c.type = META_CMD_USER_PASSWORD;
	snprintf(c.user.hash, sizeof c.user.hash, "h2");
	snprintf(c.user.roles, sizeof c.user.roles, "ignored");
	cr_assert_eq(run(&c, 7, 3).rc, 0);
	c.type = META_CMD_USER_ROLES;
	snprintf(c.user.hash, sizeof c.user.hash, "ignored");
	snprintf(c.user.roles, sizeof c.user.roles, "admin");
	cr_assert_eq(run(&c, 7, 4).rc, 0);
	cr_assert_eq(meta_fsm_user_get(&F, "alice", &u), 0);
	cr_assert_str_eq(u.hash, "h2");
	cr_assert_str_eq(u.roles, "admin");
	c.type = META_CMD_USER_DROP;
	cr_assert_eq(run(&c, 7, 5).rc, 0);
	cr_assert_eq(run(&c, 7, 6).rc, DANN_ENOTFOUND);
	cr_assert_eq(meta_fsm_user_get(&F, "alice", &u), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "'alice'"), "%s", dann_errmsg());
}

Test(meta_fsm, a_retried_command_is_applied_once)
{
	struct dann_schema s;
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE, .schema = &s };
	struct meta_cmd a = { .type = META_CMD_ALLOC, .counter = DANN_CAT_SEGMENT_ID, .count = 10 };
	struct meta_result r1, r2;

	mt_schema(&s, "x", 4);
	r1 = run(&c, 9, 1);
	r2 = run(&c, 9, 1);
	cr_assert_eq(r1.rc, 0);
	cr_assert_eq(r2.rc, 0, "the retry must answer like the first apply: %s", r2.msg);
	cr_assert_eq(r2.value, r1.value);
	cr_assert(strstr(r2.msg, "already applied"), "%s", r2.msg);
	cr_assert_eq(F.ncolls, 1);

	r1 = run(&a, 9, 2);
	r2 = run(&a, 9, 2);
	cr_assert_eq(r2.value, r1.value);
	cr_assert_eq(meta_fsm_counter(&F, DANN_CAT_SEGMENT_ID), 11, "the retry allocated again");
	/* The same sequence number from another client is another request. */
	r2 = run(&a, 10, 2);
	cr_assert_eq(r2.value, 11);
}

Test(meta_fsm, the_dedupe_table_is_bounded_and_forgets_the_oldest)
{
	struct meta_cmd a = { .type = META_CMD_ALLOC, .counter = DANN_CAT_TIMESTAMP, .count = 1 };

	for (uint64_t i = 1; i <= META_DEDUPE_MAX + 10; i++)
		run(&a, 3, i);
	cr_assert_eq(F.ndedupe, META_DEDUPE_MAX);
	cr_assert_eq(run(&a, 3, META_DEDUPE_MAX + 10).value, META_DEDUPE_MAX + 10, "a recent retry is found");
	cr_assert_eq(run(&a, 3, 1).value, META_DEDUPE_MAX + 11, "the oldest id was forgotten");
}

static void fill(void)
{
	struct dann_cat_segment segs[4];
	struct meta_cmd c = { .type = META_CMD_SEG_APPLY, .segs = segs, .nsegs = 4 };
	struct meta_cmd u = { .type = META_CMD_USER_CREATE };
	struct meta_cmd al = { .type = META_CMD_ALLOC, .counter = DANN_CAT_AUTO_ID, .count = 500 };
	uint64_t a = create("a", 1), b = create("b", 2);

	for (int i = 0; i < 4; i++)
		mt_segment(&segs[i], (uint64_t)i + 1, i < 2 ? a : b, DANN_SEG_FLUSHED);
	run(&c, 7, 3);
	snprintf(u.user.name, sizeof u.user.name, "root");
	snprintf(u.user.hash, sizeof u.user.hash, "$argon2id$x");
	run(&u, 7, 4);
	run(&al, 7, 5);
}

Test(meta_fsm, snapshot_restores_the_same_state)
{
	struct meta_fsm g;
	struct meta_cmd al = { .type = META_CMD_ALLOC, .counter = DANN_CAT_AUTO_ID, .count = 500 };
	struct meta_result r;
	void *s1, *s2, *buf;
	size_t l1, l2, len;

	fill();
	cr_assert_eq(meta_fsm_snapshot(&F, &s1, &l1), 0);
	cr_assert_eq(meta_fsm_init(&g), 0);
	cr_assert_eq(meta_fsm_restore(&g, s1, l1), 0, "%s", dann_errmsg());
	cr_assert_eq(meta_fsm_snapshot(&g, &s2, &l2), 0);
	cr_assert_eq(l1, l2);
	cr_assert_eq(memcmp(s1, s2, l1), 0, "a restored state snapshots differently");
	cr_assert_eq(g.nsegs, 4);
	cr_assert_eq(g.nusers, 1);
	cr_assert_eq(meta_fsm_counter(&g, DANN_CAT_AUTO_ID), 501);

	/* The request ids came along: a retry of seq 5 after the restore
	 * returns the first answer and allocates nothing. */
	al.req.client = 7, al.req.seq = 5;
	cr_assert_eq(meta_cmd_encode(&al, &buf, &len), 0);
	cr_assert_eq(meta_fsm_apply(&g, buf, len, &r), 0);
	cr_assert_eq(r.value, 1);
	cr_assert_eq(meta_fsm_counter(&g, DANN_CAT_AUTO_ID), 501);
	free(buf);
	free(s1);
	free(s2);
	meta_fsm_destroy(&g);
}

Test(meta_fsm, a_corrupt_snapshot_is_refused_and_changes_nothing)
{
	struct meta_fsm g;
	void *snap, *before, *after;
	size_t len, lb, la;
	uint8_t *b;

	fill();
	cr_assert_eq(meta_fsm_snapshot(&F, &snap, &len), 0);
	b = snap;
	cr_assert_eq(meta_fsm_init(&g), 0);
	create("keep", 9);  /* F differs from the snapshot now */
	cr_assert_eq(meta_fsm_snapshot(&F, &before, &lb), 0);

	b[len / 2] ^= 0x40;
	cr_assert_eq(meta_fsm_restore(&F, snap, len), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "meta snapshot: checksum"), "%s", dann_errmsg());
	b[len / 2] ^= 0x40;

	/* Well-checksummed but inconsistent: a collection count far too large. */
	meta_st32(b + 48, 1000000);
	meta_st32(b + len - 4, crc32c(0, b, len - 4));
	cr_assert_eq(meta_fsm_restore(&F, snap, len), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "collections"), "%s", dann_errmsg());

	cr_assert_eq(meta_fsm_restore(&F, snap, 3), DANN_ECORRUPT);
	cr_assert_eq(meta_fsm_snapshot(&F, &after, &la), 0);
	cr_assert_eq(la, lb);
	cr_assert_eq(memcmp(before, after, la), 0, "a refused snapshot changed the state");
	free(snap);
	free(before);
	free(after);
	meta_fsm_destroy(&g);
}

/* dannd's import of a local CATALOG (meta_import.c): a collection keeps its
 * id and segments, the counters rise past everything imported, the same
 * collection again changes nothing (a retry after a crash must not put
 * back older segment records), and a clash is refused whole. */
Test(meta_fsm, an_imported_collection_keeps_its_id_and_a_retry_changes_nothing)
{
	struct dann_cat_coll col;
	struct dann_cat_segment segs[2], *out;
	struct meta_cmd c = { .type = META_CMD_COLL_IMPORT, .coll = &col, .segs = segs, .nsegs = 2 };
	struct meta_cmd d;
	struct meta_result r;
	size_t n;

	memset(&col, 0, sizeof col);
	col.id = 5;
	mt_schema(&col.schema, "lib", 8);
	snprintf(col.props, sizeof col.props, "srv.loaded=1\n");
	mt_segment(&segs[0], 9, 5, DANN_SEG_FLUSHED);
	mt_segment(&segs[1], 12, 5, DANN_SEG_FLUSHED);
	segs[1].rows = 700;
	c.counters[DANN_CAT_COLL_ID] = 7;
	c.counters[DANN_CAT_AUTO_ID] = 4000;
	roundtrip(&c, &d);
	cr_assert_eq(d.coll->id, 5);
	cr_assert_str_eq(d.coll->props, "srv.loaded=1\n");
	cr_assert_eq(d.nsegs, 2);
	cr_assert_eq(d.segs[1].rows, 700);
	cr_assert_eq(d.counters[DANN_CAT_AUTO_ID], 4000);
	meta_cmd_free(&d);

	r = run(&c, 7, 1);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.value, 1, "imported now");
	cr_assert_eq(meta_fsm_counter(&F, DANN_CAT_COLL_ID), 7);
	cr_assert_eq(meta_fsm_counter(&F, DANN_CAT_SEGMENT_ID), 13, "past the largest imported segment id");
	cr_assert_eq(meta_fsm_counter(&F, DANN_CAT_AUTO_ID), 4000);
	cr_assert_eq(create("next", 2), 7, "a new collection never takes an imported id");

	/* The same import from another client (a restarted dannd): nothing
	 * changes, though its segment records differ from the catalog's. */
	segs[1].rows = 1;
	r = run(&c, 8, 1);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.value, 0, "already imported");
	cr_assert_eq(meta_fsm_seg_list(&F, 5, &out, &n), 0);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		if (out[i].id == 12)
			cr_assert_eq(out[i].rows, 700, "a retried import put back another segment record");
	free(out);

	/* The name on another id, or the id on another name: refused whole. */
	col.id = 20;
	segs[0].coll_id = segs[1].coll_id = 20;
	segs[0].id = 30, segs[1].id = 31;
	r = run(&c, 8, 2);
	cr_assert_eq(r.rc, DANN_EEXIST);
	cr_assert(strstr(r.msg, "'lib' exists here with id 5"), "%s", r.msg);
	col.id = 7;
	mt_schema(&col.schema, "other", 8);
	segs[0].coll_id = segs[1].coll_id = 7;
	r = run(&c, 8, 3);
	cr_assert_eq(r.rc, DANN_EEXIST);
	cr_assert(strstr(r.msg, "id 7 is 'next' here"), "%s", r.msg);
	cr_assert_eq(F.ncolls, 2);
	cr_assert_eq(F.nsegs, 2, "a refused import added segments");
}
