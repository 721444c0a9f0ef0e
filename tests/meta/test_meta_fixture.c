/*
 * test_meta_fixture.c — the catalog state machine under libraft's
 * in-process cluster fixture (raft/fixture.h: simulated time, network and
 * disks): elections, a partitioned leader that cannot commit, log repair
 * of a follower that missed entries, catch-up through a snapshot, and a
 * retried command applied once across a leader change. Every case ends
 * with the three catalogs byte-for-byte equal.
 */
#include <criterion/criterion.h>
#include <raft.h>
#include <raft/fixture.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "meta_raftfsm.h"
#include "meta_testutil.h"

#define N 3
#define MAX_MS 20000

static struct raft_fixture F;
static struct meta_fsm fsms[N];
static struct meta_raftfsm rfsms[N];

struct pending {
	struct raft_apply req;
	int done, status, rc;
	uint64_t value;
};

static void setup_n(unsigned threshold)
{
	struct raft_configuration conf;

	cr_assert_eq(raft_fixture_initialize(&F), 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(meta_fsm_init(&fsms[i]), 0);
		meta_raftfsm_init(&rfsms[i], &fsms[i]);
		cr_assert_eq(raft_fixture_grow(&F, &rfsms[i].raft), 0);
		if (threshold) {
			raft_set_snapshot_threshold(raft_fixture_get(&F, (unsigned)i), threshold);
			raft_set_snapshot_trailing(raft_fixture_get(&F, (unsigned)i), threshold / 2);
		}
	}
	cr_assert_eq(raft_fixture_configuration(&F, N, &conf), 0);
	cr_assert_eq(raft_fixture_bootstrap(&F, &conf), 0);
	raft_configuration_close(&conf);
	cr_assert_eq(raft_fixture_start(&F), 0);
}

static void setup(void)
{
	setup_n(0);
}

static void teardown(void)
{
	raft_fixture_close(&F);
	for (int i = 0; i < N; i++)
		meta_fsm_destroy(&fsms[i]);
}

TestSuite(meta_fixture, .init = setup, .fini = teardown, .timeout = 60);

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct pending *p = req->data;

	p->done = 1;
	p->status = status;
	if (status == 0) {
		p->rc = ((struct meta_result *)result)->rc;
		p->value = ((struct meta_result *)result)->value;
	}
}

/* Proposes c on server i; the answer arrives in p as the fixture steps. */
static int propose(unsigned i, struct meta_cmd *c, uint64_t client, uint64_t seq, struct pending *p)
{
	struct raft_buffer b;
	void *buf;
	size_t len;
	int rv;

	mt_encode(c, client, seq, &buf, &len);
	b.len = meta_raftfsm_padded(len);
	b.base = raft_calloc(1, b.len);
	memcpy(b.base, buf, len);
	free(buf);
	memset(p, 0, sizeof *p);
	p->req.data = p;
	rv = raft_apply(raft_fixture_get(&F, i), &p->req, &b, 1, apply_cb);
	if (rv != 0)
		raft_free(b.base);
	return rv;
}

static bool is_done(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct pending *)arg)->done;
}

static uint64_t create_on(unsigned i, const char *name, uint64_t seq)
{
	struct dann_schema s;
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE, .schema = &s };
	struct pending p;

	mt_schema(&s, name, 4);
	cr_assert_eq(propose(i, &c, 1, seq, &p), 0);
	cr_assert(raft_fixture_step_until(&F, is_done, &p, MAX_MS), "create %s never answered", name);
	cr_assert_eq(p.status, 0, "create %s: %s", name, raft_strerror(p.status));
	cr_assert_eq(p.rc, 0);
	return p.value;
}

static unsigned leader(void)
{
	cr_assert(raft_fixture_step_until_has_leader(&F, MAX_MS), "no leader elected");
	return raft_fixture_leader_index(&F);
}

/* Steps until every live server has applied the leader's last entry, then
 * checks their catalogs are identical. */
static void converge(void)
{
	unsigned l = leader();
	raft_index last = raft_last_index(raft_fixture_get(&F, l));
	void *s0 = NULL, *s;
	size_t l0 = 0, len;

	cr_assert(raft_fixture_step_until_applied(&F, N, last, MAX_MS), "not every server applied index %llu",
		  (unsigned long long)last);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(meta_fsm_snapshot(&fsms[i], &s, &len), 0);
		if (i == 0) {
			s0 = s, l0 = len;
			continue;
		}
		cr_assert_eq(len, l0, "server %d's catalog differs in size", i);
		cr_assert_eq(memcmp(s, s0, len), 0, "server %d's catalog differs", i);
		free(s);
	}
	free(s0);
}

Test(meta_fixture, a_leader_is_elected_and_every_server_applies_the_same_commands)
{
	unsigned l = leader();
	char name[16];

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof name, "c%d", i);
		cr_assert_eq(create_on(l, name, (uint64_t)i + 1), (uint64_t)i + 1);
	}
	converge();
	for (int i = 0; i < N; i++)
		cr_assert_eq(fsms[i].ncolls, 20);
}

