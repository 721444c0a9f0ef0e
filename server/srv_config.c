/*
 * srv_config.c — parsing settings (see srv_config.h).
 */
#include "srv_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"

#define CONFIG_LINE_MAX 1024

static int set_str(char *dst, size_t cap, const char *key, const char *v)
{
	if (strlen(v) >= cap)
		return dann_fail(DANN_EINVAL, "setting %s: value longer than %zu bytes", key, cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_u64(uint64_t *dst, const char *key, const char *v, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (!*v || *v == '-' || errno || end == v)
		goto bad;
	/* Sizes may carry a binary suffix. */
	if (*end == 'K' || *end == 'k') { x <<= 10; end++; }
	else if (*end == 'M' || *end == 'm') { x <<= 20; end++; }
	else if (*end == 'G' || *end == 'g') { x <<= 30; end++; }
	if (*end || x < lo || x > hi || (x >> 30) > UINT32_MAX)
		goto bad;
	*dst = x;
	return 0;
bad:
	return dann_fail(DANN_EINVAL, "setting %s: '%s' is not a number in %llu..%llu", key, v,
			 (unsigned long long)lo, (unsigned long long)hi);
}

static int set_bool(int *dst, const char *key, const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*dst = 1;
	else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*dst = 0;
	else
		return dann_fail(DANN_EINVAL, "setting %s: '%s': expected true or false", key, v);
	return 0;
}

static int set_u32(uint32_t *dst, const char *key, const char *v, uint32_t lo, uint32_t hi)
{
	uint64_t x;
	int rc = set_u64(&x, key, v, lo, hi);

	if (rc == 0)
		*dst = (uint32_t)x;
	return rc;
}

/* A store URI names its backend; obj_open checks the rest when the data
 * directory opens. */
static int set_store(struct srv_config *c, const char *v)
{
	if (*v && strncmp(v, "s3://", 5) != 0 && strncmp(v, "file://", 7) != 0)
		return dann_fail(DANN_EINVAL, "setting store: '%s': expected s3://bucket[/prefix] or "
				 "file:///dir", v);
	return set_str(c->store, sizeof c->store, "store", v);
}

static int set_user(struct srv_config *c, const char *v)
{
	const char *colon = strchr(v, ':');
	struct srv_user *u;

	if (!colon || colon == v || strncmp(colon + 1, "$argon2", 7) != 0)
		return dann_fail(DANN_EINVAL, "setting user: '%s': expected name:$argon2id$... "
				 "(dannd --hash-password makes the hash)", v);
	if (c->nusers == SRV_USERS_MAX)
		return dann_fail(DANN_EINVAL, "setting user: at most %d users", SRV_USERS_MAX);
	u = &c->users[c->nusers];
	if ((size_t)(colon - v) >= sizeof u->name || strlen(colon + 1) >= sizeof u->hash)
		return dann_fail(DANN_EINVAL, "setting user: name or hash too long");
	memcpy(u->name, v, (size_t)(colon - v));
	u->name[colon - v] = 0;
	memcpy(u->hash, colon + 1, strlen(colon + 1) + 1);
	c->nusers++;
	return 0;
}

int srv_config_set(struct srv_config *c, const char *key_in, const char *v)
{
	char key[64];
	size_t i;

	for (i = 0; key_in[i] && i + 1 < sizeof key; i++)
		key[i] = key_in[i] == '-' ? '_' : key_in[i];
	key[i] = 0;
	if (!strcmp(key, "data_dir")) return set_str(c->data_dir, sizeof c->data_dir, key, v);
	if (!strcmp(key, "listen")) return set_str(c->listen, sizeof c->listen, key, v);
	if (!strcmp(key, "metrics")) return set_str(c->metrics, sizeof c->metrics, key, v);
	if (!strcmp(key, "tls_cert")) return set_str(c->tls_cert, sizeof c->tls_cert, key, v);
	if (!strcmp(key, "tls_key")) return set_str(c->tls_key, sizeof c->tls_key, key, v);
	if (!strcmp(key, "workers")) return set_u32(&c->workers, key, v, 1, 1024);
	if (!strcmp(key, "cq_threads")) return set_u32(&c->cq_threads, key, v, 1, 16);
	if (!strcmp(key, "queue_max")) return set_u32(&c->queue_max, key, v, 1, 1000000);
	if (!strcmp(key, "max_recv_bytes")) return set_u64(&c->max_recv_bytes, key, v, 1024, INT32_MAX);
	if (!strcmp(key, "max_send_bytes")) return set_u64(&c->max_send_bytes, key, v, 1024, INT32_MAX);
	if (!strcmp(key, "grace_ms")) return set_u32(&c->grace_ms, key, v, 0, 3600000);
	if (!strcmp(key, "slow_ms")) return set_u32(&c->slow_ms, key, v, 0, 3600000);
	if (!strcmp(key, "search_inflight")) return set_u32(&c->search_inflight, key, v, 0, 1024);
	if (!strcmp(key, "search_threads")) return set_u32(&c->search_threads, key, v, 1, 64);
	if (!strcmp(key, "build_threads")) return set_u32(&c->build_threads, key, v, 0, 1024);
	if (!strcmp(key, "cache_bytes")) {
		if (!strcmp(v, "auto")) {
			c->cache_bytes = DANN_CACHE_AUTO;
			return 0;
		}
		return set_u64(&c->cache_bytes, key, v, 0, UINT64_MAX >> 10);
	}
	if (!strcmp(key, "user")) return set_user(c, v);
	if (!strcmp(key, "store")) return set_store(c, v);
	if (!strcmp(key, "tier_cache_bytes")) return set_u64(&c->tier_cache_bytes, key, v, 0, UINT64_MAX >> 10);
	if (!strcmp(key, "sync_interval_ms")) return set_u32(&c->sync_interval_ms, key, v, 10, 86400000);
	if (!strcmp(key, "node_id")) return set_u64(&c->node_id, key, v, 1, UINT32_MAX);
	if (!strcmp(key, "raft_listen")) return set_str(c->raft_listen, sizeof c->raft_listen, key, v);
	if (!strcmp(key, "peers")) return set_str(c->peers, sizeof c->peers, key, v);
	if (!strcmp(key, "raft_heartbeat_ms")) return set_u32(&c->raft_heartbeat_ms, key, v, 1, 10000);
	if (!strcmp(key, "raft_election_ms")) return set_u32(&c->raft_election_ms, key, v, 50, 600000);
	if (!strcmp(key, "raft_wait_ms")) return set_u32(&c->raft_wait_ms, key, v, 1000, 3600000);
	if (!strcmp(key, "auth")) return set_bool(&c->auth, key, v);
	if (!strcmp(key, "join")) return set_bool(&c->join, key, v);
	if (!strcmp(key, "log_level")) {
		static const char *const names[] = { "error", "warning", "info", "debug" };
		for (int l = 0; l < 4; l++)
			if (!strcmp(v, names[l])) {
				c->log_level = l;
				return 0;
			}
		return dann_fail(DANN_EINVAL, "setting log_level: '%s': expected error, warning, info or debug", v);
	}
	return dann_fail(DANN_EINVAL, "unknown setting '%s' (dannd --help lists them)", key_in);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int srv_config_load(struct srv_config *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[CONFIG_LINE_MAX];
	int lineno = 0, rc = 0;

	if (!f)
		return dann_fail_errno(DANN_EIO, errno, "config %s", path);
	while (fgets(line, sizeof line, f)) {
		char *p = trim(line), *eq;
		lineno++;
		if (!*p || *p == '#')
			continue;
		if (!(eq = strchr(p, '='))) {
			rc = dann_fail(DANN_EINVAL, "config %s:%d: expected 'name = value'", path, lineno);
			break;
		}
		*eq = 0;
		if ((rc = srv_config_set(c, trim(p), trim(eq + 1))) < 0) {
			rc = dann_fail_wrap(rc, "config %s:%d", path, lineno);
			break;
		}
	}
	fclose(f);
	return rc;
}

int srv_config_args(struct srv_config *c, int argc, char **argv, int *help)
{
	int rc;

	*help = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			*help = 1;
			return 0;
		}
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc)
				return dann_fail(DANN_EINVAL, "--config needs a file");
			if ((rc = srv_config_load(c, argv[i + 1])) < 0)
				return rc;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0)
			return dann_fail(DANN_EINVAL, "unexpected argument '%s' (dannd --help)", a);
		if (i + 1 >= argc)
			return dann_fail(DANN_EINVAL, "%s needs a value", a);
		if (strcmp(a, "--config") != 0 && (rc = srv_config_set(c, a + 2, argv[i + 1])) < 0)
			return rc;
		i++;
	}
	return 0;
}

