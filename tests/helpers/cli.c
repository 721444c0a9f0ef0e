/*
 * cli.c — running the built `dann` CLI from a test (see cli.h).
 *
 * Output goes to temporary files rather than pipes so that a command that
 * prints a lot cannot block on a full pipe while the test waits for it.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLI_MAX_ARGS 64

char *cli_slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1))) {
		size_t got = fread(buf, 1, (size_t)n, fp);
		buf[got] = '\0';
	}
	fclose(fp);
	return buf;
}

static int capture_file(char *name)
{
	strcpy(name, "/tmp/dann_cli_XXXXXX");
	return mkstemp(name);
}

int cli_run(char **out, char **err, ...)
{
	char *argv[CLI_MAX_ARGS + 2];
	char out_name[32], err_name[32];
	int argc = 0, status, ofd, efd;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)DANN_CLI;
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *)) && argc <= CLI_MAX_ARGS;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	if ((ofd = capture_file(out_name)) < 0)
		return -1;
	if ((efd = capture_file(err_name)) < 0) {
		close(ofd);
		unlink(out_name);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(ofd, STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(ofd);
	close(efd);
	status = -1;
	if (pid > 0 && waitpid(pid, &status, 0) == pid)
		status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (out)
		*out = cli_slurp(out_name);
	if (err)
		*err = cli_slurp(err_name);
	unlink(out_name);
	unlink(err_name);
	return status;
}
