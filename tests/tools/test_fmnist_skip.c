/*
 * test_fmnist_skip.c — the tests that read Fashion-MNIST skip, with a
 * message naming the missing file, when the data set is not there (they
 * failed on an assertion before). Each is run as a program with
 * DANN_FMNIST_DIR pointing at an empty directory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "helpers/tmpdir.h"

static void setup(void)
{
	tmpdir_make("fmnist_skip");
}

TestSuite(fmnist_skip, .init = setup, .fini = tmpdir_remove);

static void expect_skipped(const char *exe, const char *filter)
{
	char cmd[2048], out[16384];
	size_t n;
	FILE *p;
	int status;

	/* Without the sandbox variables of this Criterion worker, or the
	 * child would take itself for one of its workers. */
	snprintf(cmd, sizeof cmd,
		 "env -u BXFI_MAP -u IS_SANDBOX -u GMON_OUT_PREFIX DANN_FMNIST_DIR='%s' "
		 "'%s/%s' --jobs 1 --verbose%s%s 2>&1",
		 tmpdir_get(), DANN_BUILD_DIR, exe, filter ? " --filter " : "", filter ? filter : "");
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	status = pclose(p);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed:\n%s", exe, out);
	cr_assert_not_null(strstr(out, "[SKIP]"), "%s did not skip:\n%s", exe, out);
	cr_assert_not_null(strstr(out, "Fashion-MNIST is missing"), "%s:\n%s", exe, out);
	cr_assert_not_null(strstr(out, tmpdir_get()), "the message does not name the file:\n%s", out);
	cr_assert_null(strstr(out, "[FAIL]"), "%s:\n%s", exe, out);
}

Test(fmnist_skip, recall_tests_skip_when_the_data_set_is_missing, .timeout = 120)
{
	expect_skipped("test_vamana_fmnist", NULL);
	expect_skipped("test_dix_fmnist", NULL);
	expect_skipped("test_pq_fmnist", NULL);
}

Test(fmnist_skip, cli_tests_on_the_data_set_skip_when_it_is_missing, .timeout = 120)
{
	expect_skipped("test_convert", "'convert/fashion*'");
	expect_skipped("test_info", "'info/describes_the_fashion*'");
}
