/*
 * crc.h — CRC32C checksums of every file dann writes.
 *
 * CRC32C (Castagnoli) because ISA-L computes it at memory speed with the
 * CPU's crc32 instruction, so verifying a file on open costs a read, not a
 * computation.
 */
#ifndef DANN_CRC_H
#define DANN_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC32C over buf; start with crc = 0. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* CRC32C of a whole file (or of its bytes [offset, offset+len); len = UINT64_MAX
 * reads to the end), in large chunks; 0 or a DANN_E* code naming path. */
int crc32c_file(const char *path, uint64_t offset, uint64_t len, uint32_t *out);

#endif
