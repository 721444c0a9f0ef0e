/*
 * cmd_delete.c — `dann delete`: removes rows of a collection by key
 * (dann_coll_delete); keys that are not there are not an error, the
 * reply says how many rows went.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dann.h"
#include "cmd.h"
#include "coll_cli.h"

#define CMD "delete"

static const char delete_help[] =
	"usage: dann delete --data-dir D --name C (--ids FILE.ibin | --ids-i64 FILE | --id N)\n"
	"\n"
	"Deletes the rows of collection C with these keys, in one durable write,\n"
	"and prints how many rows were deleted (keys not in C are skipped). Key\n"
	"files as for dann insert.\n";

static int run_delete(int argc, char **argv)
{
	enum { O_DATA_DIR = 256, O_NAME, O_IDS, O_IDS64, O_ID, O_HELP };
	static const struct option longs[] = {
		{ "data-dir", required_argument, 0, O_DATA_DIR },
		{ "name", required_argument, 0, O_NAME },
		{ "ids", required_argument, 0, O_IDS },
		{ "ids-i64", required_argument, 0, O_IDS64 },
		{ "id", required_argument, 0, O_ID },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	const char *data_dir = NULL, *name = NULL, *ids = NULL, *ids64 = NULL;
	int64_t one, *keys = NULL;
	uint64_t n = 0, deleted = 0;
	struct coll_cli cc;
	int c, rc, have_one = 0, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case O_DATA_DIR: data_dir = optarg; break;
		case O_NAME: name = optarg; break;
		case O_IDS: ids = optarg; break;
		case O_IDS64: ids64 = optarg; break;
		case O_ID:
			if (have_one)
				return cmd_usage_error(CMD, "--id is given once; use a key file for more");
			if (coll_cli_parse_i64(CMD, "--id", optarg, &one) < 0)
				return 2;
			have_one = 1;
			break;
		case 'h':
		case O_HELP: fputs(delete_help, stdout); return 0;
		default: return cmd_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!data_dir || !name)
		return cmd_usage_error(CMD, "--data-dir D and --name C are required");
	if (!ids && !ids64 && !have_one)
		return cmd_usage_error(CMD, "which rows? give --ids FILE, --ids-i64 FILE or --id N");
	if ((status = coll_cli_load_keys(CMD, ids, ids64, have_one ? &one : NULL, &keys, &n)))
		return status;
	if ((status = coll_cli_open(CMD, data_dir, name, 0, &cc))) {
		free(keys);
		return status;
	}
	if ((rc = dann_coll_delete(cc.c, keys, n, &deleted)) < 0)
		status = cmd_fail_lib(CMD, rc);
	else
		printf("deleted %llu rows of %llu keys from %s\n", (unsigned long long)deleted, (unsigned long long)n,
		       name);
	free(keys);
	coll_cli_close(&cc);
	return status;
}

DANN_COMMAND(delete, "delete rows of a collection by key", run_delete)
