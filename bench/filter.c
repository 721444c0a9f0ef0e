/*
 * bench/filter.c — filtered search on one disk index: recall@10, QPS and
 * SSD reads per query for each plan (auto, beam, uncounted, exact) and
 * list size L, with the allowed rows given as mask files. bench/filter.py
 * makes the masks (Fashion-MNIST labels, a synthetic field at
 * 50/10/1/0.1%), the ground truth over the allowed rows, and runs faiss
 * beside it.
 *
 *   bench_filter --index DIR --queries FILE
 *                (--case NAME,MASK,GT ... | --gt FILE [--mask FILE] [--name NAME])
 *                [--plans auto,beam,uncounted,exact] [--L 16,32,64]
 *                [--threads 2] [--inflight 16] [--reps 3] [--target 0.95]
 *                [--max-reads 5000]
 *
 * Every case (one filter: its mask, "-" for none, and its ground truth)
 * runs in one process on one open index. For each L the plans run in turn,
 * --reps rounds of them, so the plans are measured side by side under the
 * same machine load. A plan stops climbing L one step after it reaches
 * --target, or once its reads per query pass --max-reads.
 *
 * Mask file: raw little-endian uint64 words, bit i of word i/64 set when
 * row i is allowed (dann_search_params.allowed). One JSON object per line
 * out: {name, selectivity, plan, plan_ran, L, recall, qps, mean_reads},
 * and per case and plan a summary {summary: true, name, selectivity, plan,
 * target, reached, L, recall, qps, mean_reads, reads_at_target,
 * qps_at_target}: the smallest L reaching the target (or the best recall
 * seen), and reads and QPS at the target itself, interpolated between it
 * and the L below. QPS is the median of the rounds; nothing here passes or
 * fails on time.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../engine/dann.h"
#include "../engine/vf.h"

#define K 10
#define MAX_L 64
#define MAX_PLANS 4
#define MAX_CASES 32
#define MAX_REPS 16

struct bcase {
	char name[64], mask[512], gt[512];
};

struct point {
	bool ran;
	double recall, qps, reads;
	uint32_t L, plan_ran;
};

struct run {
	struct dann_index *ix;
	struct dann_index_info info;
	const float *q;
	uint64_t nq;
	uint32_t threads, inflight, reps;
	uint32_t *ids, *found;
	float *dists;
	struct dann_search_stats *st;
};

/* By enum dann_filter_plan; stats.plan is 0 when no mask was given. */
static const char *plan_names[] = { "auto", "beam", "exact", "uncounted" };

