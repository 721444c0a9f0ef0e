/*
 * cmd_search.c — `dann search`: runs a query file against a disk index for
 * one or more list sizes L and prints, per L, recall@k against ground
 * truth, QPS, latency (mean, p50, p99), mean reads and hops per query and
 * the node cache's hit rate; --json prints the same as a JSON array.
 *
 * Every L runs the whole query set through dann_search_batch with T
 * threads of `inflight` queries each; QPS is queries over the wall time of
 * that call, latency is each query's own start-to-finish time.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/dann.h"
#include "../engine/error.h"
#include "../engine/io/dio.h"
#include "../engine/vf.h"
#include "cmd.h"

#define SEARCH_MAX_LS 64

static const char search_help[] =
	"usage: dann search --index DIR --queries FILE [--gt FILE] [-k 10]\n"
	"                   [-L 10,20,40,80,160] [-W 4] [-T 2] [--inflight 16]\n"
	"                   [--cache-nodes N | --cache-mib MIB] [--io uring|aio|pread]\n"
	"                   [--buffered] [--sector-expand auto|on|off] [--json]\n"
	"\n"
	"Searches every query of FILE (.fbin/.u8bin/.i8bin/.fvecs/.bvecs, same\n"
	"dimension as the index) for its k nearest neighbours, once per list size L,\n"
	"and prints one row per L: recall@k (with --gt, an .ibin of true ids, at\n"
	"least k per query), QPS, mean/p50/p99 latency in ms, mean SSD reads and\n"
	"hops per query, and the node cache's hit rate.\n"
	"\n"
	"  -W N             beam width: node reads per round (default 4)\n"
	"  -T N             search threads (default 2)\n"
	"  --inflight N     queries in flight per thread (default 16)\n"
	"  --cache-nodes N  hot nodes cached in RAM, breadth-first from the entry\n"
	"  --cache-mib M    ... or a cache budget in MiB\n"
	"  --io BACKEND     first I/O backend to try (default: io_uring, then libaio,\n"
	"                   then pread)\n"
	"  --buffered       read through the page cache instead of O_DIRECT\n"
	"  --sector-expand  expand the other nodes of each read sector (default:\n"
	"                   auto, on for locality-ordered indexes)\n"
	"  --json           a JSON array, one object per L with keys L, recall, qps,\n"
	"                   mean_latency_ms, p50_ms, p99_ms, mean_reads, mean_hops,\n"
	"                   cache_hit_rate\n";

struct search_opts {
	const char *index, *queries, *gt;
	unsigned long long k, W, T, inflight, cache_nodes, cache_mib;
	uint32_t Ls[SEARCH_MAX_LS];
	uint32_t nL;
	int backend;
	int buffered, json, sector_expand;
};

struct row {
	uint32_t L;
	double recall, qps, mean_ms, p50_ms, p99_ms, reads, hops, hit_rate;
};

static int parse_Ls(const char *s, struct search_opts *o)
{
	char buf[512], *save = NULL, *tok;
	unsigned long long v;

	if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
		return cmd_usage_error("search", "-L: list too long");
	o->nL = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nL == SEARCH_MAX_LS)
			return cmd_usage_error("search", "-L: at most %d values", SEARCH_MAX_LS);
		if (cmd_parse_u64("search", "-L", tok, 100000, &v) < 0)
			return 2;
		if (v == 0)
			return cmd_usage_error("search", "-L: list sizes must be at least 1");
		o->Ls[o->nL++] = (uint32_t)v;
	}
	if (o->nL == 0)
		return cmd_usage_error("search", "-L: expected a comma-separated list like 10,20,40");
	return 0;
}

static int parse_args(int argc, char **argv, struct search_opts *o)
{
	enum { O_INDEX = 256, O_QUERIES, O_GT, O_INFLIGHT, O_CACHE, O_CACHE_MIB, O_IO, O_JSON,
	       O_BUFFERED, O_SECTOR, O_HELP };
	static const struct option longs[] = {
		{ "index", required_argument, 0, O_INDEX },
		{ "queries", required_argument, 0, O_QUERIES },
		{ "gt", required_argument, 0, O_GT },
		{ "inflight", required_argument, 0, O_INFLIGHT },
		{ "cache-nodes", required_argument, 0, O_CACHE },
		{ "cache-mib", required_argument, 0, O_CACHE_MIB },
		{ "io", required_argument, 0, O_IO },
		{ "json", no_argument, 0, O_JSON },
		{ "buffered", no_argument, 0, O_BUFFERED },
		{ "sector-expand", required_argument, 0, O_SECTOR },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	enum dio_backend b;
	int c, rc;

	memset(o, 0, sizeof *o);
	o->k = 10;
	o->W = 4;
	o->T = 2;
	o->inflight = 16;
	o->sector_expand = -1;
	parse_Ls("10,20,40,80,160", o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "k:L:W:T:h", longs, NULL)) != -1) {
		switch (c) {
		case O_INDEX: o->index = optarg; break;
		case O_QUERIES: o->queries = optarg; break;
		case O_GT: o->gt = optarg; break;
		case 'k': if (cmd_parse_u64("search", "-k", optarg, 100000, &o->k) < 0) return 2; break;
		case 'W': if (cmd_parse_u64("search", "-W", optarg, 64, &o->W) < 0) return 2; break;
		case 'T': if (cmd_parse_u64("search", "-T", optarg, 1024, &o->T) < 0) return 2; break;
		case 'L': if ((rc = parse_Ls(optarg, o))) return rc; break;
		case O_INFLIGHT:
			if (cmd_parse_u64("search", "--inflight", optarg, 1024, &o->inflight) < 0)
				return 2;
			break;
		case O_CACHE:
			if (cmd_parse_u64("search", "--cache-nodes", optarg, UINT32_MAX, &o->cache_nodes) < 0)
				return 2;
			break;
		case O_CACHE_MIB:
			if (cmd_parse_u64("search", "--cache-mib", optarg, 1u << 24, &o->cache_mib) < 0)
				return 2;
			break;
		case O_IO:
			if (dio_backend_parse(optarg, &b) < 0)
				return cmd_usage_error("search", "--io: %s", dann_errmsg());
			o->backend = (int)b;
			break;
		case O_JSON: o->json = 1; break;
		case O_BUFFERED: o->buffered = 1; break;
		case O_SECTOR:
			if (!strcmp(optarg, "on"))
				o->sector_expand = 1;
			else if (!strcmp(optarg, "off"))
				o->sector_expand = 0;
			else if (!strcmp(optarg, "auto"))
				o->sector_expand = -1;
			else
				return cmd_usage_error("search", "--sector-expand: '%s', expected auto, on or off",
						       optarg);
			break;
		case 'h':
		case O_HELP: fputs(search_help, stdout); return -1;
		default:
			return cmd_usage_error("search", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error("search", "unexpected argument '%s'", argv[optind]);
	if (!o->index || !o->queries)
		return cmd_usage_error("search", "--index DIR and --queries FILE are required");
	if (o->k == 0)
		return cmd_usage_error("search", "-k must be at least 1");
	if (o->W == 0 || o->T == 0 || o->inflight == 0)
		return cmd_usage_error("search", "-W, -T and --inflight must be at least 1");
	for (uint32_t i = 0; i < o->nL; i++)
		if (o->Ls[i] < o->k)
			return cmd_usage_error("search", "-L %u is smaller than -k %llu (each L must be >= k)",
					       o->Ls[i], o->k);
	return 0;
}

/* Queries as float32, checked against the index's dimension. */
static int load_queries(const char *path, uint32_t dim, float **out, uint64_t *nq)
{
	struct vf *f;
	int rc;

	*out = NULL;
	if ((rc = vf_open(path, &f)) < 0)
		return rc;
	*nq = vf_count(f);
	if (*nq == 0) {
		rc = dann_fail(DANN_EINVAL, "%s: the query file holds no vectors", path);
		goto out;
	}
	if (vf_dim(f) != dim) {
		rc = dann_fail(DANN_EINVAL, "%s: queries have dimension %u, the index %u", path,
			       vf_dim(f), dim);
		goto out;
	}
	if (vf_dtype(f) == DANN_DTYPE_I32) {
		rc = dann_fail(DANN_EINVAL, "%s: an id file, not queries", path);
		goto out;
	}
	if (!(*out = malloc(sizeof **out * *nq * dim))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for %llu queries", path,
			       (unsigned long long)*nq);
		goto out;
	}
	if ((rc = vf_read_f32(f, 0, *nq, *out)) < 0) {
		free(*out);
		*out = NULL;
	}
