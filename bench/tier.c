/*
 * bench/tier.c — the multi-tenant case tiering exists for: many
 * collections in one tiered data directory, searches choosing a collection
 * by a Zipf law, the local cache at a fraction of the data.
 *
 * Builds --colls collections of --rows random rows (--dim float32, two
 * flushed segments each) in a data dir under --dir, syncs them to a
 * file:// store beside it, then for each cache budget (100%, 50%, 25% of
 * the segment bytes) reopens the data dir cold and runs --queries searches,
 * each in a collection drawn with P(rank r) ~ 1/r^s (--zipf, default 1.1).
 * Reported per budget: QPS, p50/p99 latency, recall@10 against brute
 * force, segment downloads and their rate per minute, evictions. One
 * thread, so the latency is the search's own plus any download it waits
 * for. Nothing passes or fails on a timing.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/error.h"
#include "../engine/fsutil.h"
#include "../engine/segment/seg_tier.h"

#define K 10
#define NAME_FMT "tenant%02u"

struct cfg {
	const char *dir;
	unsigned colls, rows, dim, queries;
	double zipf;
	int json;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

/* Row key of collection ci: the same vector every time it is asked for. */
static void vec(unsigned ci, int64_t key, unsigned dim, float *v)
{
	uint64_t x = ((uint64_t)ci << 40) + (uint64_t)key * 0x9E3779B97F4A7C15ull + 1;

	for (unsigned i = 0; i < dim; i++)
		v[i] = (float)(rng(&x) % 20001) / 10000.0f - 1.0f;
}

static int die(const char *what)
{
	fprintf(stderr, "bench_tier: %s: %s\n", what, dann_errmsg());
	return 1;
}

static int open_db(const struct cfg *g, const char *data, const char *uri, uint64_t budget, struct dann_db **db)
{
	struct dann_db_params p;

	dann_db_params_default(&p);
	p.store_uri = uri;
	p.tier_cache_bytes = budget;
	p.no_background = 1; /* the segments stay as built: no compaction between runs */
	p.sync_interval_ms = 600000;
	(void)g;
	return dann_db_open(data, &p, db);
}

static int fill(const struct cfg *g, struct dann_db *db, uint64_t *bytes)
{
	unsigned half = g->rows / 2;
	int64_t *keys = malloc(half * sizeof *keys);
	float *vecs = malloc((size_t)half * g->dim * sizeof *vecs);
	int rc = 0;

	*bytes = 0;
	for (unsigned ci = 0; ci < g->colls && rc == 0 && keys && vecs; ci++) {
		struct dann_schema s;
		struct dann_coll *c;
		struct dann_seg_info *si;
		size_t n;

		dann_schema_default(&s);
		snprintf(s.name, sizeof s.name, NAME_FMT, ci);
		s.dim = g->dim;
		if ((rc = dann_coll_create(db, &s)) < 0 || (rc = dann_coll_get(db, s.name, &c)) < 0)
			break;
		for (unsigned part = 0; part < 2 && rc == 0; part++) {
			struct dann_batch b = { .n = half, .keys = keys, .vectors = vecs };

			for (unsigned i = 0; i < half; i++) {
				keys[i] = (int64_t)part * half + i;
				vec(ci, keys[i], g->dim, vecs + (size_t)i * g->dim);
			}
			if ((rc = dann_coll_insert(c, &b, NULL)) == 0)
				rc = dann_coll_flush(c);
		}
		if (rc == 0 && (rc = dann_coll_segments(c, &si, &n)) == 0) {
			for (size_t i = 0; i < n; i++)
				*bytes += si[i].disk_bytes;
			free(si);
		}
	}
	if (!keys || !vecs)
		rc = dann_fail(DANN_ENOMEM, "fill");
	free(keys);
	free(vecs);
	return rc;
}

