/*
 * srv_metrics.h — counters of the served calls and their HTTP endpoint.
 *
 * Per method: calls, failed calls (a non-OK gRPC status or a Milvus error
 * status), and latency as a Prometheus histogram. Served in Prometheus's
 * text format at /metrics and as "ok" at /healthz on the metrics address
 * (libmicrohttpd, its own thread), so a scraper never queues behind RPCs.
 */
#ifndef SRV_METRICS_H
#define SRV_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct srv;
struct srv_metrics;

/* Creates the counters and, when s->cfg.metrics is set, starts the HTTP
 * endpoint there. DANN_EBUSY naming the address if it cannot be bound. */
int srv_metrics_new(struct srv *s, struct srv_metrics **out);
/* The HTTP port (0 when off). */
int srv_metrics_http_port(const struct srv_metrics *m);
/* Counts one finished call (method "" for unknown paths). */
void srv_metrics_record(struct srv_metrics *m, const char *method, int failed, uint64_t latency_ns);
/* Counts a call refused before it ran (queue full, bad credentials). */
void srv_metrics_rejected(struct srv_metrics *m, const char *reason);
/* Writes the Prometheus text into buf (NUL-terminated, truncated at cap);
 * returns the length it needed. */
size_t srv_metrics_format(struct srv_metrics *m, char *buf, size_t cap);
void srv_metrics_free(struct srv_metrics *m);

#endif
