/*
 * test_seg_crash.c — kill -9 at random moments and at named failpoints
 * (during appends, seal builds, swaps, compaction), then check that the
 * reopened collection holds exactly the acknowledged writes.
 *
 * A child process does random insert / upsert / delete batches (with
 * flushes and compactions among them) on a collection with a small seal
 * threshold, so builds and swaps happen all the time. Before each write it
 * sends the parent an "intent" message and after it returns an "ack"
 * (each message one write() below PIPE_BUF, so it arrives whole or not at
 * all). The parent SIGKILLs it — or the child kills itself at the
 * failpoint named in DANN_FAILPOINT — then reopens the data directory and
 * checks every key: acknowledged rows are there with their latest vector
 * and found by search, deleted ones stay deleted, the one write in flight
 * is applied wholly or not at all, and no half-built segment or stage is
 * left. The model carries over to the next round on the same directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seg_testutil.h"

#define CR_DIM 8
#define CR_KEYS 2500
#define CR_BATCH 40
#define CR_BUDGET_S 30.0

static void setup(void) { tmpdir_make("seg_crash"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_crash, .init = setup, .fini = teardown, .timeout = 300);

enum { OP_INSERT = 1, OP_UPSERT = 2, OP_DELETE = 3 };

struct msg {
	uint32_t kind;   /* 1 intent, 2 ack */
	uint32_t op, n, ver;
	int64_t keys[CR_BATCH];
};

static int32_t model[CR_KEYS + 1]; /* -1 absent, else the version of its vector */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

static void die(const char *what)
{
	fprintf(stderr, "crash child: %s: %s\n", what, dann_errmsg());
	_exit(3);
}

static void send_msg(int fd, const struct msg *m)
{
	if (write(fd, m, sizeof *m) != (ssize_t)sizeof *m)
		_exit(4);
}

/* The child: random writes until killed. */
static void child(int fd, uint64_t seed, const char *fp)
{
	struct dann_db_params p;
	struct dann_db *db;
	struct dann_coll *c;
	static float vecs[CR_BATCH * CR_DIM];
	uint32_t ver = (uint32_t)(seed % 100000) * 100 + 1;

	if (fp)
		setenv("DANN_FAILPOINT", fp, 1);
	dann_db_params_default(&p);
	p.threads = 1;
	if (dann_db_open(tmpdir_path("data"), &p, &db) < 0 || dann_coll_get(db, "crash", &c) < 0)
		die("open");
	for (uint64_t step = 0;; step++) {
		struct msg m = { .kind = 1 };
		uint64_t r = rnd(&seed) % 100;
		m.op = r < 50 ? OP_INSERT : r < 75 ? OP_UPSERT : OP_DELETE;
		m.ver = m.op == OP_INSERT ? 0 : ver++;
		uint32_t want = 1 + (uint32_t)(rnd(&seed) % CR_BATCH);
		for (uint32_t tries = 0; m.n < want && tries < 4 * CR_BATCH; tries++) {
			int64_t k = 1 + (int64_t)(rnd(&seed) % CR_KEYS);
			bool dup = false;
			for (uint32_t j = 0; j < m.n; j++)
				dup |= m.keys[j] == k;
			if (dup || (m.op == OP_INSERT && model[k] >= 0) ||
			    (m.op != OP_INSERT && model[k] < 0 && rnd(&seed) % 4))
				continue;
			m.keys[m.n++] = k;
		}
		if (!m.n)
			continue;
		for (uint32_t j = 0; j < m.n; j++)
			st_vec_v(m.keys[j], m.ver, CR_DIM, vecs + j * CR_DIM);
		send_msg(fd, &m);
		struct dann_batch b = { .n = m.n, .keys = m.keys, .vectors = vecs };
		int rc = m.op == OP_INSERT ? dann_coll_insert(c, &b, NULL)
			 : m.op == OP_UPSERT ? dann_coll_upsert(c, &b)
					     : dann_coll_delete(c, m.keys, m.n, NULL);
		if (rc < 0)
			die("write");
		for (uint32_t j = 0; j < m.n; j++)
			model[m.keys[j]] = m.op == OP_DELETE ? -1 : (int32_t)m.ver;
		m.kind = 2;
		send_msg(fd, &m);
		if (step % 37 == 36 && dann_coll_flush(c) < 0)
			die("flush");
		if (step % 53 == 52 && dann_coll_compact(c) < 0)
			die("compact");
	}
}

/* The state of key in the reopened collection: -1 absent, else the
 * version whose vector it holds, or -2 if it matches none of cands. */
static int32_t observe(struct dann_coll *c, int64_t key, const int32_t *cands, int ncand)
{
	float v[CR_DIM], w[CR_DIM];
	int rc = dann_coll_get_vector(c, key, v);

	if (rc == DANN_ENOTFOUND)
		return -1;
	cr_assert_eq(rc, 0, "get %lld: %s", (long long)key, dann_errmsg());
	for (int i = 0; i < ncand; i++) {
		if (cands[i] < 0)
			continue;
		st_vec_v(key, (uint32_t)cands[i], CR_DIM, w);
		if (!memcmp(v, w, sizeof v))
			return cands[i];
	}
	return -2;
}

