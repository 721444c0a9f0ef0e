/*
 * srv_impl.h — the server's shared state, seen by the srv_*.c modules only.
 *
 * One struct srv per daemon: the gRPC server and its completion queue, the
 * threads polling it, the worker pool, the database, the metrics. Nothing
 * here is global: every module gets the struct passed in.
 */
#ifndef SRV_IMPL_H
#define SRV_IMPL_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "dann.h"
#include "srv.h"

#define SRV_CQ_THREADS_MAX 16
#define SRV_FWD_CACHE 16                /* owners' addresses kept (srv_fwd.c) */

struct srv_pool;
struct srv_metrics;
struct srv_meta;

struct srv {
	struct srv_config cfg;
	struct dann_db *db;
	struct srv_meta *meta;          /* the catalog's Raft node (srv_meta.h) */
	grpc_server *server;
	grpc_completion_queue *cq;
	int port;
	pthread_t cq_threads[SRV_CQ_THREADS_MAX];
	uint32_t ncq_threads;
	struct srv_pool *pool;
	struct dann_searcher *searcher; /* single-query searches (search_inflight); NULL: off */
	atomic_uint search_deferred;    /* Search calls the searcher answers itself, not yet answered */
	atomic_uint search_deferred_peak; /* the most at once since start */
	atomic_ullong search_inline;    /* Search calls submitted from a completion-queue thread */
	struct srv_metrics *metrics;
	atomic_int stopping;            /* 1 once shutdown began: no new request_call */
	atomic_long calls_live;         /* struct srv_call objects not yet freed */
	pthread_mutex_t shutdown_lock;
	pthread_cond_t shutdown_cond;
	int shutdown_done;              /* the server's shutdown tag arrived */
	uint64_t start_ns;
	atomic_llong next_client_id;
	/* Writers (insert, upsert, delete) hold it shared; CreateIndex holds it
	 * exclusively while it recreates an empty collection with a new metric
	 * (see srv_index.c), so no write can land in the collection dropped. */
	pthread_rwlock_t write_lock;
	/* Credentials already verified against a user's argon2 hash, kept as a
	 * cheap salted argon2 digest so each call does not pay the full hash
	 * (srv_auth.c). */
	pthread_mutex_t auth_lock;
	uint8_t auth_salt[16];
	uint8_t auth_seen[SRV_USERS_MAX][32];
	uint8_t auth_seen_valid[SRV_USERS_MAX];
	/* Other nodes' gRPC addresses and channels, by node id (srv_fwd.c);
	 * id 0: a free entry. */
	pthread_mutex_t fwd_lock;
	atomic_uint fwd_inflight;       /* workers waiting on a forwarded call */
	struct {
		uint64_t id;
		char addr[SRV_ADDR_MAX];
		grpc_channel *ch;
	} fwd_owners[SRV_FWD_CACHE];
};

/* CLOCK_MONOTONIC now, in ns. */
uint64_t srv_now_ns(void);

#endif
