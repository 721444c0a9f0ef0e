/*
 * test_srv_python.c — dannd through Python grpcio with stubs generated from
 * dann's .proto at test time (tests/python/dannd_flow.py): the protocol,
 * limits (message size, overload, deadlines), authentication, TLS, and
 * SIGKILL during inserts losing no acknowledged write.
 */
#include <signal.h>

#include "srvtest.h"

#define PY "/usr/bin/python3"
#define PY_SCRIPT DANN_SOURCE_DIR "/tests/python/dannd_flow.py"
#define PROTO_DIR DANN_SOURCE_DIR "/server/proto"
#define PY_TIMEOUT_S 180
#define KILL_AFTER_BATCHES 8
#define KILL_WAIT_S 120

static char stubs[256]; /* tmpdir_path's buffers rotate: keep a copy */

/* Generates the Python stubs from dann's .proto files into the tmpdir. */
static void make_stubs(void)
{
	char out[300];

	snprintf(stubs, sizeof stubs, "%s", tmpdir_path("stubs"));
	cr_assert_eq(mkdir(stubs, 0755), 0);
	snprintf(out, sizeof out, "--python_out=%s", stubs);
	{
		char grpc_out[300];
		char *argv[] = { PY, "-m", "grpc_tools.protoc", "-I" PROTO_DIR, out, grpc_out,
				 PROTO_DIR "/common.proto", PROTO_DIR "/schema.proto", PROTO_DIR "/milvus.proto", NULL };
		snprintf(grpc_out, sizeof grpc_out, "--grpc_python_out=%s", stubs);
		int rc = proc_run(NULL, tmpdir_path("protoc.out"), 60, argv);
		char *text = cli_slurp(tmpdir_path("protoc.out"));
		cr_assert_eq(rc, 0, "grpc_tools.protoc: %s", text ? text : "");
		free(text);
	}
}

static void setup(void)
{
	tmpdir_make("srv_py");
	make_stubs();
}

TestSuite(srv_python, .init = setup, .fini = tmpdir_remove, .timeout = 300);

static void run_py(const char *mode, const char *addr, const char *a1, const char *a2)
{
	const char *out = tmpdir_path("py.out");
	char *argv[] = { PY, PY_SCRIPT, stubs, (char *)mode, (char *)addr, (char *)a1, (char *)a2, NULL };
	int rc = proc_run(NULL, out, PY_TIMEOUT_S, argv);
	char *text = cli_slurp(out);

	cr_assert_eq(rc, 0, "dannd_flow.py %s exited %d:\n%s", mode, rc, text ? text : "");
	cr_log_info("%s", text ? text : "");
	free(text);
}

static void start_with(struct proc_dannd *d, const char *a, const char *b, const char *c, const char *e)
{
	int rc = proc_dannd_start(d, DANND_BIN, SRVTEST_START_S, "--data-dir", tmpdir_path("data"), "--listen",
				  "127.0.0.1:0", "--metrics", "", a, b, c, e, NULL);
	char *log = rc < 0 ? cli_slurp(d->log) : NULL;

	cr_assert_eq(rc, 0, "dannd did not start: %s", log ? log : "");
}

Test(srv_python, the_protocol_works_from_generated_stubs)
{
	struct proc_dannd d;
	char addr[64];

	srvtest_start(&d, tmpdir_path("data"));
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	run_py("basic", addr, NULL, NULL);
	srvtest_stop(&d);
}

Test(srv_python, size_overload_and_deadline_limits_are_clear_statuses)
{
	struct proc_dannd d;
	char addr[64];

	{
		int rc = proc_dannd_start(&d, DANND_BIN, SRVTEST_START_S, "--data-dir", tmpdir_path("data"),
					  "--listen", "127.0.0.1:0", "--metrics", "", "--max-recv-bytes", "1M",
					  "--workers", "1", "--queue-max", "1", NULL);
		cr_assert_eq(rc, 0);
	}
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	run_py("limits", addr, NULL, NULL);
	srvtest_stop(&d);
}

Test(srv_python, authentication_refuses_missing_and_wrong_credentials)
{
	struct proc_dannd d;
	char addr[64];

	start_with(&d, "--config", srvtest_auth_conf("alice", "s3cret pass"), "--workers", "2");
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	run_py("auth", addr, "alice", "s3cret pass");
	srvtest_stop(&d);
}

Test(srv_python, tls_serves_with_the_configured_certificate)
{
	struct proc_dannd d;
	char addr[64], key[256], cert[256];

	snprintf(key, sizeof key, "%s", tmpdir_path("key.pem"));
	snprintf(cert, sizeof cert, "%s", tmpdir_path("cert.pem"));
	srvtest_cert(key, cert);
	start_with(&d, "--tls-cert", cert, "--tls-key", key);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	run_py("tls", addr, cert, NULL);
	srvtest_stop(&d);
}

static int lines_in(const char *path)
{
	char *text = cli_slurp(path);
	int n = 0;

	for (char *p = text; p && *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

Test(srv_python, sigkill_during_inserts_loses_no_acknowledged_write)
{
	struct proc_dannd d;
	char addr[64];
	const char *acks = tmpdir_path("acks.txt");
	pid_t client;
	int waited = 0;

	srvtest_start(&d, tmpdir_path("data"));
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	client = proc_spawn(NULL, tmpdir_path("load.out"),
			    (char *[]){ PY, PY_SCRIPT, stubs, "kill_load", addr, (char *)acks, NULL });
	cr_assert_gt(client, 0);
	while (lines_in(acks) < KILL_AFTER_BATCHES && waited++ < KILL_WAIT_S * 10)
		usleep(100000);
	cr_assert_geq(lines_in(acks), KILL_AFTER_BATCHES, "the client acknowledged too few inserts");
	cr_assert_eq(proc_dannd_stop(&d, SIGKILL, 30), 128 + SIGKILL);
	proc_reap(client, SIGTERM, 30);
	unlink(d.log);

	srvtest_start(&d, tmpdir_path("data"));
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	run_py("kill_verify", addr, acks, NULL);
	srvtest_stop(&d);
}
