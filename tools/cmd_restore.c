/*
 * cmd_restore.c — `dann sync` and `dann restore`: a data directory's
 * flushed segments to the object store, and a new data directory from the
 * store alone (engine/segment/tier.h). Credentials and endpoint come from
 * the AWS environment variables (tools/objenv.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../engine/dann.h"
#include "../engine/segment/tier.h"
#include "cmd.h"
#include "datadir.h"
#include "objenv.h"

static int parse(const char *cmd, int argc, char **argv, const char *store_opt, const char **store,
		 const char **data_dir, void (*usage)(void))
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(); return 1;
		case 'f':
		case 't':
			if (strcmp(store_opt, c == 'f' ? "--from" : "--to") != 0)
				return cmd_usage_error(cmd, "unknown option %s", argv[optind - 2]);
			*store = optarg;
			break;
		case 'd': *data_dir = optarg; break;
		case ':': return cmd_usage_error(cmd, "%s needs a value", argv[optind - 1]);
		default: return cmd_usage_error(cmd, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(cmd, "unexpected argument %s", argv[optind]);
	if (!*store || !*data_dir)
		return cmd_usage_error(cmd, "%s URI and --data-dir DIR are required", store_opt);
	return 0;
}

static void restore_usage(void)
{
	printf("usage: dann restore --from s3://bucket/prefix --data-dir DIR\n"
	       "\n"
	       "Makes DIR (new or without collections) serve every collection whose\n"
	       "snapshot is in the store (written by `dann sync` or a syncing node):\n"
	       "schemas and properties, and every flushed segment, downloaded and\n"
	       "checked against its MANIFEST. Rows that were never flushed are not in\n"
	       "the store. STORE may also be file:///dir.\n");
}

static int run_restore(int argc, char **argv)
{
	const char *from = NULL, *dir = NULL;
	struct tier_sync_stats st;
	struct obj_store *s;
	int rc = parse("restore", argc, argv, "--from", &from, &dir, restore_usage);

	if (rc)
		return rc == 1 ? 0 : rc;
	if ((rc = objenv_open(from, &s)) < 0)
		return cmd_fail_lib("restore", rc);
	rc = tier_restore_db(s, dir, &st);
	obj_close(s);
	if (rc < 0)
		return cmd_fail_lib("restore", rc);
	printf("restored %llu collection(s), %llu segment(s) into %s\n", (unsigned long long)st.collections,
	       (unsigned long long)st.restored, dir);
	return 0;
}

static void sync_usage(void)
{
	printf("usage: dann sync --data-dir DIR --to s3://bucket/prefix\n"
	       "\n"
	       "Uploads every flushed segment of DIR not yet in the store (verified,\n"
	       "then recorded in DIR's catalog), refreshes the delete bitmaps, writes\n"
	       "each collection's snapshot, and deletes the objects of dropped\n"
	       "collections. DIR must not be open elsewhere (dannd syncs by itself).\n");
}

static int run_sync(int argc, char **argv)
{
	const char *to = NULL, *dir = NULL;
	struct tier_sync_stats st;
	struct dann_db_params p;
	struct datadir dd;
	struct obj_store *s;
	int rc = parse("sync", argc, argv, "--to", &to, &dir, sync_usage);

	if (rc)
		return rc == 1 ? 0 : rc;
	if ((rc = objenv_open(to, &s)) < 0)
		return cmd_fail_lib("sync", rc);
	dann_db_params_default(&p);
	p.no_background = 1;
	if ((rc = datadir_open(dir, &p, &dd)) < 0) {
		obj_close(s);
		return cmd_fail_lib("sync", rc);
	}
	rc = tier_sync(dd.db, s, &st);
	datadir_close(&dd);
	obj_close(s);
	if (rc < 0)
		return cmd_fail_lib("sync", rc);
	printf("synced %llu collection(s): %llu segment(s) uploaded, %llu delete bitmap(s) refreshed, "
	       "%llu dropped collection(s) removed\n",
	       (unsigned long long)st.collections, (unsigned long long)st.uploaded,
	       (unsigned long long)st.deletes_refreshed, (unsigned long long)st.dropped);
	return 0;
}

DANN_COMMAND(restore, "a data directory from the object store (dann restore --from URI --data-dir DIR)",
	     run_restore)
DANN_COMMAND(sync, "flushed segments of a data directory to the object store", run_sync)