static const char *ran_name(uint32_t plan)
{
	return plan == 0 ? "none" : plan < MAX_PLANS ? plan_names[plan] : "?";
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int die(const char *what)
{
	fprintf(stderr, "bench_filter: %s: %s\n", what, dann_errmsg());
	return 1;
}

static int plan_of(const char *name)
{
	for (int i = 0; i < MAX_PLANS; i++)
		if (!strcmp(name, plan_names[i]))
			return i;
	return -1;
}

static uint64_t *read_mask(const char *path, uint64_t *words)
{
	struct stat st;
	uint64_t *w;
	FILE *f = fopen(path, "rb");

	if (!f || fstat(fileno(f), &st) < 0 || st.st_size % 8) {
		fprintf(stderr, "bench_filter: %s: not a mask file\n", path);
		if (f)
			fclose(f);
		return NULL;
	}
	*words = (uint64_t)st.st_size / 8;
	w = malloc((size_t)st.st_size + 8);
	if (!w || fread(w, 8, *words, f) != *words) {
		fprintf(stderr, "bench_filter: %s: short read\n", path);
		free(w);
		w = NULL;
	}
	fclose(f);
	return w;
}

static int parse_case(const char *arg, struct bcase *c)
{
	const char *a = strchr(arg, ','), *b = a ? strchr(a + 1, ',') : NULL;

	if (!a || !b || a - arg >= (long)sizeof c->name || b - a - 1 >= (long)sizeof c->mask ||
	    strlen(b + 1) >= sizeof c->gt) {
		fprintf(stderr, "bench_filter: --case %s: expected NAME,MASK,GT\n", arg);
		return -1;
	}
	snprintf(c->name, sizeof c->name, "%.*s", (int)(a - arg), arg);
	snprintf(c->mask, sizeof c->mask, "%.*s", (int)(b - a - 1), a + 1);
	snprintf(c->gt, sizeof c->gt, "%s", b + 1);
	return 0;
}

/* Recall@K of the last search against the ground truth (rows of gtk ids,
 * negative ids padding) and its mean reads per query. */
static void score(const struct run *r, const uint32_t *gt, uint32_t gtk, struct point *p)
{
	uint32_t kk = gtk < K ? gtk : K;

	p->recall = p->reads = 0;
	for (uint64_t i = 0; i < r->nq; i++) {
		uint32_t hit = 0, truth = 0;
		for (uint32_t g = 0; g < kk; g++) {
			int32_t id = (int32_t)gt[i * gtk + g];
			if (id < 0)
				continue;
			truth++;
			for (uint32_t j = 0; j < r->found[i]; j++)
				hit += r->ids[i * K + j] == (uint32_t)id;
		}
		p->recall += truth ? (double)hit / truth : 1.0;
		p->reads += r->st[i].reads;
	}
	p->recall /= r->nq;
	p->reads /= r->nq;
	p->plan_ran = r->st[0].plan;
}

static void print_point(const char *name, double sel, int plan, const struct point *p)
{
	printf("{\"name\": \"%s\", \"selectivity\": %.6f, \"plan\": \"%s\", \"plan_ran\": \"%s\", "
	       "\"L\": %u, \"recall\": %.4f, \"qps\": %.1f, \"mean_reads\": %.2f}\n",
	       name, sel, plan_names[plan], ran_name(p->plan_ran),
	       p->L, p->recall, p->qps, p->reads);
	fflush(stdout);
}

/* One case: every L, the plans side by side in each round. */
static int run_case(struct run *r, const struct bcase *c, const int *plans, uint32_t nplans,
		    const uint32_t *L, uint32_t nL, double target, double max_reads)
{
	struct point pts[MAX_PLANS][MAX_L] = { { { 0 } } };
	bool active[MAX_PLANS], past[MAX_PLANS] = { 0 };
	uint64_t words = 0, allowed = r->info.n, *mask = NULL;
	struct vf *gf;
	uint32_t gtk, *gt;
	double sel;

	if (strcmp(c->mask, "-")) {
		if (!(mask = read_mask(c->mask, &words)))
			return 1;
		allowed = 0;
		for (uint64_t i = 0; i < words; i++)
			allowed += (uint64_t)__builtin_popcountll(mask[i]);
	}
	if (vf_open(c->gt, &gf) < 0)
		return die(c->gt);
	gtk = vf_dim(gf);
	if (vf_count(gf) < r->nq || gtk < 1) {
		fprintf(stderr, "bench_filter: %s: %llu rows for %llu queries\n", c->gt,
			(unsigned long long)vf_count(gf), (unsigned long long)r->nq);
		return 1;
	}
	gt = malloc(sizeof *gt * r->nq * gtk);
	if (!gt || vf_read(gf, 0, r->nq, gt) < 0)
		return die(c->gt);
	vf_close(gf);
	sel = (double)allowed / r->info.n;
	for (uint32_t pi = 0; pi < nplans; pi++)
		active[pi] = true;
	for (uint32_t li = 0; li < nL; li++) {
		double t[MAX_PLANS][MAX_REPS];
		struct dann_search_params sp;
		dann_search_params_default(&sp);
		sp.k = K;
		sp.L = L[li] < K ? K : L[li];
		sp.threads = r->threads;
		sp.inflight = r->inflight;
		sp.allowed = mask;
		sp.allowed_bits = mask ? r->info.n : 0;
		for (uint32_t rep = 0; rep < r->reps; rep++)
			for (uint32_t pi = 0; pi < nplans; pi++) {
				double t0;
				if (!active[pi])
					continue;
				sp.filter_plan = plans[pi];
				t0 = now_s();
				if (dann_search_batch(r->ix, r->q, r->nq, &sp, r->ids, r->dists, r->found,
						      r->st) < 0)
					return die("search");
				t[pi][rep] = now_s() - t0;
				if (rep == 0)
					score(r, gt, gtk, &pts[pi][li]);
			}
		for (uint32_t pi = 0; pi < nplans; pi++) {
			struct point *p = &pts[pi][li];
			if (!active[pi])
				continue;
			qsort(t[pi], r->reps, sizeof t[pi][0], cmp_double);
			p->ran = true;
			p->L = sp.L;
			p->qps = r->nq / t[pi][r->reps / 2];
			print_point(c->name, sel, plans[pi], p);
			if (past[pi] || p->reads > max_reads)
				active[pi] = false;
			past[pi] |= p->recall >= target;
		}
	}
	for (uint32_t pi = 0; pi < nplans; pi++) {
		const struct point *best = NULL, *below = NULL;
		double reads_at, qps_at;
		for (uint32_t li = 0; li < nL; li++) {
			const struct point *p = &pts[pi][li];
			if (!p->ran)
				continue;
			if (p->recall >= target) {
				best = p;
				break;
			}
			below = p;
			if (!best || p->recall > best->recall)
				best = p;
		}
		if (!best)
			continue;
		/* At equal recall: reads and QPS interpolated linearly in recall
		 * between the L just below the target and the first reaching it. */
		reads_at = best->reads;
		qps_at = best->qps;
		if (best->recall >= target && below && below->recall < best->recall) {
			double f = (target - below->recall) / (best->recall - below->recall);
			reads_at = below->reads + f * (best->reads - below->reads);
			qps_at = below->qps + f * (best->qps - below->qps);
		}
		printf("{\"summary\": true, \"name\": \"%s\", \"selectivity\": %.6f, \"plan\": \"%s\", "
		       "\"plan_ran\": \"%s\", \"target\": %.3f, \"reached\": %s, \"L\": %u, "
		       "\"recall\": %.4f, \"qps\": %.1f, \"mean_reads\": %.2f, "
		       "\"reads_at_target\": %.2f, \"qps_at_target\": %.1f}\n",
		       c->name, sel, plan_names[plans[pi]], ran_name(best->plan_ran), target,
		       best->recall >= target ? "true" : "false", best->L, best->recall, best->qps,
		       best->reads, reads_at, qps_at);
	}
	fflush(stdout);
	free(gt);
	free(mask);
	return 0;
}

int main(int argc, char **argv)
{
	const char *index = NULL, *qpath = NULL, *gtpath = NULL, *mpath = NULL, *name = "none";
	char plans_s[128] = "auto,beam,exact", Ls[256] = "16,32,64,100";
	struct bcase cases[MAX_CASES];
	uint32_t ncases = 0, nL = 0, L[MAX_L], nplans = 0;
	int plans[MAX_PLANS];
	double target = 0.95, max_reads = 5000;
	struct run r = { .threads = 2, .inflight = 16, .reps = 3 };
	struct vf *qf;
	float *q;
	static const struct option opts[] = {
		{ "index", 1, 0, 'i' }, { "queries", 1, 0, 'q' }, { "gt", 1, 0, 'g' },
		{ "mask", 1, 0, 'm' }, { "name", 1, 0, 'n' }, { "plans", 1, 0, 'p' },
		{ "L", 1, 0, 'L' }, { "threads", 1, 0, 't' }, { "inflight", 1, 0, 'f' },
		{ "reps", 1, 0, 'r' }, { "case", 1, 0, 'c' }, { "target", 1, 0, 'T' },
		{ "max-reads", 1, 0, 'M' }, { 0, 0, 0, 0 },
	};
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': index = optarg; break;
		case 'q': qpath = optarg; break;
		case 'g': gtpath = optarg; break;
		case 'm': mpath = optarg; break;
		case 'n': name = optarg; break;
		case 'p': snprintf(plans_s, sizeof plans_s, "%s", optarg); break;
		case 'L': snprintf(Ls, sizeof Ls, "%s", optarg); break;
		case 't': r.threads = (uint32_t)atoi(optarg); break;
		case 'f': r.inflight = (uint32_t)atoi(optarg); break;
		case 'r': r.reps = (uint32_t)atoi(optarg); break;
		case 'T': target = atof(optarg); break;
		case 'M': max_reads = atof(optarg); break;
		case 'c':
			if (ncases == MAX_CASES || parse_case(optarg, &cases[ncases]) < 0)
				return 2;
			ncases++;
			break;
		default: return 2;
		}
	}
	if (gtpath && ncases < MAX_CASES) {
		struct bcase *b = &cases[ncases++];
		snprintf(b->name, sizeof b->name, "%s", name);
		snprintf(b->mask, sizeof b->mask, "%s", mpath ? mpath : "-");
		snprintf(b->gt, sizeof b->gt, "%s", gtpath);
	}
	if (!index || !qpath || !ncases || r.reps == 0 || r.reps > MAX_REPS) {
		fprintf(stderr, "usage: bench_filter --index DIR --queries FILE (--case NAME,MASK,GT ... | "
			"--gt FILE [--mask FILE]) [--plans auto,beam,uncounted,exact] [--reps 1..%d] ...\n",
			MAX_REPS);
		return 2;
	}
	for (char *s = strtok(Ls, ","); s && nL < MAX_L; s = strtok(NULL, ","))
		L[nL++] = (uint32_t)atoi(s);
	for (char *s = strtok(plans_s, ","); s && nplans < MAX_PLANS; s = strtok(NULL, ",")) {
		if ((plans[nplans] = plan_of(s)) < 0) {
			fprintf(stderr, "bench_filter: unknown plan %s (auto, beam, uncounted, exact)\n", s);
			return 2;
		}
		nplans++;
	}
	if (dann_index_open(index, NULL, &r.ix) < 0)
		return die(index);
	dann_index_info(r.ix, &r.info);
	if (vf_open(qpath, &qf) < 0)
		return die(qpath);
	r.nq = vf_count(qf);
	q = malloc(sizeof *q * r.nq * r.info.dim);
	r.ids = malloc(sizeof *r.ids * r.nq * K);
	r.dists = malloc(sizeof *r.dists * r.nq * K);
	r.found = malloc(sizeof *r.found * r.nq);
	r.st = malloc(sizeof *r.st * r.nq);
	if (!q || !r.ids || !r.dists || !r.found || !r.st || vf_read_f32(qf, 0, r.nq, q) < 0)
		return die("read");
	r.q = q;
	vf_close(qf);
	for (uint32_t i = 0; i < ncases && rc == 0; i++)
		rc = run_case(&r, &cases[i], plans, nplans, L, nL, target, max_reads);
	dann_index_close(r.ix);
	free(q);
	free(r.ids);
	free(r.dists);
	free(r.found);
	free(r.st);
	return rc;
}
