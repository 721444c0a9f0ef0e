/*
 * test_srv_meta.c — dannd's catalog in Raft (server/srv_meta.c): a single
 * dannd keeps its collections and segments in the one-voter group of
 * DATA/meta across a restart; three dannd processes on loopback form one
 * group, list each other's collections and survive losing their leader.
 * Clients are Python grpcio with stubs generated from dann's .proto
 * (tests/python/dannd_meta.py).
 */
#include <glob.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "../meta/meta.h"
#include "../meta/meta_buf.h"
#include "../meta/meta_client.h"
#include "../meta/meta_node.h"
#include "cluster_proc.h"
#include "crc.h"
#include "fsutil.h"
#include "srv.h"
#include "srv_config.h"
#include "srvpy.h"
#include "srvtest.h"

#define QUICKSTART_TIMEOUT_S 120
#define ROWS "3000"

static void setup(void)
{
	tmpdir_make("srv_meta");
	srvpy_make_stubs();
}

TestSuite(srv_meta, .init = setup, .fini = tmpdir_remove, .timeout = 300);

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
	cr_assert_eq(srvpy_run((char *[]){ "fill", addr, "kept", ROWS, NULL }), 0);
	srvtest_stop(&d);

	srvtest_start(&d, data);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d.port);
	cr_assert_eq(srvpy_run((char *[]){ "verify", addr, "kept", ROWS, NULL }), 0);
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
	cr_assert_eq(srvpy_run((char *[]){ "verify", addr, "kept", ROWS, NULL }), 0);
	srvtest_stop(&d);
}

/* A catalog log holding an entry of a newer build (an unknown command
 * type) stops dannd at start, naming it, instead of serving a catalog that
 * skipped it: its one voter halts at the entry as it takes office. */
Test(srv_meta, a_catalog_entry_of_a_newer_build_stops_dannd_naming_it)
{
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = DANN_CAT_TIMESTAMP, .count = 1 };
	char data[256], metadir[300];
	const char *out = tmpdir_path("dannd.out");
	struct meta_params mp;
	struct meta_node *node;
	struct meta_req r;
	uint8_t *b;
	void *buf;
	size_t len;
	char *text;

	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	snprintf(metadir, sizeof metadir, "%s/meta", data);
	meta_params_default(&mp);
	mp.dir = metadir;
	cr_assert_eq(meta_open(&mp, &node), 0, "meta_open %s: %s", metadir, dann_errmsg());
	c.req.client = 9, c.req.seq = 1;
	cr_assert_eq(meta_cmd_encode(&c, &buf, &len), 0, "%s", dann_errmsg());
	b = buf;
	b[6] = META_CMD_TYPE_MAX + 1;  /* the type (u16 at byte 6), checksum redone */
	meta_st32(b + len - 4, crc32c(0, b, len - 4));
	memset(&r, 0, sizeof r);
	r.kind = META_REQ_APPLY, r.buf = buf, r.len = len;
	meta_node_call(node, &r);
	cr_assert_eq(r.rc, DANN_EUNSUPPORTED, "%d %s", r.rc, r.msg);
	meta_close(node);
	free(buf);

	cr_assert_neq(proc_run(NULL, out, 60, (char *[]){ DANND_BIN, "--data-dir", data, "--listen", "127.0.0.1:0",
						   "--metrics", "", NULL }), 0, "dannd served a halted catalog");
	text = cli_slurp(out);
	cr_log_info("dannd: %s", text ? text : "");
	cr_assert(text && strstr(text, "upgrade this node") && strstr(text, "unknown type 12"), "%s",
		  text ? text : "");
	free(text);
}

/* ---- three dannd processes, one Raft group -------------------------------- */

#define NODES 3
#define LEADER_WAIT_MS 10000
#define FAILOVER_MAX_MS 8000   /* the goal is 3 s; a loaded 2-core CI box gets slack */
#define STATUS_MS 500

static pid_t live[NODES]; /* for the fini: nothing outlives a failed test */

static void cluster_fini(void)
{
	for (int i = 0; i < NODES; i++)
		if (live[i] > 0)
			proc_reap(live[i], SIGKILL, 10);
	tmpdir_remove();
}

TestSuite(srv_meta_cluster, .init = setup, .fini = cluster_fini, .timeout = 300);

