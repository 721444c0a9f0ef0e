/*
 * srv_loop.c — starting and stopping the server; the completion-queue loop.
 *
 * One completion queue, polled by cfg.cq_threads threads (gRPC drives its
 * network I/O from inside grpc_completion_queue_next, so these threads must
 * stay free of handler work: they only move calls between states).
 *
 * Shutdown, in the order gRPC requires:
 *   1. stopping = 1 (no new request_call), grpc_server_shutdown_and_notify:
 *      no new calls; in-flight ones may finish;
 *   2. wait up to grace_ms for the shutdown tag, then
 *      grpc_server_cancel_all_calls and wait for it;
 *   3. drain the worker pool (every queued call is answered or sees its
 *      cancellation) and join it;
 *   4. grpc_server_destroy; shut the completion queue down, let the pollers
 *      drain it to GRPC_QUEUE_SHUTDOWN and join them; destroy it;
 *   5. dann_db_close: every acknowledged write is durable.
 */
#include <errno.h>
#include <grpc/grpc_security.h>
#include <grpc/support/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "srv_call.h"
#include "srv_impl.h"
#include "srv_fwd.h"
#include "srv_meta.h"
#include "srv_metrics.h"
#include "srv_pool.h"
#include "srv_tls.h"

#define SRV_POSTED_CALLS 16   /* request_calls kept posted, so bursts are accepted at once */
#define MS_NS 1000000ull
#define SRV_MIN_PING_MS 5000

uint64_t srv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* gRPC's own log lines join dann's log. */
static void grpc_log_hook(gpr_log_func_args *a)
{
	enum dann_log_level lv = a->severity == GPR_LOG_SEVERITY_ERROR ? DANN_LOG_WARN
				 : a->severity == GPR_LOG_SEVERITY_INFO ? DANN_LOG_INFO
									 : DANN_LOG_DEBUG;
	dann_log(lv, "grpc", "%s", a->message);
}

static void *cq_main(void *arg)
{
	struct srv *s = arg;

	for (;;) {
		grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		struct srv_tag *tag;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		tag = ev.tag;
		if (tag->kind == SRV_TAG_SHUTDOWN) {
			pthread_mutex_lock(&s->shutdown_lock);
			s->shutdown_done = 1;
			pthread_cond_broadcast(&s->shutdown_cond);
			pthread_mutex_unlock(&s->shutdown_lock);
			continue;
		}
		srv_call_event(tag, ev.success);
	}
	return NULL;
}

void srv_config_default(struct srv_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->listen, sizeof c->listen, "127.0.0.1:19530");
	snprintf(c->metrics, sizeof c->metrics, "127.0.0.1:9091");
	/* A worker waits while the searcher runs its query: as many workers as
	 * the searcher has slots, or single-query clients could never fill them. */
	c->workers = SRV_SEARCH_THREADS * SRV_SEARCH_INFLIGHT;
	c->cq_threads = 2;
	c->queue_max = 256;
	c->max_recv_bytes = 64ull << 20;
	c->max_send_bytes = 64ull << 20;
	c->grace_ms = 5000;
	c->slow_ms = 1000;
	c->search_inflight = SRV_SEARCH_INFLIGHT;
	c->search_threads = SRV_SEARCH_THREADS;
	c->log_level = DANN_LOG_INFO;
	c->node_id = 1;
	c->raft_heartbeat_ms = 5;
	c->raft_election_ms = 1000;
	c->raft_wait_ms = 60000;
	c->cache_bytes = DANN_CACHE_AUTO;
}

