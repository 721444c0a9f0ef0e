/*
 * bench/meta.c — the replicated catalog's figures (issue 13):
 *   - commits per second, one client and 16 concurrent, for the embedded
 *     single voter (in-process, meta_submit) and a 3-process cluster on
 *     loopback (clients through the request ports, as `dann cluster` does);
 *   - failover: kill -9 of the leader until the survivors agree on a new
 *     one, and until a command commits again (median of --kills runs);
 *   - catch-up: a follower down while the cluster commits --behind
 *     commands (past the snapshot threshold, so it needs a snapshot) is
 *     restarted; time until it has applied the leader's commit index.
 * Prints a table, or one JSON object per figure with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/error.h"
#include "../meta/meta.h"
#include "../meta/meta_client.h"
#include "cluster_proc.h"

#define MAX_CLIENTS 16
#define SNAP_THRESHOLD 1024

struct opts {
	const char *dann;
	int json;
	double seconds;
	unsigned kills;
	unsigned behind;
};

struct load {
	struct meta_node *node;       /* embedded, or */
	struct meta_client *mc;       /* a cluster client */
	double until;
	atomic_uint_fast64_t done;
	atomic_int failed;
};

static int one_alloc(struct load *l)
{
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = DANN_CAT_TIMESTAMP, .count = 1 };

	return l->node ? meta_submit(l->node, &c, NULL) : meta_client_submit(l->mc, &c, NULL);
}

static void *load_main(void *arg)
{
	struct load *l = arg;

	while (cproc_now_s() < l->until) {
		if (one_alloc(l) < 0) {
			fprintf(stderr, "bench_meta: %s\n", dann_errmsg());
			atomic_store(&l->failed, 1);
			return NULL;
		}
		atomic_fetch_add(&l->done, 1);
	}
	return NULL;
}