Test(meta_fixture, a_follower_refuses_proposals)
{
	unsigned l = leader(), f = (l + 1) % N;
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = DANN_CAT_TIMESTAMP, .count = 1 };
	struct pending p;

	cr_assert_eq(propose(f, &c, 1, 1, &p), RAFT_NOTLEADER);
}

static bool other_leads(struct raft_fixture *f, void *arg)
{
	unsigned old = *(unsigned *)arg;

	for (unsigned i = 0; i < N; i++)
		if (i != old && raft_state(raft_fixture_get(f, i)) == RAFT_LEADER)
			return true;
	return false;
}

Test(meta_fixture, a_partitioned_leader_cannot_commit_and_the_majority_moves_on)
{
	unsigned l = leader(), nl;
	struct dann_schema s;
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE, .schema = &s };
	struct pending lost;

	create_on(l, "before", 1);
	for (unsigned i = 0; i < N; i++)
		if (i != l) {
			raft_fixture_disconnect(&F, l, i);
			raft_fixture_disconnect(&F, i, l);
		}
	mt_schema(&s, "lost", 4);
	cr_assert_eq(propose(l, &c, 1, 2, &lost), 0);
	cr_assert(raft_fixture_step_until(&F, other_leads, &l, MAX_MS), "the majority elected no new leader");
	for (nl = 0; nl < N; nl++)
		if (nl != l && raft_state(raft_fixture_get(&F, nl)) == RAFT_LEADER)
			break;
	create_on(nl, "after", 3);
	cr_assert(lost.done == 0 || lost.status != 0, "the minority's entry was committed");
	for (unsigned i = 0; i < N; i++)
		if (i != l) {
			raft_fixture_reconnect(&F, l, i);
			raft_fixture_reconnect(&F, i, l);
		}
	converge();
	cr_assert(raft_fixture_step_until(&F, is_done, &lost, MAX_MS), "the lost proposal was never answered");
	cr_assert_neq(lost.status, 0, "a proposal of the minority was reported applied");
	for (int i = 0; i < N; i++) {
		struct dann_cat_coll *cl;
		size_t k;

		cr_assert_eq(meta_fsm_coll_list(&fsms[i], &cl, &k), 0);
		cr_assert_eq(k, 2, "server %d holds %zu collections", i, k);
		for (size_t j = 0; j < k; j++)
			cr_assert_str_neq(cl[j].schema.name, "lost", "server %d applied the minority's entry", i);
		free(cl);
	}
}

Test(meta_fixture, a_follower_that_missed_entries_has_its_log_repaired)
{
	unsigned l = leader(), f = (l + 1) % N;
	char name[16];

	create_on(l, "first", 1);
	converge();
	raft_fixture_kill(&F, f);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "m%d", i);
		create_on(l, name, (uint64_t)i + 2);
	}
	cr_assert_eq(fsms[f].ncolls, 1);
	raft_fixture_revive(&F, f);
	converge();
	cr_assert_eq(fsms[f].ncolls, 11);
}

Test(meta_fixture, a_retried_command_is_applied_once_across_a_leader_change)
{
	unsigned l = leader(), nl;
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = DANN_CAT_SEGMENT_ID, .count = 5 };
	struct pending p1, p2;

	cr_assert_eq(propose(l, &c, 42, 7, &p1), 0);
	cr_assert(raft_fixture_step_until(&F, is_done, &p1, MAX_MS));
	cr_assert_eq(p1.status, 0);
	/* The client never saw the answer; the leader goes; it retries at the
	 * new leader with the same request id. */
	raft_fixture_depose(&F);
	nl = leader();
	cr_assert_eq(propose(nl, &c, 42, 7, &p2), 0);
	cr_assert(raft_fixture_step_until(&F, is_done, &p2, MAX_MS));
	cr_assert_eq(p2.status, 0);
	cr_assert_eq(p2.value, p1.value, "the retry got another range");
	converge();
	for (int i = 0; i < N; i++)
		cr_assert_eq(meta_fsm_counter(&fsms[i], DANN_CAT_SEGMENT_ID), 6, "server %d allocated twice", i);
}

static void setup_snap(void)
{
	setup_n(8);
}

TestSuite(meta_fixture_snap, .init = setup_snap, .fini = teardown, .timeout = 60);

Test(meta_fixture_snap, a_follower_far_behind_catches_up_through_a_snapshot)
{
	unsigned l = leader(), f = (l + 1) % N;
	char name[16];

	create_on(l, "first", 1);
	converge();
	raft_fixture_kill(&F, f);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "m%d", i);
		create_on(l, name, (uint64_t)i + 2);
	}
	cr_assert_gt(raft_fixture_get(&F, l)->log.snapshot.last_index, 8, "the leader took no snapshot");
	raft_fixture_revive(&F, f);
	converge();
	cr_assert_eq(fsms[f].ncolls, 41);
	cr_assert_gt(raft_fixture_get(&F, f)->log.snapshot.last_index, 0, "the follower caught up without a snapshot");
}
