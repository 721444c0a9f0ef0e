/*
 * test_meta_node.c — one meta node on its own (the embedded default: one
 * voter): catalog calls through struct dann_catalog_ops, restart recovery
 * from the log and from a snapshot plus the log, users, and the bad
 * starts: a directory of another cluster or node, members that disagree
 * with the stored configuration, a corrupt snapshot — each a clear error
 * that changes nothing.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc.h"
#include "error.h"
#include "cluster_proc.h"
#include "helpers/tmpdir.h"
#include "meta.h"
#include "meta_buf.h"
#include "meta_node.h"
#include "meta_testutil.h"

static void setup(void)
{
	tmpdir_make("meta_node");
}

TestSuite(meta_node, .init = setup, .fini = tmpdir_remove, .timeout = 60);

static struct meta_node *open_node(const char *dir, unsigned threshold)
{
	struct meta_params p;
	struct meta_node *n;

	meta_params_default(&p);
	p.dir = dir;
	if (threshold) {
		p.snapshot_threshold = threshold;
		p.snapshot_trailing = threshold / 2;
	}
	cr_assert_eq(meta_open(&p, &n), 0, "meta_open %s: %s", dir, dann_errmsg());
	return n;
}

static uint64_t create(struct meta_node *n, const char *name)
{
	const struct dann_catalog_ops *ops = meta_catalog_ops();
	struct dann_schema s;
	uint64_t id = 0;

	mt_schema(&s, name, 8);
	cr_assert_eq(ops->coll_create(n, &s, &id), 0, "create %s: %s", name, dann_errmsg());
	return id;
}

/* dannd's create (the record and its owner line) is one log entry: no
 * crash can fall between the collection and its owner. */
Test(meta_node, a_collection_and_its_first_properties_are_one_log_entry)
{
	struct meta_node *n = open_node(tmpdir_path("one"), 0);
	struct meta_status before, after;
	struct dann_cat_coll *list = NULL;
	struct dann_schema s;
	uint64_t id = 0;
	size_t k = 0;

	create(n, "warmup"); /* the one voter is leader and has applied */
	mt_schema(&s, "owned", 8);
	cr_assert_eq(meta_status(n, &before), 0, "%s", dann_errmsg());
	cr_assert_eq(meta_coll_create(n, &s, "dann.owner=1\n", &id), 0, "%s", dann_errmsg());
	cr_assert_eq(meta_status(n, &after), 0, "%s", dann_errmsg());
	cr_assert_eq(after.last_index, before.last_index + 1, "log %llu -> %llu",
		     (unsigned long long)before.last_index, (unsigned long long)after.last_index);
	cr_assert_eq(meta_catalog_ops()->coll_list(n, &list, &k), 0);
	for (size_t i = 0; i < k; i++)
		if (list[i].id == id)
			cr_assert_str_eq(list[i].props, "dann.owner=1\n");
	free(list);
	meta_close(n);
}

Test(meta_node, a_single_voter_serves_the_catalog_interface)
{
	const struct dann_catalog_ops *ops = meta_catalog_ops();
	struct meta_node *n = open_node(tmpdir_path("meta"), 0);
	struct dann_schema s;
	struct dann_cat_segment segs[2], *sl;
	struct dann_cat_coll *cl;
	uint64_t a, first, id;
	size_t k;

	a = create(n, "a");
	cr_assert_eq(a, 1);
	mt_schema(&s, "a", 8);
	cr_assert_eq(ops->coll_create(n, &s, &id), DANN_EEXIST);
	cr_assert(strstr(dann_errmsg(), "'a' already exists"), "%s", dann_errmsg());
	mt_segment(&segs[0], 1, a, DANN_SEG_GROWING);
	mt_segment(&segs[1], 2, a, DANN_SEG_FLUSHED);
	cr_assert_eq(ops->seg_apply(n, segs, 2), 0, "%s", dann_errmsg());
	cr_assert_eq(ops->seg_list(n, a, &sl, &k), 0);
	cr_assert_eq(k, 2);
	free(sl);
	cr_assert_eq(ops->alloc(n, DANN_CAT_AUTO_ID, 100, &first), 0);
	cr_assert_eq(first, 1);
	cr_assert_eq(ops->alloc(n, DANN_CAT_AUTO_ID, 100, &first), 0);
	cr_assert_eq(first, 101);
	cr_assert_eq(ops->coll_drop(n, 999), DANN_ENOTFOUND);
	cr_assert_eq(ops->coll_list(n, &cl, &k), 0);
	cr_assert_eq(k, 1);
	free(cl);
	cr_assert_eq(meta_user_create(n, "root", "$argon2id$h", "admin"), 0, "%s", dann_errmsg());
	cr_assert_eq(meta_user_set_roles(n, "root", "admin,public"), 0);
	cr_assert_eq(meta_user_set_password(n, "bob", "x"), DANN_ENOTFOUND);
	meta_close(n);
}

