/*
 * test_dio_info_cli.c — `dann info --io` prints the backend dann would use,
 * why, and the state of each backend; DANN_IO changes the choice.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/cli.h"

Test(dio_info_cli, info_io_prints_the_choice_and_every_backend)
{
	char *out = NULL, *err = NULL;

	unsetenv("DANN_IO");
	cr_assert_eq(cli_run(&out, &err, "info", "--io", NULL), 0, "%s", err);
	cr_assert(strstr(out, "io backend "), "%s", out);
	cr_assert(strstr(out, "  uring "), "%s", out);
	cr_assert(strstr(out, "  aio "), "%s", out);
	cr_assert(strstr(out, "  pread         ok: pread"), "%s", out);
	free(out);
	free(err);
	setenv("DANN_IO", "pread", 1);
	cr_assert_eq(cli_run(&out, &err, "info", "--io", NULL), 0, "%s", err);
	cr_assert(strstr(out, "io backend      pread: forced by DANN_IO"), "%s", out);
	free(out);
	free(err);
	setenv("DANN_IO", "nvme", 1);
	cr_assert_neq(cli_run(&out, &err, "info", "--io", NULL), 0);
	cr_assert(strstr(err, "unknown I/O backend 'nvme'"), "%s", err);
	free(out);
	free(err);
	unsetenv("DANN_IO");
	cr_assert_eq(cli_run(&out, &err, "info", "--io", "x.fbin", NULL), 2);
	free(out);
	free(err);
}
