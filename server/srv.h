/*
 * srv.h — dannd's server: Milvus's gRPC protocol over a dann data directory.
 *
 * srv_open opens the data directory (taking its lock), binds the gRPC port
 * and the metrics port and starts serving; srv_close runs the shutdown
 * sequence (stop accepting, let in-flight calls finish within the grace
 * period, cancel the rest, close the database so every acknowledged write is
 * durable). main.c is a thin wrapper; tests drive the same two calls.
 */
#ifndef SRV_H
#define SRV_H

#include <limits.h>
#include <stdint.h>

#include "io/obj.h"

#define SRV_ADDR_MAX 256
#define SRV_USERS_MAX 16
/* search_inflight and search_threads by default: 64 single-query clients
 * on 2 busy cores, where more threads get more of the CPU once node caches
 * make queries CPU-bound (README "dannd", bench_dannd) */
#define SRV_SEARCH_INFLIGHT 8
#define SRV_SEARCH_THREADS 8

struct srv_user {
	char name[64];
	char hash[256];              /* argon2 encoded hash ("$argon2id$...") */
};

struct srv_config {
	char data_dir[PATH_MAX];
	char listen[SRV_ADDR_MAX];      /* host:port; port 0 picks a free one */
	char metrics[SRV_ADDR_MAX];     /* host:port of /metrics and /healthz; "" = off */
	uint32_t workers;               /* handler threads */
	uint32_t cq_threads;            /* threads polling the completion queue */
	uint32_t queue_max;             /* calls waiting for a worker; beyond: RESOURCE_EXHAUSTED */
	uint64_t max_recv_bytes;        /* largest request message */
	uint64_t max_send_bytes;        /* largest response message */
	uint32_t grace_ms;              /* shutdown: time in-flight calls get before cancel */
	uint32_t slow_ms;               /* calls slower than this are logged (0: off) */
	uint32_t search_inflight;       /* single-query searches in flight per search thread
	                                   (dann_searcher; 0: one blocking search per RPC) */
	uint32_t search_threads;        /* the searcher's threads, each its own I/O ring */
	uint32_t build_threads;         /* dann_db_params.threads */
	uint64_t cache_bytes;           /* dann_db_params.cache_bytes (default DANN_CACHE_AUTO) */
	char tls_cert[PATH_MAX];        /* PEM certificate chain; "" = plaintext */
	char tls_key[PATH_MAX];         /* PEM private key */
	int auth;                       /* 1: every call must carry a known user's credentials */
	uint32_t nusers;
	struct srv_user users[SRV_USERS_MAX];
	int log_level;                  /* enum dann_log_level */
	/* The catalog's Raft group (srv_meta.h) */
	uint64_t node_id;               /* this node's id (1) */
	char raft_listen[SRV_ADDR_MAX]; /* Raft on HOST:PORT, meta requests on PORT+1 ("": one voter) */
	char peers[4096];               /* "ID@HOST:PORT,..." the initial members ("": one voter) */
	int join;                       /* 1: start empty, wait to be added (dann cluster add) */
	uint32_t raft_heartbeat_ms;     /* Raft heartbeat (5) */
	uint32_t raft_election_ms;      /* Raft election timeout (1000) */
	uint32_t raft_wait_ms;          /* startup: wait this long for the catalog to catch up (60000) */
	/* Tiering to an object store (dann_db_params.store_uri and the rest) */
	char store[PATH_MAX];           /* "s3://bucket/prefix" or "file:///dir"; "" = none */
	uint64_t tier_cache_bytes;      /* local bytes of uploaded segments (0: no limit) */
	uint32_t sync_interval_ms;      /* background sync period (0: the library's, 10000) */
	struct obj_config store_config; /* endpoint, region, credentials: main.c fills it from
	                                   the AWS environment variables (strings point there) */
};

/* Fills c with the defaults (listen 127.0.0.1:19530, metrics
 * 127.0.0.1:9091, 4 workers, 2 queue threads, queue 256, 64 MiB messages,
 * grace 5 s, slow 1 s, searcher of 8 in flight x 8 threads). */
void srv_config_default(struct srv_config *c);

struct srv;

/* Starts a server for c. DANN_EBUSY if the data dir is held by another
 * process or the port is taken; DANN_EINVAL naming a bad setting. */
int srv_open(const struct srv_config *c, struct srv **out);
/* The bound gRPC port and metrics port (0 if off). */
int srv_port(const struct srv *s);
int srv_metrics_port(const struct srv *s);
/* The shutdown sequence; frees s. NULL: no-op. */
void srv_close(struct srv *s);

#endif
