/*
 * cmd_get.c — `dann get`: the stored vector of one key of a collection
 * (dann_coll_get_vector), printed as one line of numbers or JSON.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dann.h"
#include "cmd.h"
#include "coll_cli.h"

#define CMD "get"

static const char get_help[] =
	"usage: dann get --data-dir D --name C --id N [--json]\n"
	"\n"
	"Prints the vector stored under key N in collection C: its elements on one\n"
	"line, separated by spaces (float32 to 9 significant digits, which reads\n"
	"back to the same float), or with --json {\"id\": N, \"vector\": [...]}.\n"
	"Exit status 1 if the key is not there (never inserted, or deleted).\n";

static void print_elem(const struct dann_schema *s, const void *v, uint32_t i)
{
	switch (s->dtype) {
	case DANN_DTYPE_U8: printf("%u", ((const uint8_t *)v)[i]); break;
	case DANN_DTYPE_I8: printf("%d", ((const int8_t *)v)[i]); break;
	default: printf("%.9g", (double)((const float *)v)[i]); break;
	}
}

static int run_get(int argc, char **argv)
{
	enum { O_DATA_DIR = 256, O_NAME, O_ID, O_JSON, O_HELP };
	static const struct option longs[] = {
		{ "data-dir", required_argument, 0, O_DATA_DIR },
		{ "name", required_argument, 0, O_NAME },
		{ "id", required_argument, 0, O_ID },
		{ "json", no_argument, 0, O_JSON },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	const char *data_dir = NULL, *name = NULL;
	struct coll_cli cc;
	int64_t key = 0;
	void *vec = NULL;
	int c, rc, have_key = 0, json = 0, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case O_DATA_DIR: data_dir = optarg; break;
		case O_NAME: name = optarg; break;
		case O_ID:
			if (coll_cli_parse_i64(CMD, "--id", optarg, &key) < 0)
				return 2;
			have_key = 1;
			break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP: fputs(get_help, stdout); return 0;
		default: return cmd_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!data_dir || !name || !have_key)
		return cmd_usage_error(CMD, "--data-dir D, --name C and --id N are required");
	if ((status = coll_cli_open(CMD, data_dir, name, 0, &cc)))
		return status;
	if (!(vec = malloc((size_t)cc.schema.dim * dann_dtype_size(cc.schema.dtype)))) {
		fprintf(stderr, "dann %s: no memory\n", CMD);
		status = 1;
	} else if ((rc = dann_coll_get_vector(cc.c, key, vec)) < 0) {
		status = cmd_fail_lib(CMD, rc);
	} else {
		if (json)
			printf("{\"id\": %lld, \"vector\": [", (long long)key);
		for (uint32_t i = 0; i < cc.schema.dim; i++) {
			if (i)
				printf(json ? ", " : " ");
			print_elem(&cc.schema, vec, i);
		}
		printf(json ? "]}\n" : "\n");
	}
	free(vec);
	coll_cli_close(&cc);
	return status;
}

DANN_COMMAND(get, "print the stored vector of one key of a collection", run_get)