static int check_config(const struct srv_config *c)
{
	if (!c->data_dir[0])
		return dann_fail(DANN_EINVAL, "dannd: data_dir is not set");
	if (!c->listen[0])
		return dann_fail(DANN_EINVAL, "dannd: listen address is empty");
	if (!c->workers || c->workers > 1024)
		return dann_fail(DANN_EINVAL, "dannd: workers %u: expected 1..1024", c->workers);
	if (!c->cq_threads || c->cq_threads > SRV_CQ_THREADS_MAX)
		return dann_fail(DANN_EINVAL, "dannd: cq_threads %u: expected 1..%d", c->cq_threads,
				 SRV_CQ_THREADS_MAX);
	if (!c->queue_max || c->queue_max > 1000000)
		return dann_fail(DANN_EINVAL, "dannd: queue_max %u: expected 1..1000000", c->queue_max);
	if (c->max_recv_bytes < 1024 || c->max_recv_bytes > INT32_MAX ||
	    c->max_send_bytes < 1024 || c->max_send_bytes > INT32_MAX)
		return dann_fail(DANN_EINVAL, "dannd: max_recv_bytes/max_send_bytes: expected 1024..%d",
				 INT32_MAX);
	if (!!c->tls_cert[0] != !!c->tls_key[0])
		return dann_fail(DANN_EINVAL, "dannd: tls_cert and tls_key must be set together");
	if (c->auth && !c->nusers)
		return dann_fail(DANN_EINVAL, "dannd: auth is on but no user is configured");
	return 0;
}

static grpc_arg int_arg(const char *key, int value)
{
	grpc_arg a;

	memset(&a, 0, sizeof a);
	a.type = GRPC_ARG_INTEGER;
	a.key = (char *)key;
	a.value.integer = value;
	return a;
}

static int start_grpc(struct srv *s)
{
	grpc_arg args[6];
	grpc_channel_args chargs;
	grpc_server_credentials *creds;
	int rc;

	/* A second dannd on the port must fail, not share it. */
	args[0] = int_arg(GRPC_ARG_ALLOW_REUSEPORT, 0);
	args[1] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, (int)s->cfg.max_recv_bytes);
	args[2] = int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, (int)s->cfg.max_send_bytes);
	/* The SDKs ping every ~10 s to keep idle channels alive, also during a
	 * long Flush; gRPC core's default answers that with GOAWAY ("too many
	 * pings") and the client sees RESOURCE_EXHAUSTED. Accept pings as
	 * Milvus does: every SRV_MIN_PING_MS at most, with or without calls. */
	args[3] = int_arg(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, SRV_MIN_PING_MS);
	args[4] = int_arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
	args[5] = int_arg(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
	chargs.num_args = sizeof args / sizeof args[0];
	chargs.args = args;

	s->cq = grpc_completion_queue_create_for_next(NULL);
	s->server = grpc_server_create(&chargs, NULL);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	if ((rc = srv_tls_credentials(&s->cfg, &creds)) < 0)
		return rc;
	s->port = grpc_server_add_http2_port(s->server, s->cfg.listen, creds);
	grpc_server_credentials_release(creds);
	if (s->port <= 0)
		return dann_fail(DANN_EBUSY, "dannd: cannot listen on %s (address in use or invalid)",
				 s->cfg.listen);
	grpc_server_start(s->server);
	return 0;
}

