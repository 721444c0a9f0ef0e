/*
 * test_obj_s3_faults.c — what the S3 client does when things go wrong, with
 * the faults made by a real proxy in front of a real s3rver (no mock in the
 * client): parts answered 503 or cut off mid-body are retried, a 4xx is
 * final and the upload aborted, retries run out into an error with no
 * object left, a server killed in the middle of an upload and started
 * again sees the upload through, a download cut mid-body resumes where it
 * stopped, a reply corrupted on the way is fetched again and an object
 * corrupted on the server's disk is an error naming it.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "helpers/s3rver.h"
#include "obj_test.h"

#define BUCKET "faults"
#define PART (5u << 20)

static struct s3rver srv;

static void setup(void)
{
	tmpdir_make("obj_s3_faults");
	s3rver_start(&srv, tmpdir_path("s3rver"), BUCKET, 0, 0);
}

static void teardown(void)
{
	s3rver_stop(&srv);
	tmpdir_remove();
}

TestSuite(obj_s3_faults, .init = setup, .fini = teardown, .timeout = 180);

static struct obj_store *open_s3(unsigned retries, unsigned parallel)
{
	struct obj_config c;
	struct obj_store *s;

	obj_config_default(&c);
	c.endpoint = srv.endpoint;
	c.access_key = "S3RVER";
	c.secret_key = "S3RVER";
	c.path_style = 1;
	c.part_bytes = PART;
	c.parallel = parallel;
	c.retries = retries;
	c.retry_base_ms = 20;
	c.retry_max_ms = 200;
	cr_assert_eq(obj_open("s3://" BUCKET "/f", &c, &s), 0, "%s", dann_errmsg());
	return s;
}

static const char *make_src(size_t n)
{
	const char *p = tmpdir_path("src");

	pat_file(p, 5, n);
	return p;
}

static void check_object(struct obj_store *s, const char *key, size_t n)
{
	const char *dst = tmpdir_path("dst");
	void *want = pat_alloc(5, n);
	uint32_t crc = crc32c(0, want, n);

	free(want);
	unlink(dst);
	cr_assert_eq(obj_get_file(s, key, dst, &crc), 0, "%s", dann_errmsg());
	pat_check_file(dst, 5, n);
}

Test(obj_s3_faults, parts_answered_503_are_retried)
{
	struct obj_store *s = open_s3(5, 2);
	struct obj_stats st;

	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"partNumber=2\",\"action\":\"status\",\"status\":503,\"count\":2}");
	cr_assert_eq(obj_put_file(s, "mp", make_src(2 * PART + 100)), 0, "%s", dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "PUT", "partNumber=2"), 3, "part 2 sent three times");
	cr_assert_eq(s3rver_count(&srv, "PUT", "partNumber=1"), 1);
	obj_stats_get(s, &st);
	cr_assert_eq(st.retries, 2);
	check_object(s, "mp", 2 * PART + 100);
	obj_close(s);
}

Test(obj_s3_faults, a_part_cut_off_mid_body_is_sent_again)
{
	struct obj_store *s = open_s3(5, 2);

	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"partNumber=1\",\"action\":\"reset\",\"after\":1000000}");
	cr_assert_eq(obj_put_file(s, "mp", make_src(2 * PART + 100)), 0, "%s", dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "PUT", "partNumber=1"), 2);
	check_object(s, "mp", 2 * PART + 100);
	obj_close(s);
}

Test(obj_s3_faults, too_many_requests_is_retried)
{
	struct obj_store *s = open_s3(5, 1);
	char buf[8];
	size_t got;

	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"/f/small\",\"action\":\"status\",\"status\":429}");
	cr_assert_eq(obj_put(s, "small", "abc", 3), 0, "%s", dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "PUT", "/f/small"), 2);
	cr_assert_eq(obj_get(s, "small", 0, 8, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, 3);
	obj_close(s);
}

Test(obj_s3_faults, a_4xx_is_final_and_the_upload_is_aborted)
{
	struct obj_store *s = open_s3(5, 1);
	struct obj_stat st;

	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"partNumber=2\",\"action\":\"status\",\"status\":400}");
	cr_assert_eq(obj_put_file(s, "mp", make_src(3 * PART)), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "part 2 of 3") && strstr(dann_errmsg(), "400"), "%s", dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "PUT", "partNumber=2"), 1, "a 400 is not retried");
	cr_assert_eq(s3rver_count(&srv, "PUT", "partNumber=3"), 0, "no part after the failure");
	cr_assert_eq(s3rver_count(&srv, "DELETE", "uploadId="), 1, "the upload was aborted");
	cr_assert_eq(obj_head(s, "mp", &st), DANN_ENOTFOUND, "no object, not even part of one");
	obj_close(s);
}

Test(obj_s3_faults, retries_run_out_into_an_error_and_no_object)
{
	struct obj_store *s = open_s3(3, 2);
	struct obj_stat st;

	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"partNumber=2\",\"action\":\"status\",\"status\":503,\"count\":100}");
	cr_assert_eq(obj_put_file(s, "mp", make_src(2 * PART + 1)), DANN_EIO);
	cr_assert(strstr(dann_errmsg(), "503") && strstr(dann_errmsg(), "after 4 attempts"), "%s", dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "PUT", "partNumber=2"), 4);
	cr_assert_eq(s3rver_count(&srv, "DELETE", "uploadId="), 1);
	cr_assert_eq(obj_head(s, "mp", &st), DANN_ENOTFOUND);
	obj_close(s);
}

Test(obj_s3_faults, an_upload_the_server_lost_is_started_again)
{
	struct obj_store *s = open_s3(3, 2);
	struct obj_stats st;

	/* CompleteMultipartUpload answered NoSuchUpload once */
	s3rver_fault(&srv, "{\"method\":\"POST\",\"match\":\"uploadId=\",\"action\":\"status\",\"status\":404}");
	cr_assert_eq(obj_put_file(s, "mp", make_src(PART + 10)), 0, "%s", dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "POST", "uploads="), 2, "a second upload was created");
	obj_stats_get(s, &st);
	cr_assert_eq(st.multipart_restarts, 1);
	check_object(s, "mp", PART + 10);
	obj_close(s);
}

