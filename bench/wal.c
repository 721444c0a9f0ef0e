/*
 * bench/wal.c — the write-ahead log alone: durable appends per second
 * with group commit, by appender threads and record size.
 *
 * Each of T threads appends records of --bytes bytes (by default the
 * payload of an insert of 1000 128-d float32 rows: 512 KiB, and of one
 * such row: 512 B) as fast as wal_append returns, for --seconds. Reported
 * per setting: appends/s, MiB/s, fdatasyncs (the log's own count) per
 * second and appends per sync, p50/p99 append latency; --group-wait-us
 * makes each syncing leader wait that long for more appenders first (wal.h's
 * group_wait_us). The log lives in
 * --dir (a fresh subdirectory, removed after), on the same filesystem as
 * a collection's would be.
 */
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/error.h"
#include "../engine/segment/wal.h"

#define MAX_THREADS 64
#define MAX_SAMPLES (1u << 20)

struct run {
	struct wal *w;
	size_t bytes;
	double until;
	atomic_int failed;
};

struct worker {
	struct run *r;
	double *lat;              /* seconds per append */
	uint64_t n;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *append_loop(void *arg)
{
	struct worker *k = arg;
	uint8_t *buf = malloc(k->r->bytes);

	if (!buf) {
		atomic_store(&k->r->failed, 1);
		return NULL;
	}
	memset(buf, 0xab, k->r->bytes);
	for (double t = now_s(); t < k->r->until && k->n < MAX_SAMPLES; ) {
		if (wal_append(k->r->w, buf, k->r->bytes, NULL) < 0) {
			fprintf(stderr, "bench_wal: %s\n", dann_errmsg());
			atomic_store(&k->r->failed, 1);
			break;
		}
		double t1 = now_s();
		k->lat[k->n++] = t1 - t;
		t = t1;
	}
	free(buf);
	return NULL;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int one(const char *dir, uint32_t threads, size_t bytes, double seconds, uint32_t wait_us, int json,
	       int *first)
{
	struct worker k[MAX_THREADS];
	pthread_t t[MAX_THREADS];
	struct run r = { .bytes = bytes };
	struct wal_params wp;
	struct wal_stats st;
	double *all, secs, t0;
	uint64_t n = 0;
	int rc;

	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	wal_params_default(&wp);
	wp.group_wait_us = wait_us;
	if ((rc = wal_open(dir, &wp, &r.w)) < 0) {
		fprintf(stderr, "bench_wal: %s\n", dann_errmsg());
		return rc;
	}
	t0 = now_s();
	r.until = t0 + seconds;
	for (uint32_t i = 0; i < threads; i++) {
		k[i] = (struct worker){ .r = &r, .lat = malloc(sizeof(double) * MAX_SAMPLES) };
		pthread_create(&t[i], NULL, append_loop, &k[i]);
	}
	for (uint32_t i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	secs = now_s() - t0;
	wal_stats(r.w, &st);
	wal_close(r.w);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	all = malloc(sizeof *all * (threads * (size_t)MAX_SAMPLES));
	for (uint32_t i = 0; i < threads; i++) {
		memcpy(all + n, k[i].lat, sizeof *all * k[i].n);
		n += k[i].n;
		free(k[i].lat);
	}
	qsort(all, n, sizeof *all, cmp_d);
	if (n && !atomic_load(&r.failed)) {
		double p50 = all[(n - 1) / 2] * 1e3, p99 = all[(uint64_t)((double)(n - 1) * 0.99)] * 1e3;
		if (json)
			printf("%s\n  {\"threads\": %u, \"record_bytes\": %zu, \"group_wait_us\": %u, "
			       "\"appends_per_s\": %.0f, \"mib_per_s\": %.1f, "
			       "\"syncs_per_s\": %.1f, \"appends_per_sync\": %.2f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}",
			       *first ? "" : ",", threads, bytes, wait_us, (double)n / secs,
			       (double)n * (double)bytes / secs / (1 << 20), (double)st.syncs / secs,
			       st.syncs ? (double)st.appends / (double)st.syncs : 0.0, p50, p99);
		else
			printf("%7u %12zu %12.0f %9.1f %9.1f %10.2f %9.3f %9.3f\n", threads, bytes, (double)n / secs,
			       (double)n * (double)bytes / secs / (1 << 20), (double)st.syncs / secs,
			       st.syncs ? (double)st.appends / (double)st.syncs : 0.0, p50, p99);
		*first = 0;
	}
	free(all);
	return atomic_load(&r.failed) ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "dir", 1, 0, 'd' }, { "seconds", 1, 0, 's' }, { "json", 0, 0, 'j' }, { "group-wait-us", 1, 0, 'g' },
		{ "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	static const uint32_t threads[] = { 1, 2, 4, 8 };
	static const size_t sizes[] = { 512, 128 * 4 * 1000 };
	const char *base = "/tmp";
	char dir[4096];
	double seconds = 2;
	uint32_t wait_us = 0;
	int json = 0, first = 1, c, rc = 0;

	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'd': base = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'j': json = 1; break;
		case 'g': wait_us = (uint32_t)atoi(optarg); break;
		default:
			printf("usage: bench_wal [--dir DIR] [--seconds 2] [--group-wait-us 0] [--json]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	snprintf(dir, sizeof dir, "%s/bench_wal.%d", base, (int)getpid());
	if (json)
		printf("[");
	else
		printf("%7s %12s %12s %9s %9s %10s %9s %9s\n", "threads", "record_B", "appends/s", "MiB/s", "syncs/s",
		       "per_sync", "p50_ms", "p99_ms");
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0] && rc == 0; s++)
		for (size_t t = 0; t < sizeof threads / sizeof threads[0] && rc == 0; t++)
			rc = one(dir, threads[t], sizes[s], seconds, wait_us, json, &first);
	if (json)
		printf("\n]\n");
	return rc < 0 ? 1 : 0;
}
