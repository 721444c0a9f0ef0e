/*
 * search_coll.c — `dann search --data-dir D --name C`: the query file
 * against a collection (dann_coll_search_batch over every segment), one
 * row per L in the same table / JSON as a disk index (search_report.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../engine/dann.h"
#include "../engine/error.h"
#include "cmd.h"
#include "coll_cli.h"
#include "search_report.h"

int search_collection(const struct search_opts *o);

int search_collection(const struct search_opts *o)
{
	struct dann_coll_search_params sp;
	struct dann_coll_search_stats *st = NULL;
	struct search_row rows[SEARCH_MAX_LS];
	struct coll_cli cc;
	float *queries = NULL, *dists = NULL;
	int64_t *keys = NULL;
	uint32_t *found = NULL, gt_k = 0;
	int32_t *gt = NULL;
	uint64_t nq = 0, *lat = NULL, live = 0;
	int rc, status;

	if ((status = coll_cli_open("search", o->data_dir, o->name, 0, &cc)))
		return status;
	status = 1;
	if ((rc = search_load_queries(o->queries, cc.schema.dim, &queries, &nq)) < 0 ||
	    (o->gt && (rc = search_load_gt(o->gt, nq, (uint32_t)o->k, &gt, &gt_k)) < 0) ||
	    (rc = dann_coll_count(cc.c, &live)) < 0) {
		cmd_fail_lib("search", rc);
		goto out;
	}
	keys = malloc(sizeof *keys * nq * o->k);
	dists = malloc(sizeof *dists * nq * o->k);
	found = malloc(sizeof *found * nq);
	st = malloc(sizeof *st * nq);
	lat = malloc(sizeof *lat * nq);
	if (!keys || !dists || !found || !st || !lat) {
		fprintf(stderr, "dann search: no memory for %llu results\n", (unsigned long long)nq);
		goto out;
	}
	dann_coll_search_params_default(&sp);
	sp.k = (uint32_t)o->k;
	sp.W = (uint32_t)o->W;
	sp.threads = (uint32_t)o->T;
	sp.inflight = (uint32_t)o->inflight;
	sp.filter = o->filter;
	for (uint32_t i = 0; i < o->nL; i++) {
		struct search_run run = { .nq = nq, .k = sp.k, .keys = keys, .found = found, .lat_ns = lat,
					  .gt = gt, .gt_k = gt_k };
		uint64_t reads = 0, segs = 0;
		double t0, c0;

		sp.L = o->Ls[i];
		c0 = search_cpu_s();
		t0 = search_now_s();
		if ((rc = dann_coll_search_batch(cc.c, queries, nq, &sp, keys, dists, found, st)) < 0) {
			cmd_fail_lib("search", rc);
			goto out;
		}
		run.secs = search_now_s() - t0;
		run.cpu_secs = search_cpu_s() - c0;
		for (uint64_t q = 0; q < nq; q++) {
			reads += st[q].reads;
			segs += st[q].segments;
			lat[q] = st[q].latency_ns;
		}
		rows[i].L = sp.L;
		search_row_fill(&run, &rows[i]);
		rows[i].reads = (double)reads / (double)nq;
		rows[i].segments = (double)segs / (double)nq;
		rows[i].hops = NAN;
		rows[i].hit_rate = NAN;
		rows[i].sector_use = NAN;
	}
	if (!o->json)
		printf("# collection %s in %s: %llu live rows, dim %u, %s, %s; %llu queries, k %llu, W %llu, "
		       "T %llu, inflight %llu\n",
		       cc.schema.name, o->data_dir, (unsigned long long)live, cc.schema.dim,
		       dann_dtype_name(cc.schema.dtype), dann_metric_name(cc.schema.index.metric),
		       (unsigned long long)nq, o->k, o->W, o->T, o->inflight);
	search_print_rows(o->json, rows, o->nL);
	status = 0;
out:
	free(queries);
	free(gt);
	free(keys);
	free(dists);
	free(found);
	free(st);
	free(lat);
	coll_cli_close(&cc);
	return status;
}
