/*
 * vam_mem.c — the index's large arrays come straight from mmap.
 *
 * Why: a partitioned build frees one shard's arrays and allocates the
 * next's; a caching allocator (jemalloc decays freed pages over seconds)
 * would keep both resident, doubling peak RSS past the RAM budget.
 * Anonymous mappings go back to the OS on munmap at once, grow in place
 * or move with mremap, and come zero-filled.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "vam_impl.h"

static size_t page_round(size_t bytes)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return bytes ? (bytes + pg - 1) / pg * pg : pg;
}

void *vam_big_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
	size_t o = page_round(old_bytes), n = page_round(new_bytes);
	void *q;

	if (!p)
		q = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else if (o == n)
		return p;
	else
		q = mremap(p, o, n, MREMAP_MAYMOVE);
	return q == MAP_FAILED ? NULL : q;
}

void vam_big_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, page_round(bytes));
}
