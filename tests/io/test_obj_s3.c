/*
 * test_obj_s3.c — the S3 backend against a real S3-compatible server
 * (s3rver, started per test on free loopback ports): every operation,
 * multipart uploads, ranged reads, listings of many pages, a bucket that
 * does not exist, credentials the server refuses.
 */
#include <sys/stat.h>

#include "helpers/s3rver.h"
#include "obj_test.h"

#define BUCKET "dann-test"
#define PART (5u << 20) /* S3's smallest part */

static struct s3rver srv;

static void setup(void)
{
	tmpdir_make("obj_s3");
	s3rver_start(&srv, tmpdir_path("s3rver"), BUCKET, 0, 0);
}

static void teardown(void)
{
	s3rver_stop(&srv);
	tmpdir_remove();
}

TestSuite(obj_s3, .init = setup, .fini = teardown, .timeout = 120);

static struct obj_store *open_s3(const char *uri, struct obj_config *c)
{
	struct obj_config d;
	struct obj_store *s;

	if (!c) {
		obj_config_default(&d);
		c = &d;
	}
	if (!c->endpoint)
		c->endpoint = srv.endpoint;
	if (!c->access_key) {
		c->access_key = "S3RVER";
		c->secret_key = "S3RVER";
	}
	c->path_style = 1;
	c->part_bytes = PART;
	if (!c->retry_base_ms)
		c->retry_base_ms = 20;
	cr_assert_eq(obj_open(uri, c, &s), 0, "%s", dann_errmsg());
	cr_assert_str_eq(obj_backend_name(s), "s3");
	return s;
}

Test(obj_s3, every_operation_works_against_s3rver)
{
	struct obj_store *s = open_s3("s3://" BUCKET "/tenant/a", NULL);

	obj_check_basic_ops(s);
	obj_close(s);
}

Test(obj_s3, multipart_upload_in_parallel_parts_round_trips)
{
	struct obj_config c;
	struct obj_store *s;
	struct obj_stats st;

	obj_config_default(&c);
	c.parallel = 3;
	s = open_s3("s3://" BUCKET "/mp", &c);
	obj_check_large_file(s, 3 * PART + 777, PART);
	/* 4 parts went as parts: the proxy saw them */
	cr_assert_eq(s3rver_count(&srv, "PUT", "partNumber="), 4);
	cr_assert_eq(s3rver_count(&srv, "POST", "uploads="), 1);
	obj_stats_get(s, &st);
	cr_assert_eq(st.retries, 0);
	obj_close(s);
}

Test(obj_s3, a_range_past_the_end_takes_one_request)
{
	struct obj_store *s = open_s3("s3://" BUCKET "/r", NULL);
	char buf[64];
	size_t got;

	cr_assert_eq(obj_put(s, "short", "0123456789", 10), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_get(s, "short", 4, 60, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, 6);
	cr_assert(memcmp(buf, "456789", 6) == 0);
	/* the 206's Content-Range says the object ended: no second request */
	cr_assert_eq(s3rver_count(&srv, "GET", "/r/short"), 1);
	obj_close(s);
}

Test(obj_s3, keys_with_reserved_characters_are_encoded_for_signing)
{
	struct obj_store *s = open_s3("s3://" BUCKET "/p q", NULL);
	const char *key = "odd key/with+plus=eq&amp;~tilde(1)";
	struct key_seen k = { 0 };
	char buf[8];
	size_t got;

	cr_assert_eq(obj_put(s, key, "xyz", 3), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_get(s, key, 1, 8, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, 2);
	cr_assert_eq(obj_list(s, "odd", note_key, &k), 0, "%s", dann_errmsg());
	cr_assert_eq(k.n, 1);
	cr_assert_str_eq(k.keys[0], key, "listed key decoded from XML");
	obj_close(s);
}

Test(obj_s3, listing_follows_many_pages)
{
	struct obj_config c;
	struct obj_store *s;
	struct key_seen k = { 0 };
	char key[64];
	unsigned i;

	obj_config_default(&c);
	c.list_page = 7;
	s = open_s3("s3://" BUCKET "/many", &c);
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "k/%03u", i);
		cr_assert_eq(obj_put(s, key, key, strlen(key)), 0, "%s", dann_errmsg());
	}
	cr_assert_eq(obj_put(s, "other", "x", 1), 0);
	cr_assert_eq(obj_list(s, "k/", note_key, &k), 0, "%s", dann_errmsg());
	cr_assert_eq(k.total, 50);
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "k/%03u", i);
		cr_assert_str_eq(k.keys[i], key, "key %u in order", i);
		cr_assert_eq(k.sizes[i], strlen(key));
	}
	/* 50 keys at 7 a page: 8 pages */
	cr_assert_eq(s3rver_count(&srv, "GET", "list-type=2"), 8);
	obj_close(s);
}