int srv_open(const struct srv_config *c, struct srv **out)
{
	struct srv *s;
	struct dann_db_params dp;
	int rc;

	if ((rc = check_config(c)) < 0)
		return rc;
	if (!(s = calloc(1, sizeof *s)))
		return dann_fail(DANN_ENOMEM, "dannd: server state");
	s->cfg = *c;
	s->start_ns = srv_now_ns();
	pthread_mutex_init(&s->shutdown_lock, NULL);
	pthread_cond_init(&s->shutdown_cond, NULL);
	pthread_rwlock_init(&s->write_lock, NULL);
	pthread_mutex_init(&s->auth_lock, NULL);
	pthread_mutex_init(&s->fwd_lock, NULL);
	if (getrandom(s->auth_salt, sizeof s->auth_salt, 0) != (ssize_t)sizeof s->auth_salt)
		memset(s->auth_salt, 0x5a, sizeof s->auth_salt);
	gpr_set_log_function(grpc_log_hook);
	grpc_init();

	if ((rc = srv_meta_open(c, &s->meta)) < 0)
		goto fail;
	dann_db_params_default(&dp);
	dp.threads = c->build_threads;
	dp.cache_bytes = c->cache_bytes;
	dp.catalog = srv_meta_catalog();
	dp.catalog_ctx = s->meta;
	dp.store_uri = s->cfg.store[0] ? s->cfg.store : NULL;
	dp.store_config = &s->cfg.store_config;
	dp.tier_cache_bytes = s->cfg.tier_cache_bytes;
	dp.sync_interval_ms = s->cfg.sync_interval_ms;
	if ((rc = dann_db_open(c->data_dir, &dp, &s->db)) < 0) {
		rc = dann_fail_wrap(rc, "dannd: data dir %s", c->data_dir);
		goto fail;
	}
	if ((rc = srv_metrics_new(s, &s->metrics)) < 0)
		goto fail;
	if (c->search_inflight) {
		struct dann_searcher_params sp = { .threads = c->search_threads,
						   .inflight = c->search_inflight,
						   .queue_max = c->queue_max };
		if ((rc = dann_searcher_new(&sp, &s->searcher)) < 0)
			goto fail;
	}
	if ((rc = srv_pool_new(c->workers, c->queue_max, srv_call_work, &s->pool)) < 0)
		goto fail;
	if ((rc = start_grpc(s)) < 0)
		goto fail;
	srv_meta_set_service_addr(s->meta, c, s->port);
	for (uint32_t i = 0; i < c->cq_threads; i++) {
		if (pthread_create(&s->cq_threads[i], NULL, cq_main, s) != 0) {
			rc = dann_fail(DANN_ENOMEM, "dannd: cannot start completion-queue thread");
			goto fail;
		}
		s->ncq_threads = i + 1;
	}
	for (int i = 0; i < SRV_POSTED_CALLS; i++)
		if ((rc = srv_call_post(s)) < 0)
			goto fail;
	dann_log(DANN_LOG_INFO, "server", "serving %s on %s (port %d), metrics on %s",
		 c->data_dir, c->listen, s->port, c->metrics[0] ? c->metrics : "(off)");
	*out = s;
	return 0;
fail:
	srv_close(s);
	return rc;
}

int srv_port(const struct srv *s)
{
	return s->port;
}

int srv_metrics_port(const struct srv *s)
{
	return s->metrics ? srv_metrics_http_port(s->metrics) : 0;
}

static int wait_shutdown(struct srv *s, uint64_t ms)
{
	struct timespec ts;
	int done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)((ms % 1000) * MS_NS);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->shutdown_lock);
	while (!s->shutdown_done)
		if (pthread_cond_timedwait(&s->shutdown_cond, &s->shutdown_lock, &ts) == ETIMEDOUT)
			break;
	done = s->shutdown_done;
	pthread_mutex_unlock(&s->shutdown_lock);
	return done;
}

void srv_close(struct srv *s)
{
	static struct srv_tag shutdown_tag = { SRV_TAG_SHUTDOWN, NULL };

	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	if (s->server) {
		grpc_server_shutdown_and_notify(s->server, s->cq, &shutdown_tag);
		if (s->ncq_threads && !wait_shutdown(s, s->cfg.grace_ms)) {
			dann_log(DANN_LOG_WARN, "server",
				 "calls still running after %u ms grace: cancelling them", s->cfg.grace_ms);
			grpc_server_cancel_all_calls(s->server);
			wait_shutdown(s, UINT32_MAX);
		}
	}
	srv_pool_free(s->pool);
	s->pool = NULL;
	dann_searcher_free(s->searcher); /* no worker is left in it */
	s->searcher = NULL;
	srv_fwd_close(s);
	if (s->server) {
		if (!s->ncq_threads) {
			/* Failed start before any poller: drain the shutdown tag here. */
			grpc_server_cancel_all_calls(s->server);
		}
		grpc_server_destroy(s->server);
	}
	if (s->cq) {
		grpc_completion_queue_shutdown(s->cq);
		for (uint32_t i = 0; i < s->ncq_threads; i++)
			pthread_join(s->cq_threads[i], NULL);
		if (!s->ncq_threads)
			while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
			       GRPC_QUEUE_SHUTDOWN)
				;
		grpc_completion_queue_destroy(s->cq);
	}
	srv_metrics_free(s->metrics);
	if (s->db)
		dann_db_close(s->db);
	srv_meta_close(s->meta);
	grpc_shutdown();
	pthread_mutex_destroy(&s->shutdown_lock);
	pthread_cond_destroy(&s->shutdown_cond);
	pthread_rwlock_destroy(&s->write_lock);
	pthread_mutex_destroy(&s->auth_lock);
	pthread_mutex_destroy(&s->fwd_lock);
	free(s);
}
