/*
 * bench/vamana.c — Vamana build time and in-memory recall@10 vs QPS.
 *
 * Datasets: "fmnist" (Fashion-MNIST: 60k train images as base, the first
 * --nq test images as queries, uint8, L2) and "synth" (--n x 128 float32
 * from tools/gen.h with seed 1: the rows `dann gen --n N --dim 128` writes,
 * queries from its query stream). Ground truth is computed exactly here.
 *
 * --dump DIR writes base/query/gt files (base.bin, query.bin: int32 n,
 * int32 dim, rows; gt.ibin: int32 nq, int32 k, ids) and exits; --from DIR
 * reads them back. bench/vamana_hnswlib.py uses both to run hnswlib and
 * Vamana on the same data and ground truth.
 * --build-ram BYTES builds with the partitioned (larger than RAM) path
 * and reports peak RSS. Search QPS is single-threaded (one query at a
 * time on one core), the build uses --threads; cpu-QPS divides by the
 * search thread's CPU time instead of wall time, which is the figure to
 * compare on a machine shared with other work.
 */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../engine/dist.h"
#include "../engine/error.h"
#include "gen.h"
#include "../engine/topk.h"
#include "../engine/vamana/vamana.h"
#include "../engine/vf.h"
/* The test helper that reads Fashion-MNIST's idx files (bench targets do
 * not link tests/helpers). */
#include "../tests/helpers/fmnist.c"

#define K 10
#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

struct data {
	enum dann_dtype dtype;
	uint32_t dim, n, nq;
	void *base;
	float *queries;
	uint32_t *gt; /* nq * K */
};

/* CPU time of this thread: on a shared machine, the per-query cost that
 * other processes' load does not inflate. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (all threads). */
static double proc_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int load(const char *name, uint32_t n_synth, uint32_t nq, struct data *d)
{
	memset(d, 0, sizeof *d);
	if (!strcmp(name, "fmnist")) {
		uint8_t *q8;
		uint32_t qn, qd;
		if (fmnist_load_u8(FMNIST_DIR, "train", n_synth, (uint8_t **)&d->base, &d->n, &d->dim) < 0 ||
		    fmnist_load_u8(FMNIST_DIR, "t10k", nq, &q8, &qn, &qd) < 0)
			return -1;
		d->dtype = DANN_DTYPE_U8;
		d->nq = qn;
		d->queries = malloc(sizeof(float) * qn * qd);
		for (size_t i = 0; i < (size_t)qn * qd; i++)
			d->queries[i] = q8[i];
		free(q8);
		return 0;
	}
	if (!strcmp(name, "synth")) {
		/* tools/gen.h, as `dann gen --n N --dim 128 --seed 1` writes it. */
		struct gen_params gp = { .seed = 1, .dim = 128, .dtype = DANN_DTYPE_F32 };
		struct gen_model *m;
		if (gen_model_new(&gp, &m) < 0)
			return -1;
		d->dtype = DANN_DTYPE_F32;
		d->dim = 128;
		d->n = n_synth;
		d->nq = nq;
		d->base = malloc(sizeof(float) * (size_t)n_synth * 128);
		d->queries = malloc(sizeof(float) * nq * 128);
#pragma omp parallel for schedule(dynamic, 1)
		for (uint64_t i = 0; i < n_synth; i += 16384)
			gen_rows(m, GEN_BASE, i, n_synth - i < 16384 ? n_synth - i : 16384,
				 (float *)d->base + i * 128);
		gen_rows(m, GEN_QUERIES, 0, nq, d->queries);
		gen_model_free(m);
		return 0;
	}
	fprintf(stderr, "bench_vamana: unknown dataset %s (fmnist, synth)\n", name);
	return -1;
}

static void ground_truth(struct data *d)
{
	dist_fn l2 = dist_kernel(DANN_METRIC_L2, DANN_DTYPE_F32, d->dtype);
	size_t rb = d->dim * dann_dtype_size(d->dtype);

	d->gt = malloc(sizeof *d->gt * d->nq * K);
#pragma omp parallel for schedule(dynamic, 1)
	for (uint32_t q = 0; q < d->nq; q++) {
		struct topk t;
		topk_init(&t, K);
		for (uint32_t i = 0; i < d->n; i++)
			topk_push(&t, i, l2(d->queries + (size_t)q * d->dim, (const uint8_t *)d->base + i * rb, d->dim));
		topk_sort(&t);
		memcpy(d->gt + q * K, t.id, sizeof *t.id * K);
		topk_destroy(&t);
	}
}

