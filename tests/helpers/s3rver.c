/*
 * s3rver.c — starting, stopping and steering the test S3 server.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "s3rver.h"

#define LAUNCHER DANN_SOURCE_DIR "/tests/node/s3rver-launch.js"
#define MODULES DANN_SOURCE_DIR "/tests/node/node_modules/s3rver"
#define READY_TIMEOUT_MS 30000

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void s3rver_start(struct s3rver *s, const char *dir, const char *bucket, int s3_port, int proxy_port)
{
	int in[2], out[2];
	char p1[16], p2[16], line[128] = "";
	size_t n = 0;
	long deadline;
	struct stat st;

	char d[sizeof s->dir], b[sizeof s->bucket];

	cr_assert(stat(MODULES, &st) == 0,
		  "s3rver is not installed: run `npm ci --prefix tests/node` (looked for %s)", MODULES);
	/* dir and bucket may be s's own fields (a restart) */
	snprintf(d, sizeof d, "%s", dir);
	snprintf(b, sizeof b, "%s", bucket);
	memset(s, 0, sizeof *s);
	snprintf(s->dir, sizeof s->dir, "%s", d);
	snprintf(s->bucket, sizeof s->bucket, "%s", b);
	dir = s->dir;
	bucket = s->bucket;
	mkdir(dir, 0755);
	cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	snprintf(p1, sizeof p1, "%d", s3_port);
	snprintf(p2, sizeof p2, "%d", proxy_port);
	s->pid = fork();
	cr_assert(s->pid >= 0, "fork: %s", strerror(errno));
	if (s->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		/* s3rver makes its ListObjectsV2 continuation tokens with DES,
		 * which OpenSSL 3 keeps in its legacy provider */
		execlp("node", "node", "--openssl-legacy-provider", LAUNCHER, "--dir", dir, "--port", p1, "--proxy-port", p2, "--bucket", bucket,
		       (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->stdin_fd = in[1];
	deadline = now_ms() + READY_TIMEOUT_MS;
	while (!strchr(line, '\n')) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		long left = deadline - now_ms();
		ssize_t r;

		cr_assert(left > 0, "s3rver did not start within %d ms", READY_TIMEOUT_MS);
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = read(out[0], line + n, sizeof line - 1 - n);
		cr_assert(r > 0, "s3rver exited before it was ready (is node installed?)");
		n += (size_t)r;
		line[n] = 0;
	}
	close(out[0]);
	cr_assert(sscanf(line, "ready %d %d", &s->s3_port, &s->proxy_port) == 2, "s3rver said: %s", line);
	snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->proxy_port);
	snprintf(s->direct, sizeof s->direct, "http://127.0.0.1:%d", s->s3_port);
}

int s3rver_wait_exit(struct s3rver *s, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	if (s->pid <= 0)
		return 1;
	while (now_ms() < deadline) {
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			close(s->stdin_fd);
			return 1;
		}
		usleep(20000);
	}
	return 0;
}

void s3rver_stop(struct s3rver *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	if (!s3rver_wait_exit(s, 5000)) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
		close(s->stdin_fd);
	}
}

struct body {
	char buf[256];
	size_t n;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb, room = sizeof b->buf - 1 - b->n;

	memcpy(b->buf + b->n, p, n < room ? n : room);
	b->n += n < room ? n : room;
	b->buf[b->n] = 0;
	return n;
}

static void control(struct s3rver *s, const char *path, const char *post, struct body *b)
{
	char url[512];
	CURL *c = curl_easy_init();
	CURLcode rc;
	long status = 0;

	cr_assert(c);
	snprintf(url, sizeof url, "%s%s", s->endpoint, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	if (post)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	cr_assert(rc == CURLE_OK && status == 200, "proxy control %s: %s, HTTP %ld", path, curl_easy_strerror(rc),
		  status);
}

void s3rver_fault(struct s3rver *s, const char *json)
{
	struct body b = { "", 0 };

	control(s, "/__ctl/fault", json, &b);
}

void s3rver_clear(struct s3rver *s)
{
	struct body b = { "", 0 };

	control(s, "/__ctl/clear", "", &b);
}

long s3rver_count(struct s3rver *s, const char *method, const char *match)
{
	struct body b = { "", 0 };
	char path[512], *enc;
	CURL *c = curl_easy_init();

	enc = curl_easy_escape(c, match, 0);
	snprintf(path, sizeof path, "/__ctl/count?%s%s%smatch=%s", method ? "method=" : "", method ? method : "",
		 method ? "&" : "", enc);
	curl_free(enc);
	curl_easy_cleanup(c);
	control(s, path, NULL, &b);
	return atol(b.buf);
}

void s3rver_object_path(const struct s3rver *s, const char *key, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s/%s._S3rver_object", s->dir, s->bucket, key);
}
