/*
 * srv_metrics.c — per-method counters and the /metrics, /healthz endpoint.
 *
 * Methods are few and fixed, so counters live in a small table found by
 * name under a mutex (one lookup per call, after the call's work). The
 * histogram buckets are the latencies a vector search cares about, 1 ms to
 * 10 s.
 */
#include "srv_metrics.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "srv_addr.h"
#include "srv_impl.h"
#include "srv_meta.h"
#include "srv_pool.h"

#define METRICS_METHODS_MAX 64
#define METRICS_REASONS_MAX 8
#define METRICS_PAGE_BYTES (64u << 10)

static const double bucket_s[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10 };
#define NBUCKETS (sizeof bucket_s / sizeof bucket_s[0])

struct method_stats {
	char name[48];
	uint64_t calls, failed;
	uint64_t buckets[NBUCKETS];
	double sum_s;
};

struct srv_metrics {
	struct srv *srv;
	pthread_mutex_t lock;
	struct method_stats m[METRICS_METHODS_MAX];
	uint32_t nm;
	char reasons[METRICS_REASONS_MAX][32];
	uint64_t rejected[METRICS_REASONS_MAX];
	uint32_t nreasons;
	struct MHD_Daemon *httpd;
	int port;
};

void srv_metrics_record(struct srv_metrics *mx, const char *method, int failed, uint64_t latency_ns)
{
	struct method_stats *st = NULL;
	double s = (double)latency_ns / 1e9;

	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	for (uint32_t i = 0; i < mx->nm; i++)
		if (strcmp(mx->m[i].name, method) == 0) {
			st = &mx->m[i];
			break;
		}
	if (!st && mx->nm < METRICS_METHODS_MAX) {
		st = &mx->m[mx->nm++];
		snprintf(st->name, sizeof st->name, "%s", method);
	}
	if (st) {
		st->calls++;
		st->failed += failed != 0;
		st->sum_s += s;
		for (size_t b = 0; b < NBUCKETS; b++)
			if (s <= bucket_s[b])
				st->buckets[b]++;
	}
	pthread_mutex_unlock(&mx->lock);
}

void srv_metrics_rejected(struct srv_metrics *mx, const char *reason)
{
	uint32_t i;

	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	for (i = 0; i < mx->nreasons; i++)
		if (strcmp(mx->reasons[i], reason) == 0)
			break;
	if (i == mx->nreasons && i < METRICS_REASONS_MAX)
		snprintf(mx->reasons[mx->nreasons++], sizeof mx->reasons[0], "%s", reason);
	if (i < mx->nreasons)
		mx->rejected[i]++;
	pthread_mutex_unlock(&mx->lock);
}

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL, o->len < o->cap ? o->cap - o->len : 0,
		      fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