static void restart_keeps(unsigned threshold, int ncmds)
{
	const struct dann_catalog_ops *ops = meta_catalog_ops();
	const char *dir = tmpdir_path("meta");
	struct meta_node *n = open_node(dir, threshold);
	struct dann_cat_coll *cl;
	struct meta_user u;
	struct meta_status st;
	uint64_t first;
	size_t k;
	char name[32];

	for (int i = 0; i < ncmds; i++) {
		snprintf(name, sizeof name, "c%d", i);
		create(n, name);
	}
	cr_assert_eq(ops->coll_drop(n, 2), 0);
	cr_assert_eq(meta_user_create(n, "root", "h", "admin"), 0);
	cr_assert_eq(ops->alloc(n, DANN_CAT_TIMESTAMP, 10, &first), 0);
	meta_close(n);

	n = open_node(dir, threshold);
	cr_assert_eq(meta_status(n, &st), 0);
	cr_assert_eq(st.role, META_LEADER, "a single voter leads at once");
	cr_assert_eq(ops->coll_list(n, &cl, &k), 0);
	cr_assert_eq(k, (size_t)ncmds - 1, "collections after restart: %zu", k);
	free(cl);
	cr_assert_eq(meta_user_get(n, "root", &u), 0);
	cr_assert_str_eq(u.roles, "admin");
	cr_assert_eq(ops->alloc(n, DANN_CAT_TIMESTAMP, 1, &first), 0);
	cr_assert_eq(first, 11, "the counter went back after a restart");
	cr_assert_eq(create(n, "after"), (uint64_t)ncmds + 1, "a collection id was handed out twice");
	meta_close(n);
}

Test(meta_node, a_restart_recovers_the_catalog_from_the_log)
{
	restart_keeps(0, 5);
}

Test(meta_node, a_restart_recovers_the_catalog_from_a_snapshot_and_the_log)
{
	DIR *d;
	struct dirent *e;
	int snaps = 0;

	restart_keeps(16, 50);
	d = opendir(tmpdir_path("meta"));
	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		snaps += strncmp(e->d_name, "snapshot-", 9) == 0;
	closedir(d);
	cr_assert_gt(snaps, 0, "no snapshot was taken at a threshold of 16 entries");
}

static void expect_refused(struct meta_params *p, int code, const char *needle)
{
	struct meta_node *n = NULL;
	int rc = meta_open(p, &n);

	cr_assert_eq(rc, code, "meta_open gave %d (%s), expected %d", rc, dann_errmsg(), code);
	cr_assert_null(n);
	cr_assert(strstr(dann_errmsg(), needle), "message '%s' lacks '%s'", dann_errmsg(), needle);
}

/* CRC32C of every file in dir, in name order, so "nothing changed" can be
 * checked. */
static uint32_t dir_digest(const char *dir)
{
	struct dirent **list;
	int k = scandir(dir, &list, NULL, alphasort);
	uint32_t crc = 0;

	cr_assert_geq(k, 0);
	for (int i = 0; i < k; i++) {
		char path[4200];
		uint32_t c = 0;

		if (list[i]->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
			crc = crc32c(crc, list[i]->d_name, strlen(list[i]->d_name));
			cr_assert_eq(crc32c_file(path, 0, UINT64_MAX, &c), 0, "%s", dann_errmsg());
			crc = crc32c(crc, &c, sizeof c);
		}
		free(list[i]);
	}
	free(list);
	return crc;
}

Test(meta_node, a_directory_of_another_cluster_or_node_is_refused)
{
	const char *dir = tmpdir_path("meta");
	struct meta_params p;
	uint32_t before;

	meta_close(open_node(dir, 0));
	before = dir_digest(dir);
	meta_params_default(&p);
	p.dir = dir;
	p.cluster = "other";
	expect_refused(&p, DANN_EINVAL, "belongs to cluster 'dann', this node was started for cluster 'other'");
	p.cluster = NULL;
	p.node_id = 2;
	p.members = "2@127.0.0.1:20000";  /* refused before anything listens */
	expect_refused(&p, DANN_EINVAL, "belongs to node 1, this node was started as node 2");
	cr_assert_eq(dir_digest(dir), before, "a refused start changed the directory");
}