/* A loopback port P with P + 1 also free (Raft on P, meta's requests on
 * P + 1). Both are closed again before dannd binds them: a small race,
 * retried by the caller's bounded tries. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A free port pair (Raft, then meta's request port), never one this run
 * already handed out (those are not bound yet). */
static int free_pair(void)
{
	static int given[64];
	static unsigned ngiven, seed;
	int p;

	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)(cproc_now_s() * 1e6);
	if ((p = cproc_free_pair(given, ngiven, &seed)) > 0 && ngiven < sizeof given / sizeof given[0])
		given[ngiven++] = p;
	return p;
}

struct cluster {
	struct proc_dannd d[NODES];
	int up[NODES];
	char raft[NODES][32];          /* 127.0.0.1:P */
	char grpc[NODES][32];          /* 127.0.0.1:gRPC port */
	char peers[256];
	char data[NODES][256];
};

/* Node i with the cluster's peers; peers "" starts it alone at its Raft
 * address, "join" starts it empty to be added (both with GROW_WORKERS). */
#define GROW_WORKERS "2"
#define CROSS_THREADS "8"
#define CROSS_CALLS "25"
static void node_start_as(struct cluster *c, int i, const char *how)
{
	char id[16];
	int rc;

	snprintf(id, sizeof id, "%d", (i + 1) % 100);
	if (!strcmp(how, "join"))
		rc = proc_dannd_start(&c->d[i], DANND_BIN, SRVTEST_START_S, "--data-dir", c->data[i], "--listen",
				      "127.0.0.1:0", "--metrics", "", "--node-id", id, "--raft-listen", c->raft[i],
				      "--join", "true", "--workers", GROW_WORKERS, NULL);
	else if (!how[0])
		rc = proc_dannd_start(&c->d[i], DANND_BIN, SRVTEST_START_S, "--data-dir", c->data[i], "--listen",
				      "127.0.0.1:0", "--metrics", "", "--node-id", id, "--raft-listen", c->raft[i],
				      "--workers", GROW_WORKERS, NULL);
	else
		rc = proc_dannd_start(&c->d[i], DANND_BIN, SRVTEST_START_S, "--data-dir", c->data[i], "--listen",
				      "127.0.0.1:0", "--metrics", "", "--node-id", id, "--raft-listen", c->raft[i],
				      "--peers", how, NULL);
	if (rc < 0) {
		char *log = cli_slurp(c->d[i].log);
		cr_assert_fail("dannd node %d did not start: %s", i + 1, log ? log : "");
	}
	c->up[i] = 1;
	live[i] = c->d[i].pid;
	snprintf(c->grpc[i], sizeof c->grpc[i], "127.0.0.1:%d", c->d[i].port);
}

static void node_start(struct cluster *c, int i)
{
	node_start_as(c, i, c->peers);
}

static void node_stop(struct cluster *c, int i, int sig)
{
	int rc = proc_dannd_stop(&c->d[i], sig, SRVTEST_STOP_S);

	live[i] = 0;
	c->up[i] = 0;
	if (sig == SIGTERM) {
		char *log = cli_slurp(c->d[i].log);
		cr_assert_eq(rc, 0, "node %d: exit %d after SIGTERM:\n%s", i + 1, rc, log ? log : "");
		free(log);
	} else {
		cr_assert_eq(rc, 128 + sig, "node %d: status %d after signal %d", i + 1, rc, sig);
	}
}

/* The index of the node that calls itself leader, agreed on by every live
 * node, within wait_ms; -1 if none. */
static int leader(struct cluster *c, uint64_t wait_ms, uint64_t *took_ms)
{
	uint64_t t0 = now_ms();

	while (now_ms() - t0 < wait_ms) {
		int lead = -1, agree = 1;
		for (int i = 0; i < NODES; i++) {
			struct meta_status st;
			if (!c->up[i])
				continue;
			if (meta_client_status(c->raft[i], STATUS_MS, &st) < 0 || !st.leader_id) {
				agree = 0;
				continue;
			}
			if (st.role == META_LEADER)
				lead = i;
			if (lead >= 0 && st.leader_id != (uint64_t)lead + 1)
				agree = 0;
		}
		if (lead >= 0 && agree && c->up[lead]) {
			if (took_ms)
				*took_ms = now_ms() - t0;
			return lead;
		}
		usleep(50000);
	}
	return -1;
}

