/*
 * bench/pq.c — dann's product quantizer against faiss's ProductQuantizer,
 * in the same run, on the same files, same M, 8 bits.
 *
 * Data: Fashion-MNIST (60,000 x 784 training images as floats; queries
 * from the test images) and a 1M x 128 synthetic set from tools/gen.h
 * (what `dann gen --n 1000000 --dim 128 --seed 1` writes: a clustered
 * Gaussian mixture through a random linear map; queries from its separate
 * query stream). Both are written as .fbin into a temporary directory that
 * bench/pq_faiss.py reads too.
 *
 * Figures per (data set, M), for dann and faiss:
 *   train_s            training time (dann: its default 256k-row sample,
 *                      25 iterations; faiss: its default 65,536-row
 *                      subsample, 25 iterations); dann is also trained on
 *                      a 65,536-row sample for an equal-work time
 *   mse                mean ||x - decode(encode(x))||^2 over the whole base
 *   encode_per_s       vectors encoded per second, whole base, all cores
 *   table_us           one query's distance table
 *   list_codes_per_s   ADC over a list of scattered ids (the beam search's
 *                      access pattern), one list per query, one thread;
 *                      dann also in calls of 64 ids (one node's neighbours)
 *   block_codes_per_s  ADC over the contiguous code array, one thread
 * and dann's id-list scan at each SIMD level this CPU has.
 *
 * Never pass/fail on time. --quick: a subset (for the bench suite's smoke
 * run); --json: one JSON object on stdout instead of the table.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dann.h"
#include "error.h"
#include "gen.h"
#include "idx.h"
#include "pq/pq.h"
#include "pq/pq_kernels.h"
#include "vf.h"

#define MAX_RUNS 8
#define ADC_CALL_IDS 64 /* ids per call in the beam-search-shaped scan */
/* --quick: small enough for the bench suite's smoke run (seconds). */
#define QUICK_FMNIST_ROWS 5000
#define QUICK_SYNTH_ROWS 20000

char *openblas_get_corename(void);

struct side {
	int have;
	double train_s, train64k_s, mse, mse64k, encode_per_s, table_us;
	double list_codes_per_s, list64_codes_per_s, block_codes_per_s;
	double level_codes_per_s[DIST_NLEVELS];
};

struct run {
	const char *data;
	uint32_t M;
	uint64_t n;
	uint32_t dim;
	struct side dann, faiss;
};

struct opts {
	int quick, json, no_faiss;
	const char *fmnist_dir;
	const char *script;
	uint64_t synth_n;
	uint32_t queries;
	uint32_t fm_M[MAX_RUNS / 2], sy_M[MAX_RUNS / 2]; /* M values per data set */
	int fm_nM, sy_nM;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_pq: %s: %s\n", what, dann_errmsg());
	exit(1);
}

/* OpenBLAS picks its kernel when it loads: if it fell back to a generic one
 * on this CPU, run again with OPENBLAS_CORETYPE set, as dann's CLI does
 * (tools/blascpu.h). faiss is then given the same core. */
static void ensure_blas_core(char **argv)
{
	const char *core = openblas_get_corename();

	if (getenv("OPENBLAS_CORETYPE") || !core ||
	    (strcasecmp(core, "Prescott") && strcasecmp(core, "Core2") && strcasecmp(core, "Nehalem") &&
	     strcasecmp(core, "Sandybridge")))
		return;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
		setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
	else if (__builtin_cpu_supports("avx2"))
		setenv("OPENBLAS_CORETYPE", "Haswell", 1);
	else
		return;
	fprintf(stderr, "bench_pq: OpenBLAS chose %s; running again with OPENBLAS_CORETYPE=%s\n", core,
		getenv("OPENBLAS_CORETYPE"));
	execv("/proc/self/exe", argv);
	unsetenv("OPENBLAS_CORETYPE");
}