out:
	vf_close(f);
	return rc;
}

/* Ground-truth ids: at least nq rows of at least k ids. */
static int load_gt(const char *path, uint64_t nq, uint32_t k, int32_t **out, uint32_t *gt_k)
{
	struct vf *f;
	int rc;

	*out = NULL;
	if ((rc = vf_open(path, &f)) < 0)
		return rc;
	if (vf_dtype(f) != DANN_DTYPE_I32) {
		rc = dann_fail(DANN_EINVAL, "%s: ground truth must be an .ibin/.ivecs of ids", path);
		goto out;
	}
	if (vf_count(f) < nq || vf_dim(f) < k) {
		rc = dann_fail(DANN_EINVAL, "%s: %llu rows of %u ids, need %llu rows of at least k = %u",
			       path, (unsigned long long)vf_count(f), vf_dim(f),
			       (unsigned long long)nq, k);
		goto out;
	}
	*gt_k = vf_dim(f);
	if (!(*out = malloc(sizeof **out * nq * *gt_k))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory", path);
		goto out;
	}
	if ((rc = vf_read(f, 0, nq, *out)) < 0) {
		free(*out);
		*out = NULL;
	}
out:
	vf_close(f);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void summarize(struct dann_index *ix, const struct search_opts *o, uint64_t nq,
		      const uint32_t *ids, const struct dann_search_stats *st, const int32_t *gt,
		      uint32_t gt_k, double secs, uint64_t *lat, struct row *r)
{
	uint64_t hits = 0, reads = 0, hops = 0, cached = 0, lat_sum = 0;
	uint32_t k = (uint32_t)o->k;

	for (uint64_t i = 0; i < nq; i++) {
		reads += st[i].reads;
		hops += st[i].hops;
		cached += st[i].cache_hits;
		lat[i] = st[i].latency_ns;
		lat_sum += lat[i];
		if (!gt)
			continue;
		for (uint32_t a = 0; a < k; a++) {
			uint64_t key = ids[i * k + a] == UINT32_MAX ? UINT64_MAX
								    : dann_index_key(ix, ids[i * k + a]);
			for (uint32_t b = 0; b < k; b++)
				if ((uint64_t)(int64_t)gt[i * gt_k + b] == key) {
					hits++;
					break;
				}
		}
	}
	qsort(lat, nq, sizeof *lat, cmp_u64);
	r->recall = gt ? (double)hits / ((double)nq * k) : NAN;
	r->qps = (double)nq / secs;
	r->mean_ms = (double)lat_sum / (double)nq / 1e6;
	r->p50_ms = (double)lat[(nq - 1) / 2] / 1e6;
	r->p99_ms = (double)lat[(uint64_t)((double)(nq - 1) * 0.99)] / 1e6;
	r->reads = (double)reads / (double)nq;
	r->hops = (double)hops / (double)nq;
	r->hit_rate = hops ? (double)cached / (double)hops : 0;
}

static void print_rows(const struct search_opts *o, const struct row *rows)
{
	if (o->json) {
		printf("[");
		for (uint32_t i = 0; i < o->nL; i++) {
			const struct row *r = &rows[i];
			printf("%s\n  {\"L\": %u, \"recall\": ", i ? "," : "", r->L);
			if (isnan(r->recall))
				printf("null");
			else
				printf("%.4f", r->recall);
			printf(", \"qps\": %.1f, \"mean_latency_ms\": %.4f, \"p50_ms\": %.4f, "
			       "\"p99_ms\": %.4f, \"mean_reads\": %.2f, \"mean_hops\": %.2f, "
			       "\"cache_hit_rate\": %.4f}",
			       r->qps, r->mean_ms, r->p50_ms, r->p99_ms, r->reads, r->hops, r->hit_rate);
		}
		printf("\n]\n");
		return;
	}
	printf("%6s %9s %10s %9s %9s %9s %10s %9s %9s\n", "L", "recall@k", "QPS", "mean_ms",
	       "p50_ms", "p99_ms", "reads/q", "hops/q", "cache%");
	for (uint32_t i = 0; i < o->nL; i++) {
		const struct row *r = &rows[i];
		printf("%6u ", r->L);
		if (isnan(r->recall))
			printf("%9s ", "-");
		else
			printf("%9.4f ", r->recall);
		printf("%10.1f %9.3f %9.3f %9.3f %10.2f %9.2f %8.1f%%\n", r->qps, r->mean_ms, r->p50_ms,
		       r->p99_ms, r->reads, r->hops, 100 * r->hit_rate);
	}
}

static int run_search(int argc, char **argv)
{
	struct search_opts o;
	struct dann_open_params op = { 0 };
	struct dann_search_params sp;
	struct dann_index_info info;
	struct dann_index *ix = NULL;
	struct dann_search_stats *st = NULL;
	struct row rows[SEARCH_MAX_LS];
	float *queries = NULL, *dists = NULL;
	uint32_t *ids = NULL, *found = NULL, gt_k = 0;
	int32_t *gt = NULL;
	uint64_t nq = 0, *lat = NULL;
	int rc, status = 1;

	if ((rc = parse_args(argc, argv, &o)))
		return rc < 0 ? 0 : rc;
	op.cache_nodes = o.cache_nodes;
	op.cache_bytes = o.cache_mib << 20;
	op.buffered = o.buffered;
	if ((rc = dann_index_open(o.index, &op, &ix)) < 0)
		return cmd_fail_lib("search", rc);
	dann_index_info(ix, &info);
	if ((rc = load_queries(o.queries, info.dim, &queries, &nq)) < 0 ||
	    (o.gt && (rc = load_gt(o.gt, nq, (uint32_t)o.k, &gt, &gt_k)) < 0)) {
		status = cmd_fail_lib("search", rc);
		goto out;
	}
	ids = malloc(sizeof *ids * nq * o.k);
	dists = malloc(sizeof *dists * nq * o.k);
	found = malloc(sizeof *found * nq);
	st = malloc(sizeof *st * nq);
	lat = malloc(sizeof *lat * nq);
	if (!ids || !dists || !found || !st || !lat) {
		fprintf(stderr, "dann search: no memory for %llu results\n", (unsigned long long)nq);
		goto out;
	}
	dann_search_params_default(&sp);
	sp.k = (uint32_t)o.k;
	sp.W = (uint32_t)o.W;
	sp.threads = (uint32_t)o.T;
	sp.inflight = (uint32_t)o.inflight;
	sp.io_backend = o.backend;
	sp.sector_expand = o.sector_expand;
	for (uint32_t i = 0; i < o.nL; i++) {
		double t0;
		sp.L = o.Ls[i];
		t0 = now_s();
		if ((rc = dann_search_batch(ix, queries, nq, &sp, ids, dists, found, st)) < 0) {
			status = cmd_fail_lib("search", rc);
			goto out;
		}
		rows[i].L = sp.L;
		summarize(ix, &o, nq, ids, st, gt, gt_k, now_s() - t0, lat, &rows[i]);
	}
	if (!o.json)
		printf("# %s: %llu points, dim %u, R %u, %s order; %llu queries, k %llu, W %llu, "
		       "T %llu, inflight %llu; cache %llu nodes; reads %s; %s\n",
		       o.index, (unsigned long long)info.n, info.dim, info.R,
		       info.locality_order ? "locality" : "plain", (unsigned long long)nq, o.k, o.W,
		       o.T, o.inflight, (unsigned long long)info.cache_nodes,
		       info.direct ? "O_DIRECT" : "buffered (page cache)", dann_index_io(ix));
	print_rows(&o, rows);
	status = 0;
out:
	free(queries);
	free(gt);
	free(ids);
	free(dists);
	free(found);
	free(st);
	free(lat);
	dann_index_close(ix);
	return status;
}

DANN_COMMAND(search, "search a disk index with a query file; recall, QPS, latency per L", run_search)
