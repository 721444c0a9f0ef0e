/*
 * bench/dist.c — distance-kernel throughput against memory bandwidth.
 *
 * For each dim, type pair, metric and SIMD level this CPU supports, one
 * query is compared with every vector of an array larger than the caches
 * (1 GiB by default: the L3 this machine reports is 260 MiB), and the rate
 * is given in GB/s of vectors scanned next to the memory read bandwidth of
 * the same array, measured by a plain streaming sum. Both run on one
 * thread, so the ratio says how close a kernel gets to the memory; they
 * are timed alternately so both see the same load from the rest of the
 * machine. A second figure scans a 64 KiB working set over and over: the
 * in-cache rate, in distances per second, which is what Vamana build and
 * the beam search's re-ranking see. Each figure is the median of --reps
 * runs timed with CLOCK_MONOTONIC. Prints a table, or with --json one JSON
 * object per row for the benchmark suite.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cmd.h"
#include "dist.h"

#define BENCH "bench_dist"
#define MIB (1024.0 * 1024.0)
#define HUGE_PAGE_BYTES (2u << 20)
#define CACHE_SET_BYTES (64u << 10)
/* Bytes of vectors scanned per in-cache repetition: long enough to time. */
#define CACHE_SCAN_BYTES (64u << 20)
#define MAX_REPS 101

struct pair {
	const char *name;
	enum dann_dtype q, d;
};

static const struct pair all_pairs[] = {
	{ "f32", DANN_DTYPE_F32, DANN_DTYPE_F32 },   { "u8", DANN_DTYPE_U8, DANN_DTYPE_U8 },
	{ "i8", DANN_DTYPE_I8, DANN_DTYPE_I8 },      { "f32-u8", DANN_DTYPE_F32, DANN_DTYPE_U8 },
	{ "f32-i8", DANN_DTYPE_F32, DANN_DTYPE_I8 },
};
#define NPAIRS_ALL (sizeof all_pairs / sizeof all_pairs[0])
/* The default run: the two pairs the issue asks for. */
#define NPAIRS_DEFAULT 2

static const size_t dims[] = { 128, 784 };
static const enum dann_metric metrics[] = { DANN_METRIC_L2, DANN_METRIC_IP, DANN_METRIC_COSINE };

struct opts {
	int json;
	int level; /* only this dist_level, or -1 for all */
	size_t npairs;
	unsigned long long mib, reps;
};

/* The array a pair scans: float data or byte data, shared by pairs. */
struct array {
	void *p;
	size_t bytes;
};

static volatile float sink_f;
static volatile unsigned long long sink_u;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: against the wall clock it says how much of a
 * figure's time the machine's other work took (cpu% below ~95 on a row
 * means the figure is low because of sharing, not because of the kernel). */
