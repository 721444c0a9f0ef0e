/*
 * cmd_build.c — `dann build`: a vector file in, a disk index directory out
 * (dann_index_build), with a progress bar per phase and, at the end, the
 * elapsed time and the process's peak RSS.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../engine/dann.h"
#include "../engine/error.h"
#include "cmd.h"
#include "progress.h"

static const char build_help[] =
	"usage: dann build --data FILE --out DIR [--metric l2|ip|cosine] [-R 64] [-L 100]\n"
	"                  [--alpha 1.2] [--pq-bytes B] [--build-ram GiB] [--threads N]\n"
	"                  [--order locality|shuffle|plain] [--entry-sample auto|N] [--opq]\n"
	"                  [--checkpoint DIR]\n"
	"\n"
	"Builds a disk index of the vectors in FILE (.fbin/.u8bin/.i8bin/.fvecs/.bvecs)\n"
	"into DIR, which must not exist: PQ codes (--pq-bytes bytes per vector,\n"
	"default dim/8), a Vamana graph of max degree R built with list size L and\n"
	"RobustPrune slack alpha, and the node file (full vectors and neighbour lists,\n"
	"sector-aligned) read by `dann search`. The directory appears only once\n"
	"complete. --build-ram refuses a build estimated to need more memory;\n"
	"--order plain keeps nodes in id order instead of packing graph neighbours\n"
	"into shared sectors; --order shuffle refines the packing by block shuffling\n"
	"(Starling: nodes swap sectors while more edges end inside one). --entry-sample N keeps an in-RAM graph over N sampled\n"
	"points that starts each search near its query (auto: 1% of the points,\n"
	"1000 to 1000000; 0: none, searches start at the medoid). --opq learns a\n"
	"rotation before PQ (OPQ) that steers the search better on embedding-like data\n"
	"(dim at most 4096; costs PQ training time). --checkpoint DIR keeps the shard\n"
	"graphs of a build partitioned by --build-ram in DIR as each completes: the\n"
	"same command run again after a crash, a kill or a reboot resumes at the first\n"
	"shard not built (DIR goes once the build succeeds).\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define BUILD_MAX_PHASES 16

/* Wall time per build phase, from the progress hook: time runs to the
 * phase last reported until another is, so the figures add up to the
 * build and a sizing estimate can scale each by what it grows with. A
 * phase reported in turns with another (the partitioned build's "vamana
 * shards" and "vamana") adds up under its name. */
struct phase_clock {
	struct progress pb;
	const char *name[BUILD_MAX_PHASES];
	double secs[BUILD_MAX_PHASES];
	unsigned n, cur;
	double since;
};

static void phase_switch(struct phase_clock *pc, const char *phase, double t)
{
	unsigned i;

	if (pc->n)
		pc->secs[pc->cur] += t - pc->since;
	pc->since = t;
	for (i = 0; i < pc->n && strcmp(pc->name[i], phase) != 0; i++)
		;
	if (i == pc->n && pc->n < BUILD_MAX_PHASES)
		pc->name[pc->n++] = phase; /* the library's phase names are string literals */
	if (i < pc->n)
		pc->cur = i;
}

static void phase_update(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct phase_clock *pc = arg;

	if (pc->n == 0 || strcmp(pc->name[pc->cur], phase) != 0)
		phase_switch(pc, phase, now_s());
	progress_update(&pc->pb, phase, done, total);
}

static void phase_print(struct phase_clock *pc, double end)
{
	if (pc->n)
		pc->secs[pc->cur] += end - pc->since;
	printf("phases:");
	for (unsigned i = 0; i < pc->n; i++)
		printf("%s %s %.1f s", i ? "," : "", pc->name[i], pc->secs[i]);
	printf("\n");
}

