/*
 * meta_ident.c — the node directory's identity file (meta_ident.h).
 */
#include "meta_ident.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc.h"
#include "error.h"
#include "meta.h"
#include "meta_buf.h"

#define IDENT_MAGIC 0x31494d44u  /* "DMI1" */

static int mkdir_one(const char *dir)
{
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	return dann_fail_errno(DANN_EIO, errno, "meta: creating directory %s", dir);
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY), rc = 0;

	if (fd < 0)
		return dann_fail_errno(DANN_EIO, errno, "meta: opening %s", path);
	if (fsync(fd) != 0)
		rc = dann_fail_errno(DANN_EIO, errno, "meta: fsync of %s", path);
	close(fd);
	return rc;
}

static int make_dirs(const char *dir)
{
	char parent[4096];
	int rc;

	snprintf(parent, sizeof parent, "%s", dir);
	dirname(parent);
	if ((rc = mkdir_one(parent)) < 0 || (rc = mkdir_one(dir)) < 0)
		return rc;
	return fsync_path(parent);
}

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

static int write_ident(const char *dir, const char *path, const char *cluster, uint64_t node_id)
{
	char tmp[4300];
	struct meta_wbuf w;
	int fd = -1, rc = 0;

	meta_wbuf_init(&w);
	meta_put_u32(&w, IDENT_MAGIC);
	meta_put_str(&w, cluster, META_CLUSTER_MAX);
	meta_put_u64(&w, node_id);
	if (!w.err)
		meta_put_u32(&w, crc32c(0, w.p, w.len));
	if (w.err) {
		rc = dann_fail(DANN_ENOMEM, "meta: %s", path);
		goto out;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "meta: creating %s", tmp);
		goto out;
	}
	if (write(fd, w.p, w.len) != (ssize_t)w.len || fsync(fd) != 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "meta: writing %s", tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "meta: renaming %s", tmp);
		goto out;
	}
	rc = fsync_path(dir);
out:
	if (fd >= 0)
		close(fd);
	meta_wbuf_free(&w);
	return rc;
}

static int read_ident(const char *path, char *cluster, size_t cap, uint64_t *node_id)
{
	uint8_t buf[512];
	struct meta_rbuf r;
	ssize_t len;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return errno == ENOENT ? DANN_ENOTFOUND : dann_fail_errno(DANN_EIO, errno, "meta: opening %s", path);
	len = read(fd, buf, sizeof buf);
	close(fd);
	if (len < 0)
		return dann_fail_errno(DANN_EIO, errno, "meta: reading %s", path);
	if (len < 8 || meta_le32(buf + len - 4) != crc32c(0, buf, (size_t)len - 4))
		return dann_fail(DANN_ECORRUPT, "meta: %s: damaged (%zd bytes, checksum does not match)", path, len);
	meta_rbuf_init(&r, buf, (size_t)len - 4, path);
	if (meta_get_u32(&r, "magic") != IDENT_MAGIC)
		return dann_fail(DANN_ECORRUPT, "meta: %s: not an identity file", path);
	meta_get_str(&r, cluster, cap, "cluster");
	*node_id = meta_get_u64(&r, "node id");
	return meta_rbuf_check(&r);
}

int meta_ident_check(const char *dir, const char *cluster, uint64_t node_id, int *fresh)
{
	char path[4200], have[META_CLUSTER_MAX + 1];
	uint64_t have_id = 0;
	int rc;

	*fresh = 0;
	if ((rc = make_dirs(dir)) < 0)
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
	if ((rc = write_ident(dir, path, cluster, node_id)) < 0)
		return rc;
	*fresh = 1;
	return 0;
}