static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *t, size_t n)
{
	qsort(t, n, sizeof *t, cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random elements of type t: floats in [-1, 1), bytes over their range. */
static void fill(enum dann_dtype t, void *p, size_t n, uint64_t seed)
{
	if (t == DANN_DTYPE_F32) {
		float *f = p;
		for (size_t i = 0; i < n; i++)
			f[i] = (float)((double)(next_rand(&seed) >> 11) / (1ull << 52) - 1.0);
		return;
	}
	uint64_t *w = p;
	for (size_t i = 0; i < n / 8; i++)
		w[i] = next_rand(&seed);
	for (size_t i = n / 8 * 8; i < n; i++)
		((uint8_t *)p)[i] = (uint8_t)next_rand(&seed);
}

/* The baseline: sums the array as 64-bit words with independent partial
 * sums, which the compiler vectorises, built for the widest vectors this
 * CPU has (as the kernels are), so nothing but the loads limits it. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static unsigned long long stream_sum(const void *p, size_t bytes)
{
	const unsigned long long *w = p;
	unsigned long long s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t n = bytes / sizeof *w;

	for (size_t i = 0; i + 4 <= n; i += 4) {
		s0 += w[i];
		s1 += w[i + 1];
		s2 += w[i + 2];
		s3 += w[i + 3];
	}
	return s0 + s1 + s2 + s3;
}

static int array_new(struct array *a, enum dann_dtype t, size_t bytes)
{
	if (posix_memalign(&a->p, HUGE_PAGE_BYTES, bytes)) {
		fprintf(stderr, "%s: cannot allocate %.0f MiB\n", BENCH, bytes / MIB);
		return -1;
	}
	/* Huge pages keep TLB misses out of both the baseline and the kernels. */
	madvise(a->p, bytes, MADV_HUGEPAGE);
	a->bytes = bytes;
	fill(t, a->p, t == DANN_DTYPE_F32 ? bytes / sizeof(float) : bytes, 0x9e3779b97f4a7c15ull + t);
	return 0;
}

/* One timed pass: q against n vectors of vec_bytes from base, `passes`
 * times over; seconds. */
static double scan_once(dist_fn f, const void *q, const char *base, size_t n, size_t dim, size_t vec_bytes,
			size_t passes)
{
	float s = 0;
	double t0 = now_s();

	for (size_t p = 0; p < passes; p++)
		for (size_t i = 0; i < n; i++)
			s += f(q, base + i * vec_bytes, dim);
	sink_f += s;
	return now_s() - t0;
}

/* The in-cache figure: median seconds of reps scans. */
static double time_scan(dist_fn f, const void *q, const char *base, size_t n, size_t dim, size_t vec_bytes,
			size_t passes, unsigned long long reps)
{
	double times[MAX_REPS];

	for (size_t r = 0; r < reps; r++)
		times[r] = scan_once(f, q, base, n, dim, vec_bytes, passes);
	return median(times, reps);
}

/* The DRAM figure: scans of the whole array alternate with the baseline's
 * streaming sums over it, so that both medians see the same load from
 * the rest of the machine. */
static void time_scan_dram(dist_fn f, const void *q, const struct array *a, size_t dim, size_t vec_bytes,
			   unsigned long long reps, double *scan_s, double *read_s)
{
	double st[MAX_REPS], rt[MAX_REPS];

	for (size_t r = 0; r < reps; r++) {
		double t0 = now_s();
		sink_u += stream_sum(a->p, a->bytes);
		rt[r] = now_s() - t0;
		st[r] = scan_once(f, q, a->p, a->bytes / vec_bytes, dim, vec_bytes, 1);
	}
	*scan_s = median(st, reps);
	*read_s = median(rt, reps);
}

static void print_header(const struct opts *o)
{
	if (o->json)
		return;
	printf("%-6s %-7s %-7s %5s %-7s %5s %9s %10s %9s %7s\n", "set", "pair", "metric", "dim", "level", "cpu%",
	       "GB/s", "Mdist/s", "mem-GB/s", "ratio");
}

struct row {
	const char *set;
	const struct pair *p;
	enum dann_metric m;
	size_t dim;
	enum dist_level l;
	double cpu_share, gbps, dps, mem_gbps; /* mem_gbps 0: none measured */
};

static void print_row(const struct opts *o, const struct row *r)
{
	if (o->json) {
		printf("{\"bench\":\"dist\",\"set\":\"%s\",\"pair\":\"%s\",\"metric\":\"%s\",\"dim\":%zu,"
		       "\"level\":\"%s\",\"cpu_share\":%.3f,\"gbps\":%.3f,\"dist_per_s\":%.0f",
		       r->set, r->p->name, dann_metric_name(r->m), r->dim, dist_level_name(r->l), r->cpu_share,
		       r->gbps, r->dps);
		if (r->mem_gbps > 0)
			printf(",\"mem_gbps\":%.3f,\"ratio\":%.3f", r->mem_gbps, r->gbps / r->mem_gbps);
		printf("}\n");
		return;
	}
	printf("%-6s %-7s %-7s %5zu %-7s %5.0f %9.2f %10.2f", r->set, r->p->name, dann_metric_name(r->m), r->dim,
	       dist_level_name(r->l), 100 * r->cpu_share, r->gbps, r->dps / 1e6);
	if (r->mem_gbps > 0)
		printf(" %9.2f %7.2f", r->mem_gbps, r->gbps / r->mem_gbps);
	printf("\n");
}

static void bench_pair(const struct opts *o, const struct pair *p, const struct array *data)
{
	size_t esz = dann_dtype_size(p->d);
	float qbuf[1024];

	for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
		size_t dim = dims[di], vec_bytes = dim * esz;
		size_t n = data->bytes / vec_bytes, ncache = CACHE_SET_BYTES / vec_bytes;
		size_t passes = CACHE_SCAN_BYTES / (ncache * vec_bytes);

		fill(p->q, qbuf, dim, 42 + dim);
		for (size_t mi = 0; mi < sizeof metrics / sizeof metrics[0]; mi++) {
			for (enum dist_level l = DIST_SCALAR; l < DIST_NLEVELS; l++) {
				dist_fn f = dist_kernel_at(l, metrics[mi], p->q, p->d);
				struct row r = { "dram", p, metrics[mi], dim, l, 0, 0, 0, 0 };
				double t, rt, wall0, cpu0;
				if (!f || (o->level >= 0 && (int)l != o->level))
					continue;
				wall0 = now_s();
				cpu0 = thread_cpu_s();
				time_scan_dram(f, qbuf, data, dim, vec_bytes, o->reps, &t, &rt);
				r.cpu_share = (thread_cpu_s() - cpu0) / (now_s() - wall0);
				r.gbps = (double)n * vec_bytes / t / 1e9;
				r.dps = n / t;
				r.mem_gbps = data->bytes / rt / 1e9;
				print_row(o, &r);
				wall0 = now_s();
				cpu0 = thread_cpu_s();
				t = time_scan(f, qbuf, data->p, ncache, dim, vec_bytes, passes, o->reps);
				r.cpu_share = (thread_cpu_s() - cpu0) / (now_s() - wall0);
				r.set = "cache";
				r.gbps = (double)passes * ncache * vec_bytes / t / 1e9;
				r.dps = passes * ncache / t;
				r.mem_gbps = 0;
				print_row(o, &r);
				fflush(stdout);
			}
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [--json] [--all-pairs] [--level scalar|avx2|avx512] [--mib N] [--reps N]\n"
		"  Scans an N MiB array (default 1024, larger than the caches) of vectors with every\n"
		"  distance kernel at every SIMD level this CPU has, for dims 128 and 784, and prints\n"
		"  GB/s scanned next to the memory read bandwidth of the same array (a streaming\n"
		"  sum, timed alternately with the kernel), plus the in-cache rate over a 64 KiB\n"
		"  working set. One thread; each figure the median of --reps runs.\n"
		"  --json       one JSON object per row instead of the table\n"
		"  --all-pairs  also i8, f32-u8 and f32-i8 (default: f32 and u8)\n"
		"  --level L    only that level (default: every level this CPU supports)\n"
		"  --mib N      array size in MiB, 64..65536 (default 1024)\n"
		"  --reps N     repetitions per figure, 1..%d (default 5)\n",
		BENCH, MAX_REPS);
}

static int parse_level(const char *s, int *out)
{
	for (enum dist_level l = DIST_SCALAR; l < DIST_NLEVELS; l++) {
		if (!strcmp(s, dist_level_name(l))) {
			if (!dist_level_supported(l))
				return cmd_usage_error(BENCH, "--level %s: not supported by this CPU or build", s);
			*out = (int)l;
			return 0;
		}
	}
	return cmd_usage_error(BENCH, "--level '%s': expected scalar, avx2 or avx512", s);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },       { "all-pairs", no_argument, NULL, 'a' },
		{ "level", required_argument, NULL, 'l' }, { "mib", required_argument, NULL, 'm' },
		{ "reps", required_argument, NULL, 'r' },  { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .json = 0, .level = -1, .npairs = NPAIRS_DEFAULT, .mib = 1024, .reps = 5 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = 1; break;
		case 'a': o->npairs = NPAIRS_ALL; break;
		case 'l':
			if (parse_level(optarg, &o->level))
				return 2;
			break;
		case 'm':
			if (cmd_parse_u64(BENCH, "--mib", optarg, 65536, &o->mib) < 0)
				return 2;
			if (o->mib < 64)
				return cmd_usage_error(BENCH, "--mib %llu: expected at least 64", o->mib);
			break;
		case 'r':
			if (cmd_parse_u64(BENCH, "--reps", optarg, MAX_REPS, &o->reps) < 0)
				return 2;
			if (o->reps < 1)
				return cmd_usage_error(BENCH, "--reps 0: expected 1..%d", MAX_REPS);
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		return cmd_usage_error(BENCH, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int main(int argc, char **argv)
{
	struct array arrays[2] = { { NULL, 0 }, { NULL, 0 } }; /* float data, byte data */
	struct opts o;
	int rc = parse_opts(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!o.json)
		printf("# %s: best level %s; one thread; median of %llu; dram = %llu MiB array "
		       "(mem-GB/s: streaming sum over it, timed alternately), cache = %u KiB working set\n",
		       BENCH, dist_level_name(dist_best_level()), o.reps, o.mib, CACHE_SET_BYTES >> 10);
	print_header(&o);
	for (size_t i = 0; i < o.npairs; i++) {
		const struct pair *p = &all_pairs[i];
		struct array *a = &arrays[p->d == DANN_DTYPE_F32 ? 0 : 1];

		if (!a->p && array_new(a, p->d, (size_t)o.mib << 20) < 0) {
			rc = 1;
			break;
		}
		bench_pair(&o, p, a);
	}
	free(arrays[0].p);
	free(arrays[1].p);
	return rc;
}
