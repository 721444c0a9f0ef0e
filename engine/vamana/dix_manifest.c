/*
 * dix_manifest.c — MANIFEST reading/verification and the write-then-rename
 * stage of an index directory (see dix_manifest.h).
 */
#include "dix_manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "dix_format.h"

#define MANIFEST_MAX_BYTES (DIX_MANIFEST_MAX * (DIX_NAME_MAX + 48) + 64)

struct dix_stage {
	char final_dir[PATH_MAX];
	char dir[PATH_MAX];
};

static int join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	if (n < 0 || n >= PATH_MAX)
		return dann_fail(DANN_EINVAL, "%s/%s: path too long", dir, name);
	return 0;
}

/* fsyncs a file of the stage (its data must be durable before MANIFEST
 * vouches for it). */
static int fsync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open to sync", path);
	rc = fsu_fsync(fd, path);
	close(fd);
	return rc;
}

int dix_write_small_file(const char *dir, const char *name, const void *buf, uint64_t len)
{
	char path[PATH_MAX];
	int fd, rc;

	if ((rc = join(path, dir, name)) < 0)
		return rc;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot create", path);
	if ((rc = fsu_write_all(fd, path, buf, (size_t)len)) == 0)
		rc = fsu_fsync(fd, path);
	close(fd);
	return rc;
}

int dix_read_small_file(const char *dir, const char *name, uint64_t expect, void **out)
{
	char path[PATH_MAX];
	struct stat st;
	char *buf = NULL;
	int fd, rc;

	*out = NULL;
	if ((rc = join(path, dir, name)) < 0)
		return rc;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
				       "%s: cannot open", path);
	if (fstat(fd, &st) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: stat", path);
		goto fail;
	}
	if ((uint64_t)st.st_size != expect) {
		rc = dann_fail(DANN_ECORRUPT, "%s: %lld bytes, expected %llu", path,
			       (long long)st.st_size, (unsigned long long)expect);
		goto fail;
	}
	if (!(buf = malloc(expect ? expect : 1))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for %llu bytes", path,
			       (unsigned long long)expect);
		goto fail;
	}
	if ((rc = fsu_pread_all(fd, path, buf, (size_t)expect, 0)) < 0)
		goto fail;
	close(fd);
	*out = buf;
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

/* ---- MANIFEST text ---------------------------------------------------- */

static int manifest_parse(const char *path, const char *text, size_t len, struct dix_manifest *m)
{
	const char *line = text, *end = text + len;
	uint32_t body_crc, want_crc;
	int lineno = 0;

	memset(m, 0, sizeof *m);
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		char name[DIX_NAME_MAX], one[DIX_NAME_MAX + 48];
		unsigned long long size;
		unsigned crc;
		char extra;

		lineno++;
		if (!nl)
			return dann_fail(DANN_ECORRUPT, "%s: line %d is not terminated", path, lineno);
		if ((size_t)(nl - line) >= sizeof one)
			return dann_fail(DANN_ECORRUPT, "%s: line %d is too long", path, lineno);
		memcpy(one, line, (size_t)(nl - line));
		one[nl - line] = '\0';
		if (!strncmp(one, "crc ", 4)) {
			if (nl + 1 != end || sscanf(one + 4, "%8x%c", &want_crc, &extra) != 1)
				return dann_fail(DANN_ECORRUPT, "%s: malformed checksum line %d",
						 path, lineno);
			body_crc = crc32c(0, text, (size_t)(line - text));
			if (body_crc != want_crc)
				return dann_fail(DANN_ECORRUPT,
						 "%s: checksum %08x does not match its contents (%08x)",
						 path, want_crc, body_crc);
			return 0;
		}
		if (m->n == DIX_MANIFEST_MAX)
			return dann_fail(DANN_ECORRUPT, "%s: more than %d files listed", path,
					 DIX_MANIFEST_MAX);
		if (sscanf(one, "%63s %llu %8x%c", name, &size, &crc, &extra) != 3 ||
		    strchr(name, '/') || name[0] == '.')
			return dann_fail(DANN_ECORRUPT,
					 "%s: line %d is not \"name size crc32c\"", path, lineno);
		snprintf(m->e[m->n].name, DIX_NAME_MAX, "%s", name);
		m->e[m->n].size = size;
		m->e[m->n].crc = crc;
		m->n++;
		line = nl + 1;
	}
	return dann_fail(DANN_ECORRUPT, "%s: no checksum line (file cut short?)", path);
}

