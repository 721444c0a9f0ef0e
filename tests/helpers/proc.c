/*
 * proc.c — child processes for server tests (see proc.h).
 *
 * Every wait is bounded in time and every child started is stopped by its
 * own pid, so a hung server or client fails the test instead of hanging CI.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC_MAX_ARGS 64
#define POLL_MS 50

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* waitpid with a time limit; -1 on timeout. */
static int wait_for(pid_t pid, int timeout_s)
{
	double end = now_s() + timeout_s;
	int status;

	while (now_s() < end) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0 && errno != EINTR)
			return -1;
		usleep(POLL_MS * 1000);
	}
	return -2;
}

static int kill_wait(pid_t pid, int sig, int timeout_s)
{
	int rc;

	if (kill(pid, sig) < 0)
		return -1;
	rc = wait_for(pid, timeout_s);
	if (rc == -2) {
		kill(pid, SIGKILL);
		rc = wait_for(pid, 10);
		return rc < 0 ? -1 : rc;
	}
	return rc;
}

int proc_dannd_start(struct proc_dannd *d, const char *bin, int timeout_s, ...)
{
	char *argv[PROC_MAX_ARGS + 2];
	char line[256];
	size_t len = 0;
	int argc = 0, pfd[2], efd;
	double end = now_s() + timeout_s;
	va_list ap;

	memset(d, 0, sizeof *d);
	argv[argc++] = (char *)bin;
	va_start(ap, timeout_s);
	for (char *a; (a = va_arg(ap, char *)) && argc <= PROC_MAX_ARGS;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	strcpy(d->log, "/tmp/dann_dannd_log_XXXXXX");
	if ((efd = mkstemp(d->log)) < 0)
		return -1;
	if (pipe(pfd) < 0) {
		close(efd);
		return -1;
	}
	fflush(NULL);
	pid_t parent = getpid();
	d->pid = fork();
	if (d->pid == 0) {
		/* A test killed midway (a crash, a timeout, ctest giving up) must
		 * not leave its dannd serving: the kernel ends it with the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		close(pfd[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	close(efd);
	if (d->pid < 0) {
		close(pfd[0]);
		return -1;
	}
	while (now_s() < end && len + 1 < sizeof line) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;
		if (poll(&p, 1, POLL_MS) <= 0)
			continue;
		if ((n = read(pfd[0], line + len, sizeof line - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		line[len] = 0;
		if (strchr(line, '\n') &&
		    sscanf(line, "dannd: listening on port %d, metrics port %d", &d->port, &d->metrics_port) == 2)
			break;
	}
	/* The read end stays open in no one: dannd prints nothing more. */
	close(pfd[0]);
	if (d->port <= 0) {
		kill_wait(d->pid, SIGKILL, 10);
		d->pid = 0;
		return -1;
	}
	return 0;
}

int proc_dannd_stop(struct proc_dannd *d, int sig, int timeout_s)
{
	int rc;

	if (d->pid <= 0)
		return -1;
	rc = kill_wait(d->pid, sig, timeout_s);
	d->pid = 0;
	return rc;
}

pid_t proc_spawn(const char *dir, const char *out_path, char *const argv[])
{
	int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid_t pid;

	if (fd < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (dir && chdir(dir) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fd);
	return pid < 0 ? -1 : pid;
}

int proc_reap(pid_t pid, int sig, int timeout_s)
{
	if (pid <= 0)
		return -1;
	if (sig)
		return kill_wait(pid, sig, timeout_s);
	{
		int rc = wait_for(pid, timeout_s);
		if (rc == -2) {
			kill(pid, SIGKILL);
			wait_for(pid, 10);
			return -1;
		}
		return rc;
	}
}

int proc_run(const char *dir, const char *out_path, int timeout_s, char *const argv[])
{
	pid_t pid = proc_spawn(dir, out_path, argv);
	int rc;

	if (pid < 0)
		return -1;
	rc = wait_for(pid, timeout_s);
	if (rc == -2) {
		kill(pid, SIGKILL);
		wait_for(pid, 10);
		return -1;
	}
	return rc;
}
