/*
 * s3rver.h — a real S3-compatible server for the object-store tests.
 *
 * Starts tests/node/s3rver-launch.js (s3rver from npm, installed with
 * `npm ci --prefix tests/node`) on 127.0.0.1 with free ports, a data
 * directory of the test's own and a fault-injecting proxy in front (see the
 * script for its rules). The server's stdin is a pipe this process holds,
 * so it goes away with the test even if the test dies.
 */
#ifndef DANN_TEST_S3RVER_H
#define DANN_TEST_S3RVER_H

#include <sys/types.h>

struct s3rver {
	pid_t pid;
	int s3_port, proxy_port;
	int stdin_fd;
	char dir[1024];
	char bucket[64];
	char endpoint[64];       /* the proxy: "http://127.0.0.1:<port>" */
	char direct[64];         /* s3rver itself */
};

/* Starts the server with its data in dir (created if missing) and bucket
 * created; s3_port / proxy_port 0 for free ones (a restart passes the old
 * ones). The test fails with a clear message if it cannot. */
void s3rver_start(struct s3rver *s, const char *dir, const char *bucket, int s3_port, int proxy_port);
/* SIGTERM, then SIGKILL if it has not exited within 5 s; reaps it. */
void s3rver_stop(struct s3rver *s);
/* Waits up to timeout_ms for the server to exit on its own (a "kill"
 * fault); 1 if it did (and is reaped), 0 if not. */
int s3rver_wait_exit(struct s3rver *s, int timeout_ms);
/* Adds a fault rule (JSON, see s3rver-launch.js). */
void s3rver_fault(struct s3rver *s, const char *json);
/* Requests seen by the proxy with this method (NULL: any) whose URL holds match. */
long s3rver_count(struct s3rver *s, const char *method, const char *match);
/* Drops every rule and the request log. */
void s3rver_clear(struct s3rver *s);
/* Path of the file that holds object key of the bucket on disk. */
void s3rver_object_path(const struct s3rver *s, const char *key, char *out, size_t cap);

#endif
