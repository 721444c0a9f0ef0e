/*
 * test_srv_tier.c — dannd with its flushed segments in an object store
 * (s3rver): --store, --tier-cache-bytes and --sync-interval-ms on the
 * command line and in the config file, credentials and endpoint from the
 * AWS variables. Rows written through the Milvus Node.js SDK reach the
 * bucket, the local copies are evicted (a budget of one byte), and
 * searches, queries and counts answer from segments fetched back, also
 * after a restart.
 */
#include <glob.h>
#include <signal.h>

#include "error.h"
#include "helpers/s3rver.h"
#include "io/obj.h"
#include "srvtest.h"

#define NODE_TIMEOUT_S 120
#define NSEG 3
#define WAIT_MS 30000
#define POLL_MS 50

static struct s3rver srv;
static int srv_up;

static void setup(void)
{
	srvtest_need_node();
	tmpdir_make("srv_tier");
}

static void teardown(void)
{
	if (srv_up)
		s3rver_stop(&srv);
	srv_up = 0;
	tmpdir_remove();
}

TestSuite(srv_tier, .init = setup, .fini = teardown, .timeout = 300);

static int count_manifests(void *arg, const char *key, uint64_t size)
{
	(void)size;
	if (strstr(key, "/MANIFEST"))
		(*(int *)arg)++;
	return 0;
}

/* Segment MANIFESTs in the bucket, listed from s3rver directly (the
 * proxy's request counts stay the server's). */
static int manifests_in_bucket(void)
{
	struct obj_config cfg;
	struct obj_store *s;
	int n = 0;

	obj_config_default(&cfg);
	cfg.endpoint = srv.direct;
	cfg.access_key = cfg.secret_key = "S3RVER";
	cfg.path_style = 1;
	cr_assert_eq(obj_open("s3://tier/node1", &cfg, &s), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_list(s, "c", count_manifests, &n), 0, "%s", dann_errmsg());
	obj_close(s);
	return n;
}

/* Flushed segment directories on the local disk. */
static int local_segments(const char *data)
{
	char pat[1100];
	glob_t g;
	int n;

	snprintf(pat, sizeof pat, "%s/c*/s*", data);
	if (glob(pat, GLOB_ONLYDIR, NULL, &g) != 0)
		return 0;
	n = (int)g.gl_pathc;
	globfree(&g);
	return n;
}

static void node(struct proc_dannd *d, const char *mode)
{
	char addr[64];

	snprintf(addr, sizeof addr, "127.0.0.1:%d", d->port);
	srvtest_node(NODE_TIMEOUT_S, (char *[]){ "node", "tier.mjs", addr, (char *)mode, NULL });
}

static void start(struct proc_dannd *d, const char *a, const char *b, const char *c, const char *e,
		  const char *f, const char *g)
{
	int rc = proc_dannd_start(d, DANND_BIN, SRVTEST_START_S, "--data-dir", tmpdir_path("data"), "--listen",
				  "127.0.0.1:0", "--metrics", "", a, b, c, e, f, g, NULL);
	char *log = rc < 0 ? cli_slurp(d->log) : NULL;

	cr_assert_eq(rc, 0, "dannd did not start: %s", log ? log : "");
}

Test(srv_tier, dannd_serves_segments_from_the_bucket_with_a_tiny_local_cache)
{
	struct proc_dannd d;
	const char *data = tmpdir_path("data"), *conf = tmpdir_path("dannd.conf");
	FILE *f;
	int i;

	s3rver_start(&srv, tmpdir_path("s3rver"), "tier", 0, 0);
	srv_up = 1;
	setenv("AWS_ENDPOINT_URL", srv.endpoint, 1);
	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	setenv("AWS_REGION", "us-east-1", 1);

	start(&d, "--store", "s3://tier/node1", "--tier-cache-bytes", "1", "--sync-interval-ms", "100");
	node(&d, "fill");
	for (i = 0; i < WAIT_MS / POLL_MS && (manifests_in_bucket() < NSEG || local_segments(data) > 0); i++)
		usleep(POLL_MS * 1000);
	cr_assert_geq(manifests_in_bucket(), NSEG, "every flushed segment uploaded");
	cr_assert_eq(local_segments(data), 0, "every uploaded segment evicted (budget: one byte)");

	s3rver_clear(&srv);
	node(&d, "check");
	cr_assert_geq(s3rver_count(&srv, "GET", "/MANIFEST"), NSEG, "the searches fetched the segments back");
	srvtest_stop(&d);

	/* the same settings from the config file, after a restart */
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fputs("store = s3://tier/node1\ntier_cache_bytes = 1\nsync_interval_ms = 100\n", f);
	fclose(f);
	start(&d, "--config", conf, "--workers", "2", "--slow-ms", "0");
	node(&d, "check");
	srvtest_stop(&d);
	cr_assert_eq(local_segments(data), 0, "still within the budget");
}

Test(srv_tier, a_bad_store_setting_stops_dannd_with_a_clear_message)
{
	const char *out = tmpdir_path("dannd.out");
	char *text;

	cr_assert_eq(proc_run(NULL, out, 60, (char *[]){ DANND_BIN, "--data-dir", (char *)tmpdir_path("d1"),
							  "--store", "http://x", NULL }), 2);
	text = cli_slurp(out);
	cr_assert(text && strstr(text, "store") && strstr(text, "s3://"), "%s", text ? text : "");
	free(text);
	setenv("DANN_S3_PATH_STYLE", "yes", 1);
	cr_assert_eq(proc_run(NULL, out, 60, (char *[]){ DANND_BIN, "--data-dir", (char *)tmpdir_path("d1"),
							  "--store", "s3://b/p", NULL }), 2);
	unsetenv("DANN_S3_PATH_STYLE");
	text = cli_slurp(out);
	cr_assert(text && strstr(text, "DANN_S3_PATH_STYLE"), "%s", text ? text : "");
	free(text);
}