Test(srv_meta_cluster, three_nodes_share_the_catalog_and_survive_losing_the_leader)
{
	struct cluster c;
	int lead, next;
	uint64_t took = 0;
	size_t off = 0;
	char owner[16];

	memset(&c, 0, sizeof c);
	for (int i = 0; i < NODES; i++) {
		int p = free_pair();
		cr_assert_gt(p, 0, "no free loopback port pair");
		snprintf(c.raft[i], sizeof c.raft[i], "127.0.0.1:%d", p);
		off += (size_t)snprintf(c.peers + off, sizeof c.peers - off, "%s%d@%s", i ? "," : "", i + 1, c.raft[i]);
		snprintf(c.data[i], sizeof c.data[i], "%s%d", tmpdir_path("node"), i + 1);
	}
	for (int i = 0; i < NODES; i++)
		node_start(&c, i);
	lead = leader(&c, LEADER_WAIT_MS, NULL);
	cr_assert_geq(lead, 0, "no leader within %d ms", LEADER_WAIT_MS);
	cr_log_info("leader: node %d", lead + 1);

	/* The leader owns a collection with rows (it is killed below); node 2
	 * creates another; every node lists both. */
	cr_assert_eq(srvpy_run((char *[]){ "fill", c.grpc[lead], "owned", "1000", NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "create", c.grpc[1], "two", NULL }), 0);
	for (int i = 0; i < NODES; i++)
		cr_assert_eq(srvpy_run((char *[]){ "listed", c.grpc[i], "owned", "two", NULL }), 0);
	/* Its data lives on its owner; every other node forwards its data
	 * requests there: reads (statistics, query, search) through one,
	 * inserts and a flush through another, read back through the first.
	 * A call already forwarded is not forwarded again: it is refused,
	 * naming the owner. */
	snprintf(owner, sizeof owner, "%d", lead + 1);
	cr_assert_eq(srvpy_run((char *[]){ "verify", c.grpc[(lead + 1) % NODES], "owned", "1000", NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "insert", c.grpc[(lead + 2) % NODES], "owned", "1000", "200", NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "verify", c.grpc[(lead + 1) % NODES], "owned", "1200", NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "foreign", c.grpc[(lead + 1) % NODES], "owned", owner, NULL }), 0);
	/* A name taken anywhere is taken everywhere. */
	cr_assert_neq(srvpy_run((char *[]){ "create", c.grpc[(lead + 2) % NODES], "two", NULL }), 0);

	node_stop(&c, lead, SIGKILL);
	next = leader(&c, LEADER_WAIT_MS, &took);
	cr_assert_geq(next, 0, "no new leader within %d ms of killing node %d", LEADER_WAIT_MS, lead + 1);
	cr_assert_neq(next, lead);
	cr_log_info("kill -9 of leader node %d: node %d leads after %llu ms", lead + 1, next + 1,
		    (unsigned long long)took);
	cr_assert_leq(took, FAILOVER_MAX_MS, "a new leader only after %llu ms", (unsigned long long)took);
	/* Its owner is down: the answer says which node, at which address. */
	cr_assert_eq(srvpy_run((char *[]){ "unreachable", c.grpc[next], "owned", owner, NULL }), 0);

	/* Each survivor creates a collection; every survivor lists them all. */
	for (int i = 0; i < NODES; i++)
		if (c.up[i]) {
			char name[32];
			snprintf(name, sizeof name, "after%d", i + 1);
			cr_assert_eq(srvpy_run((char *[]){ "create", c.grpc[i], name, NULL }), 0);
		}
	for (int i = 0; i < NODES; i++)
		if (c.up[i])
			cr_assert_eq(srvpy_run((char *[]){ "listed", c.grpc[i], "owned", "two", lead == 0 ? "after2" : "after1",
						    lead == 2 ? "after2" : "after3", NULL }), 0);

	/* The killed node restarts, catches up with what it missed before it
	 * opens its database (or it would take "owned" for dropped and remove
	 * it), and serves its rows again. */
	node_start(&c, lead);
	if (srvpy_run((char *[]){ "listed", c.grpc[lead], "owned", "two", lead == 0 ? "after2" : "after1",
			   lead == 2 ? "after2" : "after3", NULL }) != 0) {
		char *log = cli_slurp(c.d[lead].log);
		cr_assert_fail("restarted node %d did not catch up; its log:\n%s", lead + 1, log ? log : "");
	}
	cr_assert_eq(srvpy_run((char *[]){ "verify", c.grpc[lead], "owned", "1200", NULL }), 0);
	/* Back on another gRPC port: the others find it there, also the one
	 * that still kept its old address (it forwarded before the kill and
	 * not since): its first call there fails and goes to the new one. */
	cr_assert_eq(srvpy_run((char *[]){ "verify", c.grpc[3 - lead - next], "owned", "1200", NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "verify", c.grpc[next], "owned", "1200", NULL }), 0);
	for (int i = 0; i < NODES; i++)
		node_stop(&c, i, SIGTERM);
}

