/*
 * test_srv_fmnist.c — a collection's whole life through the official Milvus
 * Node.js SDK on Fashion-MNIST: 60k rows inserted in batches, flush,
 * recall@10 >= 0.95 against `dann gt` on 1000 queries, deletes that never
 * come back, upserts read back by query, SIGTERM, restart on the same data
 * dir with the collection, its rows and its recall all still there.
 * (Its own executable: it is the longest server test, minutes on 2 cores,
 * and runs beside the others under ctest -j.)
 */
#include <signal.h>

#include "srvtest.h"

#define FLOW_TIMEOUT_S 1000
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

TestSuite(srv_fmnist, .init = srvtest_need_node, .fini = tmpdir_remove, .timeout = 1100);

Test(srv_fmnist, fashion_mnist_life_cycle_survives_restart)
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

