/*
 * coll_op.c — `dann flush` and `dann compact`: the two commands that run a
 * collection's background work now and wait for it (dann_coll_flush,
 * dann_coll_compact), then report the segments.
 */
#include "coll_op.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dann.h"
#include "cmd.h"
#include "coll_cli.h"
#include "search_report.h"

int coll_op_main(const char *cmd, const char *help, int (*op)(struct dann_coll *), int argc, char **argv)
{
	enum { O_DATA_DIR = 256, O_NAME, O_HELP };
	static const struct option longs[] = {
		{ "data-dir", required_argument, 0, O_DATA_DIR },
		{ "name", required_argument, 0, O_NAME },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	const char *data_dir = NULL, *name = NULL;
	struct dann_seg_info *segs = NULL;
	struct coll_cli cc;
	uint64_t rows = 0, disk = 0;
	size_t nseg = 0;
	double t0;
	int c, rc, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case O_DATA_DIR: data_dir = optarg; break;
		case O_NAME: name = optarg; break;
		case 'h':
		case O_HELP: fputs(help, stdout); return 0;
		default: return cmd_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!data_dir || !name)
		return cmd_usage_error(cmd, "--data-dir D and --name C are required");
	if ((status = coll_cli_open(cmd, data_dir, name, 0, &cc)))
		return status;
	t0 = search_now_s();
	if ((rc = op(cc.c)) < 0 || (rc = dann_coll_count(cc.c, &rows)) < 0 ||
	    (rc = dann_coll_segments(cc.c, &segs, &nseg)) < 0) {
		status = cmd_fail_lib(cmd, rc);
	} else {
		for (size_t i = 0; i < nseg; i++)
			disk += segs[i].disk_bytes;
		printf("%s %s in %.2f s: %llu live rows in %zu segments, %.1f MiB on disk\n",
		       strcmp(cmd, "flush") ? "compacted" : "flushed", name, search_now_s() - t0,
		       (unsigned long long)rows, nseg, (double)disk / (1 << 20));
	}
	free(segs);
	coll_cli_close(&cc);
	return status;
}

