/*
 * test_srv_default.c — field defaults through the official Milvus Node.js
 * SDK against dannd (tests/node/default_flow.mjs): default_value in
 * CreateCollection and DescribeCollection, rows that leave the field out or
 * give null storing it (Insert, Upsert), filters seeing it before and
 * after a flush, a bad default refused naming the field. Seconds.
 */
#include "srvtest.h"

#define DEFAULT_TIMEOUT_S 90

TestSuite(srv_default, .init = srvtest_need_node, .fini = tmpdir_remove, .timeout = 150);

Test(srv_default, defaults_work_through_the_sdk)
{
	struct proc_dannd d;
	char addr[64];

	tmpdir_make("srv_default");
	srvtest_start(&d, tmpdir_path("data"));
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	srvtest_node(DEFAULT_TIMEOUT_S, (char *[]){ "node", "default_flow.mjs", addr, NULL });
	srvtest_stop(&d);
}
