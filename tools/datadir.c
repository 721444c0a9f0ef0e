/*
 * datadir.c — a data directory opened with the catalog it uses (datadir.h).
 */
#include "datadir.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../engine/error.h"
#include "../engine/segment/seg_catalog.h"
#include "../meta/meta.h"

/* dannd's default (srv_config.c): a one-voter group commits once a tick,
 * and a tool's inserts commit id blocks and segment records. */
#define DATADIR_HEARTBEAT_MS 5

static int open_meta(const char *dir, struct datadir *d)
{
	char mdir[PATH_MAX], cluster[META_CLUSTER_MAX + 1];
	struct meta_params mp;
	uint64_t node_id = 0, ts;
	int rc;

	if (snprintf(mdir, sizeof mdir, "%s/%s", dir, SEG_META_DIR) >= (int)sizeof mdir)
		return dann_fail(DANN_EINVAL, "%s: path too long", dir);
	if ((rc = meta_lock(mdir, &d->meta_lock_fd)) < 0)
		return rc == DANN_EBUSY ? dann_fail(DANN_EBUSY, "%s's catalog is dannd's Raft catalog (%s), open in "
						    "another process: stop dannd or use the server", dir, mdir)
					: rc;
	if ((rc = meta_identity(mdir, cluster, sizeof cluster, &node_id)) < 0)
		return dann_fail_wrap(rc, "%s's catalog (%s)", dir, mdir);
	meta_params_default(&mp);
	mp.dir = mdir;
	mp.cluster = cluster;
	mp.node_id = node_id;
	mp.heartbeat_timeout_ms = DATADIR_HEARTBEAT_MS;
	if ((rc = meta_open(&mp, &d->meta)) < 0)
		return dann_fail_wrap(rc, "%s's catalog is dannd's Raft catalog (%s), which a tool opens only as the "
				      "one voter dannd runs by default (this one is a cluster member, or was given "
				      "a Raft address): use the server", dir, mdir);
	/* One commit: the node has then applied its whole log (as dannd's
	 * catch-up), so the database sees every collection. */
	if ((rc = meta_catalog_ops()->alloc(d->meta, DANN_CAT_TIMESTAMP, 1, &ts)) < 0)
		return dann_fail_wrap(rc, "%s's catalog (%s): no leader", dir, mdir);
	return meta_import_local(d->meta, dir, NULL, NULL, NULL);
}

int datadir_open(const char *dir, const struct dann_db_params *p, struct datadir *out)
{
	struct dann_db_params dp;
	int rc;

	memset(out, 0, sizeof *out);
	out->meta_lock_fd = -1;
	if (p)
		dp = *p;
	else
		dann_db_params_default(&dp);
	dp.catalog = NULL;
	dp.catalog_ctx = NULL;
	if (seg_dir_has_meta(dir)) {
		if ((rc = open_meta(dir, out)) < 0)
			goto fail;
		dp.catalog = meta_catalog_ops();
		dp.catalog_ctx = out->meta;
	}
	if ((rc = dann_db_open(dir, &dp, &out->db)) < 0) {
		out->db = NULL;
		goto fail;
	}
	return 0;
fail:
	{
		char msg[1024];

		/* closing a half-open node must not replace the reason */
		snprintf(msg, sizeof msg, "%s", dann_errmsg());
		datadir_close(out);
		return dann_fail(rc, "%s", msg);
	}
}

void datadir_close(struct datadir *d)
{
	dann_db_close(d->db);
	d->db = NULL;
	meta_close(d->meta);
	d->meta = NULL;
	if (d->meta_lock_fd >= 0)
		close(d->meta_lock_fd);
	d->meta_lock_fd = -1;
}
