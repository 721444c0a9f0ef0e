/*
 * test_srv_config.c — dannd's settings (file and command line) and the
 * credential decoding of the authorization metadata.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dann.h"
#include "helpers/tmpdir.h"
#include "srv.h"
#include "srv_auth.h"
#include "srv_config.h"

Test(srv_config, command_line_overrides_the_file_and_names_bad_values)
{
	struct srv_config c;
	FILE *f;
	int help;
	char *argv[] = { "dannd", "--config", NULL, "--listen", "127.0.0.1:1234", "--queue-max", "9", NULL };

	tmpdir_make("srv_config");
	argv[2] = tmpdir_path("dannd.conf");
	f = fopen(argv[2], "w");
	cr_assert_not_null(f);
	fputs("# comment\ndata_dir = /x/y\nlisten = 0.0.0.0:1\nworkers = 3\nmax_recv_bytes = 2M\n"
	      "auth = true\nuser = alice:$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaA\n", f);
	fclose(f);
	srv_config_default(&c);
	cr_assert_eq(srv_config_args(&c, 7, argv, &help), 0, "%s", dann_errmsg());
	cr_assert_eq(help, 0);
	cr_assert_str_eq(c.data_dir, "/x/y");
	cr_assert_str_eq(c.listen, "127.0.0.1:1234");
	cr_assert_eq(c.workers, 3);
	cr_assert_eq(c.queue_max, 9);
	cr_assert_eq(c.max_recv_bytes, 2u << 20);
	cr_assert_eq(c.auth, 1);
	cr_assert_eq(c.nusers, 1);
	cr_assert_str_eq(c.users[0].name, "alice");

	cr_assert_eq(srv_config_set(&c, "workers", "0"), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "workers"), "%s", dann_errmsg());
	cr_assert_eq(srv_config_set(&c, "no_such", "1"), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "no_such"), "%s", dann_errmsg());
	cr_assert_eq(srv_config_set(&c, "user", "bob:plaintext"), DANN_EINVAL);
	cr_assert_eq(srv_config_set(&c, "auth", "maybe"), DANN_EINVAL);
	cr_assert_eq(srv_config_set(&c, "store", "s3://bucket/prefix"), 0);
	cr_assert_str_eq(c.store, "s3://bucket/prefix");
	cr_assert_eq(srv_config_set(&c, "tier-cache-bytes", "2G"), 0);
	cr_assert_eq(c.tier_cache_bytes, 2ull << 30);
	cr_assert_eq(srv_config_set(&c, "sync_interval_ms", "250"), 0);
	cr_assert_eq(c.sync_interval_ms, 250);
	cr_assert_eq(srv_config_set(&c, "store", "ftp://x"), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "store") && strstr(dann_errmsg(), "file://"), "%s", dann_errmsg());
	cr_assert_eq(srv_config_set(&c, "sync_interval_ms", "0"), DANN_EINVAL);
	cr_assert_str_eq(c.store, "s3://bucket/prefix", "a refused value changes nothing");
	cr_assert_eq(srv_config_set(&c, "search-inflight", "32"), 0);
	cr_assert_eq(srv_config_set(&c, "search_threads", "2"), 0);
	cr_assert_eq(c.search_inflight, 32);
	cr_assert_eq(c.search_threads, 2);
	cr_assert_eq(srv_config_set(&c, "search_threads", "0"), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "search_threads"), "%s", dann_errmsg());
	cr_assert_eq(srv_config_set(&c, "search_inflight", "1025"), DANN_EINVAL);
	cr_assert_eq(c.search_inflight, 32, "a refused value changes nothing");
	/* the node cache: the library's default budget unless set */
	cr_assert_eq(c.cache_bytes, DANN_CACHE_AUTO);
	cr_assert_eq(srv_config_set(&c, "cache_bytes", "0"), 0);
	cr_assert_eq(c.cache_bytes, 0, "0: no cache");
	cr_assert_eq(srv_config_set(&c, "cache_bytes", "64M"), 0);
	cr_assert_eq(c.cache_bytes, 64u << 20);
	cr_assert_eq(srv_config_set(&c, "cache_bytes", "auto"), 0);
	cr_assert_eq(c.cache_bytes, DANN_CACHE_AUTO);
	cr_assert_eq(srv_config_set(&c, "cache_bytes", "lots"), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "cache_bytes"), "%s", dann_errmsg());

	f = fopen(argv[2], "w");
	fputs("workers = 2\nthis line has no equals\n", f);
	fclose(f);
	cr_assert_eq(srv_config_load(&c, argv[2]), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "dannd.conf:2"), "%s", dann_errmsg());
	tmpdir_remove();
}

Test(srv_config, bad_settings_stop_the_server_before_it_opens_anything)
{
	struct srv_config c;
	struct srv *s = NULL;

	srv_config_default(&c);
	cr_assert_eq(srv_open(&c, &s), DANN_EINVAL, "no data dir");
	snprintf(c.data_dir, sizeof c.data_dir, "/nonexistent");
	c.auth = 1;
	cr_assert_eq(srv_open(&c, &s), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "user"), "%s", dann_errmsg());
	c.auth = 0;
	snprintf(c.tls_cert, sizeof c.tls_cert, "/x.pem");
	cr_assert_eq(srv_open(&c, &s), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "tls"), "%s", dann_errmsg());
	cr_assert_null(s);
}

Test(srv_config, base64_credentials_decode_and_garbage_is_refused)
{
	char out[64];

	cr_assert_eq(srv_base64_decode("cm9vdDpNaWx2dXM=", 16, out, sizeof out), 11);
	cr_assert_str_eq(out, "root:Milvus");
	cr_assert_eq(srv_base64_decode("cm9vdDpNaWx2dXM", 15, out, sizeof out), 11);
	cr_assert_eq(srv_base64_decode("cm9v*DpN", 8, out, sizeof out), -1);
	cr_assert_eq(srv_base64_decode("cm9vdDpNaWx2dXM=", 16, out, 4), -1, "overflow refused");
}

/* With 4 workers (the old default) and 64 searcher slots, 64 single-query
 * clients had at most 4 queries in flight: the default must fill the slots. */
Test(srv_config, default_workers_can_fill_every_searcher_slot)
{
	struct srv_config c;

	srv_config_default(&c);
	cr_assert_geq(c.workers, c.search_threads * c.search_inflight, "%u workers for %u x %u slots",
		      c.workers, c.search_threads, c.search_inflight);
}