Test(meta_node, members_that_disagree_with_the_stored_configuration_are_refused)
{
	const char *dir = tmpdir_path("meta");
	struct meta_params p;
	struct meta_node *n;
	struct cproc ports;  /* free loopback ports (unprivileged, unused) */
	char one[128], two[256], moved[128], want[300];
	uint32_t before;

	cr_assert_eq(cproc_init(&ports, "unused", 3, tmpdir_get(), 0), 0, "%s", dann_errmsg());
	snprintf(one, sizeof one, "1@%s", ports.nodes[0].addr);
	snprintf(two, sizeof two, "1@%s,2@%s", ports.nodes[0].addr, ports.nodes[1].addr);
	snprintf(moved, sizeof moved, "1@%s", ports.nodes[2].addr);
	meta_params_default(&p);
	p.dir = dir;
	p.members = one;
	p.election_timeout_ms = 200;
	cr_assert_eq(meta_open(&p, &n), 0, "%s", dann_errmsg());
	meta_close(n);
	before = dir_digest(dir);
	p.members = two;
	snprintf(want, sizeof want, "disagree with the stored configuration (%s)", one);
	expect_refused(&p, DANN_EINVAL, want);
	p.members = moved;
	snprintf(want, sizeof want, "members given (%s)", moved);
	expect_refused(&p, DANN_EINVAL, want);
	p.members = "1@127.0.0.1";
	expect_refused(&p, DANN_EINVAL, "HOST:PORT");
	p.members = "3@127.0.0.1:7";
	expect_refused(&p, DANN_EINVAL, "node 1 is not among the members");
	cr_assert_eq(dir_digest(dir), before, "a refused start changed the directory");
}

Test(meta_node, a_corrupt_snapshot_is_refused_naming_it)
{
	const char *dir = tmpdir_path("meta");
	struct meta_params p;
	struct meta_node *n = open_node(dir, 16);
	struct dirent **list;
	char path[4200] = "";
	struct stat st;
	uint8_t byte;
	uint32_t before;
	int fd, k;

	for (int i = 0; i < 40; i++) {
		char name[16];

		snprintf(name, sizeof name, "c%d", i);
		create(n, name);
	}
	meta_close(n);
	/* The newest snapshot's data file (not its .meta). */
	k = scandir(dir, &list, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		const char *nm = list[i]->d_name;

		if (strncmp(nm, "snapshot-", 9) == 0 && !strstr(nm, ".meta"))
			snprintf(path, sizeof path, "%s/%s", dir, nm);
		free(list[i]);
	}
	free(list);
	cr_assert(path[0], "no snapshot in %s", dir);
	cr_assert_eq(stat(path, &st), 0);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &byte, 1, st.st_size / 2), 1);
	byte ^= 0x10;
	cr_assert_eq(pwrite(fd, &byte, 1, st.st_size / 2), 1);
	close(fd);

	before = dir_digest(dir);
	meta_params_default(&p);
	p.dir = dir;
	p.snapshot_threshold = 16;
	p.snapshot_trailing = 8;
	expect_refused(&p, DANN_ECORRUPT, "snapshot");
	cr_assert(strstr(dann_errmsg(), dir), "the message does not name the directory: %s", dann_errmsg());
	cr_assert_eq(dir_digest(dir), before, "a refused start changed the directory");
}

Test(meta_node, a_damaged_or_missing_identity_is_refused)
{
	const char *dir = tmpdir_path("meta");
	struct meta_params p;
	char path[4200];
	FILE *f;

	meta_close(open_node(dir, 0));
	snprintf(path, sizeof path, "%s/IDENTITY", dir);
	f = fopen(path, "r+");
	cr_assert_not_null(f);
	fseek(f, 6, SEEK_SET);
	fputc('X', f);
	fclose(f);
	meta_params_default(&p);
	p.dir = dir;
	expect_refused(&p, DANN_ECORRUPT, "IDENTITY: damaged");
	cr_assert_eq(unlink(path), 0);
	expect_refused(&p, DANN_EINVAL, "holds Raft files but no IDENTITY");
}

/* Queues a and b for the loop in one batch (what meta_node_call does for
 * one): the loop hands both to raft_apply before either is applied (an
 * apply waits for the entry's disk write), so both are in the log. */