static float *read_fmnist(const char *dir, const char *set, uint32_t max, uint32_t *n)
{
	char path[PATH_MAX + 64];
	struct idx *x = NULL;
	uint8_t *u;
	float *f;

	snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, set);
	if (idx_open(path, &x) < 0)
		die(path);
	*n = idx_count(x) < max ? idx_count(x) : max;
	u = malloc((size_t)*n * 784);
	f = malloc((size_t)*n * 784 * sizeof *f);
	if (!u || !f || idx_row_elems(x) != 784 || idx_read(x, *n, u) < 0)
		die(path);
	for (size_t i = 0; i < (size_t)*n * 784; i++)
		f[i] = u[i];
	idx_close(x);
	free(u);
	return f;
}

static float *read_fbin_all(const char *path, uint64_t *n, uint32_t *dim)
{
	struct vf *f = NULL;
	float *x;

	if (vf_open(path, &f) < 0)
		die(path);
	*n = vf_count(f);
	*dim = vf_dim(f);
	if (!(x = malloc(*n * *dim * sizeof *x)) || vf_read_f32(f, 0, *n, x) < 0)
		die(path);
	vf_close(f);
	return x;
}

static double mse_of(const struct pq *pq, const float *x, uint64_t n)
{
	uint32_t dim = pq_dim(pq), M = pq_bytes(pq);
	double err = 0;

#pragma omp parallel reduction(+ : err)
	{
		float *dec = malloc(1024 * (size_t)dim * sizeof *dec);
#pragma omp for schedule(dynamic)
		for (uint64_t i0 = 0; i0 < n; i0 += 1024) {
			uint64_t m = n - i0 < 1024 ? n - i0 : 1024;
			pq_decode(pq, pq_codes(pq) + i0 * M, m, dec);
			for (uint64_t e = 0; e < m * dim; e++) {
				double d = (double)dec[e] - x[i0 * dim + e];
				err += d * d;
			}
		}
		free(dec);
	}
	return err / (double)n;
}

static void measure_adc(struct pq *pq, const float *q, uint32_t nq, const uint32_t *ids, uint64_t nids,
			struct side *s)
{
	float *table = malloc(pq_table_floats(pq) * sizeof *table);
	float *out = malloc((nids > pq_count(pq) ? nids : pq_count(pq)) * sizeof *out);
	volatile float sink = 0;
	double t;

	t = now_s();
	for (uint32_t i = 0; i < nq; i++)
		pq_table_build(pq, q + (size_t)i * pq_dim(pq), table);
	s->table_us = (now_s() - t) / nq * 1e6;
	t = now_s();
	for (uint32_t i = 0; i < nq; i++) {
		pq_table_build(pq, q + (size_t)i * pq_dim(pq), table);
		pq_adc_ids(pq, table, ids, nids, out);
		sink += out[nids - 1];
	}
	s->list_codes_per_s = (double)nq * nids / (now_s() - t);
	t = now_s();
	for (uint32_t i = 0; i < nq; i++) {
		pq_table_build(pq, q + (size_t)i * pq_dim(pq), table);
		for (uint64_t j = 0; j < nids; j += ADC_CALL_IDS)
			pq_adc_ids(pq, table, ids + j, nids - j < ADC_CALL_IDS ? nids - j : ADC_CALL_IDS,
				   out + j);
		sink += out[0];
	}
	s->list64_codes_per_s = (double)nq * nids / (now_s() - t);
	t = now_s();
	for (uint32_t i = 0; i < nq; i++) {
		pq_table_build(pq, q + (size_t)i * pq_dim(pq), table);
		pq_adc_block(pq, table, 0, pq_count(pq), out);
		sink += out[0];
	}
	s->block_codes_per_s = (double)nq * pq_count(pq) / (now_s() - t);
	for (int l = 0; l < DIST_NLEVELS; l++) {
		const struct pq_kernels *k = pq_kernels_at((enum dist_level)l);
		s->level_codes_per_s[l] = 0;
		if (!k)
			continue;
		t = now_s();
		for (uint32_t i = 0; i < nq; i++) {
			pq_table_build(pq, q + (size_t)i * pq_dim(pq), table);
			k->adc_ids(table, pq_bytes(pq), pq_codes(pq), ids, nids, out);
			sink += out[0];
		}
		s->level_codes_per_s[l] = (double)nq * nids / (now_s() - t);
	}
	(void)sink;
	free(table);
	free(out);
}

