/*
 * test_dio_probe.c — dio_probe says which backend dio_open would choose and
 * why, tries each one for real, and keeps nothing open.
 */
#include <dirent.h>

#include "dio_test.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

Test(dio_probe, probe_reports_every_backend_and_the_choice_matches_open)
{
	struct dio_probe p;
	struct dio *d;
	int before = open_fds();

	unsetenv(DIO_ENV);
	cr_assert_eq(dio_probe(NULL, &p), 0, "%s", dann_errmsg());
	cr_assert_eq(open_fds(), before, "probe left descriptors open");
	cr_assert(p.available[DIO_BACKEND_PREAD], "pread always works");
	cr_assert(strstr(p.reason[DIO_BACKEND_PREAD], "ok: pread"), "%s", p.reason[DIO_BACKEND_PREAD]);
	for (int b = DIO_BACKEND_URING; b < DIO_NBACKENDS; b++)
		cr_assert(p.available[b] ? !strncmp(p.reason[b], "ok: ", 4) : p.reason[b][0] != '\0', "backend %d: %s",
			  b, p.reason[b]);
	cr_assert_eq(dio_open(NULL, &d), 0);
	cr_assert_eq(dio_backend_of(d), p.chosen, "probe chose %s, open chose %s", dio_backend_name(p.chosen),
		     dio_describe(d));
	dio_close(d);
	if (p.available[DIO_BACKEND_URING]) {
		cr_assert_eq(p.chosen, DIO_BACKEND_URING);
		cr_assert(strstr(p.why, "first in the default order"), "%s", p.why);
	}
}

Test(dio_probe, probe_follows_dann_io_and_rejects_unknown_values)
{
	struct dio_probe p;

	setenv(DIO_ENV, "pread", 1);
	cr_assert_eq(dio_probe(NULL, &p), 0);
	cr_assert_eq(p.chosen, DIO_BACKEND_PREAD);
	cr_assert(strstr(p.why, "forced by DANN_IO"), "%s", p.why);
	setenv(DIO_ENV, "spdk", 1);
	cr_assert_eq(dio_probe(NULL, &p), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "'spdk'"), "%s", dann_errmsg());
	unsetenv(DIO_ENV);
}

Test(dio_probe, backend_names_parse_and_print)
{
	enum dio_backend b;

	cr_assert_eq(dio_backend_parse("io_uring", &b), 0);
	cr_assert_eq(b, DIO_BACKEND_URING);
	cr_assert_eq(dio_backend_parse("libaio", &b), 0);
	cr_assert_eq(b, DIO_BACKEND_AIO);
	cr_assert_str_eq(dio_backend_name(DIO_BACKEND_PREAD), "pread");
	cr_assert_eq(dio_backend_parse(NULL, &b), DANN_EINVAL);
}
