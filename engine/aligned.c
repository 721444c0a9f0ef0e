/*
 * aligned.c — sector-aligned, zeroed allocations (see aligned.h).
 *
 * Zero-filling costs little next to the I/O these buffers serve and makes
 * any read of bytes the disk did not fill deterministic.
 */
#include "aligned.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void *dann_aligned_alloc(size_t size)
{
	size_t n = dann_round_up(size ? size : 1, DANN_SECTOR_BYTES);
	void *p = NULL;

	if (n < size || posix_memalign(&p, DANN_SECTOR_BYTES, n) != 0) {
		dann_fail(DANN_ENOMEM, "cannot allocate %zu aligned bytes", size);
		return NULL;
	}
	memset(p, 0, n);
	return p;
}

void dann_aligned_free(void *p)
{
	free(p);
}
