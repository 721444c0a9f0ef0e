/*
 * fsutil.c — durable file helpers (see fsutil.h).
 *
 * Invariants kept here so that no caller has to: a transfer loop retries
 * EINTR and continues after a short transfer; a read that meets the end of
 * the file early is DANN_ECORRUPT (the file is shorter than its writer
 * promised), any other failure DANN_EIO; every message names the path; a
 * rename is followed by an fsync of the directory that holds the new name,
 * and a failure of that fsync is returned, never dropped.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* Linux transfers at most 0x7ffff000 bytes per call; asking for 1 GiB keeps
 * each request well inside that and inside ssize_t on every ABI. */
#define FSU_IO_CHUNK_BYTES (1u << 30)
/* First buffer of fsu_read_file when the size is unknown (a pipe, /proc). */
#define FSU_READ_INITIAL_BYTES 4096
#define FSU_TMP_SUFFIX ".tmp"

static size_t chunk(size_t len)
{
	return len > FSU_IO_CHUNK_BYTES ? FSU_IO_CHUNK_BYTES : len;
}

int fsu_pread_all(int fd, const char *path, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = pread(fd, p, chunk(len), (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return dann_fail_errno(DANN_EIO, errno, "%s: read of %zu bytes at offset %llu",
					       path, len, (unsigned long long)off);
		if (r == 0)
			return dann_fail(DANN_ECORRUPT,
					 "%s: ends at offset %llu, %zu bytes short of what was expected",
					 path, (unsigned long long)off, len);
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* A write that returns 0 made no progress (a full device that does not say
 * ENOSPC); it is an error rather than a loop that never ends. */
static int write_failed(const char *path, ssize_t w, size_t len, uint64_t off, int positioned)
{
	if (w == 0)
		return dann_fail(DANN_EIO, "%s: write of %zu bytes%s made no progress", path, len,
				 positioned ? " (positioned)" : "");
	if (positioned)
		return dann_fail_errno(DANN_EIO, errno, "%s: write of %zu bytes at offset %llu", path,
				       len, (unsigned long long)off);
	return dann_fail_errno(DANN_EIO, errno, "%s: write of %zu bytes", path, len);
}

int fsu_pwrite_all(int fd, const char *path, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = pwrite(fd, p, chunk(len), (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return write_failed(path, w, len, off, 1);
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int fsu_write_all(int fd, const char *path, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, chunk(len));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return write_failed(path, w, len, 0, 0);
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int fsu_fsync(int fd, const char *path)
{
	if (fsync(fd) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: fsync", path);
	return 0;
}

int fsu_fdatasync(int fd, const char *path)
{
	if (fdatasync(fd) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: fdatasync", path);
	return 0;
}

int fsu_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open directory to fsync it", dir);
	rc = fsync(fd) < 0 ? dann_fail_errno(DANN_EIO, errno, "%s: fsync of directory", dir) : 0;
	close(fd);
	return rc;
}

/* The directory holding path: "." for a bare name, "/" for "/x". Trailing
 * slashes of path are ignored ("a/b/" is in "a"). */
static int parent_of(const char *path, char out[PATH_MAX])
{
	size_t n = strlen(path);
	const char *slash;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= PATH_MAX)
		return dann_fail(DANN_EINVAL, "%s: path too long", path);
	memcpy(out, path, n);
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (!slash)
		strcpy(out, ".");
	else if (slash == out)
		strcpy(out, "/");
	else
		out[slash - out] = '\0';
	return 0;
}

int fsu_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	int rc;

	if ((rc = parent_of(path, dir)) < 0)
		return rc;
	return fsu_fsync_dir(dir);
}

/* Where renameat2 cannot refuse (a filesystem without RENAME_NOREPLACE),
 * the name is claimed by an operation that itself fails on an existing
 * name: link() for a file (then the old name goes), mkdir() for a
 * directory (then rename replaces the empty directory just made). */
static int rename_noreplace_fallback(const char *from, const char *to)
{
	struct stat st;

	if (lstat(from, &st) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "%s: cannot rename it to %s", from, to);
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(to, 0700) < 0)
			goto claim_failed;
		if (rename(from, to) < 0) {
			int e = errno;
			rmdir(to);
			return dann_fail_errno(DANN_EIO, e, "%s: cannot rename %s into place", to,
					       from);
		}
		return 0;
	}
	if (link(from, to) < 0)
		goto claim_failed;
	if (unlink(from) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: linked as %s but cannot remove it",
				       from, to);
	return 0;
claim_failed:
	if (errno == EEXIST)
		return dann_fail(DANN_EEXIST, "%s: already exists; it is never replaced", to);
	return dann_fail_errno(DANN_EIO, errno, "%s: cannot rename %s into place", to, from);
}

int fsu_rename_noreplace(const char *from, const char *to)
{
	int rc;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST)
			return dann_fail(DANN_EEXIST, "%s: already exists; it is never replaced", to);
		if (errno != EINVAL && errno != ENOSYS)
			return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
					       "%s: cannot rename %s into place", to, from);
		if ((rc = rename_noreplace_fallback(from, to)) < 0)
			return rc;
	}
	return fsu_fsync_parent(to);
}

