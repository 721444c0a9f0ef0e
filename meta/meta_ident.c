/*
 * meta_ident.c — the node directory's identity file (meta_ident.h), and
 * its lock (meta_lock, meta.h): who the directory belongs to, and which
 * process has it open.
 */
#include "meta_ident.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "error.h"
#include "fsutil.h"
#include "meta.h"
#include "meta_buf.h"

#define IDENT_MAGIC 0x31494d44u  /* "DMI1" */

/* Raft's files (metadata1/2, segments, snapshots) in a directory without an
 * identity mean it was not made by this code, or its identity was lost. */
static int has_raft_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d)) != NULL)
		found = strncmp(e->d_name, "metadata", 8) == 0 || strncmp(e->d_name, "snapshot", 8) == 0 ||
			strncmp(e->d_name, "open-", 5) == 0 || (e->d_name[0] >= '0' && e->d_name[0] <= '9');
	closedir(d);
	return found;
}

static int write_ident(const char *path, const char *cluster, uint64_t node_id)
{
	struct meta_wbuf w;
	int rc;

	meta_wbuf_init(&w);
	meta_put_u32(&w, IDENT_MAGIC);
	meta_put_str(&w, cluster, META_CLUSTER_MAX);
	meta_put_u64(&w, node_id);
	if (!w.err)
		meta_put_u32(&w, crc32c(0, w.p, w.len));
	rc = w.err ? dann_fail(DANN_ENOMEM, "meta: %s", path) : fsu_write_file_atomic(path, w.p, w.len);
	meta_wbuf_free(&w);
	return rc;
}

static int read_ident(const char *path, char *cluster, size_t cap, uint64_t *node_id)
{
	struct meta_rbuf r;
	uint8_t *buf;
	size_t len;
	int rc = fsu_read_file(path, (void **)&buf, &len);

	if (rc < 0)
		return rc;
	if (len < 8 || meta_le32(buf + len - 4) != crc32c(0, buf, len - 4)) {
		free(buf);
		return dann_fail(DANN_ECORRUPT, "meta: %s: damaged (%zu bytes, checksum does not match)", path, len);
	}
	meta_rbuf_init(&r, buf, len - 4, path);
	if (meta_get_u32(&r, "magic") != IDENT_MAGIC)
		meta_rbuf_bad(&r, "not an identity file");
	meta_get_str(&r, cluster, cap, "cluster");
	*node_id = meta_get_u64(&r, "node id");
	free(buf);
	return meta_rbuf_check(&r);
}

int meta_ident_check(const char *dir, const char *cluster, uint64_t node_id, int *fresh)
{
	char path[4200], have[META_CLUSTER_MAX + 1];
	uint64_t have_id = 0;
	int rc;

	*fresh = 0;
	if ((rc = fsu_mkdirs(dir)) < 0)
		return rc;
	snprintf(path, sizeof path, "%s/%s", dir, META_IDENT_FILE);
	rc = read_ident(path, have, sizeof have, &have_id);
	if (rc == 0) {
		if (strcmp(have, cluster) != 0)
			return dann_fail(DANN_EINVAL,
					 "meta: %s belongs to cluster '%s', this node was started for cluster '%s'",
					 dir, have, cluster);
		if (have_id != node_id)
			return dann_fail(DANN_EINVAL, "meta: %s belongs to node %llu, this node was started as node %llu",
					 dir, (unsigned long long)have_id, (unsigned long long)node_id);
		return 0;
	}
	if (rc != DANN_ENOTFOUND)
		return rc;
	if (has_raft_files(dir))
		return dann_fail(DANN_EINVAL, "meta: %s holds Raft files but no %s: not a dann meta directory "
				 "(or its identity was lost); refusing to use it", dir, META_IDENT_FILE);
	if ((rc = write_ident(path, cluster, node_id)) < 0)
		return rc;
	*fresh = 1;
	return 0;
}

int meta_identity(const char *dir, char *cluster, size_t cap, uint64_t *node_id)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/%s", dir, META_IDENT_FILE);
	return read_ident(path, cluster, cap, node_id);
}

int meta_lock(const char *dir, int *fd)
{
	char path[4200];
	int rc;

	*fd = -1;
	if ((rc = fsu_mkdirs(dir)) < 0)
		return rc;
	snprintf(path, sizeof path, "%s/LOCK", dir);
	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open", path);
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		close(*fd);
		*fd = -1;
		if (err == EWOULDBLOCK)
			return dann_fail(DANN_EBUSY, "%s is open in another process (dannd, or a dann command)", dir);
		return dann_fail_errno(DANN_EIO, err, "%s: cannot lock", path);
	}
	return 0;
}
