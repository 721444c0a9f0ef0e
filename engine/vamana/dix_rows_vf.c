/*
 * dix_rows_vf.c — the vector-file row source for the node file writer
 * (kept apart so that linking the writer does not pull in vf).
 */
#include "../vf.h"
#include "dix_write.h"

int dix_rows_from_vf(void *vf, uint64_t first, uint64_t n, void *dst)
{
	return vf_read(vf, first, n, dst);
}