/* Settles the write that was in flight: all of it or none of it. */
static void settle(struct dann_coll *c, const struct msg *m)
{
	int applied = 0, kept = 0;

	for (uint32_t j = 0; j < m->n; j++) {
		int64_t k = m->keys[j];
		int32_t newv = m->op == OP_DELETE ? -1 : (int32_t)m->ver;
		int32_t cands[2] = { model[k], newv };
		int32_t got = observe(c, k, cands, 2);
		cr_assert_neq(got, -2, "key %lld holds a vector of neither its old nor new version",
			      (long long)k);
		if (newv == model[k])
			continue; /* a delete of an absent key tells nothing */
		applied += got == newv;
		kept += got == model[k];
		model[k] = got;
	}
	cr_assert(!(applied && kept), "a write was applied in part: %d keys new, %d old", applied, kept);
}

static void check_no_leftovers(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/c1", tmpdir_path("data"));
	DIR *d = opendir(path);
	struct dirent *de;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		cr_assert_null(strstr(de->d_name, ".tmp"), "leftover %s", de->d_name);
	closedir(d);
}

static void verify(uint64_t round, int sample_search)
{
	struct dann_db *db = st_open(0);
	struct dann_coll *c;
	uint64_t live = 0, count;

	check_no_leftovers();
	cr_assert_eq(dann_coll_get(db, "crash", &c), 0);
	for (int64_t k = 1; k <= CR_KEYS; k++) {
		int32_t got = observe(c, k, &model[k], 1);
		cr_assert_eq(got, model[k], "round %llu: key %lld holds %d, acknowledged %d",
			     (unsigned long long)round, (long long)k, got, model[k]);
		live += model[k] >= 0;
		if (model[k] >= 0 && k % sample_search == 0) {
			float v[CR_DIM];
			st_vec_v(k, (uint32_t)model[k], CR_DIM, v);
			cr_assert_eq(st_findable(c, k, v), 1, "round %llu: key %lld not found",
				     (unsigned long long)round, (long long)k);
		}
	}
	cr_assert_eq(dann_coll_count(c, &count), 0);
	cr_assert_eq(count, live, "round %llu: count %llu, acknowledged %llu", (unsigned long long)round,
		     (unsigned long long)count, (unsigned long long)live);
	dann_db_close(db);
}

Test(seg_crash, every_acknowledged_write_survives_kill_9)
{
	static const char *const points[] = { NULL, "append", "build", "swap", "swapped",
					      "compact", "compacted", NULL };
	const int npoints = sizeof points / sizeof points[0];
	struct dann_schema s;
	uint64_t seed = 0x5eed, rounds = 0, fired = 0, acks = 0;
	double t0 = now_s();

	for (int k = 0; k <= CR_KEYS; k++)
		model[k] = -1;
	struct dann_db *db = st_open(0);
	st_schema(&s, "crash", CR_DIM);
	s.seal_rows = 300;
	s.index.R = 8;
	s.index.L = 16;
	st_create(db, &s);
	dann_db_close(db);

	while (now_s() - t0 < CR_BUDGET_S) {
		const char *fp = points[rounds % npoints];
		int pfd[2];
		cr_assert_eq(pipe(pfd), 0);
		rnd(&seed);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(pfd[0]);
			child(pfd[1], seed, fp);
			_exit(0);
		}
		close(pfd[1]);
		/* a failpoint gets time to be reached; otherwise a random moment */
		useconds_t wait_us = fp ? 1000000 : (useconds_t)(20000 + rnd(&seed) % 400000);
		int st = 0;
		for (useconds_t t = 0; t < wait_us; t += 5000) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				pid = 0;
				break;
			}
			usleep(5000);
		}
		if (pid) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		} else {
			fired++;
		}
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			  "round %llu: the child ended on its own (status %d): it hit an error",
			  (unsigned long long)rounds, st);
		struct msg m, pending = { 0 };
		while (read(pfd[0], &m, sizeof m) == (ssize_t)sizeof m) {
			if (m.kind == 1) {
				pending = m;
				continue;
			}
			for (uint32_t j = 0; j < m.n; j++)
				model[m.keys[j]] = m.op == OP_DELETE ? -1 : (int32_t)m.ver;
			pending.n = 0;
			acks++;
		}
		close(pfd[0]);
		if (pending.n) {
			struct dann_db *d2 = st_open(0);
			struct dann_coll *c;
			cr_assert_eq(dann_coll_get(d2, "crash", &c), 0);
			settle(c, &pending);
			dann_db_close(d2);
		}
		verify(rounds, 17);
		rounds++;
	}
	cr_log_info("crash test: %llu rounds, %llu ended at their failpoint, %llu acknowledged writes",
		    (unsigned long long)rounds, (unsigned long long)fired, (unsigned long long)acks);
	cr_assert_geq(acks, 100, "too few writes to mean anything");
	cr_assert_geq(rounds, 10, "too few rounds to mean anything");
	cr_assert_geq(fired, 3, "the failpoints were never reached");
}