static void bench_dann(struct run *r, const float *x, const float *q, uint32_t nq, const uint32_t *ids,
		       uint64_t nids, int quick)
{
	struct pq_params p;
	struct pq_train_stats st;
	struct pq *pq = NULL;
	double t;

	pq_params_default(&p, DANN_METRIC_L2, r->M);
	if (!quick && r->n > 65536) {
		/* Equal work with faiss's default subsample (the same run as the
		 * default one when the base is no larger). */
		p.sample = 65536;
		if (pq_train(&p, x, DANN_DTYPE_F32, r->n, r->dim, &pq, &st) < 0)
			die("pq_train");
		r->dann.train64k_s = st.seconds;
		if (pq_encode_array(pq, x, DANN_DTYPE_F32, r->n) < 0)
			die("pq_encode_array");
		r->dann.mse64k = mse_of(pq, x, r->n);
		pq_free(pq);
		pq_params_default(&p, DANN_METRIC_L2, r->M);
	}
	if (pq_train(&p, x, DANN_DTYPE_F32, r->n, r->dim, &pq, &st) < 0)
		die("pq_train");
	r->dann.train_s = st.seconds;
	t = now_s();
	if (pq_encode_array(pq, x, DANN_DTYPE_F32, r->n) < 0)
		die("pq_encode_array");
	r->dann.encode_per_s = (double)r->n / (now_s() - t);
	r->dann.mse = mse_of(pq, x, r->n);
	measure_adc(pq, q, nq, ids, nids, &r->dann);
	r->dann.have = 1;
	pq_free(pq);
}

/* The value of "key": in a flat JSON line, or NAN. */
static double json_num(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\": ", key);
	p = strstr(line, pat);
	return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static void bench_faiss(const struct opts *o, struct run *runs, int nruns, const char *base,
			const char *queries, const char *idsfile)
{
	char cmd[PATH_MAX * 6], line[4096];
	size_t len;
	FILE *f;

	len = (size_t)snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s --base %s --queries %s --ids %s",
			       o->script, base, queries, idsfile);
	for (int i = 0; i < nruns && len < sizeof cmd; i++)
		len += (size_t)snprintf(cmd + len, sizeof cmd - len, " --M %u", runs[i].M);
	if (!(f = popen(cmd, "r"))) {
		fprintf(stderr, "bench_pq: cannot run %s\n", o->script);
		return;
	}
	while (fgets(line, sizeof line, f)) {
		double M = json_num(line, "M");
		if (strstr(line, "\"error\"")) {
			fprintf(stderr, "bench_pq: faiss side: %s", line);
			continue;
		}
		for (int i = 0; i < nruns; i++) {
			struct side *s = &runs[i].faiss;
			if (runs[i].M != (uint32_t)M || s->have)
				continue;
			s->train_s = json_num(line, "train_s");
			s->mse = json_num(line, "mse");
			s->encode_per_s = json_num(line, "encode_per_s");
			s->table_us = json_num(line, "table_us");
			s->list_codes_per_s = json_num(line, "list_codes_per_s");
			s->block_codes_per_s = json_num(line, "block_codes_per_s");
			s->have = 1;
			break;
		}
	}
	if (pclose(f) != 0)
		fprintf(stderr, "bench_pq: %s exited with an error\n", o->script);
}

static void write_ids(const char *path, uint64_t n, uint64_t nids, uint32_t **out)
{
	uint32_t *ids = malloc(nids * sizeof *ids);
	uint64_t s = 0x9e3779b97f4a7c15ull;
	FILE *f = fopen(path, "wb");

	if (!ids || !f)
		die(path);
	for (uint64_t i = 0; i < nids; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		ids[i] = (uint32_t)(s % n);
	}
	if (fwrite(ids, sizeof *ids, nids, f) != nids || fclose(f) != 0)
		die(path);
	*out = ids;
}