static void call_two(struct meta_node *n, struct meta_req *a, struct meta_req *b)
{
	sem_init(&a->done, 0, 0);
	sem_init(&b->done, 0, 0);
	a->next = b, b->next = NULL;
	pthread_mutex_lock(&n->mu);
	cr_assert(!n->queue && !n->closing);
	n->queue = a, n->queue_tail = b;
	uv_async_send(&n->wake);
	pthread_mutex_unlock(&n->mu);
	while (sem_wait(&a->done) != 0)
		;
	while (sem_wait(&b->done) != 0)
		;
	sem_destroy(&a->done);
	sem_destroy(&b->done);
}

/* A command of a type this build does not know (a newer build's, in a
 * mixed cluster) is not skipped as malformed: the node halts at it, the
 * entry after it is not applied either, and catalog calls are refused
 * naming the entry and "upgrade this node" instead of answering from a
 * copy that stopped short. A restart halts at it again. */
Test(meta_node, an_entry_of_a_newer_build_halts_the_node_before_it)
{
	const struct dann_catalog_ops *ops = meta_catalog_ops();
	const char *dir = tmpdir_path("meta");
	struct meta_node *n = open_node(dir, 0);
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = DANN_CAT_SEGMENT_ID, .count = 5 };
	struct meta_req ra, rb;
	struct meta_status before, st;
	struct meta_params p;
	struct dann_cat_coll *cl;
	void *unk, *next;
	size_t ulen, nlen, k;
	uint64_t v;
	uint8_t *b;

	create(n, "a");
	mt_encode(&c, 7, 1, &unk, &ulen);
	b = unk;
	b[6] = META_CMD_TYPE_MAX + 1;  /* the type field (u16 at byte 6), its checksum redone */
	meta_st32(b + ulen - 4, crc32c(0, b, ulen - 4));
	mt_encode(&c, 7, 2, &next, &nlen);  /* a command this build knows, after it */
	cr_assert_eq(meta_status(n, &before), 0, "%s", dann_errmsg());

	memset(&ra, 0, sizeof ra);
	memset(&rb, 0, sizeof rb);
	ra.kind = rb.kind = META_REQ_APPLY;
	ra.buf = unk, ra.len = ulen;
	rb.buf = next, rb.len = nlen;
	call_two(n, &ra, &rb);
	cr_assert_eq(ra.rc, DANN_EUNSUPPORTED, "the unknown entry: %d %s", ra.rc, ra.msg);
	cr_assert(strstr(ra.msg, "upgrade this node") && strstr(ra.msg, "unknown type 12"), "%s", ra.msg);
	cr_assert_eq(rb.rc, DANN_EUNSUPPORTED, "the entry after it: %d %s", rb.rc, rb.msg);

	/* Both are in the log; neither is applied, also not on later ticks. */
	usleep(300 * 1000);
	cr_assert_eq(meta_status(n, &st), 0, "%s", dann_errmsg());
	cr_assert_geq(st.last_index, before.last_index + 2, "last %llu, before %llu",
		      (unsigned long long)st.last_index, (unsigned long long)before.last_index);
	cr_assert_eq(st.applied_index, before.applied_index, "applied %llu, before %llu",
		     (unsigned long long)st.applied_index, (unsigned long long)before.applied_index);
	cr_assert_eq(meta_fsm_counter(meta_node_fsm(n), DANN_CAT_SEGMENT_ID), 1, "the alloc after it applied");

	/* Every catalog call says why instead of answering from this copy. */
	cr_assert_eq(ops->coll_list(n, &cl, &k), DANN_EUNSUPPORTED);
	cr_assert(strstr(dann_errmsg(), "upgrade this node"), "%s", dann_errmsg());
	cr_assert_eq(ops->counter(n, DANN_CAT_SEGMENT_ID, &v), DANN_EUNSUPPORTED);
	cr_assert_eq(ops->alloc(n, DANN_CAT_SEGMENT_ID, 1, &v), DANN_EUNSUPPORTED);
	cr_assert(strstr(dann_errmsg(), "upgrade this node"), "%s", dann_errmsg());
	meta_close(n);

	/* Restarted (the same build), the one voter halts at it again: libraft
	 * applies the log as it takes office, and the apply refuses. */
	meta_params_default(&p);
	p.dir = dir;
	cr_assert_lt(meta_open(&p, &n), 0, "a node with an entry it cannot apply started");
	cr_assert(strstr(dann_errmsg(), "upgrade this node"), "%s", dann_errmsg());
	free(unk);
	free(next);
}
