/*
 * test_meta_forward.c — any node takes every change: three meta nodes in
 * one process (real Raft over loopback TCP), the catalog interface called
 * on followers. Their changes are forwarded to the leader, and when a call
 * returns the follower's own lists already show the change. Closing the
 * leader moves the lead; the calls keep working on the survivors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_proc.h"
#include "error.h"
#include "helpers/tmpdir.h"
#include "meta.h"
#include "meta_testutil.h"

#define N 3

static struct meta_node *nodes[N];

static void setup(void)
{
	tmpdir_make("meta_forward");
}

static void teardown(void)
{
	for (int i = 0; i < N; i++)
		meta_close(nodes[i]);
	tmpdir_remove();
}

TestSuite(meta_forward, .init = setup, .fini = teardown, .timeout = 120);

static int leader_index(void)
{
	double t0 = cproc_now_s();

	while (cproc_now_s() - t0 < 15) {
		for (int i = 0; i < N; i++) {
			struct meta_status st;

			if (nodes[i] && meta_status(nodes[i], &st) == 0 && st.role == META_LEADER)
				return i;
		}
		nanosleep(&(struct timespec){ 0, 20000000L }, NULL);
	}
	cr_assert_fail("no leader within 15 s");
	return -1;
}

Test(meta_forward, followers_forward_changes_and_see_them_at_once)
{
	const struct dann_catalog_ops *ops = meta_catalog_ops();
	struct cproc ports;   /* only its free port pairs and member list */
	struct dann_schema s;
	struct dann_cat_coll *cl;
	struct meta_user u;
	uint64_t id, first, prev_first = 0;
	size_t n;
	int l;

	cr_assert_eq(cproc_init(&ports, "unused", N, tmpdir_get(), 0), 0, "%s", dann_errmsg());
	for (int i = 0; i < N; i++) {
		struct meta_params p;

		meta_params_default(&p);
		p.dir = ports.nodes[i].dir;
		p.node_id = (uint64_t)i + 1;
		p.members = ports.members;
		cr_assert_eq(meta_open(&p, &nodes[i]), 0, "node %d: %s", i + 1, dann_errmsg());
	}
	l = leader_index();
	for (int k = 0; k < 6; k++) {
		int f = (l + 1 + k % 2) % N;  /* always a follower */
		char name[16];

		snprintf(name, sizeof name, "f%d", k);
		mt_schema(&s, name, 8);
		cr_assert_eq(ops->coll_create(nodes[f], &s, &id), 0, "create on follower %d: %s", f + 1,
			     dann_errmsg());
		cr_assert_eq(id, (uint64_t)k + 1);
		cr_assert_eq(ops->coll_list(nodes[f], &cl, &n), 0);
		cr_assert_eq(n, (size_t)k + 1, "follower %d does not see its own change yet", f + 1);
		free(cl);
		cr_assert_eq(ops->alloc(nodes[f], DANN_CAT_AUTO_ID, 100, &first), 0, "%s", dann_errmsg());
		cr_assert_gt(first, prev_first);
		prev_first = first;
	}
	mt_schema(&s, "f0", 8);
	cr_assert_eq(ops->coll_create(nodes[(l + 1) % N], &s, &id), DANN_EEXIST, "a refusal is forwarded back");
	cr_assert(strstr(dann_errmsg(), "'f0' already exists"), "%s", dann_errmsg());
	cr_assert_eq(meta_user_create(nodes[(l + 2) % N], "ann", "$argon2id$h", "public"), 0, "%s", dann_errmsg());
	cr_assert_eq(meta_user_get(nodes[(l + 2) % N], "ann", &u), 0);

	/* The leader goes; the two others elect one and keep serving. */
	meta_close(nodes[l]);
	nodes[l] = NULL;
	mt_schema(&s, "after", 8);
	cr_assert_eq(ops->coll_create(nodes[(l + 1) % N], &s, &id), 0, "after the leader left: %s", dann_errmsg());
	cr_assert_eq(id, 7);
	cr_assert_eq(ops->coll_list(nodes[(l + 2) % N], &cl, &n), 0);
	free(cl);
	cr_assert_geq(n, 6);
}
