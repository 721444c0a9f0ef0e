/*
 * test_srv_sdk.c — the official Milvus Node.js SDK against dannd, unchanged:
 * Milvus's quick start, and a collection's whole life on Fashion-MNIST
 * (60k rows in batches, flush, recall@10 >= 0.95 against `dann gt`, deletes
 * that never come back, upserts read back by query, SIGTERM, restart on
 * the same data dir with everything still there).
 */
#include <signal.h>

#include "srvtest.h"

#define QUICKSTART_TIMEOUT_S 120
#define FLOW_TIMEOUT_S 540
#define FMNIST_QUERIES "1000"

/* ASan/UBSan builds run the same flow on the first 10k rows: the segment
 * builds would not fit the test's time budget under the sanitizers. */
#if defined(__SANITIZE_ADDRESS__)
#define FMNIST_ROWS "10000"
#else
#define FMNIST_ROWS "60000"
#endif

/* Runs the dann CLI (argv without argv[0]); asserts success. */
static void dann_cli(const char *what, char *const args[])
{
	char *argv[16] = { DANN_CLI };
	const char *out = tmpdir_path("cli.out");
	char *text;
	int i, rc;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	rc = proc_run(NULL, out, 300, argv);
	text = cli_slurp(out);
	cr_assert_eq(rc, 0, "dann %s (%s): %s", args[0], what, text ? text : "");
	free(text);
}

TestSuite(srv_sdk, .init = srvtest_need_node, .fini = tmpdir_remove, .timeout = 600);

Test(srv_sdk, quick_start_works_as_milvus_users_write_it)
{
	struct proc_dannd d;
	char addr[64], *metrics, *health;

	tmpdir_make("srv_sdk_qs");
	srvtest_start(&d, tmpdir_path("data"));
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(QUICKSTART_TIMEOUT_S, (char *[]){ "node", "quickstart.mjs", addr, NULL });

	metrics = srvtest_http_get(d.metrics_port, "/metrics");
	health = srvtest_http_get(d.metrics_port, "/healthz");
	cr_assert_not_null(metrics);
	cr_assert_not_null(health);
	cr_expect(strstr(health, "200 OK") && strstr(health, "ok"), "/healthz: %s", health);
	cr_expect(strstr(metrics, "dann_rpc_calls_total{method=\"Search\"}"), "/metrics: %s", metrics);
	cr_expect(strstr(metrics, "dann_rpc_latency_seconds_bucket{method=\"Insert\",le=\"+Inf\"} 2"),
		  "two inserts (one refused) counted: %s", metrics);
	free(metrics);
	free(health);
	srvtest_stop(&d);
}

Test(srv_sdk, fashion_mnist_life_cycle_survives_restart)
{
	struct proc_dannd d;
	char addr[64], base[256], q[256], gt[256]; /* tmpdir_path's buffers rotate: copies */

	tmpdir_make("srv_sdk_fm");
	snprintf(base, sizeof base, "%s", tmpdir_path("base.fbin"));
	snprintf(q, sizeof q, "%s", tmpdir_path("q.fbin"));
	snprintf(gt, sizeof gt, "%s", tmpdir_path("gt.ibin"));
	dann_cli(base, (char *[]){ "convert", "--in", DANN_FMNIST_DIR "/train-images-idx3-ubyte.gz", "--out",
				   base, "--limit", FMNIST_ROWS, NULL });
	dann_cli(q, (char *[]){ "convert", "--in", DANN_FMNIST_DIR "/t10k-images-idx3-ubyte.gz", "--out", q,
				"--limit", FMNIST_QUERIES, NULL });
	dann_cli(gt, (char *[]){ "gt", "--base", base, "--queries", q, "-k", "10", "--metric", "l2",
				 "--out", gt, NULL });

	srvtest_start(&d, tmpdir_path("data"));
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(FLOW_TIMEOUT_S, (char *[]){ "node", "fmnist_flow.mjs", "load", addr, base,
						 q, gt, NULL });
	srvtest_stop(&d);

	srvtest_start(&d, tmpdir_path("data"));
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(FLOW_TIMEOUT_S, (char *[]){ "node", "fmnist_flow.mjs", "verify", addr, base,
						 q, gt, NULL });
	srvtest_stop(&d);
}

static void start_with(struct proc_dannd *d, const char *a, const char *b, const char *c, const char *e)
{
	int rc = proc_dannd_start(d, DANND_BIN, SRVTEST_START_S, "--data-dir", tmpdir_path("data"), "--listen",
				  "127.0.0.1:0", "--metrics", "", a, b, c, e, NULL);
	char *log = rc < 0 ? cli_slurp(d->log) : NULL;

	cr_assert_eq(rc, 0, "dannd did not start: %s", log ? log : "");
}

Test(srv_sdk, sdk_credentials_are_checked_and_wrong_ones_refused)
{
	struct proc_dannd d;
	char addr[64];

	tmpdir_make("srv_sdk_auth");
	start_with(&d, "--config", srvtest_auth_conf("bob", "pw one"), "--workers", "2");
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(QUICKSTART_TIMEOUT_S, (char *[]){ "node", "secure.mjs", "auth", addr, "bob", "pw one", NULL });
	srvtest_stop(&d);
}

Test(srv_sdk, sdk_works_over_tls)
{
	struct proc_dannd d;
	char addr[64], key[256], cert[256];

	tmpdir_make("srv_sdk_tls");
	snprintf(key, sizeof key, "%s", tmpdir_path("key.pem"));
	snprintf(cert, sizeof cert, "%s", tmpdir_path("cert.pem"));
	srvtest_cert(key, cert);
	start_with(&d, "--tls-cert", cert, "--tls-key", key);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(QUICKSTART_TIMEOUT_S, (char *[]){ "node", "secure.mjs", "tls", addr, cert, NULL });
	srvtest_stop(&d);
}
