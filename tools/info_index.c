/*
 * info_index.c — `dann info DIR` for a disk index directory: the header's
 * fields, every file of the MANIFEST with its size and a full checksum
 * check (the node file included, unlike a search's open), and the memory a
 * search needs. A damaged index is still described as far as it can be,
 * then reported with the loader's own message.
 */
#include "info_index.h"

#include <stdio.h>

#include "../engine/dann.h"
#include "../engine/error.h"
#include "../engine/vamana/dix.h"
#include "../engine/vamana/dix_manifest.h"

#define MIB (1024.0 * 1024.0)

static void print_header(const struct dix_header *h)
{
	printf("  format        dann disk index v%u, %s order\n", h->version,
	       dix_layout_name(h->layout));
	printf("  points        %llu x %u %s, metric %s\n", (unsigned long long)h->n, h->dim,
	       dann_dtype_name((enum dann_dtype)h->dtype), dann_metric_name((enum dann_metric)h->metric));
	printf("  graph         max degree R %u, entry point %u\n", h->R, h->entry[0]);
	if (h->sectors_per_node > 1)
		printf("  nodes         %u bytes each, %u sectors per node\n", h->node_bytes,
		       h->sectors_per_node);
	else
		printf("  nodes         %u bytes each, %u per 4 KiB sector, %llu sectors\n",
		       h->node_bytes, h->nodes_per_sector, (unsigned long long)h->node_sectors);
}

int info_index_dir(const char *dir)
{
	struct dann_open_params op = { .verify_all = 1 };
	struct dann_index_info info;
	struct dann_index *ix = NULL;
	struct dix_manifest m;
	struct dix_header h;
	int rc;

	if ((rc = dix_manifest_read(dir, &m)) < 0) {
		if (rc == DANN_ENOTFOUND)
			fprintf(stderr, "dann info: %s is a directory but not a dann index (%s)\n", dir,
				dann_errmsg());
		else
			fprintf(stderr, "dann info: %s: damaged index: %s\n", dir, dann_errmsg());
		return 1;
	}
	printf("%s\n", dir);
	if (dix_read_header(dir, &h) == 0)
		print_header(&h);
	printf("  files\n");
	for (uint32_t i = 0; i < m.n; i++)
		printf("    %-14s %12llu bytes  crc32c 0x%08x\n", m.e[i].name,
		       (unsigned long long)m.e[i].size, m.e[i].crc);
	if ((rc = dann_index_open(dir, &op, &ix)) < 0) {
		printf("  status        CORRUPT: %s\n", dann_errmsg());
		return 1;
	}
	dann_index_info(ix, &info);
	printf("  pq            %u bytes per vector%s\n", info.pq_bytes,
	       info.opq ? ", OPQ rotation" : "");
	printf("  sizing        RAM to search %.1f MiB (PQ codes + maps) + node cache; SSD %.1f MiB\n",
	       (double)info.ram_bytes / MIB, (double)info.disk_bytes / MIB);
	printf("  status        ok (every file's size and checksum match the MANIFEST)\n");
	dann_index_close(ix);
	return 0;
}