static double commits_per_s(struct meta_node *node, struct meta_client *mc, unsigned clients, double seconds)
{
	struct load l = { .node = node, .mc = mc };
	pthread_t th[MAX_CLIENTS];
	double t0 = cproc_now_s();

	l.until = t0 + seconds;
	for (unsigned i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, load_main, &l);
	for (unsigned i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	return atomic_load(&l.failed) ? -1 : (double)atomic_load(&l.done) / (cproc_now_s() - t0);
}

static void row_commits(const struct opts *o, const char *mode, unsigned clients, double rate)
{
	if (o->json)
		printf("{\"bench\": \"meta\", \"figure\": \"commits\", \"mode\": \"%s\", \"clients\": %u, "
		       "\"commits_per_s\": %.0f}\n", mode, clients, rate);
	else
		printf("commits/s  %-22s %2u clients  %8.0f\n", mode, clients, rate);
}

static int embedded(const struct opts *o, const char *base)
{
	struct meta_params p;
	struct meta_node *n;
	char dir[300];
	unsigned cl[2] = { 1, 16 };

	snprintf(dir, sizeof dir, "%s/embedded", base);
	meta_params_default(&p);
	p.dir = dir;
	if (meta_open(&p, &n) < 0)
		return -1;
	for (int i = 0; i < 2; i++)
		row_commits(o, "embedded (1 voter)", cl[i], commits_per_s(n, NULL, cl[i], o->seconds));
	meta_close(n);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int failover(const struct opts *o, struct cproc *c, struct meta_client *mc)
{
	double elected[32], committed[32];
	unsigned runs = o->kills < 32 ? o->kills : 32;

	for (unsigned k = 0; k < runs; k++) {
		int leader = cproc_leader(c, 10000), nl;
		struct meta_client fresh;
		double t0;

		if (leader < 0)
			return dann_fail(DANN_ETIMEDOUT, "failover: no leader before kill %u", k + 1);
		cproc_kill(c, (unsigned)leader);
		t0 = cproc_now_s();
		if ((nl = cproc_leader(c, 20000)) < 0)
			return dann_fail(DANN_ETIMEDOUT, "failover: no new leader within 20 s of kill %u", k + 1);
		elected[k] = cproc_now_s() - t0;
		if (meta_client_init(&fresh, c->peers, 20000) < 0)
			return -1;
		{
			struct load l = { .mc = &fresh };

			if (one_alloc(&l) < 0)
				return -1;
		}
		committed[k] = cproc_now_s() - t0;
		if (cproc_start(c, (unsigned)leader, 0) < 0)
			return -1;
		/* Let the restarted node catch up before the next kill. */
		nanosleep(&(struct timespec){ 1, 500000000L }, NULL);
	}
	(void)mc;
	qsort(elected, runs, sizeof *elected, cmp_double);
	qsort(committed, runs, sizeof *committed, cmp_double);
	if (o->json)
		printf("{\"bench\": \"meta\", \"figure\": \"failover\", \"kills\": %u, \"median_elected_s\": %.3f, "
		       "\"max_elected_s\": %.3f, \"median_first_commit_s\": %.3f, \"election_timeout_ms\": 1000}\n",
		       runs, elected[runs / 2], elected[runs - 1], committed[runs / 2]);
	else
		printf("failover   %u kills of the leader: new leader median %.2f s (max %.2f), first commit "
		       "median %.2f s\n", runs, elected[runs / 2], elected[runs - 1], committed[runs / 2]);
	return 0;
}

static int catch_up(const struct opts *o, struct cproc *c, struct meta_client *mc)
{
	int leader = cproc_leader(c, 10000), f;
	struct meta_status ls, fs;
	struct load l = { .mc = mc };
	double t0;

	if (leader < 0)
		return dann_fail(DANN_ETIMEDOUT, "catch-up: no leader");
	f = (leader + 1) % (int)c->n;
	cproc_kill(c, (unsigned)f);
	for (unsigned i = 0; i < o->behind; i++)
		if (one_alloc(&l) < 0)
			return -1;
	if (meta_client_status(c->nodes[leader].addr, 2000, &ls) < 0)
		return -1;
	t0 = cproc_now_s();
	if (cproc_start(c, (unsigned)f, 0) < 0)
		return -1;
	for (;;) {
		if (meta_client_status(c->nodes[f].addr, 1000, &fs) == 0 && fs.applied_index >= ls.commit_index)
			break;
		if (cproc_now_s() - t0 > 60)
			return dann_fail(DANN_ETIMEDOUT, "catch-up: node %d not caught up after 60 s", f + 1);
		nanosleep(&(struct timespec){ 0, 5000000L }, NULL);
	}
	if (o->json)
		printf("{\"bench\": \"meta\", \"figure\": \"catch-up\", \"entries_behind\": %u, "
		       "\"snapshot_threshold\": %d, \"seconds\": %.3f}\n", o->behind, SNAP_THRESHOLD,
		       cproc_now_s() - t0);
	else
		printf("catch-up   %u entries behind (snapshot every %d): %.2f s from restart (process start "
		       "included)\n", o->behind, SNAP_THRESHOLD, cproc_now_s() - t0);
	return 0;
}

static int cluster(const struct opts *o, const char *base)
{
	struct cproc c;
	struct meta_client mc;
	unsigned cl[2] = { 1, 16 };
	int rc = -1;

	if (cproc_init(&c, o->dann, 3, base, SNAP_THRESHOLD) < 0)
		return -1;
	for (unsigned i = 0; i < 3; i++)
		if (cproc_start(&c, i, 0) < 0)
			goto out;
	if (cproc_leader(&c, 10000) < 0 || meta_client_init(&mc, c.peers, 20000) < 0) {
		dann_fail(DANN_ETIMEDOUT, "cluster: no leader");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		double r = commits_per_s(NULL, &mc, cl[i], o->seconds);

		if (r < 0)
			goto out;
		row_commits(o, "3 processes, loopback", cl[i], r);
	}
	if (failover(o, &c, &mc) < 0 || catch_up(o, &c, &mc) < 0)
		goto out;
	rc = 0;
out:
	cproc_shutdown(&c);
	return rc;
}

static void default_dann(char *buf, size_t cap)
{
	ssize_t k = readlink("/proc/self/exe", buf, cap - 8);
	char *slash;

	buf[k > 0 ? k : 0] = '\0';
	slash = strrchr(buf, '/');
	snprintf(slash ? slash + 1 : buf, 8, "dann");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dann", required_argument, NULL, 'd' }, { "json", no_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },      { "kills", required_argument, NULL, 'k' },
		{ "seconds", required_argument, NULL, 's' }, { "behind", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .seconds = 3, .kills = 5, .behind = 5000 };
	char dann[PATH_MAX], base[] = "/tmp/dann_bench_meta_XXXXXX", cmd[300];
	int c, rc;

	default_dann(dann, sizeof dann);
	o.dann = dann;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dann = optarg; break;
		case 'j': o.json = 1; break;
		case 'q': o.seconds = 1, o.kills = 3, o.behind = 2000; break;
		case 'k': o.kills = (unsigned)atoi(optarg); break;
		case 's': o.seconds = atof(optarg); break;
		case 'b': o.behind = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [--json] [--quick] [--dann PATH] [--kills N] [--seconds S] "
					"[--behind N]\n", argv[0]);
			return 2;
		}
	}
	if (o.kills < 1 || o.seconds <= 0) {
		fprintf(stderr, "bench_meta: --kills >= 1 and --seconds > 0\n");
		return 2;
	}
	if (!mkdtemp(base)) {
		fprintf(stderr, "bench_meta: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = embedded(&o, base);
	if (rc == 0)
		rc = cluster(&o, base);
	if (rc < 0)
		fprintf(stderr, "bench_meta: %s\n", dann_errmsg());
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_meta: could not remove %s\n", base);
	return rc < 0;
}
