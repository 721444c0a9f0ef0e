/*
 * dix_rows_vf.c — the vector-file row source for the node file writer
 * (kept apart so that linking the writer does not pull in vf).
 */
#include "../vf.h"
#include "dix_write.h"

int dix_rows_from_vf(void *vf, uint64_t first, uint64_t n, void *dst)
{
	/* By pread, not through the mapping: the layout asks for rows in node
	 * order, random to the file, and mapped reads would leave the whole
	 * file resident in this process (fault-around) however small the
	 * build's --build-ram. */
	uint32_t ids[64];
	size_t rb = vf_row_bytes(vf);
	int rc;

	/* Ids fit 32 bits: the build refuses more than UINT32_MAX points. */
	for (uint64_t i = 0; i < n; i += 64) {
		uint64_t m = n - i < 64 ? n - i : 64;
		for (uint64_t j = 0; j < m; j++)
			ids[j] = (uint32_t)(first + i + j);
		if ((rc = vf_read_ids(vf, ids, m, (char *)dst + i * rb)) < 0)
			return rc;
	}
	return 0;
}