/* `dann cluster add|remove VERB --peers ADDR --node NODE`: its exit status. */
static int cluster_cmd(const char *verb, const char *peers, const char *node)
{
	const char *out = tmpdir_path("cluster.out");
	int rc = proc_run(NULL, out, 60,
			  (char *[]){ DANN_CLI, "cluster", (char *)verb, "--peers", (char *)peers, "--node", (char *)node,
				      NULL });
	char *text = cli_slurp(out);

	cr_log_info("dann cluster %s %s: exit %d: %s", verb, node, rc, text ? text : "");
	free(text);
	return rc;
}

/* Members as node i sees them, within wait_ms: 1 once there are want
 * voters and the catalog holds at least colls collections. */
static int members_are(struct cluster *c, int i, uint32_t want, uint64_t colls, uint64_t wait_ms)
{
	uint64_t t0 = now_ms();
	struct meta_status st;

	while (now_ms() - t0 < wait_ms) {
		if (meta_client_status(c->raft[i], STATUS_MS, &st) == 0 && st.leader_id) {
			uint32_t voters = 0;
			for (uint32_t k = 0; k < st.nmembers; k++)
				voters += st.members[k].voter;
			if (voters == want && st.nmembers == want && st.ncolls >= colls)
				return 1;
		}
		usleep(50000);
	}
	return 0;
}

