/*
 * meta_proc.c — meta nodes as processes for tests (meta_proc.h).
 */
#include "meta_proc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
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

#include "cli.h"
#include "meta.h"
#include "meta_client.h"

#define READY_TIMEOUT_S 15.0
#define STOP_GRACE_S 5.0

double mp_now_s(void)
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

/* A port whose successor is free too, below the kernel's ephemeral range
 * (which starts at 32768 by default), so that a client connection cannot
 * take a node's port while the node is down between a kill and a restart. */
static int free_pair(const int *taken, unsigned ntaken)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)(mp_now_s() * 1e6);

	for (int tries = 0; tries < 500; tries++) {
		int port = 20000 + 2 * (int)(rand_r(&seed) % 6000), clash = 0;

		for (unsigned i = 0; i < ntaken; i++)
			clash |= abs(taken[i] - port) <= 1;
		if (!clash && port_free(port) && port_free(port + 1))
			return port;
	}
	cr_assert_fail("no free pair of loopback ports in 500 tries");
	return -1;
}

void mp_init(struct mp_cluster *c, unsigned n, const char *base, unsigned snapshot_threshold)
{
	int ports[MP_MAX];

	memset(c, 0, sizeof *c);
	c->n = n;
	c->snapshot_threshold = snapshot_threshold;
	for (unsigned i = 0; i < n; i++) {
		struct mp_node *m = &c->nodes[i];
		size_t l = strlen(c->members), lp = strlen(c->peers);

		ports[i] = free_pair(ports, i);
		m->id = i + 1;
		snprintf(m->addr, sizeof m->addr, "127.0.0.1:%d", ports[i]);
		snprintf(m->dir, sizeof m->dir, "%s/node%u", base, m->id);
		snprintf(c->members + l, sizeof c->members - l, "%s%u@%s", i ? "," : "", m->id, m->addr);
		snprintf(c->peers + lp, sizeof c->peers - lp, "%s%s", i ? "," : "", m->addr);
	}
}

void mp_start(struct mp_cluster *c, unsigned i, int join)
{
	struct mp_node *m = &c->nodes[i];
	char out[300], err[300], id[16], thr[16], trail[16], self[96];
	double t0 = mp_now_s();
	pid_t pid;

	cr_assert_eq(m->pid, 0, "node %u is already running", m->id);
	snprintf(out, sizeof out, "%s.out", m->dir);
	snprintf(err, sizeof err, "%s.err", m->dir);
	snprintf(id, sizeof id, "%u", m->id);
	snprintf(thr, sizeof thr, "%u", c->snapshot_threshold);
	snprintf(trail, sizeof trail, "%u", c->snapshot_threshold / 2);
	snprintf(self, sizeof self, "%u@%s", m->id, m->addr);
	unlink(out);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fo, 1);
		dup2(fe, 2);
		if (join)
			execl(DANN_CLI, "dann", "cluster", "serve", "--dir", m->dir, "--node-id", id, "--members", self,
			      "--join", "--snapshot-threshold", thr, "--snapshot-trailing", trail, "-v", (char *)NULL);
		else
			execl(DANN_CLI, "dann", "cluster", "serve", "--dir", m->dir, "--node-id", id, "--members",
			      c->members, "--snapshot-threshold", thr, "--snapshot-trailing", trail, "-v", (char *)NULL);
		_exit(127);
	}
	m->pid = pid;
	m->stopped = 0;
	for (;;) {
		FILE *f = fopen(out, "r");
		char line[64] = "";
		int status;

		if (f) {
			if (!fgets(line, sizeof line, f))
				line[0] = '\0';
			fclose(f);
		}
		if (strncmp(line, "ready", 5) == 0)
			return;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			m->pid = 0;
			char *text = cli_slurp(err);

			cr_assert_fail("node %u exited while starting (status %d): %s", m->id, status, text ? text : err);
		}
		cr_assert_lt(mp_now_s() - t0, READY_TIMEOUT_S, "node %u not ready after %.0f s", m->id, READY_TIMEOUT_S);
		nap_ms(20);
	}
}

void mp_kill(struct mp_cluster *c, unsigned i)
{
	struct mp_node *m = &c->nodes[i];

	if (!m->pid)
		return;
	kill(m->pid, SIGKILL);
	waitpid(m->pid, NULL, 0);
	m->pid = 0;
	m->stopped = 0;
}

void mp_stop_signal(struct mp_cluster *c, unsigned i)
{
	kill(c->nodes[i].pid, SIGSTOP);
	c->nodes[i].stopped = 1;
}

void mp_cont(struct mp_cluster *c, unsigned i)
{
	kill(c->nodes[i].pid, SIGCONT);
	c->nodes[i].stopped = 0;
}

void mp_wipe(struct mp_cluster *c, unsigned i)
{
	char cmd[400];

	cr_assert_eq(c->nodes[i].pid, 0);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->nodes[i].dir);
	cr_assert_eq(system(cmd), 0);
}

int mp_leader(struct mp_cluster *c, unsigned timeout_ms)
{
	double t0 = mp_now_s();

	while ((mp_now_s() - t0) * 1000 < timeout_ms) {
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
		if (live && agree && leader >= 0 && c->nodes[leader].pid)
			return leader;
		nap_ms(25);
	}
	return -1;
}

void mp_shutdown(struct mp_cluster *c)
{
	double t0;

	for (unsigned i = 0; i < c->n; i++)
		if (c->nodes[i].pid) {
			kill(c->nodes[i].pid, SIGCONT);
			kill(c->nodes[i].pid, SIGTERM);
		}
	t0 = mp_now_s();
	for (unsigned i = 0; i < c->n; i++) {
		struct mp_node *m = &c->nodes[i];

		while (m->pid && waitpid(m->pid, NULL, WNOHANG) == 0) {
			if (mp_now_s() - t0 > STOP_GRACE_S) {
				kill(m->pid, SIGKILL);
				waitpid(m->pid, NULL, 0);
				break;
			}
			nap_ms(10);
		}
		m->pid = 0;
	}
}
