/*
 * proc.h — child processes for tests that drive servers and real clients:
 * start dannd and learn its port, run a client script with a time limit,
 * stop what was started by its pid.
 */
#ifndef DANN_TEST_PROC_H
#define DANN_TEST_PROC_H

#include <sys/types.h>

struct proc_dannd {
	pid_t pid;
	int port;               /* gRPC port it bound */
	int metrics_port;       /* 0 when off */
	char log[256];          /* its stderr, in a file */
};

/* Starts bin with the NULL-terminated arguments (after argv[0]) and waits
 * up to timeout_s for its "listening on port P, metrics port M" line.
 * Returns 0, or -1 (the child, if any, is killed and reaped). */
int proc_dannd_start(struct proc_dannd *d, const char *bin, int timeout_s, ...)
	__attribute__((sentinel));
/* Sends sig and waits up to timeout_s for the exit; SIGKILL after that.
 * Returns the exit status (0..255), 128 + signal if killed, -1 on error. */
int proc_dannd_stop(struct proc_dannd *d, int sig, int timeout_s);

/* Runs argv (argv[0] looked up in PATH) in dir (NULL: here) with stdout
 * and stderr in the file out_path, killing it after timeout_s. Returns its
 * exit status, 128 + signal, or -1. */
int proc_run(const char *dir, const char *out_path, int timeout_s, char *const argv[]);

/* Starts argv like proc_run but returns at once: the pid, or -1. */
pid_t proc_spawn(const char *dir, const char *out_path, char *const argv[]);
/* Sends sig to pid (0: none) and waits up to timeout_s, SIGKILL after;
 * returns the status as proc_run does. */
int proc_reap(pid_t pid, int sig, int timeout_s);

#endif