Test(srv_meta_cluster, a_one_voter_dannd_grows_to_three_nodes_and_shrinks_to_two)
{
	struct cluster c;
	char node[64];

	memset(&c, 0, sizeof c);
	for (int i = 0; i < NODES; i++) {
		int p = free_pair();
		cr_assert_gt(p, 0, "no free loopback port pair");
		snprintf(c.raft[i], sizeof c.raft[i], "127.0.0.1:%d", p);
		snprintf(c.data[i], sizeof c.data[i], "%s%d", tmpdir_path("node"), i + 1);
	}
	/* Node 1 alone at its Raft address, with a collection and rows. */
	node_start_as(&c, 0, "");
	cr_assert_eq(srvpy_run((char *[]){ "fill", c.grpc[0], "grown", "500", NULL }), 0);

	/* Nodes 2 and 3 start empty and are added through node 1: each gets
	 * the catalog from the leader, lists the collection and serves it
	 * (forwarding to node 1). */
	for (int i = 1; i < NODES; i++) {
		node_start_as(&c, i, "join");
		snprintf(node, sizeof node, "%d@%s", i + 1, c.raft[i]);
		cr_assert_eq(cluster_cmd("add", c.raft[0], node), 0);
	}
	for (int i = 0; i < NODES; i++)
		cr_assert(members_are(&c, i, NODES, 1, LEADER_WAIT_MS), "node %d: not 3 voters with the catalog", i + 1);
	cr_assert_eq(srvpy_run((char *[]){ "verify", c.grpc[2], "grown", "500", NULL }), 0);
	/* Milvus's quick start through the Node.js SDK: the collection made
	 * on node 1, its whole life (describe, load state, insert, search,
	 * query, delete, release, drop) through node 3. */
	srvtest_need_node();
	srvtest_node(QUICKSTART_TIMEOUT_S, (char *[]){ "node", "quickstart.mjs", c.grpc[0], c.grpc[2], NULL });
	/* A stopped owner (SIGSTOP keeps its sockets open) fails a forwarded
	 * call as UNAVAILABLE within the channel's keepalive, instead of
	 * holding node 3's worker for the call's whole deadline. */
	cr_assert_eq(kill(c.d[0].pid, SIGSTOP), 0);
	{
		uint64_t t0 = now_ms();
		int rc = srvpy_run((char *[]){ "unreachable", c.grpc[2], "grown", "1", NULL });

		kill(c.d[0].pid, SIGCONT);
		cr_assert_eq(rc, 0);
		cr_log_info("a stopped owner: UNAVAILABLE after %llu ms", (unsigned long long)(now_ms() - t0));
	}
	cr_assert_eq(srvpy_run((char *[]){ "create", c.grpc[2], "three", NULL }), 0);
	for (int i = 0; i < NODES; i++)
		cr_assert_eq(srvpy_run((char *[]){ "listed", c.grpc[i], "grown", "three", NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "flushmix", c.grpc[1], "grown", "three", NULL }), 0);
	/* Two workers each, and calls forwarded both ways at once: the node
	 * keeps a worker for its peers' calls, so all finish (some after a
	 * RESOURCE_EXHAUSTED retry) where waiting workers on both sides would
	 * deadlock. */
	cr_assert_eq(srvpy_run((char *[]){ "cross", c.grpc[0], "grown", c.grpc[2], "three", CROSS_THREADS, CROSS_CALLS,
					   NULL }), 0);
	/* dann cluster status: each node's address for clients, and which
	 * node serves each collection. */
	{
		const char *out = tmpdir_path("status.out");
		char want[64], *text;
		int rc = proc_run(NULL, out, 60, (char *[]){ DANN_CLI, "cluster", "status", "--peers", c.raft[1], NULL });

		text = cli_slurp(out);
		cr_assert_eq(rc, 0, "dann cluster status: %s", text ? text : "");
		snprintf(want, sizeof want, "serves clients at %s", c.grpc[1]);
		cr_assert(text && strstr(text, want), "no '%s' in: %s", want, text ? text : "");
		cr_assert(strstr(text, "grown(") && strstr(strstr(text, "grown("), ")@1") &&
			  strstr(text, "three(") && strstr(strstr(text, "three("), ")@3"), "owners missing: %s", text);
		free(text);
	}

	/* Node 3 leaves (asked through node 2); the two left commit alone
	 * and keep the whole catalog. */
	cr_assert_eq(cluster_cmd("remove", c.raft[1], "3"), 0);
	node_stop(&c, 2, SIGTERM);
	for (int i = 0; i < 2; i++)
		cr_assert(members_are(&c, i, 2, 2, LEADER_WAIT_MS), "node %d: not 2 voters", i + 1);
	cr_assert_eq(srvpy_run((char *[]){ "create", c.grpc[1], "after", NULL }), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(srvpy_run((char *[]){ "listed", c.grpc[i], "grown", "three", "after", NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "verify", c.grpc[1], "grown", "500", NULL }), 0);
	/* Its first member list is stale now: a restart with --join keeps
	 * the stored configuration and catches up. */
	node_stop(&c, 1, SIGTERM);
	node_start_as(&c, 1, "join");
	cr_assert(members_are(&c, 1, 2, 3, LEADER_WAIT_MS), "restarted node 2: not 2 voters with the catalog");
	cr_assert_eq(srvpy_run((char *[]){ "listed", c.grpc[1], "grown", "three", "after", NULL }), 0);
	for (int i = 0; i < 2; i++)
		node_stop(&c, i, SIGTERM);
}

/* Forwarding keeps a cluster's security: over TLS (each node trusts the
 * shared certificate) and with the caller's credentials, which the owner
 * checks again. */
Test(srv_meta_cluster, forwarded_calls_go_over_tls_with_the_callers_credentials)
{
	struct cluster c;
	char node[64], key[256], cert[256], conf[256];

	srvtest_need_node();
	memset(&c, 0, sizeof c);
	snprintf(key, sizeof key, "%s", tmpdir_path("key.pem"));
	snprintf(cert, sizeof cert, "%s", tmpdir_path("cert.pem"));
	srvtest_cert(key, cert);
	snprintf(conf, sizeof conf, "%s", srvtest_auth_conf("bob", "pw one"));
	for (int i = 0; i < 2; i++) {
		int p = free_pair(), rc;
		char id[16];

		cr_assert_gt(p, 0, "no free loopback port pair");
		snprintf(c.raft[i], sizeof c.raft[i], "127.0.0.1:%d", p);
		snprintf(c.data[i], sizeof c.data[i], "%s%d", tmpdir_path("node"), i + 1);
		snprintf(id, sizeof id, "%d", i + 1);
		rc = proc_dannd_start(&c.d[i], DANND_BIN, SRVTEST_START_S, "--data-dir", c.data[i], "--listen",
				      "127.0.0.1:0", "--metrics", "", "--node-id", id, "--raft-listen", c.raft[i],
				      "--join", i ? "true" : "false", "--tls-cert", cert, "--tls-key", key, "--config", conf,
				      NULL);
		cr_assert_eq(rc, 0, "node %d did not start", i + 1);
		c.up[i] = 1;
		live[i] = c.d[i].pid;
		snprintf(c.grpc[i], sizeof c.grpc[i], "127.0.0.1:%d", c.d[i].port);
	}
	snprintf(node, sizeof node, "2@%s", c.raft[1]);
	cr_assert_eq(cluster_cmd("add", c.raft[0], node), 0);
	cr_assert(members_are(&c, 1, 2, 0, LEADER_WAIT_MS), "node 2 was not added");
	srvtest_node(QUICKSTART_TIMEOUT_S,
		     (char *[]){ "node", "secure.mjs", "cluster", c.grpc[0], c.grpc[1], cert, "bob", "pw one", NULL });
	for (int i = 0; i < 2; i++)
		node_stop(&c, i, SIGTERM);
}

Test(srv_meta_cluster, a_node_missing_from_its_peers_is_refused_by_name)
{
	char peers[128], out[300];
	int p = free_pair(), rc;
	char *text;

	cr_assert_gt(p, 0);
	snprintf(peers, sizeof peers, "1@127.0.0.1:%d,2@127.0.0.1:%d", p, p + 2);
	snprintf(out, sizeof out, "%s", tmpdir_path("bad.out"));
	rc = proc_run(NULL, out, 30,
		      (char *[]){ DANND_BIN, "--data-dir", (char *)tmpdir_path("bad"), "--listen", "127.0.0.1:0",
				  "--metrics", "", "--node-id", "4", "--peers", peers, NULL });
	text = cli_slurp(out);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, text ? text : "");
	cr_assert(text && strstr(text, "node_id 4 is not among"), "%s", text ? text : "");
	free(text);
	snprintf(peers, sizeof peers, "1@127.0.0.1:%d", p);
	rc = proc_run(NULL, out, 30,
		      (char *[]){ DANND_BIN, "--data-dir", (char *)tmpdir_path("bad"), "--listen", "127.0.0.1:0",
				  "--metrics", "", "--node-id", "1", "--peers", peers, "--raft-listen", "127.0.0.1:1",
				  NULL });
	text = cli_slurp(out);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, text ? text : "");
	cr_assert(text && strstr(text, "raft_listen 127.0.0.1:1"), "%s", text ? text : "");
	free(text);
}