int dix_manifest_read(const char *dir, struct dix_manifest *m)
{
	char path[PATH_MAX];
	void *text;
	size_t len;
	int rc;

	if ((rc = join(path, dir, DIX_MANIFEST_FILE)) < 0)
		return rc;
	if ((rc = fsu_read_file(path, &text, &len)) < 0) {
		if (rc == DANN_ENOTFOUND)
			return dann_fail(rc, "%s: missing (is %s a dann index?)", path, dir);
		return rc;
	}
	if (len >= MANIFEST_MAX_BYTES)
		rc = dann_fail(DANN_ECORRUPT, "%s: larger than %d bytes", path,
			       MANIFEST_MAX_BYTES - 1);
	else
		rc = manifest_parse(path, text, len, m);
	free(text);
	return rc;
}

const struct dix_manifest_entry *dix_manifest_find(const struct dix_manifest *m, const char *name)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].name, name))
			return &m->e[i];
	return NULL;
}

int dix_manifest_verify(const char *dir, const struct dix_manifest *m, const char *skip_crc)
{
	char path[PATH_MAX];
	struct stat st;
	uint32_t crc;
	int rc;

	for (uint32_t i = 0; i < m->n; i++) {
		const struct dix_manifest_entry *e = &m->e[i];
		if ((rc = join(path, dir, e->name)) < 0)
			return rc;
		if (stat(path, &st) < 0)
			return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno,
					       "%s: listed in MANIFEST but cannot be read", path);
		if ((uint64_t)st.st_size != e->size)
			return dann_fail(DANN_ECORRUPT, "%s: %lld bytes, MANIFEST says %llu%s", path,
					 (long long)st.st_size, (unsigned long long)e->size,
					 (uint64_t)st.st_size < e->size ? " (truncated)" : "");
		if (skip_crc && !strcmp(e->name, skip_crc))
			continue;
		if ((rc = crc32c_file(path, 0, UINT64_MAX, &crc)) < 0)
			return rc;
		if (crc != e->crc)
			return dann_fail(DANN_ECORRUPT, "%s: checksum %08x, MANIFEST says %08x (corrupt)",
					 path, crc, e->crc);
	}
	return 0;
}

/* ---- staging ----------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct dix_manifest_entry *)a)->name,
		      ((const struct dix_manifest_entry *)b)->name);
}

/* Lists, syncs and checksums every regular file of the stage. */
static int stage_scan(const char *dir, struct dix_manifest *m)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);
	int rc = 0;

	memset(m, 0, sizeof *m);
	if (!d)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot list", dir);
	while ((de = readdir(d))) {
		struct dix_manifest_entry *e;
		if (de->d_name[0] == '.' || !strcmp(de->d_name, DIX_MANIFEST_FILE))
			continue;
		if (strlen(de->d_name) >= DIX_NAME_MAX || m->n == DIX_MANIFEST_MAX) {
			rc = dann_fail(DANN_EINVAL, "%s: too many files or name too long (%s)", dir,
				       de->d_name);
			break;
		}
		if ((rc = join(path, dir, de->d_name)) < 0)
			break;
		if (stat(path, &st) < 0) {
			rc = dann_fail_errno(DANN_EIO, errno, "%s: stat", path);
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		e = &m->e[m->n++];
		memcpy(e->name, de->d_name, strlen(de->d_name) + 1); /* length checked above */
		e->size = (uint64_t)st.st_size;
		if ((rc = fsync_file(path)) < 0 || (rc = crc32c_file(path, 0, UINT64_MAX, &e->crc)) < 0)
			break;
	}
	closedir(d);
	qsort(m->e, m->n, sizeof m->e[0], cmp_names);
	return rc;
}

