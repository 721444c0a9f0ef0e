/*
 * cmd_obj.c — `dann obj`: the object store from the command line (list,
 * put, get, head, rm, and whole directories), for operators and for the
 * benchmarks. Credentials and endpoint come from the environment
 * (tools/objenv.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/dann.h"
#include "cmd.h"
#include "objenv.h"

#define CMD "obj"

static void usage(void)
{
	printf("usage: dann obj ls      STORE [PREFIX]\n"
	       "       dann obj put     STORE KEY FILE\n"
	       "       dann obj get     STORE KEY FILE [--crc HEX]\n"
	       "       dann obj head    STORE KEY\n"
	       "       dann obj rm      STORE KEY\n"
	       "       dann obj put-dir STORE PREFIX DIR [--last NAME]\n"
	       "       dann obj get-dir STORE PREFIX DIR [--last NAME]\n"
	       "\n"
	       "STORE is s3://bucket[/prefix] or file:///dir. Keys are relative to it.\n"
	       "put and get print the bytes moved and the rate in MB/s. get writes FILE\n"
	       "whole or not at all and, with --crc, checks its CRC32C (fetching again on\n"
	       "a mismatch). put-dir uploads NAME (default MANIFEST) last; get-dir needs it.\n"
	       "\n"
	       "Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n"
	       "AWS_REGION, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, DANN_S3_PATH_STYLE=0|1.\n");
}

static int print_key(void *arg, const char *key, uint64_t size)
{
	(void)arg;
	printf("%12llu  %s\n", (unsigned long long)size, key);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void rate(const char *what, uint64_t bytes, double s)
{
	printf("%s %llu bytes in %.3f s: %.1f MB/s\n", what, (unsigned long long)bytes, s,
	       s > 0 ? (double)bytes / 1e6 / s : 0.0);
}

/* Finds "--opt VALUE" among argv[from..], removing nothing; NULL if absent. */
static const char *opt(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

static int run_op(struct obj_store *s, int argc, char **argv)
{
	const char *op = argv[1];
	struct obj_stat st;
	struct obj_stats stats;
	double t0 = now_s();
	int rc;

	if (strcmp(op, "ls") == 0)
		return obj_list(s, argc > 3 ? argv[3] : "", print_key, NULL);
	if (strcmp(op, "head") == 0 && argc == 4) {
		if ((rc = obj_head(s, argv[3], &st)) == 0)
			printf("size %llu\netag %s\n", (unsigned long long)st.size, st.etag);
		return rc;
	}
	if (strcmp(op, "rm") == 0 && argc == 4)
		return obj_delete(s, argv[3]);
	if (strcmp(op, "put") == 0 && argc == 5) {
		if ((rc = obj_put_file(s, argv[3], argv[4])) == 0 && (rc = obj_head(s, argv[3], &st)) == 0)
			rate("put", st.size, now_s() - t0);
		return rc;
	}
	if (strcmp(op, "get") == 0 && (argc == 5 || argc == 7)) {
		const char *crc_s = opt(argc, argv, 5, "--crc");
		uint32_t crc = 0;

		if (argc == 7 && !crc_s)
			return cmd_usage_error(CMD, "get: unknown option %s", argv[5]);
		if (crc_s)
			crc = (uint32_t)strtoul(crc_s, NULL, 16);
		if ((rc = obj_get_file(s, argv[3], argv[4], crc_s ? &crc : NULL)) == 0) {
			obj_stats_get(s, &stats);
			rate("get", stats.bytes_down, now_s() - t0);
		}
		return rc;
	}
	if ((strcmp(op, "put-dir") == 0 || strcmp(op, "get-dir") == 0) && (argc == 5 || argc == 7)) {
		const char *last = opt(argc, argv, 5, "--last");

		if (argc == 7 && !last)
			return cmd_usage_error(CMD, "%s: unknown option %s", op, argv[5]);
		rc = op[0] == 'p' ? obj_put_dir(s, argv[4], argv[3], last ? last : "MANIFEST")
				  : obj_get_dir(s, argv[3], argv[4], last ? last : "MANIFEST", NULL, NULL, NULL);
		if (rc == 0) {
			obj_stats_get(s, &stats);
			rate(op, op[0] == 'p' ? stats.bytes_up : stats.bytes_down, now_s() - t0);
		}
		return rc;
	}
	return cmd_usage_error(CMD, "'%s' with %d arguments: see dann obj --help", op, argc - 2);
}

static int run_obj(int argc, char **argv)
{
	struct obj_store *s;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage();
		return argc < 2 ? 2 : 0;
	}
	if (argc < 3)
		return cmd_usage_error(CMD, "%s: missing STORE", argv[1]);
	if ((rc = objenv_open(argv[2], &s)) < 0)
		return cmd_fail_lib(CMD, rc);
	rc = run_op(s, argc, argv);
	obj_close(s);
	if (rc > 0)
		return rc; /* a usage error's exit status */
	return rc < 0 ? cmd_fail_lib(CMD, rc) : 0;
}

DANN_COMMAND(obj, "object store: ls, put, get, head, rm, put-dir, get-dir", run_obj)
