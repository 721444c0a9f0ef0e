/*
 * cmd_gt.c — `dann gt`: exact k-nearest-neighbour ground truth for a query
 * file against a base file (engine/gt.h does the work).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gt.h"
#include "../engine/vf.h"
#include "cmd.h"
#include "progress.h"

#define CMD "gt"

static void usage(void)
{
	printf("usage: dann gt --base FILE --queries FILE -k K --metric l2|ip|cosine --out GT.ibin\n"
	       "              [--threads T] [--block-rows B] [--parallel queries|blas]\n"
	       "\n"
	       "Exact k nearest base rows of every query, by blocked sgemm with exact\n"
	       "re-scoring. Writes GT.ibin (int32 count, int32 k, ids of the k nearest,\n"
	       "closest first; ties go to the smaller id) and GT.dist.fbin beside it (the\n"
	       "distances: squared L2, -inner product or 1 - cosine). The base is read a\n"
	       "block at a time, so it may be larger than RAM.\n"
	       "\n"
	       "  --base FILE       base vectors (.fbin .u8bin .i8bin .fvecs .bvecs)\n"
	       "  --queries FILE    query vectors, same dimension\n"
	       "  -k, --k K         neighbours per query, 1..%d and at most the base count\n"
	       "  --metric M        l2, ip or cosine\n"
	       "  --out FILE        .ibin output\n"
	       "  --threads T       threads (default: OpenMP's, i.e. OMP_NUM_THREADS or cores)\n"
	       "  --block-rows B    base rows per block (default %d)\n"
	       "  --parallel P      queries: each thread its own query tiles (default);\n"
	       "                    blas: threaded sgemm on large tiles (for measuring)\n",
	       GT_MAX_K, GT_DEFAULT_BLOCK_ROWS);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run_gt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "queries", required_argument, NULL, 'q' },
		{ "k", required_argument, NULL, 'k' },
		{ "metric", required_argument, NULL, 'm' },
		{ "out", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 'T' },
		{ "block-rows", required_argument, NULL, 'B' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *base = NULL, *queries = NULL, *out = NULL, *metric = NULL;
	struct gt_params p = { 0 };
	unsigned long long v;
	int have_k = 0, c, rc;
	struct progress pb;
	double t0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hk:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(); return 0;
		case 'b': base = optarg; break;
		case 'q': queries = optarg; break;
		case 'o': out = optarg; break;
		case 'm': metric = optarg; break;
		case 'k':
			if (cmd_parse_u64(CMD, "-k", optarg, ~0U, &v))
				return 2;
			if (v < 1 || v > GT_MAX_K)
				return cmd_usage_error(CMD, "-k %llu: expected 1..%d", v, GT_MAX_K);
			p.k = (uint32_t)v;
			have_k = 1;
			break;
		case 'T':
			if (cmd_parse_u64(CMD, "--threads", optarg, 1024, &v))
				return 2;
			p.threads = (int)v;
			break;
		case 'B':
			if (cmd_parse_u64(CMD, "--block-rows", optarg, 1ULL << 31, &v))
				return 2;
			if (!v)
				return cmd_usage_error(CMD, "--block-rows must be at least 1");
			p.block_rows = v;
			break;
		case 'P':
			if (!strcmp(optarg, "queries"))
				p.parallel = GT_PAR_QUERIES;
			else if (!strcmp(optarg, "blas"))
				p.parallel = GT_PAR_BLAS;
			else
				return cmd_usage_error(CMD, "--parallel '%s': expected queries or blas", optarg);
			break;
		case ':':
			return cmd_usage_error(CMD, "%s needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!base || !queries || !have_k || !metric || !out)
		return cmd_usage_error(CMD, "--base, --queries, -k, --metric and --out are required");
	if (dann_metric_parse(metric, &p.metric) < 0)
		return cmd_usage_error(CMD, "--metric '%s': expected l2, ip or cosine", metric);
	progress_init(&pb, CMD);
	p.progress = progress_update;
	p.progress_arg = &pb;
	t0 = now_s();
	rc = gt_files(base, queries, out, &p);
	progress_finish(&pb);
	if (rc < 0)
		return cmd_fail_lib(CMD, rc);
	fprintf(stderr, "dann gt: wrote %s (k = %u, %s) in %.2f s\n", out, p.k,
		dann_metric_name(p.metric), now_s() - t0);
	return 0;
}

DANN_COMMAND(gt, "exact k-nearest-neighbour ground truth (blocked sgemm)", run_gt)