static void print_table(const struct run *runs, int nruns)
{
	printf("%-9s %3s %-6s %9s %9s %11s %12s %9s %12s %12s %12s\n", "data", "M", "side", "train_s",
	       "train64k", "mse", "encode/s", "table_us", "list_c/s", "list64_c/s", "block_c/s");
	for (int i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];
		const struct side *d = &r->dann, *f = &r->faiss;
		printf("%-9s %3u %-6s %9.2f %9.2f %11.5g %12.4g %9.1f %12.4g %12.4g %12.4g\n", r->data, r->M,
		       "dann", d->train_s, d->train64k_s, d->mse, d->encode_per_s, d->table_us,
		       d->list_codes_per_s, d->list64_codes_per_s, d->block_codes_per_s);
		if (f->have) {
			printf("%-9s %3u %-6s %9.2f %9s %11.5g %12.4g %9.1f %12.4g %12s %12.4g\n", r->data,
			       r->M, "faiss", f->train_s, "-", f->mse, f->encode_per_s, f->table_us,
			       f->list_codes_per_s, "-", f->block_codes_per_s);
			printf("%-9s %3u %-6s %9.2f %9s %11.4f %12.2f %9.2f %12.2f %12s %12.2f\n", r->data, r->M,
			       "ratio", d->train_s / f->train_s, "", d->mse / f->mse,
			       d->encode_per_s / f->encode_per_s, d->table_us / f->table_us,
			       d->list_codes_per_s / f->list_codes_per_s, "",
			       d->block_codes_per_s / f->block_codes_per_s);
		}
		printf("%-9s %3u dann id-list codes/s by SIMD level:", r->data, r->M);
		for (int l = 0; l < DIST_NLEVELS; l++)
			if (d->level_codes_per_s[l] > 0)
				printf(" %s %.4g", dist_level_name((enum dist_level)l), d->level_codes_per_s[l]);
		printf("\n");
	}
	printf("ratio = dann / faiss (mse goal <= 1.02; list/block codes/s goal >= 1)\n");
}

static void print_side_json(const char *name, const struct side *s, int dann)
{
	printf("\"%s\": {\"train_s\": %.4f, \"mse\": %.6g, \"encode_per_s\": %.6g, \"table_us\": %.3f, "
	       "\"list_codes_per_s\": %.6g, \"block_codes_per_s\": %.6g",
	       name, s->train_s, s->mse, s->encode_per_s, s->table_us, s->list_codes_per_s,
	       s->block_codes_per_s);
	if (dann) {
		printf(", \"train64k_s\": %.4f, \"mse64k\": %.6g, \"list64_codes_per_s\": %.6g", s->train64k_s,
		       s->mse64k, s->list64_codes_per_s);
		for (int l = 0; l < DIST_NLEVELS; l++)
			if (s->level_codes_per_s[l] > 0)
				printf(", \"list_codes_per_s_%s\": %.6g", dist_level_name((enum dist_level)l),
				       s->level_codes_per_s[l]);
	}
	printf("}");
}

static void print_json(const struct opts *o, const struct run *runs, int nruns)
{
	printf("{\"bench\": \"pq\", \"quick\": %s, \"threads\": %d, \"openblas_core\": \"%s\", "
	       "\"simd\": \"%s\", \"runs\": [",
	       o->quick ? "true" : "false", omp_get_max_threads(), openblas_get_corename(),
	       dist_level_name(pq_kernels_level()));
	for (int i = 0; i < nruns; i++) {
		printf("%s{\"data\": \"%s\", \"M\": %u, \"n\": %llu, \"dim\": %u, ", i ? ", " : "",
		       runs[i].data, runs[i].M, (unsigned long long)runs[i].n, runs[i].dim);
		print_side_json("dann", &runs[i].dann, 1);
		if (runs[i].faiss.have) {
			printf(", ");
			print_side_json("faiss", &runs[i].faiss, 0);
		}
		printf("}");
	}
	printf("]}\n");
}

