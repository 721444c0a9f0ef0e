/*
 * srvtest.h — what the server tests share: paths of the built dannd and of
 * the Node.js client scripts, starting dannd on a free loopback port in the
 * test's temporary directory, an HTTP GET for the metrics port.
 * (Header-only: tests/ compiles only test_*.c and helpers/.)
 */
#ifndef DANN_SRVTEST_H
#define DANN_SRVTEST_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "helpers/cli.h"
#include "helpers/proc.h"
#include "helpers/tmpdir.h"

#define SRVTEST_NODE_DIR DANN_SOURCE_DIR "/tests/node"
#define SRVTEST_START_S 30
#define SRVTEST_STOP_S 60

/* The SDK must be installed (CI runs `npm ci --prefix tests/node`): a
 * missing one fails the test with the command that fixes it. */
static inline void srvtest_need_node(void)
{
	struct stat st;

	cr_assert(stat(SRVTEST_NODE_DIR "/node_modules/@zilliz/milvus2-sdk-node", &st) == 0,
		  "the Milvus Node.js SDK is not installed: run `npm ci --prefix tests/node`");
}

/* dannd on 127.0.0.1 (free port) over data_dir, metrics on a free port. */
static inline void srvtest_start(struct proc_dannd *d, const char *data_dir)
{
	int rc = proc_dannd_start(d, DANND_BIN, SRVTEST_START_S, "--data-dir", data_dir, "--listen",
				  "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--slow-ms", "0", NULL);
	char *log = rc < 0 ? cli_slurp(d->log) : NULL;

	cr_assert_eq(rc, 0, "dannd did not start: %s", log ? log : "(no log)");
}

/* SIGTERM and the exit status, which must be 0. */
static inline void srvtest_stop(struct proc_dannd *d)
{
	int rc = proc_dannd_stop(d, SIGTERM, SRVTEST_STOP_S);
	char *log = cli_slurp(d->log);

	cr_assert_eq(rc, 0, "dannd exit status %d after SIGTERM; log:\n%s", rc, log ? log : "");
	free(log);
	unlink(d->log);
}

/* Runs a node script of tests/node with arguments; asserts it exits 0 and
 * prints its output when it does not. */
static inline void srvtest_node(int timeout_s, char *const argv[])
{
	const char *out = tmpdir_path("node.out");
	int rc = proc_run(SRVTEST_NODE_DIR, out, timeout_s, argv);
	char *text = cli_slurp(out);

	cr_assert_eq(rc, 0, "node %s exited %d:\n%s", argv[1], rc, text ? text : "");
	cr_log_info("%s", text ? text : "");
	free(text);
}

/* GET path from 127.0.0.1:port; the whole response (malloc'd) or NULL. */
static inline char *srvtest_http_get(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 10 };
	char req[256], *buf;
	size_t cap = 1 << 20, len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return NULL;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || !(buf = malloc(cap + 1))) {
		close(fd);
		return NULL;
	}
	snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		free(buf);
		return NULL;
	}
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd);
	return buf;
}

/* The argon2id hash of password, from `dannd --hash-password`
 * (malloc'd). */
static inline char *srvtest_hash(const char *password)
{
	char cmd[512], *hash;
	const char *out = tmpdir_path("hash.out");

	snprintf(cmd, sizeof cmd, "printf '%%s\\n' '%s' | '%s' --hash-password", password, DANND_BIN);
	cr_assert_eq(proc_run(NULL, out, 60, (char *[]){ "sh", "-c", cmd, NULL }), 0);
	hash = cli_slurp(out);
	cr_assert(hash && strncmp(hash, "$argon2id$", 10) == 0, "hash: %s", hash ? hash : "");
	hash[strcspn(hash, "\n")] = 0;
	return hash;
}

/* A config file turning auth on with user:password (stored hashed). */
static inline const char *srvtest_auth_conf(const char *user, const char *password)
{
	static char path[256];
	char *hash = srvtest_hash(password), *text;
	FILE *f;

	snprintf(path, sizeof path, "%s", tmpdir_path("auth.conf"));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "auth = true\nuser = %s:%s\n", user, hash);
	fclose(f);
	text = cli_slurp(path);
	cr_assert(text && !strstr(text, password), "the config holds no password");
	free(text);
	free(hash);
	return path;
}

/* A self-signed certificate for localhost / 127.0.0.1 and its key. */
static inline void srvtest_cert(const char *key, const char *cert)
{
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", (char *)key,
			 "-out", (char *)cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
			 "subjectAltName=DNS:localhost,IP:127.0.0.1", NULL };
	const char *out = tmpdir_path("openssl.out");
	int rc = proc_run(NULL, out, 60, argv);
	char *text = cli_slurp(out);

	cr_assert_eq(rc, 0, "openssl: %s", text ? text : "");
	free(text);
}

#endif