static int parse(int argc, char **argv, struct dann_build_params *p, const char **data,
		 const char **out)
{
	enum { O_DATA = 256, O_OUT, O_METRIC, O_ALPHA, O_PQ, O_RAM, O_THREADS, O_ORDER, O_ENTRY,
	       O_OPQ, O_CKPT, O_HELP };
	static const struct option longs[] = {
		{ "data", required_argument, 0, O_DATA },
		{ "out", required_argument, 0, O_OUT },
		{ "metric", required_argument, 0, O_METRIC },
		{ "alpha", required_argument, 0, O_ALPHA },
		{ "pq-bytes", required_argument, 0, O_PQ },
		{ "build-ram", required_argument, 0, O_RAM },
		{ "threads", required_argument, 0, O_THREADS },
		{ "order", required_argument, 0, O_ORDER },
		{ "entry-sample", required_argument, 0, O_ENTRY },
		{ "opq", no_argument, 0, O_OPQ },
		{ "checkpoint", required_argument, 0, O_CKPT },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	unsigned long long v;
	double d;
	int c;

	*data = *out = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "R:L:h", longs, NULL)) != -1) {
		switch (c) {
		case O_DATA: *data = optarg; break;
		case O_OUT: *out = optarg; break;
		case O_METRIC:
			if (dann_metric_parse(optarg, &p->metric) < 0)
				return cmd_usage_error("build", "--metric: %s", dann_errmsg());
			break;
		case 'R':
			if (cmd_parse_u64("build", "-R", optarg, 1024, &v) < 0)
				return 2;
			p->R = (uint32_t)v;
			break;
		case 'L':
			if (cmd_parse_u64("build", "-L", optarg, 100000, &v) < 0)
				return 2;
			p->L = (uint32_t)v;
			break;
		case O_ALPHA:
			if (cmd_parse_double("build", "--alpha", optarg, &d) < 0)
				return 2;
			p->alpha = (float)d;
			break;
		case O_PQ:
			if (cmd_parse_u64("build", "--pq-bytes", optarg, 4096, &v) < 0)
				return 2;
			p->pq_bytes = (uint32_t)v;
			break;
		case O_RAM:
			if (cmd_parse_double("build", "--build-ram", optarg, &p->build_ram_gib) < 0)
				return 2;
			break;
		case O_THREADS:
			if (cmd_parse_u64("build", "--threads", optarg, 1024, &v) < 0)
				return 2;
			p->threads = (uint32_t)v;
			break;
		case O_ORDER:
			if (!strcmp(optarg, "locality"))
				p->locality_order = DANN_ORDER_LOCALITY;
			else if (!strcmp(optarg, "shuffle"))
				p->locality_order = DANN_ORDER_SHUFFLE;
			else if (!strcmp(optarg, "plain"))
				p->locality_order = DANN_ORDER_PLAIN;
			else
				return cmd_usage_error("build", "--order: '%s', expected locality, shuffle or plain",
						       optarg);
			break;
		case O_ENTRY:
			if (!strcmp(optarg, "auto"))
				p->entry_sample = DANN_ENTRY_SAMPLE_AUTO;
			else if (cmd_parse_u64("build", "--entry-sample", optarg, UINT32_MAX, &v) < 0)
				return 2;
			else
				p->entry_sample = v;
			break;
		case O_OPQ: p->opq = 1; break;
		case O_CKPT: p->checkpoint_dir = optarg; break;
		case 'h':
		case O_HELP: fputs(build_help, stdout); return -1;
		default: return cmd_usage_error("build", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error("build", "unexpected argument '%s'", argv[optind]);
	if (!*data || !*out)
		return cmd_usage_error("build", "--data FILE and --out DIR are required");
	if (p->R == 0 || p->L == 0)
		return cmd_usage_error("build", "-R and -L must be at least 1");
	if (!(p->alpha >= 1.0f))
		return cmd_usage_error("build", "--alpha %g: expected a number >= 1", (double)p->alpha);
	return 0;
}

/* The library's notes (a resumed checkpoint, block shuffling's gain). */
static void log_note(void *arg, enum dann_log_level level, const char *module, const char *msg)
{
	(void)arg;
	fprintf(stderr, "dann build: %s%s: %s\n", level <= DANN_LOG_WARN ? "warning: " : "", module, msg);
}

static int run_build(int argc, char **argv)
{
	struct dann_build_params p;
	struct phase_clock pc = { 0 };
	struct rusage ru;
	const char *data, *out;
	double t0;
	int rc;

	dann_build_params_default(&p);
	if ((rc = parse(argc, argv, &p, &data, &out)))
		return rc < 0 ? 0 : rc;
	dann_log_set(log_note, NULL, DANN_LOG_INFO);
	progress_init(&pc.pb, "build");
	p.progress = phase_update;
	p.progress_arg = &pc;
	t0 = now_s();
	rc = dann_index_build(data, out, &p);
	progress_finish(&pc.pb);
	if (rc < 0)
		return cmd_fail_lib("build", rc);
	getrusage(RUSAGE_SELF, &ru);
	printf("built %s from %s in %.1f s; peak RSS %.1f MiB\n", out, data, now_s() - t0,
	       (double)ru.ru_maxrss / 1024.0);
	phase_print(&pc, now_s());
	return 0;
}

DANN_COMMAND(build, "build a disk index (PQ + Vamana graph + node file) from a vector file", run_build)
