/*
 * main.c — the `dann` command line: dispatches to a registered subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "../engine/dann.h"
#include "cmd.h"
#include "runenv.h"

void cmd_list(FILE *out);

static void usage(FILE *out)
{
	fprintf(out, "usage: dann <command> [options]   (dann <command> --help for each)\n\n"
		     "commands:\n");
	cmd_list(out);
}

int main(int argc, char **argv)
{
	const struct dann_command *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("dann %d.%d\n", DANN_VERSION_MAJOR, DANN_VERSION_MINOR);
		return 0;
	}
	if (!(c = cmd_find(argv[1]))) {
		fprintf(stderr, "dann: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	runenv_ensure(argv);
	return c->run(argc - 1, argv + 1);
}