Test(srv_meta_cluster, cluster_settings_come_from_the_config_file_and_bad_ones_are_named)
{
	struct srv_config c;
	const char *path = tmpdir_path("dannd.conf");
	FILE *f = fopen(path, "w");
	char *argv[] = { "dannd", "--config", (char *)path, "--node-id", "3", NULL };
	int help;

	cr_assert_not_null(f);
	fputs("data_dir = /x\nnode_id = 2\nraft_listen = 127.0.0.1:7011\n"
	      "peers = 1@127.0.0.1:7001,2@127.0.0.1:7011,3@127.0.0.1:7021\nraft_heartbeat_ms = 20\n"
	      "raft_election_ms = 1500\nraft_wait_ms = 5000\n", f);
	fclose(f);
	srv_config_default(&c);
	cr_assert_eq(c.node_id, 1);
	cr_assert_eq(c.peers[0], 0, "one voter by default");
	cr_assert_eq(srv_config_args(&c, 5, argv, &help), 0, "%s", dann_errmsg());
	cr_assert_eq(c.node_id, 3, "the command line wins");
	cr_assert_str_eq(c.raft_listen, "127.0.0.1:7011");
	cr_assert_str_eq(c.peers, "1@127.0.0.1:7001,2@127.0.0.1:7011,3@127.0.0.1:7021");
	cr_assert_eq(c.raft_heartbeat_ms, 20);
	cr_assert_eq(c.raft_election_ms, 1500);
	cr_assert_eq(c.raft_wait_ms, 5000);
	cr_assert_eq(srv_config_set(&c, "node_id", "0"), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "node_id"), "%s", dann_errmsg());
	cr_assert_eq(srv_config_set(&c, "raft_heartbeat_ms", "0"), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "raft_heartbeat_ms"), "%s", dann_errmsg());
}