struct bg_put {
	struct obj_store *s;
	const char *src;
	int rc;
	char err[512];
};

static void *bg_put_file(void *arg)
{
	struct bg_put *b = arg;

	b->rc = obj_put_file(b->s, "killed", b->src);
	snprintf(b->err, sizeof b->err, "%s", dann_errmsg());
	return NULL;
}

Test(obj_s3_faults, a_server_killed_mid_upload_and_restarted_sees_it_through)
{
	struct obj_config c;
	struct bg_put b = { 0 };
	struct obj_store *s;
	struct obj_stats st;
	pthread_t th;
	int s3_port = srv.s3_port, proxy_port = srv.proxy_port;

	obj_config_default(&c);
	c.endpoint = srv.endpoint;
	c.access_key = c.secret_key = "S3RVER";
	c.path_style = 1;
	c.part_bytes = PART;
	c.parallel = 2;
	c.retries = 12;          /* enough backoff to span a restart of node */
	c.retry_base_ms = 100;
	c.retry_max_ms = 1000;
	cr_assert_eq(obj_open("s3://" BUCKET "/f", &c, &s), 0, "%s", dann_errmsg());
	b.s = s;
	b.src = make_src(3 * PART + 5);
	/* the server dies (SIGKILL) 1 MB into the body of part 2 */
	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"partNumber=2\",\"action\":\"kill\",\"after\":1000000}");
	cr_assert_eq(pthread_create(&th, NULL, bg_put_file, &b), 0);
	cr_assert(s3rver_wait_exit(&srv, 60000), "the server did not die at the fault");
	s3rver_start(&srv, srv.dir, BUCKET, s3_port, proxy_port);
	pthread_join(th, NULL);
	cr_assert_eq(b.rc, 0, "upload across the restart: %s", b.err);
	obj_stats_get(s, &st);
	cr_assert_geq(st.retries, 1, "the upload went through retries");
	check_object(s, "killed", 3 * PART + 5);
	obj_close(s);
}

Test(obj_s3_faults, a_download_cut_mid_body_resumes_where_it_stopped)
{
	struct obj_store *s = open_s3(5, 2);
	struct obj_stats st;

	cr_assert_eq(obj_put_file(s, "big", make_src(PART + 3)), 0, "%s", dann_errmsg());
	s3rver_clear(&srv);
	s3rver_fault(&srv, "{\"method\":\"GET\",\"match\":\"/f/big\",\"action\":\"cut\",\"after\":2000000}");
	check_object(s, "big", PART + 3);
	cr_assert_eq(s3rver_count(&srv, "GET", "/f/big"), 2);
	obj_stats_get(s, &st);
	cr_assert_eq(st.retries, 1);
	/* the retry asked only for the rest */
	cr_assert_lt(st.bytes_down, 2ull * PART, "downloaded %llu bytes for a %u-byte object",
		     (unsigned long long)st.bytes_down, PART + 3);
	obj_close(s);
}

