/*
 * search_report.h — what `dann search` shares between its two targets, a
 * disk index (--index DIR) and a collection (--data-dir D --name C): the
 * options, loading queries and ground truth, and turning per-query results
 * into the one table / JSON array it prints per list size L.
 */
#ifndef DANN_SEARCH_REPORT_H
#define DANN_SEARCH_REPORT_H

#include <stdint.h>

#define SEARCH_MAX_LS 64

struct search_opts {
	const char *index, *queries, *gt;
	const char *data_dir, *name;          /* a collection instead of --index */
	const char *filter;                   /* a collection's filter expression */
	unsigned long long k, W, T, inflight, cache_nodes, cache_mib;
	uint32_t Ls[SEARCH_MAX_LS];
	uint32_t nL;
	int backend;
	int buffered, json, sector_expand, entry_seeds;
	int cache_policy;                     /* enum dann_cache_policy */
	int cache_given, policy_given;        /* the options were given (else the defaults) */
	double cache_frac;                    /* --cache-frac */
};

/* One printed row. NAN in hops / hit_rate / segments: not measured for
 * this target (printed "-" and null). */
struct search_row {
	uint32_t L;
	double recall, qps, mean_ms, p50_ms, p99_ms, reads, hops, hit_rate, segments;
	double cpu_us;             /* user + system CPU time per query, in us */
	double sector_use;         /* co-located nodes expanded / fetched; NAN: not measured */
};

/* Per-query results of one L, for search_row_fill. keys[i*k + a] is the
 * a-th result of query i as a primary key (or row number), found[i] how
 * many there are. */
struct search_run {
	uint64_t nq;
	uint32_t k;
	const int64_t *keys;
	const uint32_t *found;
	uint64_t *lat_ns;          /* nq latencies; sorted in place */
	const int32_t *gt;         /* NULL: no recall */
	uint32_t gt_k;
	double secs;               /* wall time of the batch */
	double cpu_secs;           /* user + system CPU time of the batch (search_cpu_s) */
};

/* Queries as float32, checked against dim. */
int search_load_queries(const char *path, uint32_t dim, float **out, uint64_t *nq);
/* Ground-truth ids: at least nq rows of at least k ids. */
int search_load_gt(const char *path, uint64_t nq, uint32_t k, int32_t **out, uint32_t *gt_k);

/* Fills recall, QPS and latency of r from run (the other fields are the
 * caller's). */
void search_row_fill(const struct search_run *run, struct search_row *r);

/* Prints rows as the table or, with json, the JSON array. */
void search_print_rows(int json, const struct search_row *rows, uint32_t n);

double search_now_s(void);
/* The process's user + system CPU time so far (getrusage), in seconds:
 * the difference around a batch is what the search cost the cores, which
 * QPS alone hides when the disk, not the CPU, is the limit. */
double search_cpu_s(void);

#endif