/* "16,56" into out (at most MAX_RUNS / 2 values, each 1..256); the count or -1. */
static int parse_ms(const char *arg, uint32_t *out)
{
	int n = 0;
	char *end;

	for (const char *p = arg; *p; p = *end ? end + 1 : end) {
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || (*end && *end != ',') || v < 1 || v > 256 || n == MAX_RUNS / 2) {
			fprintf(stderr, "bench_pq: '%s': expected up to %d comma-separated M values in 1..256\n",
				arg, MAX_RUNS / 2);
			return -1;
		}
		out[n++] = (uint32_t)v;
	}
	if (n == 0)
		fprintf(stderr, "bench_pq: empty M list\n");
	return n ? n : -1;
}

static void usage(void)
{
	printf("usage: bench_pq [--quick] [--json] [--no-faiss] [--fmnist DIR] [--synth-n N]\n"
	       "                [--queries Q] [--faiss-script PATH] [--fmnist-m 16,56] [--synth-m 16,32]\n"
	       "Compares dann's PQ with faiss's ProductQuantizer (same M, 8 bits, same data)\n"
	       "on Fashion-MNIST and an N x 128 synthetic set (default N = 1000000).\n");
}

static void default_script(char *buf, size_t cap)
{
	char exe[PATH_MAX - 32];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;

	exe[k > 0 ? k : 0] = '\0';
	if ((slash = strrchr(exe, '/')))
		*slash = '\0';
	snprintf(buf, cap, "%s/../bench/pq_faiss.py", exe);
}

