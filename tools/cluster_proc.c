/*
 * cluster_proc.c — meta nodes as processes (cluster_proc.h).
 */
#include "cluster_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../engine/error.h"
#include "../meta/meta.h"
#include "../meta/meta_client.h"

#define READY_TIMEOUT_S 15.0
#define STOP_GRACE_S 5.0
#define PORT_LOW 20000
#define PORT_PAIRS 6000   /* 20000..31999: below Linux's ephemeral range */

double cproc_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int port_free(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int cproc_free_pair(const int *taken, unsigned ntaken, unsigned *seed)
{
	for (int tries = 0; tries < 500; tries++) {
		int port = PORT_LOW + 2 * (int)(rand_r(seed) % PORT_PAIRS), clash = 0;

		for (unsigned i = 0; i < ntaken; i++)
			clash |= abs(taken[i] - port) <= 1;
		if (!clash && port_free(port) && port_free(port + 1))
			return port;
	}
	return dann_fail(DANN_EBUSY, "cluster: no free pair of loopback ports in 500 tries");
}

int cproc_init(struct cproc *c, const char *dann, unsigned n, const char *base, unsigned snapshot_threshold)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)(cproc_now_s() * 1e6);
	int ports[CPROC_MAX];

	memset(c, 0, sizeof *c);
	if (n == 0 || n > CPROC_MAX)
		return dann_fail(DANN_EINVAL, "cluster: %u nodes, expected 1..%d", n, CPROC_MAX);
	c->dann = dann;
	c->n = n;
	c->snapshot_threshold = snapshot_threshold;
	for (unsigned i = 0; i < n; i++) {
		struct cproc_node *m = &c->nodes[i];
		size_t l = strlen(c->members), lp = strlen(c->peers);

		if ((ports[i] = cproc_free_pair(ports, i, &seed)) < 0)
			return ports[i];
		m->id = i + 1;
		snprintf(m->addr, sizeof m->addr, "127.0.0.1:%d", ports[i]);
		snprintf(m->dir, sizeof m->dir, "%s/node%u", base, m->id);
		snprintf(c->members + l, sizeof c->members - l, "%s%u@%s", i ? "," : "", m->id, m->addr);
		snprintf(c->peers + lp, sizeof c->peers - lp, "%s%s", i ? "," : "", m->addr);
	}
	return 0;
}

static void read_head(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t k = 0;

	buf[0] = '\0';
	if (f) {
		k = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[k] = '\0';
}

int cproc_start(struct cproc *c, unsigned i, int join)
{
	struct cproc_node *m = &c->nodes[i];
	char out[300], err[300], id[16], thr[16], trail[16], self[96], text[1024];
	double t0 = cproc_now_s();
	pid_t pid;

	if (m->pid)
		return dann_fail(DANN_EINVAL, "cluster: node %u is already running", m->id);
	snprintf(out, sizeof out, "%s.out", m->dir);
	snprintf(err, sizeof err, "%s.err", m->dir);
	snprintf(id, sizeof id, "%u", m->id);
	snprintf(thr, sizeof thr, "%u", c->snapshot_threshold);
	snprintf(trail, sizeof trail, "%u", c->snapshot_threshold / 2);
	snprintf(self, sizeof self, "%u@%s", m->id, m->addr);
	unlink(out);
	if ((pid = fork()) < 0)
		return dann_fail_errno(DANN_EIO, errno, "cluster: fork");
	if (pid == 0) {
		int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fo, 1);
		dup2(fe, 2);
		execl(c->dann, "dann", "cluster", "serve", "--dir", m->dir, "--node-id", id, "--members",
		      join ? self : c->members, "--snapshot-threshold", thr, "--snapshot-trailing", trail,
		      join ? "--join" : "-v", (char *)NULL);
		_exit(127);
	}
	m->pid = pid;
	m->stopped = 0;
	for (;;) {
		int status;

		read_head(out, text, 64);
		if (strncmp(text, "ready", 5) == 0)
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			m->pid = 0;
			read_head(err, text, sizeof text);
			return dann_fail(DANN_EIO, "cluster: node %u exited while starting (status %d): %s", m->id,
					 status, text);
		}
		if (cproc_now_s() - t0 > READY_TIMEOUT_S) {
			cproc_kill(c, i);
			return dann_fail(DANN_ETIMEDOUT, "cluster: node %u not ready after %.0f s", m->id,
					 READY_TIMEOUT_S);
		}
		nap_ms(20);
	}
}

void cproc_kill(struct cproc *c, unsigned i)
{
	struct cproc_node *m = &c->nodes[i];

	if (!m->pid)
		return;
	kill(m->pid, SIGKILL);
	waitpid(m->pid, NULL, 0);
	m->pid = 0;
	m->stopped = 0;
}

void cproc_stop_signal(struct cproc *c, unsigned i)
{
	if (c->nodes[i].pid) {
		kill(c->nodes[i].pid, SIGSTOP);
		c->nodes[i].stopped = 1;
	}
}

void cproc_cont(struct cproc *c, unsigned i)
{
	if (c->nodes[i].pid) {
		kill(c->nodes[i].pid, SIGCONT);
		c->nodes[i].stopped = 0;
	}
}

int cproc_wipe(struct cproc *c, unsigned i)
{
	char cmd[400];

	if (c->nodes[i].pid)
		return dann_fail(DANN_EBUSY, "cluster: node %u is running", c->nodes[i].id);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->nodes[i].dir);
	return system(cmd) == 0 ? 0 : dann_fail(DANN_EIO, "cluster: removing %s", c->nodes[i].dir);
}

int cproc_leader(struct cproc *c, unsigned timeout_ms)
{
	double t0 = cproc_now_s();

	while ((cproc_now_s() - t0) * 1000 < timeout_ms) {
		int leader = -1, agree = 1, live = 0;

		for (unsigned i = 0; i < c->n; i++) {
			struct meta_status st;

			if (!c->nodes[i].pid || c->nodes[i].stopped)
				continue;
			live++;
			if (meta_client_status(c->nodes[i].addr, 500, &st) < 0 || !st.leader_id) {
				agree = 0;
				continue;
			}
			if (leader < 0)
				leader = (int)st.leader_id - 1;
			agree &= leader == (int)st.leader_id - 1;
		}
		if (live && agree && leader >= 0 && leader < (int)c->n && c->nodes[leader].pid)
			return leader;
		nap_ms(10);
	}
	return -1;
}

void cproc_shutdown(struct cproc *c)
{
	double t0;

	for (unsigned i = 0; i < c->n; i++)
		if (c->nodes[i].pid) {
			kill(c->nodes[i].pid, SIGCONT);
			kill(c->nodes[i].pid, SIGTERM);
		}
	t0 = cproc_now_s();
	for (unsigned i = 0; i < c->n; i++) {
		struct cproc_node *m = &c->nodes[i];

		while (m->pid && waitpid(m->pid, NULL, WNOHANG) == 0) {
			if (cproc_now_s() - t0 > STOP_GRACE_S) {
				kill(m->pid, SIGKILL);
				waitpid(m->pid, NULL, 0);
				break;
			}
			nap_ms(10);
		}
		m->pid = 0;
	}
}
