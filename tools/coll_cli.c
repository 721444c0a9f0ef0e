/*
 * coll_cli.c — shared plumbing of the collection commands (see coll_cli.h).
 */
#include "coll_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/error.h"
#include "cmd.h"
#include "ids_file.h"

int coll_cli_open_db(const char *cmd, const char *data_dir, int create, int background, struct dann_db **db)
{
	struct dann_db_params p;
	struct stat st;
	int rc;

	*db = NULL;
	if (!create && stat(data_dir, &st) < 0)
		return cmd_fail_lib(cmd, dann_fail_errno(DANN_ENOTFOUND, errno, "%s: no data directory (dann collection "
									      "create makes one)", data_dir));
	dann_db_params_default(&p);
	p.no_background = !background;
	if ((rc = dann_db_open(data_dir, &p, db)) < 0) {
		*db = NULL;
		return cmd_fail_lib(cmd, rc);
	}
	return 0;
}

int coll_cli_open(const char *cmd, const char *data_dir, const char *name, int background,
		  struct coll_cli *cc)
{
	int rc, status;

	memset(cc, 0, sizeof *cc);
	if ((status = coll_cli_open_db(cmd, data_dir, 0, background, &cc->db)))
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
	dann_db_close(cc->db);
	memset(cc, 0, sizeof *cc);
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
