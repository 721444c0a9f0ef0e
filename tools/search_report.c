/*
 * search_report.c — loading queries and ground truth for `dann search`,
 * and its table / JSON output (see search_report.h).
 */
#include "search_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "../engine/dann.h"
#include "../engine/error.h"
#include "../engine/vf.h"

int search_load_queries(const char *path, uint32_t dim, float **out, uint64_t *nq)
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

int search_load_gt(const char *path, uint64_t nq, uint32_t k, int32_t **out, uint32_t *gt_k)
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

double search_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double search_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return NAN;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

void search_row_fill(const struct search_run *run, struct search_row *r)
{
	uint64_t hits = 0, lat_sum = 0, nq = run->nq;
	uint32_t k = run->k;

	for (uint64_t i = 0; i < nq; i++) {
		lat_sum += run->lat_ns[i];
		if (!run->gt)
			continue;
		for (uint32_t a = 0; a < run->found[i] && a < k; a++)
			for (uint32_t b = 0; b < k; b++)
				if ((int64_t)run->gt[i * run->gt_k + b] == run->keys[i * k + a]) {
					hits++;
					break;
				}
	}
	qsort(run->lat_ns, nq, sizeof *run->lat_ns, cmp_u64);
	r->recall = run->gt ? (double)hits / ((double)nq * k) : NAN;
	r->qps = (double)nq / run->secs;
	r->cpu_us = run->cpu_secs * 1e6 / (double)nq;
	r->mean_ms = (double)lat_sum / (double)nq / 1e6;
	r->p50_ms = (double)run->lat_ns[(nq - 1) / 2] / 1e6;
	r->p99_ms = (double)run->lat_ns[(uint64_t)((double)(nq - 1) * 0.99)] / 1e6;
}

static void json_num(const char *key, double v, const char *fmt)
{
	printf(", \"%s\": ", key);
	if (isnan(v))
		printf("null");
	else
		printf(fmt, v);
}

static void print_json(const struct search_row *rows, uint32_t n)
{
	printf("[");
	for (uint32_t i = 0; i < n; i++) {
		const struct search_row *r = &rows[i];
		printf("%s\n  {\"L\": %u", i ? "," : "", r->L);
		json_num("recall", r->recall, "%.4f");
		printf(", \"qps\": %.1f, \"mean_latency_ms\": %.4f, \"p50_ms\": %.4f, "
		       "\"p99_ms\": %.4f, \"mean_reads\": %.2f",
		       r->qps, r->mean_ms, r->p50_ms, r->p99_ms, r->reads);
		json_num("cpu_us_per_query", r->cpu_us, "%.1f");
		json_num("mean_hops", r->hops, "%.2f");
		json_num("cache_hit_rate", r->hit_rate, "%.4f");
		json_num("sector_use", r->sector_use, "%.4f");
		if (!isnan(r->segments))
			json_num("mean_segments", r->segments, "%.2f");
		printf("}");
	}
	printf("\n]\n");
}

static void cell(double v, const char *fmt, int width)
{
	if (isnan(v))
		printf("%*s", width, "-");
	else
		printf(fmt, v);
}

void search_print_rows(int json, const struct search_row *rows, uint32_t n)
{
	int segs = n > 0 && !isnan(rows[0].segments);

	if (json) {
		print_json(rows, n);
		return;
	}
	printf("%6s %9s %10s %9s %9s %9s %9s %10s %9s %9s %9s%s\n", "L", "recall@k", "QPS",
	       "cpu_us/q", "mean_ms", "p50_ms", "p99_ms", "reads/q", "hops/q", "cache%", "sector%",
	       segs ? "    segs/q" : "");
	for (uint32_t i = 0; i < n; i++) {
		const struct search_row *r = &rows[i];
		printf("%6u ", r->L);
		cell(r->recall, "%9.4f", 9);
		printf(" %10.1f ", r->qps);
		cell(r->cpu_us, "%9.1f", 9);
		printf(" %9.3f %9.3f %9.3f %10.2f ", r->mean_ms, r->p50_ms, r->p99_ms, r->reads);
		cell(r->hops, "%9.2f", 9);
		printf(" ");
		cell(isnan(r->hit_rate) ? NAN : 100 * r->hit_rate, "%8.1f%%", 9);
		printf(" ");
		cell(isnan(r->sector_use) ? NAN : 100 * r->sector_use, "%8.1f%%", 9);
		if (segs)
			cell(r->segments, " %9.2f", 10);
		printf("\n");
	}
}