/* ---- a wiped node with a store --------------------------------------------- */

#define WIPED_ROWS "1000"
#define WIPED_SYNCS_MS 1500    /* 15 sync passes of the restarted node */

static void node_start_store(struct cluster *c, int i, const char *store)
{
	char id[16];

	snprintf(id, sizeof id, "%d", i + 1);
	if (proc_dannd_start(&c->d[i], DANND_BIN, SRVTEST_START_S, "--data-dir", c->data[i], "--listen",
			     "127.0.0.1:0", "--metrics", "", "--node-id", id, "--raft-listen", c->raft[i], "--peers",
			     c->peers, "--store", store, "--sync-interval-ms", "100", NULL) < 0) {
		char *log = cli_slurp(c->d[i].log);
		cr_assert_fail("dannd node %d did not start: %s", i + 1, log ? log : "");
	}
	c->up[i] = 1;
	live[i] = c->d[i].pid;
	snprintf(c->grpc[i], sizeof c->grpc[i], "127.0.0.1:%d", c->d[i].port);
}

/* Files in the store matching pattern (a glob under its directory). */
static int in_store(const char *dir, const char *pattern)
{
	char pat[512];
	glob_t g;
	int n;

	snprintf(pat, sizeof pat, "%s/%s", dir, pattern);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = (int)g.gl_pathc;
	globfree(&g);
	return n;
}

/* Node 1 keeps its flushed segments in a file:// store; its disk is wiped
 * and it restarts with the same store. It must wait for the catalog to
 * catch up before its database and sync start: a sync against its empty
 * new catalog would take its collection for dropped and delete its
 * objects. Nodes 2 and 3 (no store) are the quorum it catches up from. */
Test(srv_meta_cluster, a_wiped_node_with_a_store_catches_up_before_it_syncs)
{
	struct cluster c;
	char storedir[256], store[300];
	size_t off = 0;
	int snaps, manifests, i;

	memset(&c, 0, sizeof c);
	for (i = 0; i < NODES; i++) {
		int p = free_pair();
		cr_assert_gt(p, 0, "no free loopback port pair");
		snprintf(c.raft[i], sizeof c.raft[i], "127.0.0.1:%d", p);
		off += (size_t)snprintf(c.peers + off, sizeof c.peers - off, "%s%d@%s", i ? "," : "", i + 1, c.raft[i]);
		snprintf(c.data[i], sizeof c.data[i], "%s%d", tmpdir_path("node"), i + 1);
	}
	snprintf(storedir, sizeof storedir, "%s", tmpdir_path("store"));
	cr_assert_eq(mkdir(storedir, 0755), 0);
	snprintf(store, sizeof store, "file://%s", storedir);
	node_start(&c, 1);
	node_start(&c, 2);
	node_start_store(&c, 0, store);
	cr_assert_eq(srvpy_run((char *[]){ "fill", c.grpc[0], "tiered", WIPED_ROWS, NULL }), 0);
	for (i = 0; i < 200 && (in_store(storedir, "c*/SNAPSHOT") < 1 || in_store(storedir, "c*/s*/MANIFEST") < 1);
	     i++)
		usleep(50000);
	snaps = in_store(storedir, "c*/SNAPSHOT");
	manifests = in_store(storedir, "c*/s*/MANIFEST");
	cr_assert(snaps >= 1 && manifests >= 1, "not uploaded: %d snapshots, %d manifests", snaps, manifests);

	node_stop(&c, 0, SIGKILL);
	cr_assert_eq(fsu_rmtree(c.data[0]), 0, "%s", dann_errmsg());
	node_start_store(&c, 0, store);
	usleep(WIPED_SYNCS_MS * 1000);
	cr_assert_eq(in_store(storedir, "c*/SNAPSHOT"), snaps, "the wiped node's sync deleted its collection");
	cr_assert_eq(in_store(storedir, "c*/s*/MANIFEST"), manifests, "the wiped node's sync deleted segments");
	/* And it serves them again, from the bucket. */
	cr_assert_eq(srvpy_run((char *[]){ "verify", c.grpc[0], "tiered", WIPED_ROWS, NULL }), 0);
	for (i = 0; i < NODES; i++)
		node_stop(&c, i, SIGTERM);
}
