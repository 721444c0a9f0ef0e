/*
 * obj_dir.c — a directory to and from the object store, whole or not at
 * all.
 *
 * Up: every regular file below the directory becomes "<prefix>/<relative
 * path>"; the file named `last` (a segment's MANIFEST) goes after all the
 * others have been stored and checked, so its presence in the store is the
 * mark of a complete upload.
 * Down: `last` first (a prefix without it is an upload that never
 * finished: DANN_ENOTFOUND), checked against the CRC the caller knows (from
 * its catalog); then the rest, each checked against the CRC the caller's
 * callback reads from the manifest just downloaded; all into a stage
 * directory that is renamed to its final name only when everything is in
 * and synced. The store never learns what a manifest looks like.
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

#define DIR_PATH_MAX 4096

static int put_tree(struct obj_store *s, const char *root, const char *rel, const char *prefix,
		    const char *last, int *saw_last)
{
	char path[DIR_PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
	if (!(d = opendir(path)))
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno, "obj_put_dir: %s", path);
	while (rc == 0 && (e = readdir(d))) {
		char r2[DIR_PATH_MAX], full[DIR_PATH_MAX], key[DIR_PATH_MAX];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(r2, sizeof r2, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >= sizeof r2 ||
		    (size_t)snprintf(full, sizeof full, "%s/%s", root, r2) >= sizeof full) {
			rc = dann_fail(DANN_EINVAL, "obj_put_dir: %s/%s: path too long", path, e->d_name);
			break;
		}
		if (lstat(full, &st) != 0) {
			rc = dann_fail_errno(DANN_EIO, errno, "obj_put_dir: %s", full);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = put_tree(s, root, r2, prefix, last, saw_last);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (last && strcmp(r2, last) == 0) {
			*saw_last = 1;
			continue;
		}
		if ((size_t)snprintf(key, sizeof key, "%s/%s", prefix, r2) >= sizeof key)
			rc = dann_fail(DANN_EINVAL, "obj_put_dir: key %s/%s too long", prefix, r2);
		else
			rc = obj_put_file(s, key, full);
	}
	closedir(d);
	return rc;
}

int obj_put_dir(struct obj_store *s, const char *dir, const char *prefix, const char *last)
{
	char key[DIR_PATH_MAX], full[DIR_PATH_MAX];
	int saw_last = 0, rc;

	if ((rc = obj_key_check(prefix)) < 0)
		return rc;
	if ((rc = put_tree(s, dir, "", prefix, last, &saw_last)) < 0)
		return rc;
	if (!last)
		return 0;
	if (!saw_last)
		return dann_fail(DANN_ENOTFOUND, "obj_put_dir: %s has no %s", dir, last);
	snprintf(key, sizeof key, "%s/%s", prefix, last);
	snprintf(full, sizeof full, "%s/%s", dir, last);
	return obj_put_file(s, key, full);
}

/* mkdir -p of the directories rel needs below the stage. */
static int mkdirs_below(const char *stage, const char *rel)
{
	char buf[DIR_PATH_MAX], *slash;

	if ((size_t)snprintf(buf, sizeof buf, "%s/%s", stage, rel) >= sizeof buf)
		return dann_fail(DANN_EINVAL, "obj_get_dir: %s/%s: path too long", stage, rel);
	slash = strrchr(buf, '/');
	*slash = 0;
	return fsu_mkdirs(buf);
}

struct get_ctx {
	struct obj_store *s;
	const char *prefix, *last, *stage;
	obj_crc_fn crc_of;
	void *arg;
	uint64_t files;
};

static int get_one(void *arg, const char *key, uint64_t size)
{
	struct get_ctx *g = arg;
	const char *rel = key + strlen(g->prefix) + 1;
	char path[DIR_PATH_MAX];
	uint32_t crc;
	int want = 0, rc;

	(void)size;
	if (g->last && strcmp(rel, g->last) == 0)
		return 0;
	if (g->crc_of && (want = g->crc_of(g->arg, g->stage, rel, &crc)) < 0)
		return want;
	if ((rc = mkdirs_below(g->stage, rel)) < 0)
		return rc;
	snprintf(path, sizeof path, "%s/%s", g->stage, rel);
	if ((rc = obj_get_file(g->s, key, path, want ? &crc : NULL)) < 0)
		return rc;
	g->files++;
	return 0;
}

int obj_get_dir(struct obj_store *s, const char *prefix, const char *dir, const char *last,
		const uint32_t *last_crc, obj_crc_fn crc_of, void *arg)
{
	char stage[DIR_PATH_MAX], key[DIR_PATH_MAX], path[DIR_PATH_MAX], list_prefix[DIR_PATH_MAX];
	struct get_ctx g = { s, prefix, last, stage, crc_of, arg, 0 };
	struct stat st;
	int rc;

	if ((rc = obj_key_check(prefix)) < 0)
		return rc;
	if (stat(dir, &st) == 0)
		return dann_fail(DANN_EEXIST, "obj_get_dir: %s already exists", dir);
	if ((size_t)snprintf(stage, sizeof stage, "%s.obj-tmp-XXXXXX", dir) >= sizeof stage)
		return dann_fail(DANN_EINVAL, "obj_get_dir: %s: path too long", dir);
	if (!mkdtemp(stage))
		return dann_fail_errno(DANN_EIO, errno, "obj_get_dir: create %s", stage);
	if (last) {
		if ((size_t)snprintf(key, sizeof key, "%s/%s", prefix, last) >= sizeof key ||
		    (size_t)snprintf(path, sizeof path, "%s/%s", stage, last) >= sizeof path) {
			rc = dann_fail(DANN_EINVAL, "obj_get_dir: %s/%s: path too long", stage, last);
			goto fail;
		}
		if ((rc = obj_get_file(s, key, path, last_crc)) < 0) {
			if (rc == DANN_ENOTFOUND)
				rc = dann_fail_wrap(rc, "obj_get_dir: %s/%s in %s is missing (upload never finished?)",
						    prefix, last, obj_uri(s));
			goto fail;
		}
		g.files++;
	}
	snprintf(list_prefix, sizeof list_prefix, "%s/", prefix);
	if ((rc = obj_list(s, list_prefix, get_one, &g)) != 0)
		goto fail;
	if (g.files == 0) {
		rc = dann_fail(DANN_ENOTFOUND, "obj_get_dir: nothing under %s in %s", prefix, obj_uri(s));
		goto fail;
	}
	if ((rc = fsu_fsync_dir(stage)) < 0 || (rc = fsu_rename_noreplace(stage, dir)) < 0)
		goto fail;
	return 0;
fail:
	fsu_rmtree(stage);
	return rc;
}
