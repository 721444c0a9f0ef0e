/*
 * test_srv_meta.c — dannd's catalog in Raft (server/srv_meta.c): a single
 * dannd keeps its collections and segments in the one-voter group of
 * DATA/meta across a restart; three dannd processes on loopback form one
 * group, list each other's collections and survive losing their leader.
 * Clients are Python grpcio with stubs generated from dann's .proto
 * (tests/python/dannd_meta.py).
 */
#include <signal.h>
#include <stdint.h>

#include "../meta/meta.h"
#include "../meta/meta_client.h"
#include "srvtest.h"

#define PY "/usr/bin/python3"
#define PY_SCRIPT DANN_SOURCE_DIR "/tests/python/dannd_meta.py"
#define PROTO_DIR DANN_SOURCE_DIR "/server/proto"
#define PY_TIMEOUT_S 180
#define ROWS "3000"

static char stubs[256]; /* tmpdir_path's buffers rotate: keep a copy */

static void make_stubs(void)
{
	char out[300], grpc_out[300];

	snprintf(stubs, sizeof stubs, "%s", tmpdir_path("stubs"));
	cr_assert_eq(mkdir(stubs, 0755), 0);
	snprintf(out, sizeof out, "--python_out=%s", stubs);
	snprintf(grpc_out, sizeof grpc_out, "--grpc_python_out=%s", stubs);
	char *argv[] = { PY, "-m", "grpc_tools.protoc", "-I" PROTO_DIR, out, grpc_out, PROTO_DIR "/common.proto",
			 PROTO_DIR "/schema.proto", PROTO_DIR "/milvus.proto", NULL };
	int rc = proc_run(NULL, tmpdir_path("protoc.out"), 60, argv);
	char *text = cli_slurp(tmpdir_path("protoc.out"));
	cr_assert_eq(rc, 0, "grpc_tools.protoc: %s", text ? text : "");
	free(text);
}

static void setup(void)
{
	tmpdir_make("srv_meta");
	make_stubs();
}

TestSuite(srv_meta, .init = setup, .fini = tmpdir_remove, .timeout = 300);

/* Runs dannd_meta.py MODE ADDR args...; its exit status (output logged). */
static int py(char *const args[])
{
	char *argv[16] = { PY, PY_SCRIPT, stubs };
	const char *out = tmpdir_path("py.out");
	int i = 0, rc;
	char *text;

	while (args[i] && i < 12) {
		argv[3 + i] = args[i];
		i++;
	}
	argv[3 + i] = NULL;
	rc = proc_run(NULL, out, PY_TIMEOUT_S, argv);
	text = cli_slurp(out);
	cr_log_info("dannd_meta.py %s %s: %s", args[0], args[1], text ? text : "");
	if (rc != 0)
		cr_log_error("dannd_meta.py %s exited %d:\n%s", args[0], rc, text ? text : "");
	free(text);
	return rc;
}

Test(srv_meta, single_node_catalog_lives_in_raft_and_survives_restart)
{
	struct proc_dannd d;
	char addr[64], data[256], metadir[300];
	struct meta_params mp;
	struct meta_node *node;
	struct dann_cat_coll *cc = NULL;
	struct dann_cat_segment *segs = NULL;
	size_t n = 0, nsegs = 0;

	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	srvtest_start(&d, data);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	cr_assert_eq(py((char *[]){ "fill", addr, "kept", ROWS, NULL }), 0);
	srvtest_stop(&d);

	srvtest_start(&d, data);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	cr_assert_eq(py((char *[]){ "verify", addr, "kept", ROWS, NULL }), 0);
	srvtest_stop(&d);

	/* The catalog is DATA/meta's Raft state: a meta node opened on it
	 * (as dannd does, one voter) recovers the collection and its
	 * flushed segments from the snapshot and log. */
	snprintf(metadir, sizeof metadir, "%s/meta", data);
	meta_params_default(&mp);
	mp.dir = metadir;
	mp.heartbeat_timeout_ms = 5;
	cr_assert_eq(meta_open(&mp, &node), 0, "meta_open %s: %s", metadir, dann_errmsg());
	cr_assert_eq(meta_fsm_coll_list(meta_node_fsm(node), &cc, &n), 0);
	cr_assert_eq(n, 1, "%zu collections in %s", n, metadir);
	cr_assert_str_eq(cc[0].schema.name, "kept");
	cr_assert(strstr(cc[0].props, "dann.owner=1\n"), "props: %s", cc[0].props);
	cr_assert_eq(meta_fsm_seg_list(meta_node_fsm(node), cc[0].id, &segs, &nsegs), 0);
	cr_assert_geq(nsegs, 1, "no segment of 'kept' in the catalog");
	{
		uint64_t rows = 0;
		for (size_t i = 0; i < nsegs; i++)
			rows += segs[i].rows;
		cr_assert_eq(rows, 3000, "the catalog's segments hold %llu rows", (unsigned long long)rows);
	}
	free(segs);
	free(cc);
	meta_close(node);

	/* And the server still serves it after the catalog was opened alone. */
	srvtest_start(&d, data);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	cr_assert_eq(py((char *[]){ "verify", addr, "kept", ROWS, NULL }), 0);
	srvtest_stop(&d);
}
