/*
 * bench/dix_crc.c — what the per-block checksum of disk.index costs the
 * beam search: QPS and CPU time per query with the check on and off, side
 * by side in one run on one open index (O_DIRECT unless the file system
 * refuses it), rounds alternating so that drift in the machine's load
 * hits both alike.
 *
 *   bench_dix_crc --index DIR --queries FILE [--nq N] [--L L] [--W W]
 *                 [--inflight N] [--rounds N]
 *
 * The index is any built disk index (dann build); queries a vector file of
 * its dimension. One search thread. Reported per setting: the median of the
 * rounds' QPS and CPU microseconds per query (thread CPU time, which other
 * processes' load does not inflate), and the CRC32C of one block alone.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/crc.h"
#include "../engine/error.h"
#include "../engine/vamana/dix.h"
#include "../engine/vamana/dix_search.h"
#include "../engine/vf.h"

#define MAX_ROUNDS 64

static double clock_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ns per CRC32C of one block's bytes, over a buffer the cache holds. */
static double crc_ns(uint32_t bytes)
{
	char *b = calloc(1, bytes);
	volatile uint32_t sink = 0;
	int reps = 200000;
	double t0 = clock_s(CLOCK_MONOTONIC);

	for (int i = 0; i < reps; i++)
		sink += crc32c((uint32_t)i, b, bytes - DIX_BLOCK_CRC_BYTES);
	free(b);
	return (clock_s(CLOCK_MONOTONIC) - t0) / reps * 1e9;
}

int main(int argc, char **argv)
{
	const char *index = NULL, *qpath = NULL;
	uint32_t L = 50, W = 4, inflight = 1, rounds = 5, nq_max = 2000;
	static const struct option opts[] = {
		{ "index", 1, 0, 'i' }, { "queries", 1, 0, 'q' }, { "nq", 1, 0, 'n' },
		{ "L", 1, 0, 'L' },     { "W", 1, 0, 'W' },       { "inflight", 1, 0, 'f' },
		{ "rounds", 1, 0, 'r' }, { 0, 0, 0, 0 }
	};
	struct dix_search_params p;
	struct dix_searcher_params sp;
	struct dix_index *ix = NULL;
	struct dann_search_stats *st;
	struct vf *qf = NULL;
	double qps[2][MAX_ROUNDS], cpu[2][MAX_ROUNDS], reads = 0;
	uint32_t *ids, *found;
	float *q, *dists;
	uint64_t nq;
	char io[128];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': index = optarg; break;
		case 'q': qpath = optarg; break;
		case 'n': nq_max = (uint32_t)atoi(optarg); break;
		case 'L': L = (uint32_t)atoi(optarg); break;
		case 'W': W = (uint32_t)atoi(optarg); break;
		case 'f': inflight = (uint32_t)atoi(optarg); break;
		case 'r': rounds = (uint32_t)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!index || !qpath || rounds == 0 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: bench_dix_crc --index DIR --queries FILE [--nq N] [--L L] "
				"[--W W] [--inflight N] [--rounds 1..%d]\n", MAX_ROUNDS);
		return 2;
	}
	if (dix_open(index, NULL, &ix) < 0 || vf_open(qpath, &qf) < 0) {
		fprintf(stderr, "%s\n", dann_errmsg());
		return 1;
	}
	nq = vf_count(qf) < nq_max ? vf_count(qf) : nq_max;
	q = malloc(sizeof *q * nq * ix->h.dim);
	ids = malloc(sizeof *ids * nq * 10);
	dists = malloc(sizeof *dists * nq * 10);
	found = malloc(sizeof *found * nq);
	st = malloc(sizeof *st * nq);
	if (vf_dim(qf) != ix->h.dim || vf_read_f32(qf, 0, nq, q) < 0) {
		fprintf(stderr, "queries: %s (dim %u, index %u)\n", dann_errmsg(), vf_dim(qf), ix->h.dim);
		return 1;
	}
	dix_search_params_default(&p);
	p.k = 10;
	p.L = L;
	p.W = W;
	sp = (struct dix_searcher_params){ .inflight = inflight, .backend = DIO_BACKEND_AUTO };
	for (uint32_t r = 0; r < rounds; r++)
		for (int v = 1; v >= 0; v--) {
			double t0, c0;
			ix->verify_blocks = v;
			t0 = clock_s(CLOCK_MONOTONIC);
			c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
			if (dix_search_batch(ix, q, nq, &p, &sp, 1, ids, dists, found, st, io,
					     sizeof io) < 0) {
				fprintf(stderr, "%s\n", dann_errmsg());
				return 1;
			}
			cpu[v][r] = (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) / nq * 1e6;
			qps[v][r] = nq / (clock_s(CLOCK_MONOTONIC) - t0);
		}
	for (uint64_t i = 0; i < nq; i++)
		reads += st[i].reads;
	printf("index %s: n %llu dim %u, %u-byte blocks, %s; io %s\n", index,
	       (unsigned long long)ix->h.n, ix->h.dim, ix->read_bytes,
	       ix->direct ? "O_DIRECT" : "buffered (O_DIRECT refused)", io);
	printf("%llu queries, L %u, W %u, inflight %u, 1 thread, %u rounds, %.1f reads/query\n",
	       (unsigned long long)nq, L, W, inflight, rounds, reads / nq);
	printf("crc32c of one block: %.0f ns\n", crc_ns(ix->read_bytes));
	{
		double q1 = median(qps[1], (int)rounds), q0 = median(qps[0], (int)rounds);
		double c1 = median(cpu[1], (int)rounds), c0 = median(cpu[0], (int)rounds);
		printf("%-12s %10s %14s\n", "verify", "QPS", "CPU us/query");
		printf("%-12s %10.0f %14.1f\n", "on", q1, c1);
		printf("%-12s %10.0f %14.1f\n", "off", q0, c0);
		printf("cost of the check: %+.1f%% QPS, %+.2f us CPU per query (%+.1f%%)\n",
		       (q1 / q0 - 1) * 100, c1 - c0, (c1 / c0 - 1) * 100);
	}
	vf_close(qf);
	dix_close(ix);
	free(q);
	free(ids);
	free(dists);
	free(found);
	free(st);
	return 0;
}
