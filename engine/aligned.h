/*
 * aligned.h — sector-aligned allocation for O_DIRECT buffers and hot arrays.
 *
 * Every buffer handed to the SSD read path and every large array scanned by
 * SIMD kernels comes from here, so alignment is decided in one place.
 */
#ifndef DANN_ALIGNED_H
#define DANN_ALIGNED_H

#include <stddef.h>

#define DANN_SECTOR_BYTES 4096u

/* Rounds n up to a multiple of align (a power of two). */
static inline size_t dann_round_up(size_t n, size_t align)
{
	return (n + align - 1) & ~(align - 1);
}

/* Returns size bytes aligned to DANN_SECTOR_BYTES, size rounded up to a
 * whole number of sectors, zero-filled; NULL with DANN_ENOMEM set in the
 * message on failure. Free with dann_aligned_free. */
void *dann_aligned_alloc(size_t size);
void dann_aligned_free(void *p);

#endif
