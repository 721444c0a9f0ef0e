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

/* The value of metric name in dannd's /metrics text (0 if absent). */
static unsigned long long metric_of(const char *text, const char *name)
{
	char key[128];
	const char *at;

	snprintf(key, sizeof key, "\n%s ", name);
	return (at = strstr(text, key)) ? strtoull(at + strlen(key), NULL, 10) : 0;
}

/* searcher_flow.mjs against a dannd with this config; its /metrics text
 * after the flow (the caller frees it). */
static char *run_flow(const char *conf, const char *mode)
{
	struct proc_dannd d;
	char addr[64], *metrics;
	FILE *f;

	tmpdir_make("srv_searcher_sdk");
	f = fopen(tmpdir_path("searcher.conf"), "w");
	cr_assert_not_null(f);
	fputs(conf, f);
	fclose(f);
	cr_assert_eq(proc_dannd_start(&d, DANND_BIN, SRVTEST_START_S, "--data-dir", tmpdir_path("data"), "--listen",
				      "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--config", tmpdir_path("searcher.conf"),
				      NULL),
		     0, "dannd did not start");
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(SDK_TIMEOUT_S, (char *[]){ "node", "searcher_flow.mjs", addr, (char *)mode, NULL });
	metrics = srvtest_http_get(d.metrics_port, "/metrics");
	cr_assert_not_null(metrics);
	srvtest_stop(&d);
	return metrics;
}

Test(srv_searcher_sdk, concurrent_sdk_searches_get_their_own_answers)
{
	/* few slots and two threads, so queries wait for slots and move
	 * between threads */
	char *metrics = run_flow("search_inflight = 4\nsearch_threads = 2\nworkers = 32\n", NULL);
	unsigned long long queries = metric_of(metrics, "dann_searcher_queries_total");

	cr_expect(queries >= SEARCHER_FLOW_SINGLE, "the searcher ran %llu queries", queries);
	free(metrics);
}

/* Single-query searches that fetch no stored field are submitted from the
 * completion-queue thread and answered from the searcher's (SRV_DEFERRED),
 * so one worker does not bound how many are in flight: when the worker ran
 * and waited for each, at most one query was ever in the searcher. */
Test(srv_searcher_sdk, one_worker_keeps_many_searches_in_flight)
{
	char *metrics = run_flow("search_inflight = 8\nsearch_threads = 2\nworkers = 1\n", "ids-only");
	unsigned long long queries = metric_of(metrics, "dann_searcher_queries_total");
	unsigned long long peak = metric_of(metrics, "dann_search_deferred_peak");

	cr_expect(queries >= SEARCHER_FLOW_SINGLE, "the searcher ran %llu queries", queries);
	cr_expect_gt(peak, 1, "at most %llu deferred searches at once with one worker", peak);
	cr_expect_gt(metric_of(metrics, "dann_search_inline_total"), 0, "no search skipped the worker pool");
	cr_expect_eq(metric_of(metrics, "dann_search_deferred"), 0, "deferred searches left unanswered");
	free(metrics);
}