size_t srv_metrics_format(struct srv_metrics *mx, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };
	struct srv *s = mx->srv;

	if (cap)
		buf[0] = 0;
	pthread_mutex_lock(&mx->lock);
	put(&o, "# HELP dann_rpc_calls_total RPCs answered, by method.\n# TYPE dann_rpc_calls_total counter\n");
	for (uint32_t i = 0; i < mx->nm; i++)
		put(&o, "dann_rpc_calls_total{method=\"%s\"} %llu\n", mx->m[i].name,
		    (unsigned long long)mx->m[i].calls);
	put(&o, "# HELP dann_rpc_failed_total RPCs answered with an error status.\n# TYPE dann_rpc_failed_total counter\n");
	for (uint32_t i = 0; i < mx->nm; i++)
		put(&o, "dann_rpc_failed_total{method=\"%s\"} %llu\n", mx->m[i].name,
		    (unsigned long long)mx->m[i].failed);
	put(&o, "# HELP dann_rpc_latency_seconds RPC latency.\n# TYPE dann_rpc_latency_seconds histogram\n");
	for (uint32_t i = 0; i < mx->nm; i++) {
		const struct method_stats *st = &mx->m[i];
		for (size_t b = 0; b < NBUCKETS; b++)
			put(&o, "dann_rpc_latency_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n", st->name,
			    bucket_s[b], (unsigned long long)st->buckets[b]);
		put(&o, "dann_rpc_latency_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n", st->name,
		    (unsigned long long)st->calls);
		put(&o, "dann_rpc_latency_seconds_sum{method=\"%s\"} %.6f\n", st->name, st->sum_s);
		put(&o, "dann_rpc_latency_seconds_count{method=\"%s\"} %llu\n", st->name,
		    (unsigned long long)st->calls);
	}
	put(&o, "# HELP dann_rpc_rejected_total RPCs refused before running.\n# TYPE dann_rpc_rejected_total counter\n");
	for (uint32_t i = 0; i < mx->nreasons; i++)
		put(&o, "dann_rpc_rejected_total{reason=\"%s\"} %llu\n", mx->reasons[i],
		    (unsigned long long)mx->rejected[i]);
	pthread_mutex_unlock(&mx->lock);
	put(&o, "# HELP dann_rpc_queue_depth Calls queued or running on workers.\n# TYPE dann_rpc_queue_depth gauge\n");
	put(&o, "dann_rpc_queue_depth %u\n", s && s->pool ? srv_pool_depth(s->pool) : 0);
	if (s && s->searcher) {
		uint64_t done, pending;
		dann_searcher_counts(s->searcher, &done, &pending);
		put(&o, "# HELP dann_searcher_queries_total Single-query searches the searcher finished.\n"
			"# TYPE dann_searcher_queries_total counter\ndann_searcher_queries_total %llu\n"
			"# HELP dann_searcher_pending Single-query searches waiting or in flight in the searcher.\n"
			"# TYPE dann_searcher_pending gauge\ndann_searcher_pending %llu\n",
		    (unsigned long long)done, (unsigned long long)pending);
		put(&o, "# HELP dann_search_deferred Search calls the searcher answers from its own thread, "
			"not answered yet (no worker waits on them).\n# TYPE dann_search_deferred gauge\n"
			"dann_search_deferred %u\n# HELP dann_search_deferred_peak The most deferred Search calls "
			"at once since start.\n# TYPE dann_search_deferred_peak gauge\ndann_search_deferred_peak %u\n",
		    atomic_load(&s->search_deferred), atomic_load(&s->search_deferred_peak));
		put(&o, "# HELP dann_search_inline_total Search calls submitted to the searcher from a "
			"completion-queue thread, without a worker.\n# TYPE dann_search_inline_total counter\n"
			"dann_search_inline_total %llu\n", (unsigned long long)atomic_load(&s->search_inline));
	}
	put(&o, "# HELP dann_uptime_seconds Seconds since dannd started.\n# TYPE dann_uptime_seconds gauge\n");
	put(&o, "dann_uptime_seconds %.3f\n", s ? (double)(srv_now_ns() - s->start_ns) / 1e9 : 0.0);
	return o.len;
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_size, void **con_cls)
{
	struct srv_metrics *mx = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;
	char *page = NULL, halt[300];
	const char *body;
	size_t len;

	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0) {
		body = "method not allowed\n";
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") == 0) {
		if (!(page = malloc(METRICS_PAGE_BYTES)))
			return MHD_NO;
		srv_metrics_format(mx, page, METRICS_PAGE_BYTES);
		body = page;
	} else if (strcmp(url, "/healthz") == 0) {
		body = atomic_load(&mx->srv->stopping) ? "stopping\n" : "ok\n";
		if (atomic_load(&mx->srv->stopping))
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
		else if (srv_meta_check(mx->srv->meta) < 0) {
			snprintf(halt, sizeof halt, "%s\n", dann_errmsg());
			body = halt;
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
		}
	} else {
		body = "not found: try /metrics or /healthz\n";
		status = MHD_HTTP_NOT_FOUND;
	}
	len = strlen(body);
	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	free(page);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int srv_metrics_new(struct srv *s, struct srv_metrics **out)
{
	struct srv_metrics *mx = calloc(1, sizeof *mx);
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	int rc;

	if (!mx)
		return dann_fail(DANN_ENOMEM, "dannd: metrics");
	mx->srv = s;
	pthread_mutex_init(&mx->lock, NULL);
	if (s->cfg.metrics[0]) {
		if ((rc = srv_addr_parse(s->cfg.metrics, &sa)) < 0) {
			srv_metrics_free(mx);
			return dann_fail_wrap(rc, "dannd: metrics");
		}
		mx->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_http, mx,
					     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
					     MHD_OPTION_END);
		if (!mx->httpd) {
			srv_metrics_free(mx);
			return dann_fail(DANN_EBUSY, "dannd: cannot serve metrics on %s (address in use?)",
					 s->cfg.metrics);
		}
		info = MHD_get_daemon_info(mx->httpd, MHD_DAEMON_INFO_BIND_PORT);
		mx->port = info ? info->port : ntohs(sa.sin_port);
	}
	*out = mx;
	return 0;
}

int srv_metrics_http_port(const struct srv_metrics *mx)
{
	return mx->port;
}

void srv_metrics_free(struct srv_metrics *mx)
{
	if (!mx)
		return;
	if (mx->httpd)
		MHD_stop_daemon(mx->httpd);
	pthread_mutex_destroy(&mx->lock);
	free(mx);
}