static int dump(const struct data *d, const char *dir)
{
	char p[4096];
	FILE *f;
	int32_t h[2];

	snprintf(p, sizeof p, "%s/base.bin", dir);
	if (!(f = fopen(p, "wb")))
		return -1;
	h[0] = (int32_t)d->n, h[1] = (int32_t)d->dim;
	fwrite(h, 4, 2, f);
	fwrite(d->base, d->dim * dann_dtype_size(d->dtype), d->n, f);
	fclose(f);
	snprintf(p, sizeof p, "%s/query.bin", dir);
	if (!(f = fopen(p, "wb")))
		return -1;
	h[0] = (int32_t)d->nq;
	fwrite(h, 4, 2, f);
	fwrite(d->queries, sizeof(float) * d->dim, d->nq, f);
	fclose(f);
	snprintf(p, sizeof p, "%s/gt.ibin", dir);
	if (!(f = fopen(p, "wb")))
		return -1;
	h[1] = K;
	fwrite(h, 4, 2, f);
	fwrite(d->gt, sizeof *d->gt * K, d->nq, f);
	fclose(f);
	return 0;
}

static void *read_bin(const char *dir, const char *name, size_t esize, uint32_t *n, uint32_t *dim)
{
	char p[4096];
	int32_t h[2];
	void *buf = NULL;
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	if (!(f = fopen(p, "rb")) || fread(h, 4, 2, f) != 2)
		goto fail;
	*n = (uint32_t)h[0];
	*dim = (uint32_t)h[1];
	buf = malloc(esize * h[0] * (size_t)h[1]);
	if (!buf || fread(buf, esize * h[1], h[0], f) != (size_t)h[0])
		goto fail;
	fclose(f);
	return buf;
fail:
	fprintf(stderr, "bench_vamana: cannot read %s\n", p);
	if (f)
		fclose(f);
	free(buf);
	return NULL;
}

/* Loads what --dump wrote (the dataset name gives the element type). */
static int load_dump(const char *dir, const char *name, struct data *d)
{
	uint32_t k;

	memset(d, 0, sizeof *d);
	d->dtype = strcmp(name, "fmnist") ? DANN_DTYPE_F32 : DANN_DTYPE_U8;
	if (!(d->base = read_bin(dir, "base.bin", dann_dtype_size(d->dtype), &d->n, &d->dim)) ||
	    !(d->queries = read_bin(dir, "query.bin", sizeof(float), &d->nq, &k)) ||
	    !(d->gt = read_bin(dir, "gt.ibin", sizeof(uint32_t), &d->nq, &k)) || k != K)
		return -1;
	return 0;
}

static void progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	(void)arg;
	fprintf(stderr, "\r%s: %llu / %llu   ", phase, (unsigned long long)done, (unsigned long long)total);
	if (done == total)
		fputc('\n', stderr);
}

/* --child-build: only the file build, in a fresh process, so that its
 * peak RSS is the build's own. Prints one line of figures. */
static int child_build(const char *vec, const char *graph, uint64_t budget, const struct vam_params *p)
{
	struct vam_file_stats fs;
	struct rusage ru;
	double t0 = now(), c0 = proc_cpu();

	if (vam_build_file(vec, DANN_METRIC_L2, p, budget, NULL, graph, &fs) < 0) {
		fprintf(stderr, "bench_vamana: %s\n", dann_errmsg());
		return 1;
	}
	/* ru_maxrss would carry the parent's high-water mark across popen's
	 * fork and exec (Linux keeps the larger); VmHWM belongs to this
	 * process image alone. */
	{
		FILE *st = fopen("/proc/self/status", "r");
		char line[256];
		getrusage(RUSAGE_SELF, &ru);
		while (st && fgets(line, sizeof line, st))
			if (sscanf(line, "VmHWM: %ld", &ru.ru_maxrss) == 1)
				break;
		if (st)
			fclose(st);
	}
	printf("%.3f %.3f %ld %u %llu %llu %llu\n", now() - t0, proc_cpu() - c0, ru.ru_maxrss, fs.shards,
	       (unsigned long long)fs.max_shard_points, (unsigned long long)fs.truncated,
	       (unsigned long long)fs.est_bytes);
	return 0;
}

struct part_result {
	double build_s, build_cpu_s;
	long maxrss_kib;
	unsigned shards;
	unsigned long long max_shard, truncated, est_bytes;
};

/* Writes the base to a file, frees it, builds in a child under the
 * budget, reads the base back and loads the merged graph. */
