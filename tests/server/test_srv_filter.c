/*
 * test_srv_filter.c — scalar fields and filter expressions through the
 * official Milvus Node.js SDK against dannd (tests/node/filter_flow.mjs):
 * every scalar type in CreateCollection, Insert and Upsert (nullable
 * columns as the SDK sends them: values for the valid rows only), Search
 * with a filter on fields, JSON paths and dynamic keys, Query by any
 * expression with limit/offset, count(*) with a filter, Delete by
 * expression, on a growing and on a flushed segment, and bad expressions
 * refused with the column or field named. Small data: seconds.
 */
#include "srvtest.h"

#define FILTER_TIMEOUT_S 120

TestSuite(srv_filter, .init = srvtest_need_node, .fini = tmpdir_remove, .timeout = 200);

Test(srv_filter, filters_fields_and_expressions_work_through_the_sdk)
{
	struct proc_dannd d;
	char addr[64];

	tmpdir_make("srv_filter");
	srvtest_start(&d, tmpdir_path("data"));
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(FILTER_TIMEOUT_S, (char *[]){ "node", "filter_flow.mjs", addr, NULL });
	srvtest_stop(&d);
}
