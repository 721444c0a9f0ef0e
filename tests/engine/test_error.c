/*
 * test_error.c — failure messages, names, and the small shared helpers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <omp.h>
#include <string.h>

#include "aligned.h"
#include "crc.h"
#include "error.h"

Test(error, fail_sets_message_and_returns_code)
{
	cr_assert_eq(dann_fail(DANN_ECORRUPT, "%s: dimension %d", "x.fbin", -3), DANN_ECORRUPT);
	cr_assert_str_eq(dann_errmsg(), "x.fbin: dimension -3");
	cr_assert_eq(dann_fail_wrap(DANN_EIO, "loading index"), DANN_EIO);
	cr_assert_str_eq(dann_errmsg(), "loading index: x.fbin: dimension -3");
	dann_fail_errno(DANN_EIO, ENOENT, "open %s", "y");
	cr_assert_str_eq(dann_errmsg(), "open y: No such file or directory");
	cr_assert_str_eq(dann_errname(DANN_ECORRUPT), "DANN_ECORRUPT");
}

Test(error, metric_names_round_trip_and_unknown_is_rejected)
{
	enum dann_metric m;

	cr_assert_eq(dann_metric_parse("cosine", &m), 0);
	cr_assert_eq(m, DANN_METRIC_COSINE);
	cr_assert_str_eq(dann_metric_name(DANN_METRIC_IP), "ip");
	cr_assert_eq(dann_metric_parse("hamming", &m), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "hamming") != NULL);
}

Test(aligned, allocations_are_sector_aligned_and_zeroed)
{
	unsigned char *p = dann_aligned_alloc(10000);

	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % DANN_SECTOR_BYTES, 0);
	for (int i = 0; i < 12288; i++)
		cr_assert_eq(p[i], 0);
	dann_aligned_free(p);
	cr_assert_eq(dann_round_up(4097, 4096), 8192);
}

Test(crc, crc32c_matches_the_standard_check_value_and_chains)
{
	/* The CRC32C check value of "123456789" is 0xE3069283 (RFC 3720). */
	cr_assert_eq(crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

/* Workers of a parallel region fail on their own threads; the first
 * failure's code and message reach the thread that joins them, and a
 * failure set later by another worker does not replace it. */
Test(error, the_first_worker_failure_reaches_the_joining_thread_with_its_message)
{
	struct dann_first_err e = { 0 };

	dann_clear_error();
	cr_assert_eq(dann_first_err_raise(&e), 0);
#pragma omp parallel num_threads(2)
	{
		if (omp_get_thread_num() == 1) {
			dann_first_err_set(&e, dann_fail(DANN_EIO, "worker %d: disk on fire", 1));
		}
	}
	cr_assert_str_empty(dann_errmsg(), "the worker's message is its own thread's");
	cr_assert(dann_first_err_seen(&e));
	dann_first_err_set(&e, dann_fail(DANN_ENOMEM, "a later failure"));
	dann_clear_error();
	cr_assert_eq(dann_first_err_raise(&e), DANN_EIO);
	cr_assert_str_eq(dann_errmsg(), "worker 1: disk on fire");
}
