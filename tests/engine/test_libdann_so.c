/*
 * test_libdann_so.c — the shared library as a program outside the tree
 * sees it: it exports the functions of dann.h and nothing else (every
 * internal module is hidden), it does not depend on zlib (only the CLI
 * reads gzip), and `cmake --install` installs dann.h alone, against which
 * a client compiles, links and runs.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/tmpdir.h"

static void setup(void)
{
	tmpdir_make("libdann_so");
}

TestSuite(libdann_so, .init = setup, .fini = tmpdir_remove);

Test(libdann_so, exports_the_public_api_and_hides_the_modules)
{
	static const char *hidden[] = { "vf_open", "fsu_write_all", "crc32c", "dio_open",
					"dist_kernel", "pq_train", "vam_build", "dix_stage_begin",
					"dann_fail", "km_train", "topk_init", "dann_log" };
	void *so = dlopen(DANN_SHARED_LIB, RTLD_NOW | RTLD_LOCAL);
	const char *(*errname)(int);

	cr_assert_not_null(so, "%s", dlerror());
	errname = (const char *(*)(int))dlsym(so, "dann_errname");
	cr_assert_not_null(errname, "dann_errname is not exported");
	cr_assert_str_eq(errname(-4), "DANN_ECORRUPT");
	cr_assert_not_null(dlsym(so, "dann_errmsg"));
	cr_assert_not_null(dlsym(so, "dann_log_set"), "a program cannot route the log");
	for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
		cr_assert_null(dlsym(so, hidden[i]), "%s is exported from libdann.so", hidden[i]);
	dlclose(so);
}

/* Runs cmd, returns its exit status; its output goes to out (may be NULL). */
static int run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	cr_assert_not_null(p, "%s", cmd);
	if (out) {
		n = fread(out, 1, cap - 1, p);
		out[n] = '\0';
	} else {
		char sink[4096];
		while (fread(sink, 1, sizeof sink, p) > 0)
			;
	}
	return pclose(p);
}

Test(libdann_so, does_not_depend_on_zlib)
{
	char cmd[1024], out[8192];

	snprintf(cmd, sizeof cmd, "readelf -d '%s' 2>&1", DANN_SHARED_LIB);
	if (run(cmd, out, sizeof out) != 0)
		cr_skip_test("readelf is not available: %s", out);
	cr_assert_not_null(strstr(out, "NEEDED"), "%s", out);
	cr_assert_null(strstr(out, "libz."), "libdann.so needs zlib:\n%s", out);
}

Test(libdann_so, installs_only_dann_h_and_a_client_builds_against_it, .timeout = 120)
{
	char cmd[2048], out[8192];
	const char *prefix = tmpdir_path("prefix");
	FILE *fp;

	snprintf(cmd, sizeof cmd, "cmake --install '%s' --prefix '%s' 2>&1", DANN_BUILD_DIR, prefix);
	cr_assert_eq(run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
	snprintf(cmd, sizeof cmd, "cd '%s/include' && ls -A", prefix);
	cr_assert_eq(run(cmd, out, sizeof out), 0);
	cr_assert_str_eq(out, "dann.h\n", "installed headers:\n%s", out);

	fp = fopen(tmpdir_path("client.c"), "w");
	cr_assert_not_null(fp);
	fputs("#include <dann.h>\n#include <stdio.h>\n#include <string.h>\n"
	      "int main(void) { return strcmp(dann_errname(DANN_EEXIST), \"DANN_EEXIST\") != 0; }\n",
	      fp);
	cr_assert_eq(fclose(fp), 0);
	snprintf(cmd, sizeof cmd,
		 "cd '%s' && cc -std=c11 -Wall -Werror -I'%s/include' client.c -o client "
		 "-L'%s/lib' -ldann -Wl,-rpath,'%s/lib' 2>&1 && ASAN_OPTIONS=verify_asan_link_order=0 "
		 "./client 2>&1",
		 tmpdir_get(), prefix, prefix, prefix);
	cr_assert_eq(run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
}
