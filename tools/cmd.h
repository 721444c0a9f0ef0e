/*
 * cmd.h — how the `dann` CLI finds its subcommands.
 *
 * Each subcommand lives in its own tools/cmd_<name>.c and registers itself
 * with DANN_COMMAND, so adding one touches no shared table. A command
 * returns a process exit status; it prints errors to stderr itself (see
 * cmd_fail) and results to stdout.
 */
#ifndef DANN_CMD_H
#define DANN_CMD_H

struct dann_command {
	const char *name;
	const char *summary;                 /* one line for `dann --help` */
	int (*run)(int argc, char **argv);   /* argv[0] is the command name */
};

void cmd_register(const struct dann_command *c);
const struct dann_command *cmd_find(const char *name);

/* Runs once at program start, before main, in every binary that links the
 * command's object file. */
#define DANN_COMMAND(NAME, SUMMARY, FN)                                         \
	static const struct dann_command cmd_def_##NAME = { #NAME, SUMMARY, FN }; \
	__attribute__((constructor)) static void cmd_reg_##NAME(void)           \
	{                                                                       \
		cmd_register(&cmd_def_##NAME);                                  \
	}

/* Prints "dann <cmd>: <dann_errmsg()>" to stderr and returns the exit
 * status for a library failure with code rc. */
int cmd_fail_lib(const char *cmd, int rc);
/* Prints "dann <cmd>: <message>" (+ a hint to run --help) and returns 2,
 * the exit status for a usage error. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a whole non-negative decimal integer of at most max; prints a usage
 * error naming opt and returns -1 otherwise. */
int cmd_parse_u64(const char *cmd, const char *opt, const char *s, unsigned long long max,
		  unsigned long long *out);
int cmd_parse_double(const char *cmd, const char *opt, const char *s, double *out);

#endif
