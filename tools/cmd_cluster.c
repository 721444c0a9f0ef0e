/*
 * cmd_cluster.c — `dann cluster`: run and inspect a meta (catalog) cluster.
 *
 *   dann cluster serve   runs one meta node in the foreground until SIGTERM
 *                        or SIGINT (until dannd hosts the node itself; the
 *                        multi-process tests and bench/meta use it)
 *   dann cluster status  members, leader, term, commit index, catalog size,
 *                        the address each dannd serves and its collections,
 *                        as each node sees them
 *   dann cluster add     adds a node (started with serve --join, or dannd
 *                        --join true) as a voter
 *   dann cluster remove  takes a node out of the group
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dann.h"
#include "../engine/log.h"
#include "../meta/meta.h"
#include "../meta/meta_client.h"
#include "cmd.h"

#define CMD "cluster"
#define STATUS_TIMEOUT_MS 2000

static const char cluster_help[] =
	"usage: dann cluster serve --dir DIR [--node-id N] [--members ID@HOST:PORT,...]\n"
	"                          [--cluster NAME] [--join] [--election-timeout MS]\n"
	"                          [--snapshot-threshold N] [--snapshot-trailing N] [-v]\n"
	"       dann cluster status --peers HOST:PORT,...\n"
	"       dann cluster add --peers HOST:PORT,... --node ID@HOST:PORT\n"
	"       dann cluster remove --peers HOST:PORT,... --node ID\n"
	"\n"
	"serve runs one meta node (the replicated catalog) in DIR until SIGTERM or\n"
	"SIGINT. Without --members it is a single voter. Members listen for Raft on\n"
	"PORT and for requests (forwarded changes, status, membership) on PORT+1.\n"
	"Prints 'ready' on stdout once started. --join starts a new node empty, to\n"
	"be added with 'dann cluster add'.\n"
	"\n"
	"status asks each peer (member addresses HOST:PORT) for its view: role,\n"
	"term, leader, commit and applied index, members, the address its dannd\n"
	"serves, collections (name(id)@owning node) and segments.\n"
	"add and remove change membership through the leader. A dannd cluster grows\n"
	"the same way: start the new dannd with --node-id N --raft-listen HOST:PORT\n"
	"--join true, then 'dann cluster add --peers <a member> --node N@HOST:PORT'.\n";

static void log_to_stderr(void *arg, enum dann_log_level level, const char *module, const char *msg)
{
	(void)arg;
	fprintf(stderr, "dann cluster: %s: %s: %s\n", dann_log_level_name(level), module, msg);
}

static int serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "node-id", required_argument, NULL, 'n' },
		{ "members", required_argument, NULL, 'm' },
		{ "cluster", required_argument, NULL, 'c' },
		{ "join", no_argument, NULL, 'j' },
		{ "election-timeout", required_argument, NULL, 'e' },
		{ "snapshot-threshold", required_argument, NULL, 's' },
		{ "snapshot-trailing", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct meta_params p;
	struct meta_node *n;
	unsigned long long v;
	sigset_t set;
	int c, sig, rc, verbose = 0;

	meta_params_default(&p);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(cluster_help, stdout); return 0;
		case 'd': p.dir = optarg; break;
		case 'm': p.members = optarg; break;
		case 'c': p.cluster = optarg; break;
		case 'j': p.join = 1; break;
		case 'v': verbose++; break;
		case 'n':
			if (cmd_parse_u64(CMD, "--node-id", optarg, UINT32_MAX, &v))
				return 2;
			p.node_id = v;
			break;
		case 'e':
			if (cmd_parse_u64(CMD, "--election-timeout", optarg, 60000, &v))
				return 2;
			p.election_timeout_ms = (unsigned)v;
			break;
		case 's':
			if (cmd_parse_u64(CMD, "--snapshot-threshold", optarg, UINT32_MAX, &v))
				return 2;
			p.snapshot_threshold = (unsigned)v;
			break;
		case 't':
			if (cmd_parse_u64(CMD, "--snapshot-trailing", optarg, UINT32_MAX, &v))
				return 2;
			p.snapshot_trailing = (unsigned)v;
			break;
		case ':': return cmd_usage_error(CMD, "%s needs a value", argv[optind - 1]);
		default: return cmd_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!p.dir)
		return cmd_usage_error(CMD, "serve needs --dir");
	dann_log_set(log_to_stderr, NULL, verbose > 1 ? DANN_LOG_DEBUG : verbose ? DANN_LOG_INFO : DANN_LOG_WARN);
	/* Block the stop signals before any thread starts, then wait for one. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((rc = meta_open(&p, &n)) < 0)
		return cmd_fail_lib(CMD, rc);
	printf("ready node %llu\n", (unsigned long long)p.node_id);
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	meta_close(n);
	return 0;
}

static const char *role_name(enum meta_role r)
{
	switch (r) {
	case META_LEADER: return "leader";
	case META_FOLLOWER: return "follower";
	case META_CANDIDATE: return "candidate";
	default: return "unavailable";
	}
}

#define STATUS_COLLS_SHOWN 20

/* The node id in a record's owner line, or 0. */
static unsigned long long owner_of(const char *props)
{
	size_t klen = strlen(META_OWNER_PROP);

	for (const char *p = props; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, META_OWNER_PROP, klen) && p[klen] == '=')
			return strtoull(p + klen + 1, NULL, 10);
	return 0;
}