Test(obj_s3, a_bucket_that_does_not_exist_is_a_clear_error)
{
	struct obj_store *s = open_s3("s3://no-such-bucket/p", NULL);
	struct key_seen k = { 0 };
	char buf[4];
	size_t got;

	cr_assert_eq(obj_put(s, "x", "1", 1), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "bucket 'no-such-bucket' does not exist"), "%s", dann_errmsg());
	cr_assert_eq(obj_list(s, "", note_key, &k), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "no-such-bucket"), "%s", dann_errmsg());
	cr_assert_eq(obj_get(s, "x", 0, 4, buf, &got), DANN_ENOTFOUND);
	/* a 4xx is final: one request each, no retries */
	cr_assert_eq(s3rver_count(&srv, NULL, "no-such-bucket"), 3);
	obj_close(s);
}

Test(obj_s3, credentials_the_server_refuses_are_not_retried)
{
	struct obj_config c;
	struct obj_store *s;

	obj_config_default(&c);
	c.access_key = "WRONGKEY";
	c.secret_key = "whatever";
	s = open_s3("s3://" BUCKET "/p", &c);
	cr_assert_eq(obj_put(s, "x", "1", 1), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "access denied") && strstr(dann_errmsg(), "InvalidAccessKeyId"), "%s",
		  dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "PUT", "/p/x"), 1);
	obj_close(s);
}

Test(obj_s3, unsigned_payload_is_accepted)
{
	struct obj_config c;
	struct obj_store *s;
	char buf[8];
	size_t got;

	obj_config_default(&c);
	c.unsigned_payload = 1;
	s = open_s3("s3://" BUCKET "/u", &c);
	cr_assert_eq(obj_put(s, "x", "abc", 3), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_get(s, "x", 0, 8, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, 3);
	obj_close(s);
}

static int crc_from_list(void *arg, const char *stage, const char *name, uint32_t *crc)
{
	char p[512];

	(void)arg;
	snprintf(p, sizeof p, "%s/%s", stage, "MANIFEST");
	cr_assert_eq(access(p, F_OK), 0, "MANIFEST first");
	if (strcmp(name, "big") == 0) {
		*crc = *(const uint32_t *)arg;
		return 1;
	}
	return 0;
}

Test(obj_s3, directories_go_up_and_come_back_whole)
{
	struct obj_store *s = open_s3("s3://" BUCKET "/dirs", NULL);
	const char *src = tmpdir_path("seg"), *dst = tmpdir_path("back");
	char p[512];
	uint32_t big_crc, m_crc;

	mkdir(src, 0755);
	snprintf(p, sizeof p, "%s/big", src);
	big_crc = pat_file(p, 21, PART + 4096);
	snprintf(p, sizeof p, "%s/MANIFEST", src);
	m_crc = pat_file(p, 22, 100);
	cr_assert_eq(obj_put_dir(s, src, "seg/1", "MANIFEST"), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_get_dir(s, "seg/1", dst, "MANIFEST", &m_crc, crc_from_list, &big_crc), 0, "%s",
		     dann_errmsg());
	snprintf(p, sizeof p, "%s/big", dst);
	pat_check_file(p, 21, PART + 4096);
	obj_close(s);
}
