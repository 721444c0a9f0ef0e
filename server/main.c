/*
 * main.c — dannd: the server process.
 *
 * Parses the settings, routes dann's (and gRPC's) log to stderr with a
 * timestamp, starts the server and waits for SIGTERM or SIGINT, then runs
 * the shutdown sequence and exits 0. The signals are caught by a handler
 * that writes their number to a pipe main reads: libraries start threads
 * of their own (libmicrohttpd, gRPC) whose signal masks we do not control,
 * and a handler works whichever thread the kernel picks. The object store's
 * endpoint and credentials come from the AWS environment and shared files
 * (tools/objenv.h), never from dannd's config file. Exit 1 when the server
 * cannot start (bad settings, data dir locked, port taken), 2 for usage
 * errors.
 */
#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../tools/objenv.h"
#include "dann.h"
#include "log.h"
#include "srv.h"
#include "srv_config.h"

#define HASH_T_COST 3
#define HASH_M_COST_KIB (64 * 1024)
#define HASH_PARALLELISM 1
#define HASH_SALT_BYTES 16
#define HASH_BYTES 32

static int signal_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	ssize_t n = write(signal_pipe[1], &b, 1);

	(void)n;
}

static void log_stderr(void *arg, enum dann_log_level level, const char *module, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ dannd %s: %s: %s\n", when, ts.tv_nsec / 1000000,
		dann_log_level_name(level), module, msg);
}

static int hash_password(void)
{
	char pw[512], enc[256];
	uint8_t salt[HASH_SALT_BYTES];
	size_t n;

	if (!fgets(pw, sizeof pw, stdin)) {
		fprintf(stderr, "dannd: --hash-password reads the password from stdin\n");
		return 2;
	}
	n = strcspn(pw, "\r\n");
	pw[n] = 0;
	if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt ||
	    argon2id_hash_encoded(HASH_T_COST, HASH_M_COST_KIB, HASH_PARALLELISM, pw, n, salt, sizeof salt,
				  HASH_BYTES, enc, sizeof enc) != ARGON2_OK) {
		fprintf(stderr, "dannd: cannot hash the password\n");
		return 1;
	}
	printf("%s\n", enc);
	return 0;
}

int main(int argc, char **argv)
{
	struct srv_config cfg;
	struct srv *s;
	struct sigaction sa;
	unsigned char sig = 0;
	int help, rc;

	if (argc == 2 && !strcmp(argv[1], "--hash-password"))
		return hash_password();
	srv_config_default(&cfg);
	if (srv_config_args(&cfg, argc, argv, &help) < 0) {
		fprintf(stderr, "dannd: %s\n%s", dann_errmsg(), srv_config_usage());
		return 2;
	}
	if (help) {
		fputs(srv_config_usage(), stdout);
		return 0;
	}
	if (!cfg.data_dir[0]) {
		fprintf(stderr, "dannd: --data-dir is required\n%s", srv_config_usage());
		return 2;
	}
	if (cfg.store[0] && objenv_config(&cfg.store_config) < 0) {
		fprintf(stderr, "dannd: %s\n", dann_errmsg());
		return 2;
	}
	dann_log_set(log_stderr, NULL, (enum dann_log_level)cfg.log_level);
	if (pipe2(signal_pipe, O_CLOEXEC) < 0) {
		perror("dannd: pipe");
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = srv_open(&cfg, &s)) < 0) {
		fprintf(stderr, "dannd: %s\n", dann_errmsg());
		return 1;
	}
	/* One line on stdout that scripts and tests wait for. */
	printf("dannd: listening on port %d, metrics port %d\n", srv_port(s), srv_metrics_port(s));
	fflush(stdout);
	while (read(signal_pipe[0], &sig, 1) < 0 && errno == EINTR)
		;
	dann_log(DANN_LOG_INFO, "server", "signal %d: shutting down", (int)sig);
	srv_close(s);
	dann_log(DANN_LOG_INFO, "server", "stopped; data directory closed");
	return 0;
}