int fsu_rename_replace(const char *from, const char *to)
{
	if (rename(from, to) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "%s: cannot rename %s over it", to, from);
	return fsu_fsync_parent(to);
}

int fsu_write_file_atomic(const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof tmp, "%s" FSU_TMP_SUFFIX, path) >= (int)sizeof tmp)
		return dann_fail(DANN_EINVAL, "%s: path too long", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "%s: cannot create", tmp);
	if ((rc = fsu_write_all(fd, tmp, buf, len)) < 0 || (rc = fsu_fsync(fd, tmp)) < 0) {
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: close", tmp);
		goto fail;
	}
	/* After the rename the new content is in place even if the directory
	 * fsync fails; the error still reaches the caller, and tmp is gone. */
	return fsu_rename_replace(tmp, path);
fail:
	unlink(tmp);
	return rc;
}

int fsu_read_file(const char *path, void **out, size_t *out_len)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf = NULL, *grown;
	int fd, rc;

	*out = NULL;
	*out_len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "%s: cannot open", path);
	if (fstat(fd, &st) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: stat", path);
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = dann_fail(DANN_EINVAL, "%s: is a directory, not a file", path);
		goto fail;
	}
	/* One byte beyond the expected size shows whether the file grew since
	 * the stat; the loop keeps reading until the end either way. */
	cap = (st.st_size > 0 ? (size_t)st.st_size : FSU_READ_INITIAL_BYTES) + 1;
	for (;;) {
		ssize_t r;
		if (len + 1 >= cap || !buf) {
			size_t want = buf ? cap * 2 : cap;
			if (!(grown = realloc(buf, want))) {
				rc = dann_fail(DANN_ENOMEM, "%s: no memory for %zu bytes", path, want);
				goto fail;
			}
			buf = grown;
			cap = want;
		}
		r = read(fd, buf + len, chunk(cap - 1 - len));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = dann_fail_errno(DANN_EIO, errno, "%s: read at offset %zu", path, len);
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

/* nftw passes no context to its callback, so the first failure is
 * reported through the thread's error message and nftw's return value. */
static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag == FTW_DNR || flag == FTW_NS)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot read it to remove it", p);
	if (remove(p) < 0 && errno != ENOENT)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot remove", p);
	return 0;
}

/* Open descriptors nftw may use for the walk (one per directory level). */
#define FSU_RMTREE_FDS 16

int fsu_rmtree(const char *dir)
{
	struct stat st;
	int rc;

	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return dann_fail_errno(DANN_EIO, errno, "%s: stat", dir);
	}
	rc = nftw(dir, rm_entry, FSU_RMTREE_FDS, FTW_DEPTH | FTW_PHYS);
	if (rc < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot walk it to remove it", dir);
	return rc;
}

/* Creates one directory level; *made says whether it is new. */
static int mkdir_one(const char *dir, int *made)
{
	struct stat st;

	*made = 0;
	if (mkdir(dir, 0755) == 0) {
		*made = 1;
		return 0;
	}
	if (errno != EEXIST)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "%s: cannot create directory", dir);
	if (stat(dir, &st) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: stat", dir);
	if (!S_ISDIR(st.st_mode))
		return dann_fail(DANN_EEXIST, "%s: exists and is not a directory", dir);
	return 0;
}

int fsu_mkdirs(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);
	int made, rc;

	if (n == 0)
		return dann_fail(DANN_EINVAL, "directory: empty path");
	if (n >= sizeof path)
		return dann_fail(DANN_EINVAL, "%s: path too long", dir);
	memcpy(path, dir, n + 1);
	/* Each prefix ending before a '/' (and then the whole path) is one level. */
	for (size_t i = 1; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		if (i < n && path[i - 1] == '/')
			continue; /* "a//b" */
		path[i] = '\0';
		rc = mkdir_one(path, &made);
		if (rc == 0 && made) {
			if ((rc = fsu_fsync_dir(path)) == 0)
				rc = fsu_fsync_parent(path);
		}
		if (i < n)
			path[i] = '/';
		if (rc < 0)
			return rc;
	}
	return 0;
}
