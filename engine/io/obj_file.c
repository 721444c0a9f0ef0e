/*
 * obj_file.c — the object store on a local directory (file:///dir).
 *
 * Object key "a/b/c" is the file <dir>/a/b/c. A PUT writes
 * "<file>.obj-tmp-XXXXXX" beside it, fsyncs it, renames it over the name and
 * fsyncs the directory, so an object appears whole or not at all, as in S3.
 * A temporary file left by a crash mid-PUT is never listed, read or taken
 * for an object (keys may not contain ".obj-tmp-"). Listing walks the tree
 * and sorts the keys bytewise, the order S3 lists in.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"
#include "../fsutil.h"
#include "obj_impl.h"

#define FILE_CHUNK (1u << 20)   /* bytes per read or write of a copy */
#define FILE_PATH_MAX 4096

static int file_path(const struct obj_store *s, const char *key, char *out)
{
	if ((size_t)snprintf(out, FILE_PATH_MAX, "%s/%s", s->prefix, key) >= FILE_PATH_MAX)
		return dann_fail(DANN_EINVAL, "%s/%s: path too long", s->prefix, key);
	return 0;
}

/* mkdir -p of the directory that will hold path, each new level fsynced
 * into its parent. */
static int make_parents(const char *path)
{
	char buf[FILE_PATH_MAX];

	strcpy(buf, path);
	*strrchr(buf, '/') = 0;
	return fsu_mkdirs(buf);
}

static int file_open(struct obj_store *s)
{
	struct stat st;

	if (mkdir(s->prefix, 0755) != 0 && errno != EEXIST)
		return dann_fail_errno(DANN_EIO, errno, "obj_open: %s: mkdir", s->prefix);
	if (stat(s->prefix, &st) != 0 || !S_ISDIR(st.st_mode))
		return dann_fail(DANN_EINVAL, "obj_open: %s is not a directory", s->prefix);
	return 0;
}

static void file_close(struct obj_store *s)
{
	(void)s;
}

static int copy_src(const struct obj_src *src, int fd, const char *tmp)
{
	uint64_t done = 0;
	char *buf;
	int rc = 0;

	if (src->buf)
		return fsu_write_all(fd, tmp, (const char *)src->buf + src->off, src->len);
	if (!(buf = malloc(FILE_CHUNK)))
		return dann_fail(DANN_ENOMEM, "%s: copy buffer", tmp);
	while (rc == 0 && done < src->len) {
		size_t n = src->len - done < FILE_CHUNK ? (size_t)(src->len - done) : FILE_CHUNK;

		if ((rc = obj_src_read(src, done, buf, n)) == 0)
			rc = fsu_write_all(fd, tmp, buf, n);
		done += n;
	}
	free(buf);
	return rc;
}

static int file_put(struct obj_store *s, const char *key, const struct obj_src *src)
{
	char path[FILE_PATH_MAX], tmp[FILE_PATH_MAX + 32];
	int fd, rc;

	if ((rc = file_path(s, key, path)) < 0 || (rc = make_parents(path)) < 0)
		return rc;
	snprintf(tmp, sizeof tmp, "%s.obj-tmp-XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: create", tmp);
	atomic_fetch_add(&s->st.requests, 1);
	if ((rc = copy_src(src, fd, tmp)) < 0)
		goto fail;
	if ((rc = fsu_fsync(fd, tmp)) < 0)
		goto fail;
	close(fd);
	fd = -1;
	if ((rc = fsu_rename_replace(tmp, path)) < 0)
		goto fail;
	atomic_fetch_add(&s->st.bytes_up, src->len);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

static int open_object(const struct obj_store *s, const char *key, char *path)
{
	struct stat st;
	int fd, rc;

	if ((rc = file_path(s, key, path)) < 0)
		return rc;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(errno == ENOENT || errno == ENOTDIR ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "object %s in %s", key, s->uri);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return dann_fail(DANN_ENOTFOUND, "object %s in %s: not a file", key, s->uri);
	}
	return fd;
}