static int manifest_write(const char *dir, const struct dix_manifest *m)
{
	char buf[MANIFEST_MAX_BYTES];
	size_t len = 0;

	for (uint32_t i = 0; i < m->n; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s %llu %08x\n", m->e[i].name,
					(unsigned long long)m->e[i].size, m->e[i].crc);
	len += (size_t)snprintf(buf + len, sizeof buf - len, "crc %08x\n", crc32c(0, buf, len));
	return dix_write_small_file(dir, DIX_MANIFEST_FILE, buf, len);
}

/* The early stat gives a clear error before hours of building; the rename
 * at commit is what enforces the rule (another writer may take the name
 * meanwhile). */
int dix_stage_begin(const char *final_dir, struct dix_stage **out)
{
	struct dix_stage *st;
	struct stat sb;
	int n;

	*out = NULL;
	if (!final_dir || !*final_dir)
		return dann_fail(DANN_EINVAL, "index directory: empty path");
	if (stat(final_dir, &sb) == 0)
		return dann_fail(DANN_EINVAL, "%s: already exists; an index is never overwritten "
				 "(remove it or choose another --out)", final_dir);
	if (!(st = calloc(1, sizeof *st)))
		return dann_fail(DANN_ENOMEM, "%s: no memory", final_dir);
	n = snprintf(st->final_dir, PATH_MAX, "%s", final_dir);
	while (n > 1 && st->final_dir[n - 1] == '/')
		st->final_dir[--n] = '\0';
	if (snprintf(st->dir, PATH_MAX, "%s.tmp-XXXXXX", st->final_dir) >= PATH_MAX) {
		free(st);
		return dann_fail(DANN_EINVAL, "%s: path too long", final_dir);
	}
	if (!mkdtemp(st->dir)) {
		int e = errno;
		free(st);
		return dann_fail_errno(DANN_EIO, e, "%s: cannot create a staging directory beside it",
				       final_dir);
	}
	*out = st;
	return 0;
}

const char *dix_stage_dir(const struct dix_stage *st)
{
	return st->dir;
}

int dix_stage_commit(struct dix_stage *st)
{
	struct dix_manifest m;
	int rc;

	if ((rc = stage_scan(st->dir, &m)) < 0 || (rc = manifest_write(st->dir, &m)) < 0)
		goto fail;
	/* mkdtemp made the stage 0700; an index is as readable as any file. */
	if (chmod(st->dir, 0755) < 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "%s: chmod", st->dir);
		goto fail;
	}
	if ((rc = fsu_fsync_dir(st->dir)) < 0)
		goto fail;
	/* Never over an existing name, even one that appeared during the build;
	 * the parent directory is fsynced after the rename. */
	if ((rc = fsu_rename_noreplace(st->dir, st->final_dir)) < 0) {
		if (rc == DANN_EEXIST)
			dann_fail(rc, "%s: already exists; an index is never overwritten (remove it or "
				  "choose another --out)", st->final_dir);
		if (access(st->dir, F_OK) != 0) {
			/* renamed; only the parent's fsync failed */
			free(st);
			return rc;
		}
		goto fail;
	}
	free(st);
	return 0;
fail:
	dix_stage_abort(st);
	return rc;
}

void dix_stage_abort(struct dix_stage *st)
{
	if (!st)
		return;
	/* Best effort: an abort follows another error, which is the one the
	 * caller reports; a stage left behind is named "*.tmp-*". */
	fsu_rmtree(st->dir);
	free(st);
}
