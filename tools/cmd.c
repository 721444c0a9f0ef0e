/*
 * cmd.c — subcommand registry and the CLI's shared error reporting.
 */
#include "cmd.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dann.h"

#define CMD_MAX 64

static const struct dann_command *commands[CMD_MAX];
static int ncommands;

void cmd_register(const struct dann_command *c)
{
	if (ncommands < CMD_MAX)
		commands[ncommands++] = c;
}

const struct dann_command *cmd_find(const char *name)
{
	for (int i = 0; i < ncommands; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

void cmd_list(FILE *out);
void cmd_list(FILE *out)
{
	/* Registration order depends on link order; print sorted. */
	const struct dann_command *sorted[CMD_MAX];
	memcpy(sorted, commands, sizeof commands[0] * (size_t)ncommands);
	for (int i = 1; i < ncommands; i++)
		for (int j = i; j > 0 && strcmp(sorted[j - 1]->name, sorted[j]->name) > 0; j--) {
			const struct dann_command *t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (int i = 0; i < ncommands; i++)
		fprintf(out, "  %-10s %s\n", sorted[i]->name, sorted[i]->summary);
}

int cmd_fail_lib(const char *cmd, int rc)
{
	const char *msg = dann_errmsg();
	fprintf(stderr, "dann %s: %s\n", cmd, msg[0] ? msg : dann_errname(rc));
	return 1;
}

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dann %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'dann %s --help')\n", cmd);
	return 2;
}

int cmd_parse_u64(const char *cmd, const char *opt, const char *s, unsigned long long max,
		  unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	cmd_usage_error(cmd, "%s expects a whole number from 0 to %llu, got '%s'", opt, max,
			s ? s : "");
	return -1;
}

int cmd_parse_double(const char *cmd, const char *opt, const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	if (!s || !*s)
		goto bad;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		goto bad;
	*out = v;
	return 0;
bad:
	cmd_usage_error(cmd, "%s expects a number, got '%s'", opt, s ? s : "");
	return -1;
}
