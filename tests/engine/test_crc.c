/*
 * test_crc.c — CRC32C: the standard check value, chaining, and buffers
 * larger than 4 GiB, which ISA-L's int length would otherwise wrap (a
 * 4.5 GiB buffer checksummed as its first 0.5 GiB).
 *
 * The large buffer is an anonymous MAP_NORESERVE mapping: its pages are the
 * kernel's zero page except one written byte near the end, so the test
 * touches 4.5 GiB of address space but a few pages of memory.
 *
 * Whether a wrapped length shows depends on how the caller's compiler
 * passes an int (the upper half of the register is unspecified) and on how
 * the ISA-L build reads it; the test pins the strict case by interposing
 * crc32_iscsi with a definition that honours the declared int exactly, as
 * a C build of ISA-L does.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <limits.h>

#include "crc.h"

static size_t largest_call;

/* ISA-L's SSE4.2 kernel (what its dispatcher picks on this machine's class
 * of CPU), called directly: the dispatcher itself would call back into
 * this interposer. */
unsigned int crc32_iscsi_01(unsigned char *buf, int64_t len, unsigned int init);

unsigned int crc32_iscsi(unsigned char *buf, int len, unsigned int init)
{
	cr_assert_geq(len, 0, "crc32_iscsi called with a negative length %d", len);
	if ((size_t)len > largest_call)
		largest_call = (size_t)len;
	return crc32_iscsi_01(buf, (int64_t)len, init);
}

Test(crc, matches_the_standard_check_value)
{
	/* CRC-32C of "123456789" (RFC 3720 / the Castagnoli catalogue). */
	cr_assert_eq(crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(crc32c(0, "", 0), 0u);
}

Test(crc, chained_calls_equal_one_call)
{
	static unsigned char buf[10000];

	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	uint32_t whole = crc32c(0, buf, sizeof buf);
	uint32_t parts = crc32c(crc32c(crc32c(0, buf, 1), buf + 1, 4095), buf + 4096,
				sizeof buf - 4096);
	cr_assert_eq(whole, parts);
}

#define BIG_BYTES ((size_t)9 << 29) /* 4.5 GiB */
#define PIECE_BYTES ((size_t)1 << 24)

Test(crc, a_buffer_over_4_gib_is_checksummed_whole)
{
	unsigned char *big = mmap(NULL, BIG_BYTES, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint32_t want = 0, got;

	if (big == MAP_FAILED)
		cr_skip_test("cannot reserve %zu bytes of address space", BIG_BYTES);
	big[BIG_BYTES - 3] = 0x5a; /* past 4 GiB: a wrapped length never reads it */
	/* The reference: the same bytes in 16 MiB calls, each far inside int. */
	for (size_t off = 0; off < BIG_BYTES; off += PIECE_BYTES)
		want = crc32c(want, big + off, PIECE_BYTES);
	largest_call = 0;
	got = crc32c(0, big, BIG_BYTES);
	munmap(big, BIG_BYTES);
	cr_assert_eq(got, want, "4.5 GiB in one call: %08x, in 16 MiB pieces: %08x", got, want);
	cr_assert_leq(largest_call, (size_t)INT_MAX);
}
