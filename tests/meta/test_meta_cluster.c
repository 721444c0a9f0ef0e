/*
 * test_meta_cluster.c — three meta nodes as real processes on loopback
 * (`dann cluster serve`), clients issuing catalog commands while the test
 * kills -9 the leader and restarts it, SIGSTOPs a follower and resumes it,
 * and restarts a node with an empty directory (it rejoins and receives a
 * snapshot). The checker records every acknowledged command and verifies
 * the final catalog on all three nodes: identical, every acknowledged
 * change present, no id handed out twice, nothing applied twice.
 * Membership: a fourth node joins with `dann cluster add` and leaves. A
 * leader whose followers are stopped cannot commit.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "helpers/cli.h"
#include "helpers/tmpdir.h"
#include "meta.h"
#include "meta_client.h"
#include "cluster_proc.h"
#include "meta_testutil.h"

#define CLIENTS 3
#define OPS_MAX 1500            /* per client: bounds the run if faults are quick */
#define OP_TIMEOUT_MS 30000
#define ALLOC_COUNT 10
#define OP_PAUSE_NS 10000000L     /* spreads the load over the faults */

static struct cproc C;

static void setup(void)
{
	tmpdir_make("meta_cluster");
}

static void teardown(void)
{
	cproc_shutdown(&C);
	tmpdir_remove();
}

TestSuite(meta_cluster, .init = setup, .fini = teardown, .timeout = 240);

enum op_kind { OP_CREATE, OP_DROP, OP_ALLOC };

struct op {
	enum op_kind kind;
	int rc;                 /* 0 acknowledged; < 0 an error */
	char name[32];
	uint64_t value;         /* created id, dropped id, first allocated */
};

struct client {
	pthread_t thread;
	unsigned idx;
	struct meta_client mc;
	struct op ops[OPS_MAX];
	unsigned nops;
};

static atomic_int stop_clients;
static struct client clients[CLIENTS];

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct dann_schema s;
	uint64_t created[OPS_MAX];
	unsigned ncreated = 0, dropped_upto = 0;

	while (!atomic_load(&stop_clients) && cl->nops < OPS_MAX) {
		struct op *o = &cl->ops[cl->nops];
		struct meta_cmd c;
		struct meta_result r;

		memset(&c, 0, sizeof c);
		memset(o, 0, sizeof *o);
		if (cl->nops % 3 == 0) {
			o->kind = OP_ALLOC;
			c.type = META_CMD_ALLOC, c.counter = DANN_CAT_AUTO_ID, c.count = ALLOC_COUNT;
		} else if (cl->nops % 7 == 5 && dropped_upto < ncreated) {
			o->kind = OP_DROP;
			o->value = created[dropped_upto++];
			c.type = META_CMD_COLL_DROP, c.id = o->value;
		} else {
			o->kind = OP_CREATE;
			snprintf(o->name, sizeof o->name, "c%u_%u", cl->idx, cl->nops);
			mt_schema(&s, o->name, 8);
			c.type = META_CMD_COLL_CREATE, c.schema = &s;
		}
		o->rc = meta_client_submit(&cl->mc, &c, &r);
		if (o->rc == 0 && o->kind != OP_DROP)
			o->value = r.value;
		if (o->rc == 0 && o->kind == OP_CREATE)
			created[ncreated++] = o->value;
		if (o->rc < 0)
			fprintf(stderr, "client %u op %u: %s\n", cl->idx, cl->nops, dann_errmsg());
		cl->nops++;
		nanosleep(&(struct timespec){ 0, OP_PAUSE_NS }, NULL);
	}
	return NULL;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

static int others_count(void)
{
	unsigned total = 0;

	for (int i = 0; i < CLIENTS; i++)
		total += clients[i].nops;
	return (int)total;
}

/* Waits until every node has applied the leader's commit index and that
 * index stays put (no client is running). */