/* One data set: write its files, measure dann, then faiss on the same files. */
static void bench_set(const struct opts *o, const char *tmp, const char *name, float *x, uint64_t n,
		      uint32_t dim, float *q, uint32_t nq, const uint32_t *Ms, int nM, struct run *runs,
		      int *nruns)
{
	char base[PATH_MAX + 64], qp[PATH_MAX + 64], idp[PATH_MAX + 64];
	uint64_t nids = n < 1000000 ? n : 1000000;
	uint32_t *ids;
	int first = *nruns;

	snprintf(base, sizeof base, "%s/%s.fbin", tmp, name);
	snprintf(qp, sizeof qp, "%s/%s.q.fbin", tmp, name);
	snprintf(idp, sizeof idp, "%s/%s.ids.u32", tmp, name);
	if (vf_write_file(base, dim, x, n) < 0 || vf_write_file(qp, dim, q, nq) < 0)
		die(base);
	write_ids(idp, n, nids, &ids);
	for (int i = 0; i < nM; i++) {
		struct run *r = &runs[(*nruns)++];
		memset(r, 0, sizeof *r);
		r->data = name;
		r->M = Ms[i];
		r->n = n;
		r->dim = dim;
		fprintf(stderr, "bench_pq: %s M=%u: dann...\n", name, r->M);
		bench_dann(r, x, q, nq, ids, nids, o->quick);
	}
	if (!o->no_faiss) {
		fprintf(stderr, "bench_pq: %s: faiss...\n", name);
		bench_faiss(o, runs + first, *nruns - first, base, qp, idp);
	}
	unlink(base);
	unlink(qp);
	unlink(idp);
	free(ids);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, 0, 'q' },      { "json", no_argument, 0, 'j' },
		{ "no-faiss", no_argument, 0, 'n' },   { "fmnist", required_argument, 0, 'f' },
		{ "synth-n", required_argument, 0, 's' }, { "queries", required_argument, 0, 'Q' },
		{ "faiss-script", required_argument, 0, 'S' }, { "help", no_argument, 0, 'h' },
		{ "fmnist-m", required_argument, 0, 'F' }, { "synth-m", required_argument, 0, 'Y' },
		{ 0, 0, 0, 0 },
	};
	struct opts o = { .fmnist_dir = "/usr/share/datasets/fashion-mnist", .synth_n = 1000000, .queries = 20 };
	char script[PATH_MAX], tmp[] = "/tmp/bench-pq-XXXXXX", path[64];
	struct run runs[MAX_RUNS];
	int nruns = 0, c;

	ensure_blas_core(argv);
	default_script(script, sizeof script);
	o.script = script;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q': o.quick = 1; break;
		case 'j': o.json = 1; break;
		case 'n': o.no_faiss = 1; break;
		case 'f': o.fmnist_dir = optarg; break;
		case 's': o.synth_n = strtoull(optarg, NULL, 10); break;
		case 'Q': o.queries = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'S': o.script = optarg; break;
		case 'F':
			if ((o.fm_nM = parse_ms(optarg, o.fm_M)) < 0)
				return 2;
			break;
		case 'Y':
			if ((o.sy_nM = parse_ms(optarg, o.sy_M)) < 0)
				return 2;
			break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (o.quick && o.synth_n == 1000000)
		o.synth_n = QUICK_SYNTH_ROWS;
	if (o.quick)
		o.queries = 5;
	if (o.synth_n == 0 || o.queries == 0) {
		fprintf(stderr, "bench_pq: --synth-n and --queries must be >= 1\n");
		return 2;
	}
	if (!mkdtemp(tmp)) {
		perror("bench_pq: mkdtemp");
		return 1;
	}
	{
		static const uint32_t fm_M[] = { 16, 56 }, fm_Mq[] = { 16 };
		uint32_t n, nq;
		float *x = read_fmnist(o.fmnist_dir, "train", o.quick ? QUICK_FMNIST_ROWS : 60000, &n);
		float *q = read_fmnist(o.fmnist_dir, "t10k", o.queries, &nq);
		if (o.fm_nM)
			bench_set(&o, tmp, "fmnist", x, n, 784, q, nq, o.fm_M, o.fm_nM, runs, &nruns);
		else
			bench_set(&o, tmp, "fmnist", x, n, 784, q, nq, o.quick ? fm_Mq : fm_M, o.quick ? 1 : 2,
				  runs, &nruns);
		free(x);
		free(q);
	}
	{
		static const uint32_t sy_M[] = { 16, 32 }, sy_Mq[] = { 16 };
		struct gen_params gp = { .seed = 1, .dim = 128, .dtype = DANN_DTYPE_F32 };
		struct gen_model *m = NULL;
		uint64_t n, nq64;
		uint32_t dim;
		float *x, *q;

		snprintf(path, sizeof path, "%s/gen.fbin", tmp);
		if (gen_model_new(&gp, &m) < 0 || gen_write(m, GEN_BASE, o.synth_n, path, NULL, NULL) < 0)
			die("gen");
		x = read_fbin_all(path, &n, &dim);
		unlink(path);
		if (gen_write(m, GEN_QUERIES, o.queries, path, NULL, NULL) < 0)
			die("gen queries");
		q = read_fbin_all(path, &nq64, &dim);
		unlink(path);
		gen_model_free(m);
		if (o.sy_nM)
			bench_set(&o, tmp, "synth128", x, n, dim, q, (uint32_t)nq64, o.sy_M, o.sy_nM, runs,
				  &nruns);
		else
			bench_set(&o, tmp, "synth128", x, n, dim, q, (uint32_t)nq64, o.quick ? sy_Mq : sy_M,
				  o.quick ? 1 : 2, runs, &nruns);
		free(x);
		free(q);
	}
	rmdir(tmp);
	if (o.json) {
		print_json(&o, runs, nruns);
	} else {
		printf("bench_pq: OpenBLAS core %s, %d threads, PQ kernels %s\n", openblas_get_corename(),
		       omp_get_max_threads(), dist_level_name(pq_kernels_level()));
		print_table(runs, nruns);
	}
	return 0;
}
