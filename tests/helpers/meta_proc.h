/*
 * meta_proc.h — meta nodes as real processes (`dann cluster serve`) for the
 * multi-process tests: free loopback ports, start, kill -9, SIGSTOP /
 * SIGCONT, restart (optionally with an empty directory), and a cleanup
 * that stops every process the test started.
 */
#ifndef META_PROC_H
#define META_PROC_H

#include <sys/types.h>

#define MP_MAX 5

struct mp_node {
	unsigned id;
	char addr[64];      /* member address 127.0.0.1:PORT */
	char dir[256];
	pid_t pid;          /* 0: not running */
	int stopped;
};

struct mp_cluster {
	unsigned n;
	struct mp_node nodes[MP_MAX];
	char members[512];
	char peers[512];
	unsigned snapshot_threshold;
};

/* Picks n member addresses whose PORT and PORT+1 are both free, under base. */
void mp_init(struct mp_cluster *c, unsigned n, const char *base, unsigned snapshot_threshold);
/* Starts node i (index) and waits (bounded) for its "ready" line. join: start
 * it with --join and only itself in --members. */
void mp_start(struct mp_cluster *c, unsigned i, int join);
void mp_kill(struct mp_cluster *c, unsigned i);        /* SIGKILL + reap */
void mp_stop_signal(struct mp_cluster *c, unsigned i); /* SIGSTOP */
void mp_cont(struct mp_cluster *c, unsigned i);        /* SIGCONT */
void mp_wipe(struct mp_cluster *c, unsigned i);        /* removes its directory */
/* Index of the node every live node names as leader, waiting up to
 * timeout_ms; -1 if none. */
int mp_leader(struct mp_cluster *c, unsigned timeout_ms);
/* Stops every process (SIGCONT, SIGTERM, then SIGKILL after a grace). */
void mp_shutdown(struct mp_cluster *c);
double mp_now_s(void);

#endif