/* Exact top K of query q in collection ci. */
static void truth(const struct cfg *g, unsigned ci, const float *q, int64_t *best)
{
	float *v = malloc(g->dim * sizeof *v), bd[K];
	unsigned nb = 0;

	for (int64_t key = 0; key < (int64_t)(g->rows / 2 * 2); key++) {
		float d = 0;
		unsigned j;

		vec(ci, key, g->dim, v);
		for (j = 0; j < g->dim; j++)
			d += (q[j] - v[j]) * (q[j] - v[j]);
		if (nb == K && d >= bd[K - 1])
			continue;
		for (j = nb < K ? nb++ : K - 1; j > 0 && bd[j - 1] > d; j--) {
			bd[j] = bd[j - 1];
			best[j] = best[j - 1];
		}
		bd[j] = d;
		best[j] = key;
	}
	free(v);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int run_budget(const struct cfg *g, const char *data, const char *uri, uint64_t total, double frac,
		      const unsigned *pick, const float *qs, const int64_t *gt)
{
	uint64_t budget = (uint64_t)(total * frac);
	struct tier_cache_stats cs;
	struct dann_coll_search_params sp;
	struct dann_db *db;
	double *lat = malloc(g->queries * sizeof *lat), t0, wall;
	unsigned hits = 0;
	int rc;

	if (!lat)
		return dann_fail(DANN_ENOMEM, "latencies");
	if ((rc = open_db(g, data, uri, frac >= 1.0 ? 0 : budget, &db)) < 0) {
		free(lat);
		return rc;
	}
	dann_coll_search_params_default(&sp);
	sp.k = K;
	t0 = now_s();
	for (unsigned i = 0; i < g->queries && rc == 0; i++) {
		char name[32];
		struct dann_coll *c;
		int64_t keys[K];
		float dists[K];
		uint32_t found;
		double t = now_s();

		snprintf(name, sizeof name, NAME_FMT, pick[i]);
		if ((rc = dann_coll_get(db, name, &c)) < 0 ||
		    (rc = dann_coll_search(c, qs + (size_t)i * g->dim, &sp, keys, dists, &found, NULL)) < 0)
			break;
		lat[i] = now_s() - t;
		for (unsigned a = 0; a < found; a++)
			for (unsigned b = 0; b < K; b++)
				hits += keys[a] == gt[(size_t)i * K + b];
	}
	wall = now_s() - t0;
	if (rc == 0 && (rc = seg_tier_stats(db, &cs, NULL)) == 0) {
		qsort(lat, g->queries, sizeof *lat, cmp_d);
		printf(g->json ? "{\"bench\": \"tier_multitenant\", \"collections\": %u, \"rows_per_collection\": %u, "
				 "\"dim\": %u, \"zipf_s\": %.2f, \"cache_fraction\": %.2f, \"cache_bytes\": %llu, "
				 "\"data_bytes\": %llu, \"queries\": %u, \"qps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
				 "\"recall_at_10\": %.4f, \"fetches\": %llu, \"fetches_per_min\": %.1f, \"evictions\": %llu}\n"
			       : "%u colls x %u rows x %u-d, zipf %.2f, cache %.0f%% (%llu of %llu B): %u queries, "
				 "%.1f QPS, p50 %.3f ms, p99 %.3f ms, recall@10 %.4f, %llu fetches (%.1f/min), "
				 "%llu evictions\n",
		       g->colls, g->rows, g->dim, g->zipf, g->json ? frac : frac * 100, (unsigned long long)budget,
		       (unsigned long long)total, g->queries, g->queries / wall, lat[g->queries / 2] * 1e3,
		       lat[(size_t)(g->queries * 0.99)] * 1e3, (double)hits / (g->queries * K),
		       (unsigned long long)cs.fetches, cs.fetches / (wall / 60), (unsigned long long)cs.evictions);
		fflush(stdout);
	}
	dann_db_close(db);
	free(lat);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "dir", required_argument, 0, 'd' },    { "colls", required_argument, 0, 'c' },
		{ "rows", required_argument, 0, 'r' },   { "dim", required_argument, 0, 'D' },
		{ "queries", required_argument, 0, 'q' }, { "zipf", required_argument, 0, 'z' },
		{ "json", no_argument, 0, 'j' },         { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct cfg g = { .dir = "/tmp", .colls = 20, .rows = 4000, .dim = 64, .queries = 2000, .zipf = 1.1 };
	static const double fracs[] = { 1.0, 0.5, 0.25 };
	char base[1024], data[1100], uri[1200];
	double *cdf = NULL, acc = 0;
	unsigned *pick = NULL;
	float *qs = NULL;
	int64_t *gt = NULL;
	struct dann_db *db = NULL;
	uint64_t total = 0, x = 42;
	int c, status = 1;

	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'd': g.dir = optarg; break;
		case 'c': g.colls = (unsigned)atoi(optarg); break;
		case 'r': g.rows = (unsigned)atoi(optarg); break;
		case 'D': g.dim = (unsigned)atoi(optarg); break;
		case 'q': g.queries = (unsigned)atoi(optarg); break;
		case 'z': g.zipf = atof(optarg); break;
		case 'j': g.json = 1; break;
		default:
			printf("usage: bench_tier [--dir /tmp] [--colls 20] [--rows 4000] [--dim 64] "
			       "[--queries 2000] [--zipf 1.1] [--json]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (g.colls < 1 || g.colls > 99 || g.rows < 2 * K || g.dim < 1 || g.queries < 1 || g.zipf <= 0) {
		fprintf(stderr, "bench_tier: bad option value\n");
		return 2;
	}
	snprintf(base, sizeof base, "%s/bench_tier.%d", g.dir, (int)getpid());
	snprintf(data, sizeof data, "%s/data", base);
	snprintf(uri, sizeof uri, "file://%s/bucket", base);
	if (!(cdf = malloc(g.colls * sizeof *cdf)) || !(pick = malloc(g.queries * sizeof *pick)) ||
	    !(qs = malloc((size_t)g.queries * g.dim * sizeof *qs)) || !(gt = malloc((size_t)g.queries * K * sizeof *gt))) {
		fprintf(stderr, "bench_tier: out of memory\n");
		goto out;
	}
	for (unsigned i = 0; i < g.colls; i++)
		cdf[i] = acc += 1.0 / pow(i + 1, g.zipf);
	for (unsigned i = 0; i < g.queries; i++) {
		double u = (double)(rng(&x) % 1000000) / 1e6 * acc;
		unsigned ci = 0;

		while (ci + 1 < g.colls && cdf[ci] < u)
			ci++;
		pick[i] = ci;
		vec(1000 + ci, 1000000 + i, g.dim, qs + (size_t)i * g.dim);
		truth(&g, ci, qs + (size_t)i * g.dim, gt + (size_t)i * K);
	}
	if (open_db(&g, data, uri, 0, &db) < 0 || fill(&g, db, &total) < 0) {
		status = die("building the collections");
		goto out;
	}
	if (seg_tier_sync_wait(db) < 0) {
		status = die("syncing to the store");
		goto out;
	}
	dann_db_close(db);
	db = NULL;
	status = 0;
	for (size_t i = 0; i < sizeof fracs / sizeof fracs[0] && status == 0; i++)
		if (run_budget(&g, data, uri, total, fracs[i], pick, qs, gt) < 0)
			status = die("searching");
out:
	dann_db_close(db);
	fsu_rmtree(base);
	free(cdf);
	free(pick);
	free(qs);
	free(gt);
	return status;
}
