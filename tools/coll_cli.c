/*
 * coll_cli.c — shared plumbing of the collection commands (see coll_cli.h).
 */
#include "coll_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/error.h"
#include "../engine/segment/seg_tier.h"
#include "cmd.h"
#include "ids_file.h"
#include "objenv.h"

/* DANN_STORE (a store URI, with the AWS_* settings of objenv.h),
 * DANN_TIER_CACHE_BYTES and DANN_SYNC_INTERVAL_MS tier the data dir. */
static int tier_env(const char *cmd, struct dann_db_params *p, struct obj_config *cfg)
{
	const char *uri = getenv("DANN_STORE"), *v;
	char *end;
	int rc;

	if (!uri || !*uri)
		return 0;
	if ((rc = objenv_config(cfg)) < 0)
		return cmd_fail_lib(cmd, rc);
	p->store_uri = uri;
	p->store_config = cfg;
	if ((v = getenv("DANN_TIER_CACHE_BYTES")) && *v) {
		errno = 0;
		p->tier_cache_bytes = strtoull(v, &end, 10);
		if (errno || *end || *v == '-')
			return cmd_fail_lib(cmd, dann_fail(DANN_EINVAL, "DANN_TIER_CACHE_BYTES=%s: expected bytes", v));
	}
	if ((v = getenv("DANN_SYNC_INTERVAL_MS")) && *v) {
		unsigned long ms;

		errno = 0;
		ms = strtoul(v, &end, 10);
		if (errno || *end || *v == '-' || ms == 0 || ms > UINT32_MAX)
			return cmd_fail_lib(cmd, dann_fail(DANN_EINVAL, "DANN_SYNC_INTERVAL_MS=%s: expected 1..%u", v,
							   UINT32_MAX));
		p->sync_interval_ms = (uint32_t)ms;
	}
	return 0;
}

int coll_cli_open_db(const char *cmd, const char *data_dir, int create, int background, struct coll_cli *cc)
{
	struct dann_db_params p;
	struct obj_config cfg;
	struct stat st;
	int rc;

	memset(cc, 0, sizeof *cc);
	cc->dd.meta_lock_fd = -1;
	if (!create && stat(data_dir, &st) < 0)
		return cmd_fail_lib(cmd, dann_fail_errno(DANN_ENOTFOUND, errno, "%s: no data directory (dann collection "
									      "create makes one)", data_dir));
	dann_db_params_default(&p);
	p.no_background = !background;
	if ((rc = tier_env(cmd, &p, &cfg)))
		return rc;
	if ((rc = datadir_open(data_dir, &p, &cc->dd)) < 0)
		return cmd_fail_lib(cmd, rc);
	cc->db = cc->dd.db;
	return 0;
}

int coll_cli_open(const char *cmd, const char *data_dir, const char *name, int background,
		  struct coll_cli *cc)
{
	int rc, status;

	if ((status = coll_cli_open_db(cmd, data_dir, 0, background, cc)))
		return status;
	if ((rc = dann_coll_get(cc->db, name, &cc->c)) < 0 || (rc = dann_coll_schema(cc->c, &cc->schema)) < 0) {
		status = cmd_fail_lib(cmd, rc);
		coll_cli_close(cc);
		return status;
	}
	return 0;
}

void coll_cli_close(struct coll_cli *cc)
{
	datadir_close(&cc->dd);
	memset(cc, 0, sizeof *cc);
	cc->dd.meta_lock_fd = -1;
}

int coll_cli_sync(const char *cmd, struct dann_db *db)
{
	struct tier_cache_stats cs;
	struct tier_sync_stats ss;
	int rc;

	if (!getenv("DANN_STORE") || !*getenv("DANN_STORE"))
		return 0;
	if ((rc = seg_tier_sync_wait(db)) < 0 || (rc = seg_tier_stats(db, &cs, &ss)) < 0)
		return cmd_fail_lib(cmd, rc);
	printf("synced to %s: %llu segment(s) uploaded; %llu of %llu segment(s) local, %.1f MiB\n",
	       getenv("DANN_STORE"), (unsigned long long)ss.uploaded, (unsigned long long)cs.local,
	       (unsigned long long)cs.segments, (double)cs.local_bytes / (1 << 20));
	return 0;
}

int coll_cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	if (!s || !*s)
		goto bad;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		goto bad;
	*out = v;
	return 0;
bad:
	cmd_usage_error(cmd, "%s expects a whole number (a 64-bit key), got '%s'", opt, s ? s : "");
	return -1;
}

int coll_cli_load_keys(const char *cmd, const char *ids, const char *ids_i64, const int64_t *one,
		       int64_t **keys, uint64_t *n)
{
	int given = (ids != NULL) + (ids_i64 != NULL) + (one != NULL), rc;

	*keys = NULL;
	*n = 0;
	if (given > 1)
		return cmd_usage_error(cmd, "give keys one way: --ids FILE, --ids-i64 FILE or --id N");
	if (one) {
		if (!(*keys = malloc(sizeof **keys))) {
			fprintf(stderr, "dann %s: no memory\n", cmd);
			return 1;
		}
		**keys = *one;
		*n = 1;
		return 0;
	}
	if (!ids && !ids_i64)
		return 0;
	if ((rc = ids_file_load(ids ? ids : ids_i64, ids == NULL, keys, n)) < 0)
		return cmd_fail_lib(cmd, rc);
	return 0;
}

int coll_cli_parse_dtype(const char *cmd, const char *s, enum dann_dtype *out)
{
	if (!strcmp(s, "float32"))
		*out = DANN_DTYPE_F32;
	else if (!strcmp(s, "uint8"))
		*out = DANN_DTYPE_U8;
	else if (!strcmp(s, "int8"))
		*out = DANN_DTYPE_I8;
	else {
		cmd_usage_error(cmd, "--dtype '%s': expected float32, uint8 or int8", s);
		return -1;
	}
	return 0;
}
