/*
 * meta_import.c — moves a data directory's local catalog (D/CATALOG, kept
 * by the library used without dannd) into a meta node's catalog, once:
 * every collection with its id, schema and properties, its live segment
 * records, and the four counters, so no id is handed out twice. Then
 * D/CATALOG is renamed to D/CATALOG.imported and is no longer read.
 *
 * Crash safety: each collection is one command carrying its record and
 * segments (all or nothing); the same collection imported again (same id
 * and name) changes nothing (meta_fsm.c), so a retry after a crash goes on
 * where the last run stopped and never puts back older segment records.
 * The rename comes last and is made durable (directory fsync) before the
 * caller opens the database, so the catalog it then changes is never
 * overwritten by a second import. D/LOCK is held throughout: a process
 * that has the directory open (and may still be writing CATALOG) makes the
 * import fail, naming it.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "meta.h"
#include "segment/seg_catalog.h"

#define IMPORTED_SUFFIX ".imported"
#define FAILPOINT_ENV "DANN_FAILPOINT"
#define FAILPOINT_NAME "import" /* SIGKILL after the first of several collections (tests) */

static int cmp_id(const void *a, const void *b)
{
	const struct dann_cat_coll *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void failpoint(size_t done, size_t total)
{
	const char *fp = getenv(FAILPOINT_ENV);

	if (fp && !strcmp(fp, FAILPOINT_NAME) && done == 1 && total > 1)
		kill(getpid(), SIGKILL);
}

/* One collection (or none: counters only) as one command. */
static int import_one(struct meta_node *n, const char *cat_path, const uint64_t *counters, struct dann_cat_coll *c,
		      const struct dann_catalog_ops *lops, void *lctx, size_t *nsegs, int *fresh)
{
	struct meta_cmd cmd = { .type = META_CMD_COLL_IMPORT, .coll = c };
	struct dann_cat_segment *segs = NULL;
	struct meta_result res;
	size_t ns = 0;
	int rc;

	memcpy(cmd.counters, counters, sizeof cmd.counters);
	if (c && (rc = lops->seg_list(lctx, c->id, &segs, &ns)) < 0)
		return rc;
	if (ns > META_SEG_APPLY_MAX) {
		free(segs);
		return dann_fail(DANN_EUNSUPPORTED, "%s: collection '%s' has %zu segments; an import takes at most %d "
				 "per collection (compact it with the dann CLI first)", cat_path, c->schema.name, ns,
				 META_SEG_APPLY_MAX);
	}
	cmd.segs = segs;
	cmd.nsegs = (uint32_t)ns;
	rc = meta_submit(n, &cmd, &res);
	free(segs);
	if (rc < 0)
		return c ? dann_fail_wrap(rc, "%s: importing collection '%s' (id %llu)", cat_path, c->schema.name,
					  (unsigned long long)c->id)
			 : dann_fail_wrap(rc, "%s: importing its counters", cat_path);
	*nsegs += ns;
	*fresh = res.value == 1;
	return 0;
}

/* D/CATALOG -> D/CATALOG.imported (or .imported.N if that is taken). */
static int retire(const char *cat_path, char *to, size_t cap)
{
	int rc = DANN_EEXIST;

	for (int i = 0; i < 100 && rc == DANN_EEXIST; i++) {
		if ((i ? snprintf(to, cap, "%s%s.%d", cat_path, IMPORTED_SUFFIX, i)
		       : snprintf(to, cap, "%s%s", cat_path, IMPORTED_SUFFIX)) >= (int)cap)
			return dann_fail(DANN_EINVAL, "%s: path too long", cat_path);
		if ((rc = fsu_rename_noreplace(cat_path, to)) == DANN_EEXIST)
			dann_clear_error();
	}
	return rc;
}

int meta_import_local(struct meta_node *n, const char *data_dir,
		      int (*fix)(void *arg, struct dann_cat_coll *c), void *arg, size_t *imported)
{
	const struct dann_catalog_ops *lops = &seg_catalog_local_ops;
	char cat_path[PATH_MAX], to[PATH_MAX + 32], names[256] = "";
	struct dann_cat_coll *cc = NULL;
	uint64_t counters[4];
	size_t nc = 0, nsegs = 0, fresh_n = 0;
	void *lctx = NULL;
	int fd = -1, rc;

	if (imported)
		*imported = 0;
	if (snprintf(cat_path, sizeof cat_path, "%s/%s", data_dir, SEG_CATALOG_FILE) >= (int)sizeof cat_path)
		return dann_fail(DANN_EINVAL, "%s: path too long", data_dir);
	if (access(cat_path, F_OK) != 0)
		return 0;
	if ((rc = seg_dir_lock(data_dir, &fd)) < 0) {
		rc = dann_fail_wrap(rc, "%s: cannot import it into %s/%s while another process has the data "
				    "directory open; stop it first", cat_path, data_dir, SEG_META_DIR);
		goto out;
	}
	if ((rc = seg_catalog_local_open(data_dir, &lctx)) < 0 || (rc = lops->coll_list(lctx, &cc, &nc)) < 0)
		goto out;
	for (int i = 0; i < 4 && rc == 0; i++)
		rc = lops->counter(lctx, (enum dann_cat_counter)i, &counters[i]);
	if (rc < 0)
		goto out;
	qsort(cc, nc, sizeof *cc, cmp_id);
	for (size_t i = 0; i < nc || (i == 0 && nc == 0); i++) {
		struct dann_cat_coll *c = nc ? &cc[i] : NULL;
		int fresh = 0;

		if (c && fix && (rc = fix(arg, c)) < 0)
			goto out;
		if ((rc = import_one(n, cat_path, counters, c, lops, lctx, &nsegs, &fresh)) < 0)
			goto out;
		fresh_n += fresh;
		if (c && strlen(names) + strlen(c->schema.name) + 3 < sizeof names) {
			if (i)
				strcat(names, ", ");
			strcat(names, c->schema.name);
		}
		failpoint(i + 1, nc);
	}
	seg_catalog_local_close(lctx);
	lctx = NULL;
	if ((rc = retire(cat_path, to, sizeof to)) < 0)
		goto out;
	dann_log(DANN_LOG_INFO, "meta", "imported %zu collection(s) [%s] with %zu segment(s) from %s into %s/%s "
		 "(%zu already there from an interrupted import); %s is now %s and no longer read",
		 nc, names, nsegs, cat_path, data_dir, SEG_META_DIR, nc - fresh_n, cat_path, to);
	if (imported)
		*imported = nc;
out:
	seg_catalog_local_close(lctx);
	free(cc);
	if (fd >= 0)
		close(fd);
	return rc;
}
