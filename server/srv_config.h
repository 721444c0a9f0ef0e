/*
 * srv_config.h — dannd's settings from a config file and the command line.
 *
 * Every setting has one name, used as `name = value` in the config file and
 * as `--name value` on the command line (dashes or underscores alike):
 * data_dir, listen, metrics, workers, cq_threads, queue_max, max_recv_bytes,
 * max_send_bytes, grace_ms, slow_ms, search_inflight, search_threads,
 * build_threads, cache_bytes, tls_cert,
 * tls_key, auth (true/false), user (name:argon2-hash, repeatable),
 * log_level (error/warning/info/debug), node_id, raft_listen, peers,
 * raft_heartbeat_ms, raft_election_ms, raft_wait_ms, store, tier_cache_bytes,
 * sync_interval_ms. The command line wins over the file.
 */
#ifndef SRV_CONFIG_H
#define SRV_CONFIG_H

#include "srv.h"

/* Applies one setting. DANN_EINVAL naming the key and value. */
int srv_config_set(struct srv_config *c, const char *key, const char *value);
/* Applies every setting of the file at path. DANN_EIO / DANN_EINVAL naming
 * the file and line. */
int srv_config_load(struct srv_config *c, const char *path);
/* Parses argv: --config FILE first (wherever it is), then each --name value.
 * *help is set for --help / -h. */
int srv_config_args(struct srv_config *c, int argc, char **argv, int *help);
/* The --help text. */
const char *srv_config_usage(void);

#endif
