/*
 * test_dio_start.c — choosing a backend when some cannot start: the next
 * one in the table is used, and when the last (pread) cannot start either,
 * dio_open fails with the reason instead of reading past the end of its
 * backend table (which it did: "trying backends[b + 1]").
 */
#include "dio_test.h"

/* Bit b set: backend b refuses to start. */
static int refuse(void *arg, enum dio_backend b)
{
	return (*(unsigned *)arg >> b) & 1;
}

static int open_refusing(enum dio_backend first, unsigned mask, struct dio **d)
{
	static unsigned m;
	struct dio_opts o = { .backend = first, .start_fault = refuse, .fault_arg = &m };

	m = mask;
	*d = NULL;
	return dio_open(&o, d);
}

#define ALL ((1u << DIO_BACKEND_URING) | (1u << DIO_BACKEND_AIO) | (1u << DIO_BACKEND_PREAD))

Test(dio_start, when_no_backend_starts_open_fails_naming_the_last)
{
	struct dio *d;

	cr_assert_eq(open_refusing(DIO_BACKEND_AUTO, ALL, &d), DANN_EUNSUPPORTED);
	cr_assert_null(d);
	cr_assert_not_null(strstr(dann_errmsg(), "pread"), "%s", dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), "no I/O backend could start"), "%s", dann_errmsg());
}

Test(dio_start, pread_asked_for_and_refused_fails_without_looking_further)
{
	struct dio *d;

	cr_assert_eq(open_refusing(DIO_BACKEND_PREAD, 1u << DIO_BACKEND_PREAD, &d), DANN_EUNSUPPORTED);
	cr_assert_null(d);
}

Test(dio_start, refused_backends_fall_through_to_the_next)
{
	struct dio *d;

	cr_assert_eq(open_refusing(DIO_BACKEND_AUTO, ALL & ~(1u << DIO_BACKEND_PREAD), &d), 0, "%s",
		     dann_errmsg());
	cr_assert_eq(dio_backend_of(d), DIO_BACKEND_PREAD);
	dio_close(d);
	cr_assert_eq(open_refusing(DIO_BACKEND_URING, 1u << DIO_BACKEND_URING, &d), 0, "%s",
		     dann_errmsg());
	cr_assert_neq(dio_backend_of(d), DIO_BACKEND_URING);
	dio_close(d);
}