const char *srv_config_usage(void)
{
	return "usage: dannd --data-dir DIR [--listen HOST:PORT] [--metrics HOST:PORT] [--config FILE]\n"
	       "       dannd --hash-password   (reads a password on stdin, prints its argon2id hash)\n"
	       "\n"
	       "Serves the dann collections in DIR over Milvus's gRPC protocol, so Milvus SDKs\n"
	       "(pymilvus, Node.js, Java, Go) work by changing only the address.\n"
	       "\n"
	       "Every setting can be given as --name value or as 'name = value' in the config\n"
	       "file (the command line wins):\n"
	       "  data_dir DIR          the data directory (locked while dannd runs)\n"
	       "  listen HOST:PORT      gRPC address (127.0.0.1:19530; port 0 picks one)\n"
	       "  metrics HOST:PORT     /metrics and /healthz over HTTP (127.0.0.1:9091; \"\" off)\n"
	       "  workers N             handler threads (64: one per searcher slot)\n"
	       "  cq_threads N          gRPC completion-queue threads (2)\n"
	       "  queue_max N           calls waiting for a worker before RESOURCE_EXHAUSTED (256)\n"
	       "  max_recv_bytes N      largest request (64M)\n"
	       "  max_send_bytes N      largest response (64M)\n"
	       "  grace_ms N            shutdown: time for in-flight calls before cancel (5000)\n"
	       "  slow_ms N             log calls slower than this (1000; 0 off)\n"
	       "  search_inflight N     single-query searches go to search threads that\n"
	       "                        keep up to N each in flight, admitting a waiting one as\n"
	       "                        soon as a slot frees (8; 0: one blocking search per\n"
	       "                        call, on its worker)\n"
	       "  search_threads N      those search threads, each its own I/O ring (8)\n"
	       "  build_threads N       segment build threads (0: all cores)\n"
	       "  cache_bytes N|auto    node cache per disk segment (auto: 2% of its node file,\n"
	       "                        DANN_CACHE_DEFAULT_FRAC; 0: none)\n"
	       "  tls_cert FILE         PEM certificate chain: serve TLS\n"
	       "  tls_key FILE          PEM private key\n"
	       "  auth true|false       require user and password on every call (false)\n"
	       "  user NAME:HASH        a user with an argon2 password hash (repeatable)\n"
	       "  log_level LEVEL       error, warning, info or debug (info)\n"
	       "\n"
	       "The catalog (collections, segments) lives in a Raft group in DIR/meta: one\n"
	       "voter by default. A cluster gives each dannd an id and the same member list;\n"
	       "a collection belongs to the node that created it, every node lists them all:\n"
	       "  node_id N             this node's id (1)\n"
	       "  raft_listen HOST:PORT Raft on PORT, catalog requests on PORT+1 (this node's\n"
	       "                        entry of peers; alone: a one-voter group at that address)\n"
	       "  peers ID@HOST:PORT,.. the initial members, this node among them\n"
	       "  join true|false       start with an empty catalog and wait to be added to a\n"
	       "                        running cluster (dann cluster add ID@RAFT_LISTEN); also\n"
	       "                        restarts a node with the members its catalog stored (false)\n"
	       "  raft_heartbeat_ms N   Raft heartbeat (5: a one-voter group commits once a tick)\n"
	       "  raft_election_ms N    Raft election timeout (1000)\n"
	       "  raft_wait_ms N        a restarted node waits this long for a leader to bring its\n"
	       "                        catalog up to date before serving (60000); with a store\n"
	       "                        every cluster node waits, also on its first start\n"
	       "\n"
	       "Flushed segments can live in an object store, the local disk a bounded cache of\n"
	       "them; endpoint, region and credentials come from the usual AWS variables\n"
	       "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,\n"
	       "AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; DANN_S3_PATH_STYLE=0|1), else from\n"
	       "~/.aws/credentials and ~/.aws/config (profile AWS_PROFILE, else default):\n"
	       "  store URI             s3://bucket/prefix or file:///dir (\"\": none); a prefix\n"
	       "                        belongs to one data dir: each cluster node its own\n"
	       "  tier_cache_bytes N    local bytes of uploaded segments to keep (0: no limit)\n"
	       "  sync_interval_ms N    background upload period (10000; a flush syncs at once)\n"
	       "\n"
	       "SIGTERM or SIGINT: stop accepting, finish or cancel in-flight calls, close the\n"
	       "data directory with every acknowledged write durable, exit 0.\n";
}