static int build_partitioned(const char *self, struct data *d, const struct vam_params *p,
			     uint64_t budget, struct vam **v, struct part_result *pr)
{
	char dir[] = "/var/tmp/benchvamXXXXXX", vec[256], graph[256], cmd[2048];
	struct vf *f = NULL;
	FILE *pipe;
	int rc = -1;

	if (!mkdtemp(dir))
		return -1;
	snprintf(vec, sizeof vec, "%s/base.%s", dir, d->dtype == DANN_DTYPE_U8 ? "u8bin" : "fbin");
	snprintf(graph, sizeof graph, "%s/graph.vam", dir);
	if (vf_write_file(vec, d->dim, d->base, d->n) < 0)
		goto out;
	free(d->base);
	d->base = NULL;
	snprintf(cmd, sizeof cmd, "%s --child-build %s --graph %s --build-ram %llu --threads %u --R %u "
		 "--L %u --alpha %g --passes %u --seed %llu", self, vec, graph, (unsigned long long)budget,
		 p->threads, p->R, p->L, (double)p->alpha, p->passes, (unsigned long long)p->seed);
	if (!(pipe = popen(cmd, "r")))
		goto out;
	if (fscanf(pipe, "%lf %lf %ld %u %llu %llu %llu", &pr->build_s, &pr->build_cpu_s,
		   &pr->maxrss_kib, &pr->shards, &pr->max_shard, &pr->truncated, &pr->est_bytes) != 7) {
		pclose(pipe);
		goto out;
	}
	if (pclose(pipe) != 0 || vf_open(vec, &f) < 0)
		goto out;
	if (!(d->base = malloc(vf_row_bytes(f) * d->n)) || vf_read(f, 0, d->n, d->base) < 0)
		goto out;
	rc = vam_load(graph, DANN_METRIC_L2, d->dtype, d->dim, d->base, d->n, p, v);
out:
	if (rc < 0 && dann_errmsg()[0])
		fprintf(stderr, "bench_vamana: %s\n", dann_errmsg());
	vf_close(f);
	unlink(vec);
	unlink(graph);
	rmdir(dir);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dataset = "fmnist", *dumpdir = NULL, *from = NULL, *child = NULL, *graph = NULL;
	unsigned long long budget = 0;
	struct part_result pr = { 0 };
	struct vam_params p;
	uint32_t nq = 1000, n = 0, sweep[] = { 10, 20, 30, 40, 50, 70, 100, 150, 200 };
	int json = 0, quick = 0, verbose = 0, c;
	struct data d;
	struct vam *v;
	struct vam_stats st;
	struct rusage ru;
	double t0, tb, c0, tc;

	vam_params_default(&p);
	static const struct option opts[] = {
		{ "dataset", 1, 0, 'd' }, { "n", 1, 0, 'n' }, { "nq", 1, 0, 'q' },
		{ "threads", 1, 0, 't' }, { "R", 1, 0, 'R' }, { "L", 1, 0, 'L' },
		{ "alpha", 1, 0, 'a' }, { "passes", 1, 0, 'p' }, { "dump", 1, 0, 'D' }, { "from", 1, 0, 'F' },
		{ "build-ram", 1, 0, 'B' }, { "child-build", 1, 0, 'C' }, { "graph", 1, 0, 'G' },
		{ "seed", 1, 0, 's' }, { "json", 0, 0, 'j' }, { "quick", 0, 0, 'k' }, { "verbose", 0, 0, 'v' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 } };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dataset = optarg; break;
		case 'n': n = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'q': nq = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't': p.threads = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'R': p.R = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'L': p.L = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'a': p.alpha = strtof(optarg, NULL); break;
		case 'p': p.passes = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'D': dumpdir = optarg; break;
		case 'F': from = optarg; break;
		case 'B': budget = strtoull(optarg, NULL, 10); break;
		case 'C': child = optarg; break;
		case 'G': graph = optarg; break;
		case 's': p.seed = strtoull(optarg, NULL, 10); break;
		case 'j': json = 1; break;
		case 'k': quick = 1; break;
		case 'v': verbose = 1; break;
		default:
			printf("usage: bench_vamana [--dataset fmnist|synth] [--n N] [--nq N] [--threads T]\n"
			       "  [--R R] [--L L] [--alpha A] [--passes 1|2] [--dump DIR | --from DIR] [--json]\n"
			       "  [--quick] [--verbose] [--seed S] [--build-ram BYTES] [--graph FILE]\n"
			       "--graph FILE: load the graph from FILE if it exists, else build and save it\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (child)
		return child_build(child, graph, budget, &p);
	if (quick) {
		if (!n)
			n = 10000;
		nq = nq > 200 ? 200 : nq;
	}
	if (!n)
		n = strcmp(dataset, "synth") ? 0 : 1000000;
	if (from) {
		if (load_dump(from, dataset, &d) < 0)
			return 1;
	} else {
		if (load(dataset, n, nq, &d) < 0) {
			fprintf(stderr, "bench_vamana: %s\n", dann_errmsg());
			return 1;
		}
		ground_truth(&d);
	}
	if (dumpdir)
		return dump(&d, dumpdir) < 0 ? 1 : 0;
	if (verbose)
		p.progress = progress;
	t0 = now();
	c0 = proc_cpu();
	if (budget) {
		if (build_partitioned(argv[0], &d, &p, budget, &v, &pr) < 0)
			return 1;
		tb = pr.build_s;
		c0 = 0;
		tc = pr.build_cpu_s;
	} else if (graph && access(graph, F_OK) == 0) {
		/* A saved graph: search figures without rebuilding. */
		if (vam_load(graph, DANN_METRIC_L2, d.dtype, d.dim, d.base, d.n, &p, &v) < 0) {
			fprintf(stderr, "bench_vamana: %s\n", dann_errmsg());
			return 1;
		}
		tb = 0;
		tc = 0;
	} else {
		if (vam_build(DANN_METRIC_L2, d.dtype, d.dim, d.base, d.n, &p, &v) < 0 ||
		    (graph && vam_save(v, graph) < 0)) {
			fprintf(stderr, "bench_vamana: %s\n", dann_errmsg());
			return 1;
		}
		tb = now() - t0;
		tc = proc_cpu() - c0;
	}
	vam_check(v, &st);
	getrusage(RUSAGE_SELF, &ru);
	if (budget)
		ru.ru_maxrss = pr.maxrss_kib; /* the build's own peak, not this process's */
	if (json)
		printf("{\"bench\":\"vamana\",\"dataset\":\"%s\",\"n\":%u,\"dim\":%u,\"threads\":%d,"
		       "\"R\":%u,\"L\":%u,\"alpha\":%.2f,\"passes\":%u,\"build_s\":%.3f,\"build_cpu_s\":%.3f,"
		       "\"mean_degree\":%.2f,\"max_degree\":%u,\"unreachable\":%llu,\"maxrss_kib\":%ld,"
		       "\"simd\":\"%s\",\"build_ram\":%llu,\"shards\":%u,\"max_shard\":%llu,"
		       "\"truncated\":%llu,\"est_bytes\":%llu,\"sweep\":[",
		       dataset, d.n, d.dim, p.threads ? (int)p.threads : omp_get_num_procs(), p.R, p.L,
		       (double)p.alpha, p.passes, tb, tc, st.mean_degree, st.max_degree,
		       (unsigned long long)st.unreachable, ru.ru_maxrss, dist_level_name(dist_best_level()),
		       budget, pr.shards, pr.max_shard, pr.truncated, pr.est_bytes);
	else
		printf("vamana %s n=%u dim=%u threads=%d R=%u L=%u alpha=%.2f passes=%u simd=%s\n"
		       "build %.2f s (%.1f CPU s), degree mean %.1f max %u, unreachable %llu, maxrss %ld KiB\n"
		       "build-ram %llu: %u shards (largest %llu points, lists cut %llu, whole build ~%llu bytes)\n"
		       "%6s %10s %10s %10s %8s\n",
		       dataset, d.n, d.dim, p.threads ? (int)p.threads : omp_get_num_procs(), p.R, p.L,
		       (double)p.alpha, p.passes, dist_level_name(dist_best_level()), tb, tc, st.mean_degree,
		       st.max_degree, (unsigned long long)st.unreachable, ru.ru_maxrss, budget, pr.shards,
		       pr.max_shard, pr.truncated, pr.est_bytes, "L", "recall@10", "QPS", "cpu-QPS",
		       "ndist");
	for (size_t si = 0; si < sizeof sweep / sizeof *sweep; si++) {
		uint32_t L = sweep[si], ids[K], found;
		float dd[K];
		uint64_t hit = 0, ndist = 0;
		struct vam_search_stats ss;

		double c0 = cpu_now();
		t0 = now();
		for (uint32_t q = 0; q < d.nq; q++) {
			vam_search(v, d.queries + (size_t)q * d.dim, K, L, NULL, ids, dd, &found, &ss);
			ndist += ss.ndist;
			for (uint32_t a = 0; a < found; a++)
				for (uint32_t b = 0; b < K; b++)
					hit += ids[a] == d.gt[q * K + b];
		}
		double dt = now() - t0, ct = cpu_now() - c0, rec = (double)hit / ((double)d.nq * K);
		if (json)
			printf("%s{\"L\":%u,\"recall\":%.4f,\"qps\":%.1f,\"cpu_qps\":%.1f,\"ndist\":%.1f}",
			       si ? "," : "", L, rec, d.nq / dt, d.nq / ct, (double)ndist / d.nq);
		else
			printf("%6u %10.4f %10.1f %10.1f %8.1f\n", L, rec, d.nq / dt, d.nq / ct,
			       (double)ndist / d.nq);
	}
	if (json)
		printf("]}\n");
	vam_free(v);
	free(d.base);
	free(d.queries);
	free(d.gt);
	return 0;
}
