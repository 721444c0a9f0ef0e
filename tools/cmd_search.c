/*
 * cmd_search.c — `dann search`: runs a query file against a disk index
 * (--index DIR) or a collection (--data-dir D --name C, see search_coll.c)
 * for one or more list sizes L and prints, per L, recall@k against ground
 * truth, QPS, CPU time per query, latency (mean, p50, p99), mean reads and
 * hops per query and the node cache's hit rate (a collection: segments visited per query
 * instead of hops and cache); --json prints the same as a JSON array.
 *
 * Every L runs the whole query set through one batch call with T threads
 * of `inflight` queries each; QPS is queries over the wall time of that
 * call, latency is each query's own start-to-finish time.
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
#include "search_report.h"

int search_collection(const struct search_opts *o);

static const char search_help[] =
	"usage: dann search --index DIR --queries FILE [--gt FILE] [-k 10]\n"
	"                   [-L 10,20,40,80,160] [-W 4] [-T 2] [--inflight 16]\n"
	"                   [--cache-nodes N | --cache-mib MIB | --cache-frac F]\n"
	"                   [--cache-policy bfs|visits]\n"
	"                   [--io uring|aio|pread]\n"
	"                   [--buffered] [--sector-expand auto|on|exact|off]\n"
	"                   [--entry-seeds auto|N] [--json]\n"
	"       dann search --data-dir D --name C --queries FILE [--gt FILE] [-k 10]\n"
	"                   [-L ...] [-W 4] [-T 2] [--inflight 16] [--filter EXPR] [--json]\n"
	"\n"
	"Searches every query of FILE (.fbin/.u8bin/.i8bin/.fvecs/.bvecs, same\n"
	"dimension as the index) for its k nearest neighbours, once per list size L,\n"
	"and prints one row per L: recall@k (with --gt, an .ibin of true ids, at\n"
	"least k per query), QPS, CPU time per query (user + system, in us),\n"
	"mean/p50/p99 latency in ms, mean SSD reads and hops per query, and the\n"
	"node cache's hit rate, and sector use: of the other nodes in the sectors\n"
	"read, the share expanded with the read instead of costing one of their own.\n"
	"\n"
	"With --data-dir and --name it searches collection C of data directory D\n"
	"(every segment, growing and flushed) instead: recall compares primary keys\n"
	"with the ground-truth ids, and the table shows segments visited per query\n"
	"(JSON key mean_segments) in place of hops and cache hits. --filter EXPR\n"
	"keeps only rows whose scalar fields pass a Milvus-style expression, e.g.\n"
	"'cat in [1, 2] and price < 9.5' or 'meta[\"color\"] == \"red\"'.\n"
	"\n"
	"  -W N             beam width: node reads per round (default 4)\n"
	"  -T N             search threads (default 2)\n"
	"  --inflight N     queries in flight per thread (default 16)\n"
	"  --cache-nodes N  hot nodes cached in RAM (0: no cache) ...\n"
	"  --cache-mib M    ... or a cache budget in MiB ...\n"
	"  --cache-frac F   ... or a fraction of the node file (default 0.02, the\n"
	"                   library's DANN_CACHE_DEFAULT_FRAC; the smallest given wins)\n"
	"  --cache-policy P which nodes: bfs (default: breadth-first from the entry\n"
	"                   points) or visits (those 2000 warm-up searches at open\n"
	"                   read most, then breadth-first)\n"
	"  --io BACKEND     first I/O backend to try (default: io_uring, then libaio,\n"
	"                   then pread)\n"
	"  --buffered       read through the page cache instead of O_DIRECT\n"
	"  --sector-expand  the other nodes of each read sector: on expands those in,\n"
	"                   or entering by PQ, the candidate list; exact also takes\n"
	"                   every one's exact distance into the results and lets\n"
	"                   them enter at it (Starling's in-block search); default\n"
	"                   auto: exact unless the index has the plain order\n"
	"  --entry-seeds N  start from the N points of the index's entry graph\n"
	"                   nearest the query (auto: 2 W; 0: from the medoid)\n"
	"  --json           a JSON array, one object per L with keys L, recall, qps,\n"
	"                   mean_latency_ms, p50_ms, p99_ms, mean_reads,\n"
	"                   cpu_us_per_query, mean_hops, cache_hit_rate, sector_use\n";

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
	       O_BUFFERED, O_SECTOR, O_DATA_DIR, O_NAME, O_ENTRY, O_FILTER, O_POLICY, O_CACHE_FRAC,
	       O_HELP };
	static const struct option longs[] = {
		{ "index", required_argument, 0, O_INDEX },
		{ "data-dir", required_argument, 0, O_DATA_DIR },
		{ "name", required_argument, 0, O_NAME },
		{ "filter", required_argument, 0, O_FILTER },
		{ "queries", required_argument, 0, O_QUERIES },
		{ "gt", required_argument, 0, O_GT },
		{ "inflight", required_argument, 0, O_INFLIGHT },
		{ "cache-nodes", required_argument, 0, O_CACHE },
		{ "cache-mib", required_argument, 0, O_CACHE_MIB },
		{ "cache-frac", required_argument, 0, O_CACHE_FRAC },
		{ "cache-policy", required_argument, 0, O_POLICY },
		{ "io", required_argument, 0, O_IO },
		{ "json", no_argument, 0, O_JSON },
		{ "buffered", no_argument, 0, O_BUFFERED },
		{ "sector-expand", required_argument, 0, O_SECTOR },
		{ "entry-seeds", required_argument, 0, O_ENTRY },
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
	o->entry_seeds = -1;
	parse_Ls("10,20,40,80,160", o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "k:L:W:T:h", longs, NULL)) != -1) {
		switch (c) {
		case O_INDEX: o->index = optarg; break;
		case O_DATA_DIR: o->data_dir = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_FILTER: o->filter = optarg; break;
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
			o->cache_given = 1;
			break;
		case O_CACHE_MIB:
			if (cmd_parse_u64("search", "--cache-mib", optarg, 1u << 24, &o->cache_mib) < 0)
				return 2;
			o->cache_given = 1;
			break;
		case O_CACHE_FRAC:
			if (cmd_parse_double("search", "--cache-frac", optarg, &o->cache_frac) < 0)
				return 2;
			if (!(o->cache_frac >= 0 && o->cache_frac <= 1))
				return cmd_usage_error("search", "--cache-frac: '%s', expected a fraction 0..1 "
							 "of the node file", optarg);
			o->cache_given = 1;
			break;
		case O_POLICY:
			o->policy_given = 1;
			if (!strcmp(optarg, "bfs"))
				o->cache_policy = DANN_CACHE_BFS;
			else if (!strcmp(optarg, "visits"))
				o->cache_policy = DANN_CACHE_VISITS;
			else
				return cmd_usage_error("search", "--cache-policy: '%s', expected bfs or visits",
						       optarg);
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
				o->sector_expand = DANN_SECTOR_ON;
			else if (!strcmp(optarg, "exact"))
				o->sector_expand = DANN_SECTOR_EXACT;
			else if (!strcmp(optarg, "off"))
				o->sector_expand = DANN_SECTOR_OFF;
			else if (!strcmp(optarg, "auto"))
				o->sector_expand = DANN_SECTOR_AUTO;
			else
				return cmd_usage_error("search", "--sector-expand: '%s', expected auto, on, exact or off",
						       optarg);
			break;
		case O_ENTRY: {
			unsigned long long v;
			if (!strcmp(optarg, "auto"))
				o->entry_seeds = -1;
			else if (cmd_parse_u64("search", "--entry-seeds", optarg, 64, &v) < 0)
				return 2;
			else
				o->entry_seeds = (int)v;
			break;
		}
		case 'h':
		case O_HELP: fputs(search_help, stdout); return -1;
		default:
			return cmd_usage_error("search", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error("search", "unexpected argument '%s'", argv[optind]);
	if (o->index && (o->data_dir || o->name))
		return cmd_usage_error("search", "--index searches one disk index; --data-dir and --name a "
					       "collection: give one or the other");
	if (o->index && o->filter)
		return cmd_usage_error("search", "--filter needs a collection's scalar fields: use "
					       "--data-dir D --name C");
	if (!o->index && (!o->data_dir) != (!o->name))
		return cmd_usage_error("search", "a collection needs both --data-dir D and --name C");
	if (o->data_dir && (o->cache_given || o->policy_given || o->backend || o->buffered || o->sector_expand != -1 ||
			    o->entry_seeds != -1))
		return cmd_usage_error("search", "--cache-nodes, --cache-mib, --cache-frac, --cache-policy, --io, --buffered, "
					       "--sector-expand and --entry-seeds apply to --index; a collection's segments are "
					       "opened by the data directory");
	if ((!o->index && !o->data_dir) || !o->queries)
		return cmd_usage_error("search", "--index DIR (or --data-dir D --name C) and --queries FILE "
					       "are required");
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

/* Keys of the results (dann_index_key of each id; none past found). */
static void summarize(struct dann_index *ix, const struct search_opts *o, uint64_t nq,
		      const uint32_t *ids, const uint32_t *found, const struct dann_search_stats *st,
		      const int32_t *gt, uint32_t gt_k, double secs, double cpu_secs, int64_t *keys,
		      uint64_t *lat, struct search_row *r)
{
	uint64_t reads = 0, hops = 0, cached = 0, peers = 0, used = 0;
	uint32_t k = (uint32_t)o->k;
	struct search_run run = { .nq = nq, .k = k, .keys = keys, .found = found, .lat_ns = lat,
				  .gt = gt, .gt_k = gt_k, .secs = secs,
				  .cpu_secs = cpu_secs };

	for (uint64_t i = 0; i < nq; i++) {
		reads += st[i].reads;
		hops += st[i].hops;
		cached += st[i].cache_hits;
		peers += st[i].sector_peers;
		used += st[i].sector_used;
		lat[i] = st[i].latency_ns;
		for (uint32_t a = 0; a < k; a++)
			keys[i * k + a] = a < found[i] && ids[i * k + a] != UINT32_MAX
						  ? (int64_t)dann_index_key(ix, ids[i * k + a])
						  : INT64_MIN;
	}
	search_row_fill(&run, r);
	r->reads = (double)reads / (double)nq;
	r->hops = (double)hops / (double)nq;
	r->hit_rate = hops ? (double)cached / (double)hops : 0;
	/* NAN without sector expansion (plain order, one node per sector). */
	r->sector_use = peers ? (double)used / (double)peers : NAN;
	r->segments = NAN;
}