static int file_get(struct obj_store *s, const char *key, uint64_t off, uint64_t len, const struct obj_sink *sink,
		    uint64_t *got)
{
	char path[FILE_PATH_MAX], *buf;
	int fd, rc = 0;

	*got = 0;
	if ((fd = open_object(s, key, path)) < 0)
		return fd;
	atomic_fetch_add(&s->st.requests, 1);
	if (!(buf = malloc(FILE_CHUNK))) {
		close(fd);
		return dann_fail(DANN_ENOMEM, "%s: read buffer", path);
	}
	while (*got < len) {
		size_t want = len - *got < FILE_CHUNK ? (size_t)(len - *got) : FILE_CHUNK;
		ssize_t r = pread(fd, buf, want, (off_t)(off + *got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = dann_fail_errno(DANN_EIO, errno, "%s: read at %llu", path,
					     (unsigned long long)(off + *got));
			break;
		}
		if (r == 0)
			break;
		if ((rc = sink->write(sink->arg, buf, (size_t)r)) < 0)
			break;
		*got += (uint64_t)r;
	}
	free(buf);
	close(fd);
	if (rc == 0)
		atomic_fetch_add(&s->st.bytes_down, *got);
	return rc;
}

static int file_head(struct obj_store *s, const char *key, struct obj_stat *st)
{
	char path[FILE_PATH_MAX];
	struct stat sb;
	int fd;

	if ((fd = open_object(s, key, path)) < 0)
		return fd;
	fstat(fd, &sb);
	close(fd);
	st->size = (uint64_t)sb.st_size;
	/* an ETag-like tag for the local store: size and change time */
	snprintf(st->etag, sizeof st->etag, "%llx-%llx.%09ld", (unsigned long long)sb.st_size,
		 (unsigned long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	return 0;
}

static int file_del(struct obj_store *s, const char *key)
{
	char path[FILE_PATH_MAX];
	struct stat sb;
	int rc;

	if ((rc = file_path(s, key, path)) < 0)
		return rc;
	if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0; /* a "directory" is not an object */
	if (unlink(path) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return dann_fail_errno(DANN_EIO, errno, "delete %s", path);
	}
	atomic_fetch_add(&s->st.requests, 1);
	return fsu_fsync_parent(path);
}

struct walk {
	char **keys;
	uint64_t *sizes;
	size_t n, cap;
};

static int walk_add(struct walk *w, const char *key, uint64_t size)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		char **k = realloc(w->keys, cap * sizeof *k);
		uint64_t *z;

		if (!k)
			return dann_fail(DANN_ENOMEM, "obj_list");
		w->keys = k;
		if (!(z = realloc(w->sizes, cap * sizeof *z)))
			return dann_fail(DANN_ENOMEM, "obj_list");
		w->sizes = z;
		w->cap = cap;
	}
	if (!(w->keys[w->n] = strdup(key)))
		return dann_fail(DANN_ENOMEM, "obj_list");
	w->sizes[w->n++] = size;
	return 0;
}

/* Adds every file below root/rel whose key starts with prefix. */
static int walk_dir(const char *root, const char *rel, const char *prefix, struct walk *w)
{
	char path[FILE_PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
	if (!(d = opendir(path)))
		return errno == ENOENT ? 0 : dann_fail_errno(DANN_EIO, errno, "obj_list: %s", path);
	while (rc == 0 && (e = readdir(d))) {
		char key[FILE_PATH_MAX], full[FILE_PATH_MAX];
		size_t klen, plen = strlen(prefix);
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strstr(e->d_name, ".obj-tmp-"))
			continue;
		if ((size_t)snprintf(key, sizeof key, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >= sizeof key)
			continue;
		klen = strlen(key);
		/* descend only where the prefix can still match */
		if (strncmp(key, prefix, klen < plen ? klen : plen) != 0)
			continue;
		if ((size_t)snprintf(full, sizeof full, "%s/%s", root, key) >= sizeof full || lstat(full, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = walk_dir(root, key, prefix, w);
		else if (S_ISREG(st.st_mode) && klen >= plen)
			rc = walk_add(w, key, (uint64_t)st.st_size);
	}
	closedir(d);
	return rc;
}

static int cmp_idx_keys(const void *a, const void *b, void *arg)
{
	char **keys = arg;

	return strcmp(keys[*(const size_t *)a], keys[*(const size_t *)b]);
}

static int file_list(struct obj_store *s, const char *prefix, obj_list_fn fn, void *arg)
{
	struct walk w = { 0 };
	size_t *idx = NULL, i;
	int rc;

	atomic_fetch_add(&s->st.requests, 1);
	rc = walk_dir(s->prefix, "", prefix, &w);
	if (rc == 0 && w.n && !(idx = malloc(w.n * sizeof *idx)))
		rc = dann_fail(DANN_ENOMEM, "obj_list");
	if (rc == 0) {
		for (i = 0; i < w.n; i++)
			idx[i] = i;
		if (w.n)
			qsort_r(idx, w.n, sizeof *idx, cmp_idx_keys, w.keys);
		for (i = 0; i < w.n && rc == 0; i++)
			rc = fn(arg, w.keys[idx[i]], w.sizes[idx[i]]);
	}
	for (i = 0; i < w.n; i++)
		free(w.keys[i]);
	free(w.keys);
	free(w.sizes);
	free(idx);
	return rc;
}

const struct obj_ops obj_file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.put = file_put,
	.get = file_get,
	.head = file_head,
	.del = file_del,
	.list = file_list,
};
