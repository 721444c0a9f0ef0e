/*
 * bench/filter.c — filtered search on one disk index: recall@10, QPS and
 * SSD reads per query for each plan (auto, beam, exact) and list size L,
 * with the allowed rows given as a mask file. bench/filter.py makes the
 * masks (Fashion-MNIST labels and a synthetic field at 50/10/1/0.1%), the
 * ground truth over the allowed rows, and runs faiss beside it.
 *
 *   bench_filter --index DIR --queries FILE --gt FILE.ibin [--mask FILE]
 *                [--name NAME] [--plans auto,beam,exact] [--L 16,32,64]
 *                [--threads 2] [--inflight 16] [--reps 3]
 *
 * Mask file: raw little-endian uint64 words, bit i of word i/64 set when
 * row i is allowed (dann_search_params.allowed). One JSON object per line
 * out: {name, selectivity, plan, plan_ran, L, recall, qps, mean_reads}.
 * QPS is the median of --reps runs; nothing here passes or fails on time.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../engine/dann.h"
#include "../engine/vf.h"

#define K 10
#define MAX_L 64

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

int main(int argc, char **argv)
{
	const char *index = NULL, *qpath = NULL, *gtpath = NULL, *mpath = NULL, *name = "none";
	char plans[64] = "auto,beam,exact", Ls[256] = "16,32,64,100";
	uint32_t threads = 2, inflight = 16, reps = 3, nL = 0, L[MAX_L];
	struct dann_index *ix;
	struct dann_index_info info;
	struct vf *qf, *gf;
	uint64_t nq, words = 0, allowed = 0, *mask = NULL;
	uint32_t gtk, *gt, *ids, *found;
	float *q, *dists;
	struct dann_search_stats *st;
	static const struct option opts[] = {
		{ "index", 1, 0, 'i' }, { "queries", 1, 0, 'q' }, { "gt", 1, 0, 'g' },
		{ "mask", 1, 0, 'm' }, { "name", 1, 0, 'n' }, { "plans", 1, 0, 'p' },
		{ "L", 1, 0, 'L' }, { "threads", 1, 0, 't' }, { "inflight", 1, 0, 'f' },
		{ "reps", 1, 0, 'r' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': index = optarg; break;
		case 'q': qpath = optarg; break;
		case 'g': gtpath = optarg; break;
		case 'm': mpath = optarg; break;
		case 'n': name = optarg; break;
		case 'p': snprintf(plans, sizeof plans, "%s", optarg); break;
		case 'L': snprintf(Ls, sizeof Ls, "%s", optarg); break;
		case 't': threads = (uint32_t)atoi(optarg); break;
		case 'f': inflight = (uint32_t)atoi(optarg); break;
		case 'r': reps = (uint32_t)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!index || !qpath || !gtpath || reps == 0) {
		fprintf(stderr, "usage: bench_filter --index DIR --queries FILE --gt FILE [--mask FILE] ...\n");
		return 2;
	}
	for (char *s = strtok(Ls, ","); s && nL < MAX_L; s = strtok(NULL, ","))
		L[nL++] = (uint32_t)atoi(s);
	if (dann_index_open(index, NULL, &ix) < 0)
		return die(index);
	dann_index_info(ix, &info);
	if (vf_open(qpath, &qf) < 0)
		return die(qpath);
	if (vf_open(gtpath, &gf) < 0)
		return die(gtpath);
	nq = vf_count(qf);
	gtk = vf_dim(gf);
	if (vf_count(gf) < nq || gtk < 1) {
		fprintf(stderr, "bench_filter: %s: %llu rows for %llu queries\n", gtpath,
			(unsigned long long)vf_count(gf), (unsigned long long)nq);
		return 1;
	}
	q = malloc(sizeof *q * nq * info.dim);
	gt = malloc(sizeof *gt * nq * gtk);
	ids = malloc(sizeof *ids * nq * K);
	dists = malloc(sizeof *dists * nq * K);
	found = malloc(sizeof *found * nq);
	st = malloc(sizeof *st * nq);
	if (vf_read_f32(qf, 0, nq, q) < 0 || vf_read(gf, 0, nq, gt) < 0)
		return die("read");
	if (mpath) {
		if (!(mask = read_mask(mpath, &words)))
			return 1;
		for (uint64_t i = 0; i < words; i++)
			allowed += (uint64_t)__builtin_popcountll(mask[i]);
	} else {
		allowed = info.n;
	}
	for (char *plan = strtok(plans, ","); plan; plan = strtok(NULL, ",")) {
		int want = !strcmp(plan, "beam") ? DANN_PLAN_BEAM : !strcmp(plan, "exact") ? DANN_PLAN_EXACT
											 : DANN_PLAN_AUTO;
		for (uint32_t li = 0; li < nL; li++) {
			struct dann_search_params sp;
			double t[16], recall = 0, reads = 0;
			uint32_t kk = gtk < K ? gtk : K;
			dann_search_params_default(&sp);
			sp.k = K;
			sp.L = L[li] < K ? K : L[li];
			sp.threads = threads;
			sp.inflight = inflight;
			sp.allowed = mask;
			sp.allowed_bits = mask ? info.n : 0;
			sp.filter_plan = want;
			for (uint32_t r = 0; r < reps && r < 16; r++) {
				double t0 = now_s();
				if (dann_search_batch(ix, q, nq, &sp, ids, dists, found, st) < 0)
					return die("search");
				t[r] = now_s() - t0;
			}
			qsort(t, reps < 16 ? reps : 16, sizeof t[0], cmp_double);
			for (uint64_t i = 0; i < nq; i++) {
				uint32_t hit = 0, truth = 0;
				for (uint32_t g = 0; g < kk; g++) {
					int32_t id = (int32_t)gt[i * gtk + g];
					if (id < 0)
						continue;
					truth++;
					for (uint32_t j = 0; j < found[i]; j++)
						hit += ids[i * K + j] == (uint32_t)id;
				}
				recall += truth ? (double)hit / truth : 1.0;
				reads += st[i].reads;
			}
			printf("{\"name\": \"%s\", \"selectivity\": %.6f, \"plan\": \"%s\", \"plan_ran\": \"%s\", "
			       "\"L\": %u, \"recall\": %.4f, \"qps\": %.1f, \"mean_reads\": %.2f}\n",
			       name, (double)allowed / info.n, plan,
			       st[0].plan == DANN_PLAN_EXACT ? "exact" : "beam", sp.L, recall / nq,
			       nq / t[(reps < 16 ? reps : 16) / 2], reads / nq);
			fflush(stdout);
		}
	}
	vf_close(qf);
	vf_close(gf);
	dann_index_close(ix);
	free(mask);
	free(q);
	free(gt);
	free(ids);
	free(dists);
	free(found);
	free(st);
	return 0;
}
