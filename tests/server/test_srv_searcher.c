/*
 * test_srv_searcher.c — dannd's single-query searches through the searcher
 * (dann_searcher, config search_inflight): through the Node.js SDK
 * (tests/node/searcher_flow.mjs), many concurrent Search RPCs, with
 * different limits and filters, each get their own answer, and /metrics
 * shows that they all went through the searcher. The
 * searcher's own results, deadlines, cancels and overload are tested in
 * tests/segment/test_seg_searcher.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/tmpdir.h"
#include "srvtest.h"

#define SDK_TIMEOUT_S 120
/* searcher_flow.mjs's single-query searches: 3 rounds of 48 */
#define SEARCHER_FLOW_SINGLE (3 * 48)

TestSuite(srv_searcher_sdk, .init = srvtest_need_node, .fini = tmpdir_remove, .timeout = 200);

Test(srv_searcher_sdk, concurrent_sdk_searches_get_their_own_answers)
{
	struct proc_dannd d;
	char addr[64], *metrics, *at;
	unsigned long long queries = 0;
	FILE *f;

	tmpdir_make("srv_searcher_sdk");
	f = fopen(tmpdir_path("searcher.conf"), "w");
	cr_assert_not_null(f);
	/* few slots and two threads, so queries wait for slots and move
	 * between threads */
	fprintf(f, "search_inflight = 4\nsearch_threads = 2\nworkers = 32\n");
	fclose(f);
	cr_assert_eq(proc_dannd_start(&d, DANND_BIN, SRVTEST_START_S, "--data-dir", tmpdir_path("data"), "--listen",
				      "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--config", tmpdir_path("searcher.conf"),
				      NULL),
		     0, "dannd did not start");
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(SDK_TIMEOUT_S, (char *[]){ "node", "searcher_flow.mjs", addr, NULL });
	metrics = srvtest_http_get(d.metrics_port, "/metrics");
	cr_assert_not_null(metrics);
	if ((at = strstr(metrics, "\ndann_searcher_queries_total ")))
		queries = strtoull(at + strlen("\ndann_searcher_queries_total "), NULL, 10);
	cr_expect(queries >= SEARCHER_FLOW_SINGLE, "the searcher ran %llu queries", queries);
	free(metrics);
	srvtest_stop(&d);
}