static int run_search(int argc, char **argv)
{
	struct search_opts o;
	struct dann_open_params op = { 0 };
	struct dann_search_params sp;
	struct dann_index_info info;
	struct dann_index *ix = NULL;
	struct dann_search_stats *st = NULL;
	struct search_row rows[SEARCH_MAX_LS];
	int64_t *keys = NULL;
	float *queries = NULL, *dists = NULL;
	uint32_t *ids = NULL, *found = NULL, gt_k = 0;
	int32_t *gt = NULL;
	uint64_t nq = 0, *lat = NULL;
	int rc, status = 1;

	if ((rc = parse_args(argc, argv, &o)))
		return rc < 0 ? 0 : rc;
	if (o.data_dir)
		return search_collection(&o);
	/* no cache option: the library's default budget (a collection's too) */
	op.cache_nodes = o.cache_nodes;
	op.cache_bytes = o.cache_mib << 20;
	op.cache_frac = o.cache_given ? o.cache_frac : DANN_CACHE_DEFAULT_FRAC;
	op.cache_policy = o.policy_given ? o.cache_policy : DANN_CACHE_DEFAULT_POLICY;
	op.buffered = o.buffered;
	if ((rc = dann_index_open(o.index, &op, &ix)) < 0)
		return cmd_fail_lib("search", rc);
	dann_index_info(ix, &info);
	if ((rc = search_load_queries(o.queries, info.dim, &queries, &nq)) < 0 ||
	    (o.gt && (rc = search_load_gt(o.gt, nq, (uint32_t)o.k, &gt, &gt_k)) < 0)) {
		status = cmd_fail_lib("search", rc);
		goto out;
	}
	ids = malloc(sizeof *ids * nq * o.k);
	dists = malloc(sizeof *dists * nq * o.k);
	found = malloc(sizeof *found * nq);
	st = malloc(sizeof *st * nq);
	lat = malloc(sizeof *lat * nq);
	keys = malloc(sizeof *keys * nq * o.k);
	if (!ids || !dists || !found || !st || !lat || !keys) {
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
	sp.entry_seeds = o.entry_seeds;
	for (uint32_t i = 0; i < o.nL; i++) {
		double t0, c0;
		sp.L = o.Ls[i];
		c0 = search_cpu_s();
		t0 = search_now_s();
		if ((rc = dann_search_batch(ix, queries, nq, &sp, ids, dists, found, st)) < 0) {
			status = cmd_fail_lib("search", rc);
			goto out;
		}
		rows[i].L = sp.L;
		summarize(ix, &o, nq, ids, found, st, gt, gt_k, search_now_s() - t0,
			  search_cpu_s() - c0, keys, lat, &rows[i]);
	}
	if (!o.json)
		printf("# %s: %llu points, dim %u, R %u, %s order; %llu queries, k %llu, W %llu, "
		       "T %llu, inflight %llu; cache %llu nodes (%s); entry graph %llu points (%s); "
		       "reads %s; %s\n",
		       o.index, (unsigned long long)info.n, info.dim, info.R,
		       info.locality_order == DANN_ORDER_SHUFFLE    ? "shuffle"
		       : info.locality_order == DANN_ORDER_LOCALITY ? "locality"
								    : "plain",
		       (unsigned long long)nq, o.k, o.W,
		       o.T, o.inflight, (unsigned long long)info.cache_nodes,
		       op.cache_policy == DANN_CACHE_VISITS ? "visits" : "bfs",
		       (unsigned long long)info.entry_points, o.entry_seeds ? "seeds" : "off",
		       info.direct ? "O_DIRECT" : "buffered (page cache)", dann_index_io(ix));
	search_print_rows(o.json, rows, o.nL);
	status = 0;
out:
	free(queries);
	free(gt);
	free(ids);
	free(dists);
	free(found);
	free(st);
	free(lat);
	free(keys);
	dann_index_close(ix);
	return status;
}

DANN_COMMAND(search, "search a disk index or a collection with a query file; recall, QPS, latency per L",
	     run_search)