Test(obj_s3_faults, a_reply_corrupted_on_the_way_is_fetched_again)
{
	struct obj_store *s = open_s3(5, 2);
	struct obj_stats st;

	cr_assert_eq(obj_put_file(s, "obj", make_src(100000)), 0, "%s", dann_errmsg());
	s3rver_fault(&srv, "{\"method\":\"GET\",\"match\":\"/f/obj\",\"action\":\"corrupt\"}");
	check_object(s, "obj", 100000);
	obj_stats_get(s, &st);
	cr_assert_eq(st.crc_refetches, 1);
	obj_close(s);
}

Test(obj_s3_faults, an_object_corrupted_on_the_servers_disk_is_an_error)
{
	struct obj_store *s = open_s3(5, 2);
	const char *dst = tmpdir_path("dst");
	void *want = pat_alloc(5, 100000);
	uint32_t crc = crc32c(0, want, 100000);
	char path[1024];
	int fd;

	free(want);
	cr_assert_eq(obj_put_file(s, "seg/obj", make_src(100000)), 0, "%s", dann_errmsg());
	s3rver_object_path(&srv, "f/seg/obj", path, sizeof path);
	cr_assert((fd = open(path, O_RDWR)) >= 0, "s3rver keeps the object at %s", path);
	cr_assert_eq(pwrite(fd, "\xff", 1, 777), 1);
	close(fd);
	s3rver_clear(&srv);
	cr_assert_eq(obj_get_file(s, "seg/obj", dst, &crc), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "seg/obj") && strstr(dann_errmsg(), "3 downloads"), "%s", dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "GET", "/f/seg/obj"), 1 + OBJ_CRC_REFETCHES);
	cr_assert_neq(access(dst, F_OK), 0, "nothing under the final name");
	obj_close(s);
}

Test(obj_s3_faults, a_server_that_stops_answering_times_out_and_is_retried)
{
	struct obj_config c;
	struct obj_store *s;
	struct obj_stats st;
	char buf[8];
	size_t got;

	obj_config_default(&c);
	c.endpoint = srv.endpoint;
	c.access_key = c.secret_key = "S3RVER";
	c.path_style = 1;
	c.retry_base_ms = 20;
	c.stall_timeout_ms = 1000;
	cr_assert_eq(obj_open("s3://" BUCKET "/f", &c, &s), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_put(s, "quiet", "abc", 3), 0, "%s", dann_errmsg());
	s3rver_fault(&srv, "{\"method\":\"GET\",\"match\":\"/f/quiet\",\"action\":\"stall\"}");
	cr_assert_eq(obj_get(s, "quiet", 0, 8, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, 3);
	obj_stats_get(s, &st);
	cr_assert_eq(st.retries, 1);
	cr_assert_eq(s3rver_count(&srv, "GET", "/f/quiet"), 2, "the stalled GET and its retry");
	obj_close(s);
}

Test(obj_s3_faults, a_server_that_is_gone_is_an_error_once_retries_are_spent)
{
	struct obj_config c;
	struct obj_store *s;
	struct obj_stat st;
	char endpoint[64];

	snprintf(endpoint, sizeof endpoint, "%s", srv.endpoint);
	s3rver_stop(&srv);
	obj_config_default(&c);
	c.endpoint = endpoint;
	c.access_key = c.secret_key = "S3RVER";
	c.path_style = 1;
	c.retries = 2;
	c.retry_base_ms = 10;
	cr_assert_eq(obj_open("s3://" BUCKET "/f", &c, &s), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_head(s, "x", &st), DANN_EIO);
	cr_assert(strstr(dann_errmsg(), "after 3 attempts") && strstr(dann_errmsg(), "HEAD s3://faults/f/x"), "%s",
		  dann_errmsg());
	obj_close(s);
}

Test(obj_s3_faults, a_large_buffer_put_goes_in_parts)
{
	struct obj_store *s = open_s3(3, 2);
	void *b = pat_alloc(5, PART + 99);

	cr_assert_eq(obj_put(s, "buf", b, PART + 99), 0, "%s", dann_errmsg());
	cr_assert_eq(s3rver_count(&srv, "PUT", "partNumber="), 2);
	check_object(s, "buf", PART + 99);
	free(b);
	obj_close(s);
}
