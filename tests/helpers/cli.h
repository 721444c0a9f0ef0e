/*
 * cli.h — running the built `dann` CLI from a test and capturing its output.
 */
#ifndef DANN_TEST_CLI_H
#define DANN_TEST_CLI_H

/* Runs DANN_CLI with the NULL-terminated arguments after it (argv[0] is
 * supplied), stdout and stderr captured into malloc'd strings that the
 * caller frees (either pointer may be NULL to discard). Returns the exit
 * status, or -1 if the process did not exit normally. */
int cli_run(char **out, char **err, ...) __attribute__((sentinel));

/* The whole content of a file as a malloc'd string, or NULL. */
char *cli_slurp(const char *path);

#endif