/* The node's own copy of the catalog: its collections by name and id, and
 * the node that serves each (name(id)@node) when it has an owner. */
static void print_collections(const char *addr)
{
	struct meta_fsm f;
	struct dann_cat_coll *cl;
	size_t n;

	if (meta_fsm_init(&f) < 0)
		return;
	if (meta_client_dump(addr, STATUS_TIMEOUT_MS, &f) == 0 && meta_fsm_coll_list(&f, &cl, &n) == 0) {
		printf("  collections:");
		for (size_t k = 0; k < n && k < STATUS_COLLS_SHOWN; k++) {
			unsigned long long owner = owner_of(cl[k].props);

			printf(" %s(%llu)", cl[k].schema.name, (unsigned long long)cl[k].id);
			if (owner)
				printf("@%llu", owner);
		}
		if (n > STATUS_COLLS_SHOWN)
			printf(" ... %zu more", n - STATUS_COLLS_SHOWN);
		printf("%s\n", n ? "" : " none");
		free(cl);
	}
	meta_fsm_destroy(&f);
}

static int status(const char *peers)
{
	struct meta_client cl;
	int bad = 0;

	if (meta_client_init(&cl, peers, STATUS_TIMEOUT_MS) < 0)
		return cmd_usage_error(CMD, "--peers: %s", dann_errmsg());
	for (uint32_t i = 0; i < cl.n; i++) {
		struct meta_status st;

		if (meta_client_status(cl.addrs[i], STATUS_TIMEOUT_MS, &st) < 0) {
			printf("%s: unreachable: %s\n", cl.addrs[i], dann_errmsg());
			bad = 1;
			continue;
		}
		printf("%s: node %llu of '%s', %s, term %llu, leader %llu (%s), commit %llu, applied %llu, "
		       "last %llu, %llu collections, %llu segments\n",
		       cl.addrs[i], (unsigned long long)st.id, st.cluster, role_name(st.role),
		       (unsigned long long)st.term, (unsigned long long)st.leader_id,
		       st.leader_addr[0] ? st.leader_addr : "none", (unsigned long long)st.commit_index,
		       (unsigned long long)st.applied_index, (unsigned long long)st.last_index,
		       (unsigned long long)st.ncolls, (unsigned long long)st.nsegs);
		if (st.service_addr[0])
			printf("  serves clients at %s\n", st.service_addr);
		printf("  members:");
		for (uint32_t k = 0; k < st.nmembers; k++)
			printf(" %llu@%s%s", (unsigned long long)st.members[k].id, st.members[k].addr,
			       st.members[k].voter ? "" : "(non-voter)");
		printf("\n");
		print_collections(cl.addrs[i]);
	}
	return bad;
}

static int change(const char *verb, const char *peers, const char *node)
{
	struct meta_client cl;
	unsigned long long id;
	char *end;
	int rc;

	if (meta_client_init(&cl, peers, 30000) < 0)
		return cmd_usage_error(CMD, "--peers: %s", dann_errmsg());
	if (strcmp(verb, "add") == 0) {
		struct meta_member m;
		uint32_t k;

		if (meta_members_parse(node, &m, &k) < 0)
			return cmd_usage_error(CMD, "--node: %s", dann_errmsg());
	}
	id = strtoull(node, &end, 10);
	if (id == 0 || (strcmp(verb, "add") == 0 ? *end != '@' : *end != '\0'))
		return cmd_usage_error(CMD, "--node '%s': expected %s", node,
				       strcmp(verb, "add") == 0 ? "ID@HOST:PORT" : "ID");
	rc = strcmp(verb, "add") == 0 ? meta_client_add(&cl, id, end + 1) : meta_client_remove(&cl, id);
	if (rc < 0)
		return cmd_fail_lib(CMD, rc);
	printf("%s node %llu\n", strcmp(verb, "add") == 0 ? "added" : "removed", id);
	return 0;
}

static int run_cluster(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "peers", required_argument, NULL, 'p' },
		{ "node", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb, *peers = NULL, *node = NULL;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(cluster_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	verb = argv[1];
	if (!strcmp(verb, "serve"))
		return serve(argc - 1, argv + 1);
	if (strcmp(verb, "status") && strcmp(verb, "add") && strcmp(verb, "remove"))
		return cmd_usage_error(CMD, "unknown subcommand '%s' (serve, status, add, remove)", verb);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(cluster_help, stdout); return 0;
		case 'p': peers = optarg; break;
		case 'n': node = optarg; break;
		case ':': return cmd_usage_error(CMD, "%s needs a value", argv[optind]);
		default: return cmd_usage_error(CMD, "unknown option '%s'", argv[optind]);
		}
	}
	if (!peers)
		return cmd_usage_error(CMD, "%s needs --peers", verb);
	if (!strcmp(verb, "status"))
		return status(peers);
	if (!node)
		return cmd_usage_error(CMD, "%s needs --node", verb);
	return change(verb, peers, node);
}

DANN_COMMAND(cluster, "run and inspect the replicated catalog (serve, status, add, remove)", run_cluster)
