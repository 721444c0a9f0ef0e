/*
 * test_srv_sdk.c — the official Milvus Node.js SDK against dannd, unchanged:
 * Milvus's quick start (with /metrics after it), credentials, TLS. The
 * Fashion-MNIST life cycle is test_srv_fmnist.c.
 */
#include <signal.h>

#include "srvtest.h"

#define QUICKSTART_TIMEOUT_S 120

TestSuite(srv_sdk, .init = srvtest_need_node, .fini = tmpdir_remove, .timeout = 300);

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
