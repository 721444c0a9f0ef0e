/*
 * cluster_proc.h — meta nodes as real processes (`dann cluster serve`) on
 * loopback, for the multi-process tests and bench/meta: free ports, start,
 * kill -9, SIGSTOP / SIGCONT, restart (optionally with an empty directory),
 * find the leader, and stop every process that was started.
 *
 * Every wait is bounded; failures return a DANN_E* code with a message.
 */
#ifndef DANN_CLUSTER_PROC_H
#define DANN_CLUSTER_PROC_H

#include <sys/types.h>

#define CPROC_MAX 5

struct cproc_node {
	unsigned id;
	char addr[64];      /* member address 127.0.0.1:PORT */
	char dir[256];
	pid_t pid;          /* 0: not running */
	int stopped;
};

struct cproc {
	const char *dann;   /* the dann binary */
	unsigned n;
	struct cproc_node nodes[CPROC_MAX];
	char members[512];
	char peers[512];
	unsigned snapshot_threshold;
};

/* Picks n member addresses whose PORT and PORT+1 are free (below the
 * ephemeral range, so a client connection cannot take a node's port while
 * the node is down), directories base/nodeI. */
int cproc_init(struct cproc *c, const char *dann, unsigned n, const char *base, unsigned snapshot_threshold);
/* Starts node i and waits up to 15 s for its "ready" line. join: with
 * --join and only itself as member. On failure the message holds the
 * node's stderr. */
int cproc_start(struct cproc *c, unsigned i, int join);
void cproc_kill(struct cproc *c, unsigned i);        /* SIGKILL + reap */
void cproc_stop_signal(struct cproc *c, unsigned i); /* SIGSTOP */
void cproc_cont(struct cproc *c, unsigned i);        /* SIGCONT */
int cproc_wipe(struct cproc *c, unsigned i);         /* removes its directory */
/* Index of the live node that every live, running node names as leader,
 * waiting up to timeout_ms; -1 if none. */
int cproc_leader(struct cproc *c, unsigned timeout_ms);
/* Stops every process (SIGCONT, SIGTERM, SIGKILL after 5 s). */
void cproc_shutdown(struct cproc *c);
double cproc_now_s(void);

/* A free pair P, P+1 of loopback ports (a member's Raft port and its
 * request port), below Linux's ephemeral range so no port-0 listener takes
 * it before its node binds it, and not within one of taken[0..ntaken). */
int cproc_free_pair(const int *taken, unsigned ntaken, unsigned *seed);

#endif