static void wait_converged(void)
{
	double t0 = cproc_now_s();

	for (;;) {
		struct meta_status st[CPROC_MAX];
		int ok = 1;

		for (unsigned i = 0; i < C.n; i++)
			ok &= meta_client_status(C.nodes[i].addr, 1000, &st[i]) == 0;
		for (unsigned i = 1; ok && i < C.n; i++)
			ok &= st[i].applied_index == st[0].applied_index && st[i].applied_index >= st[0].commit_index &&
			      st[i].applied_index > 1;
		if (ok)
			return;
		if (cproc_now_s() - t0 > 20.0) {
			for (unsigned i = 0; i < C.n; i++)
				fprintf(stderr, "node %u: role %d term %llu leader %llu commit %llu applied %llu last %llu\n",
					i + 1, st[i].role, (unsigned long long)st[i].term,
					(unsigned long long)st[i].leader_id, (unsigned long long)st[i].commit_index,
					(unsigned long long)st[i].applied_index, (unsigned long long)st[i].last_index);
			cr_assert_fail("the nodes did not converge within 20 s");
		}
		sleep_s(0.05);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void check_catalogs(void)
{
	struct meta_fsm f[CPROC_MAX];
	void *snap[CPROC_MAX];
	size_t len[CPROC_MAX];
	uint64_t *firsts = malloc(CLIENTS * OPS_MAX * sizeof *firsts), *ids = malloc(CLIENTS * OPS_MAX * sizeof *ids);
	unsigned nf = 0, nids = 0, unknown = 0, acked = 0;

	for (unsigned i = 0; i < C.n; i++) {
		cr_assert_eq(meta_fsm_init(&f[i]), 0);
		cr_assert_eq(meta_client_dump(C.nodes[i].addr, 5000, &f[i]), 0, "%s", dann_errmsg());
		cr_assert_eq(meta_fsm_snapshot(&f[i], &snap[i], &len[i]), 0);
		if (i) {
			cr_assert_eq(len[i], len[0], "node %u's catalog differs from node 1's", i + 1);
			cr_assert_eq(memcmp(snap[i], snap[0], len[0]), 0, "node %u's catalog differs from node 1's", i + 1);
		}
	}
	for (int c = 0; c < CLIENTS; c++)
		for (unsigned k = 0; k < clients[c].nops; k++) {
			struct op *o = &clients[c].ops[k];
			struct dann_cat_coll *cl;
			size_t n;
			int found = 0;

			if (o->rc != 0) {
				/* Refusals would mean a retry was applied twice (a name taken by
				 * its own first attempt, a drop finding nothing). */
				cr_assert(o->rc == DANN_ETIMEDOUT, "client %d op %u refused (%d): applied twice?", c, k,
					  o->rc);
				unknown++;
				continue;
			}
			acked++;
			if (o->kind == OP_ALLOC) {
				firsts[nf++] = o->value;
				continue;
			}
			cr_assert_eq(meta_fsm_coll_list(&f[0], &cl, &n), 0);
			for (size_t j = 0; j < n; j++)
				if ((o->kind == OP_CREATE && strcmp(cl[j].schema.name, o->name) == 0) ||
				    (o->kind == OP_DROP && cl[j].id == o->value)) {
					found = 1;
					cr_assert(o->kind == OP_DROP || cl[j].id == o->value,
						  "%s has id %llu, acknowledged as %llu", o->name,
						  (unsigned long long)cl[j].id, (unsigned long long)o->value);
				}
			free(cl);
			if (o->kind == OP_DROP) {
				cr_assert_not(found, "acknowledged drop of %llu lost", (unsigned long long)o->value);
				continue;
			}
			ids[nids++] = o->value;
			if (!found) {
				/* Absent: only if a later acknowledged drop took it. */
				int dropped = 0;

				for (unsigned q = k + 1; q < clients[c].nops; q++)
					dropped |= clients[c].ops[q].kind == OP_DROP && clients[c].ops[q].rc == 0 &&
						   clients[c].ops[q].value == o->value;
				cr_assert(dropped, "acknowledged create of %s (id %llu) lost", o->name,
					  (unsigned long long)o->value);
			}
		}
	qsort(ids, nids, sizeof *ids, cmp_u64);
	for (unsigned i = 1; i < nids; i++)
		cr_assert_neq(ids[i], ids[i - 1], "collection id %llu acknowledged twice", (unsigned long long)ids[i]);
	qsort(firsts, nf, sizeof *firsts, cmp_u64);
	for (unsigned i = 1; i < nf; i++)
		cr_assert_geq(firsts[i], firsts[i - 1] + ALLOC_COUNT, "auto-id blocks overlap at %llu",
			      (unsigned long long)firsts[i]);
	if (unknown == 0)
		cr_assert_eq(meta_fsm_counter(&f[0], DANN_CAT_AUTO_ID), 1 + (uint64_t)nf * ALLOC_COUNT,
			     "the auto-id counter moved more than the acknowledged blocks: an alloc applied twice");
	cr_assert_gt(acked, 30, "too few commands acknowledged (%u) to mean anything", acked);
	fprintf(stderr, "meta_cluster: %u commands acknowledged, %u with unknown outcome\n", acked, unknown);
	for (unsigned i = 0; i < C.n; i++) {
		free(snap[i]);
		meta_fsm_destroy(&f[i]);
	}
	free(firsts);
	free(ids);
}

static int has_snapshot(const char *dir)
{
	char cmd[400];

	snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '^snapshot-'", dir);
	return system(cmd) == 0;
}

Test(meta_cluster, acknowledged_changes_survive_leader_kills_stops_and_an_emptied_node)
{
	int leader, f, rc;
	double t0;

	cr_assert_eq(cproc_init(&C, DANN_CLI, 3, tmpdir_get(), 64), 0, "%s", dann_errmsg());
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(cproc_start(&C, i, 0), 0, "%s", dann_errmsg());
	leader = cproc_leader(&C, 10000);
	cr_assert_geq(leader, 0, "no leader within 10 s");

	atomic_store(&stop_clients, 0);
	for (unsigned i = 0; i < CLIENTS; i++) {
		clients[i].idx = i;
		clients[i].nops = 0;
		cr_assert_eq(meta_client_init(&clients[i].mc, C.peers, OP_TIMEOUT_MS), 0);
		cr_assert_eq(pthread_create(&clients[i].thread, NULL, client_main, &clients[i]), 0);
	}
	sleep_s(1.0);

	/* 1. kill -9 the leader; a new one is elected; the old one restarts. */
	cproc_kill(&C, (unsigned)leader);
	t0 = cproc_now_s();
	rc = cproc_leader(&C, 10000);
	cr_assert_geq(rc, 0, "no new leader within 10 s of killing node %d", leader + 1);
	cr_assert_neq(rc, leader);
	fprintf(stderr, "meta_cluster: new leader %d %.2f s after kill -9 of %d\n", rc + 1, cproc_now_s() - t0,
		leader + 1);
	sleep_s(0.5);
	cr_assert_eq(cproc_start(&C, (unsigned)leader, 0), 0, "%s", dann_errmsg());
	sleep_s(1.0);

	/* 2. SIGSTOP a follower for 2 s, then SIGCONT. */
	leader = cproc_leader(&C, 10000);
	cr_assert_geq(leader, 0);
	f = (leader + 1) % 3;
	cproc_stop_signal(&C, (unsigned)f);
	sleep_s(2.0);
	cproc_cont(&C, (unsigned)f);
	sleep_s(1.0);

	/* 3. A follower loses its directory: restarted empty, it rejoins and
	 * gets the catalog as a snapshot (the log was compacted at 64). */
	leader = cproc_leader(&C, 10000);
	cr_assert_geq(leader, 0);
	f = (leader + 2) % 3;
	cproc_kill(&C, (unsigned)f);
	cr_assert_eq(cproc_wipe(&C, (unsigned)f), 0, "%s", dann_errmsg());
	sleep_s(1.0);
	cr_assert_eq(cproc_start(&C, (unsigned)f, 0), 0, "%s", dann_errmsg());
	sleep_s(1.5);

	atomic_store(&stop_clients, 1);
	for (unsigned i = 0; i < CLIENTS; i++)
		pthread_join(clients[i].thread, NULL);
	fprintf(stderr, "meta_cluster: %d commands issued\n", others_count());
	wait_converged();
	cr_assert(has_snapshot(C.nodes[f].dir), "node %d caught up without installing a snapshot", f + 1);
	check_catalogs();
}

Test(meta_cluster, a_node_joins_with_cluster_add_and_leaves_with_remove)
{
	struct meta_client mc;
	struct meta_status st;
	char *out = NULL, *err = NULL, node[96];
	struct dann_schema s;
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE, .schema = &s };
	int st_rc;

	cr_assert_eq(cproc_init(&C, DANN_CLI, 4, tmpdir_get(), 1024), 0, "%s", dann_errmsg());
	C.n = 3;  /* the fourth is started on its own below */
	/* The first three are bootstrapped with only themselves as members. */
	{
		char *comma = C.members;

		for (int k = 0; k < 3; k++)
			comma = strchr(comma + 1, ',');
		*comma = '\0';
	}
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(cproc_start(&C, i, 0), 0, "%s", dann_errmsg());
	cr_assert_geq(cproc_leader(&C, 10000), 0);
	cr_assert_eq(meta_client_init(&mc, C.peers, OP_TIMEOUT_MS), 0);
	mt_schema(&s, "before_join", 4);
	cr_assert_eq(meta_client_submit(&mc, &c, NULL), 0, "%s", dann_errmsg());

	C.n = 4;
	cr_assert_eq(cproc_start(&C, 3, 1), 0, "%s", dann_errmsg());
	snprintf(node, sizeof node, "4@%s", C.nodes[3].addr);
	st_rc = cli_run(&out, &err, "cluster", "add", "--peers", C.nodes[0].addr, "--node", node, NULL);
	cr_assert_eq(st_rc, 0, "dann cluster add: %s%s", out, err);
	free(out), free(err);
	for (double t0 = cproc_now_s();; ) {
		cr_assert_eq(meta_client_status(C.nodes[3].addr, 1000, &st), 0, "%s", dann_errmsg());
		if (st.ncolls == 1 && st.nmembers == 4)
			break;
		cr_assert_lt(cproc_now_s() - t0, 15.0, "the new node did not catch up (%llu collections, %u members)",
			     (unsigned long long)st.ncolls, st.nmembers);
		sleep_s(0.05);
	}
	st_rc = cli_run(&out, &err, "cluster", "status", "--peers", C.peers, NULL);
	cr_assert_eq(st_rc, 0, "dann cluster status: %s%s", out, err);
	cr_assert(strstr(out, "4@"), "status does not list node 4: %s", out);
	cr_assert(strstr(out, "leader"), "%s", out);
	cr_assert(strstr(out, "before_join("), "status does not list the collections: %s", out);
	free(out), free(err);

	st_rc = cli_run(&out, &err, "cluster", "remove", "--peers", C.peers, "--node", "4", NULL);
	cr_assert_eq(st_rc, 0, "dann cluster remove: %s%s", out, err);
	free(out), free(err);
	cr_assert_eq(meta_client_status(C.nodes[0].addr, 1000, &st), 0);
	cr_assert_eq(st.nmembers, 3, "node 4 is still a member");

	st_rc = cli_run(&out, &err, "cluster", "add", "--peers", C.peers, "--node", "5@nowhere", NULL);
	cr_assert_eq(st_rc, 2, "a malformed --node was accepted: %s", err);
	cr_assert(strstr(err, "'5@nowhere': HOST:PORT"), "%s", err);
	free(out), free(err);
	cr_assert_eq(meta_client_status(C.nodes[0].addr, 1000, &st), 0);
	cr_assert_eq(st.nmembers, 3, "a refused add changed the membership");

	st_rc = cli_run(&out, &err, "cluster", "remove", "--peers", C.peers, "--node", "9", NULL);
	cr_assert_neq(st_rc, 0, "removing an unknown node succeeded");
	cr_assert(strstr(err, "node 9"), "%s", err);
	free(out), free(err);
}

Test(meta_cluster, a_minority_cannot_commit)
{
	struct meta_client mc;
	struct meta_status before, during;
	struct dann_schema s;
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE, .schema = &s };
	int leader;

	cr_assert_eq(cproc_init(&C, DANN_CLI, 3, tmpdir_get(), 1024), 0, "%s", dann_errmsg());
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(cproc_start(&C, i, 0), 0, "%s", dann_errmsg());
	leader = cproc_leader(&C, 10000);
	cr_assert_geq(leader, 0);
	cr_assert_eq(meta_client_status(C.nodes[leader].addr, 1000, &before), 0);

	/* Both followers stopped: the leader alone is a minority. */
	cproc_stop_signal(&C, (unsigned)(leader + 1) % 3);
	cproc_stop_signal(&C, (unsigned)(leader + 2) % 3);
	cr_assert_eq(meta_client_init(&mc, C.nodes[leader].addr, 2500), 0);
	mt_schema(&s, "minority", 4);
	cr_assert_eq(meta_client_submit(&mc, &c, NULL), DANN_ETIMEDOUT, "a minority answered: %s", dann_errmsg());
	cr_assert_eq(meta_client_status(C.nodes[leader].addr, 1000, &during), 0);
	cr_assert_eq(during.ncolls, 0, "the minority applied a change");
	cr_assert_eq(during.commit_index, before.commit_index, "the minority advanced its commit index");

	cproc_cont(&C, (unsigned)(leader + 1) % 3);
	cproc_cont(&C, (unsigned)(leader + 2) % 3);
	cr_assert_geq(cproc_leader(&C, 10000), 0, "no leader after the followers came back");
	cr_assert_eq(meta_client_init(&mc, C.peers, OP_TIMEOUT_MS), 0);
	mt_schema(&s, "majority", 4);
	memset(&c.req, 0, sizeof c.req);
	cr_assert_eq(meta_client_submit(&mc, &c, NULL), 0, "%s", dann_errmsg());
}
