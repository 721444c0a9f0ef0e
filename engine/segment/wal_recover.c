/*
 * wal_recover.c — reading the write-ahead log back: recovery on open and
 * replay (see wal.h for the rules, wal_impl.h for the framing).
 *
 * Recovery walks the files in LSN order and parses each record: the
 * length must fit the file, the LSN must be the next one, and the CRC32C
 * over LSN and payload must match. At the first record that fails, the
 * question is whether anything valid follows it — in the rest of the file
 * (tried at every byte offset, since a bad length says nothing about where
 * the next record starts) or in a later file. Nothing valid after it: the
 * tail an interrupted append leaves, never acknowledged, so it is cut (the
 * file truncated and synced, later files removed) and logged. A valid
 * record after it: acknowledged writes would be lost, so open fails with
 * DANN_ECORRUPT naming the file and offset, unless the caller asked to
 * salvage, in which case the log is cut there too, loudly.
 *
 * Files are read through read-only mappings: records are parsed and
 * checksummed in place and replay hands out payload pointers without a
 * copy. The log is only ever appended to while open, so a mapping never
 * sees its file shrink.
 */
#include "wal_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "../log.h"

enum rec_status { REC_OK = 0, REC_END = 1, REC_SHORT = 2, REC_BAD = 3 };

struct rec {
	uint32_t len;
	uint64_t lsn;
	const uint8_t *payload;
	const char *why;            /* for REC_SHORT / REC_BAD */
};

/* A file mapped for reading. */
struct map {
	char path[PATH_MAX];
	const uint8_t *p;
	uint64_t size;
};

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static int crc_ok(const uint8_t *hdr, uint64_t lsn, uint32_t len)
{
	uint32_t crc = crc32c(wal_lsn_crc(lsn), hdr + WAL_HDR_BYTES, len);
	return crc == get_u32(hdr + 12);
}

/* Parses the record at off, which must carry LSN expect. */
static enum rec_status rec_parse(const struct map *m, uint64_t off, uint64_t expect, struct rec *r)
{
	const uint8_t *h = m->p + off;

	if (off == m->size) {
		r->why = "end of file";
		return REC_END;
	}
	if (m->size - off < WAL_HDR_BYTES) {
		r->why = "record header cut short";
		return REC_SHORT;
	}
	r->len = get_u32(h);
	r->lsn = get_u64(h + 4);
	if (r->len > WAL_MAX_RECORD) {
		r->why = "record length past the limit";
		return REC_BAD;
	}
	if (m->size - off - WAL_HDR_BYTES < r->len) {
		r->why = "record cut short";
		return REC_SHORT;
	}
	if (!crc_ok(h, r->lsn, r->len)) {
		r->why = "checksum mismatch";
		return REC_BAD;
	}
	if (r->lsn != expect) {
		r->why = "LSN out of sequence";
		return REC_BAD;
	}
	r->payload = h + WAL_HDR_BYTES;
	return REC_OK;
}

/* 1 if a record with an LSN in (after, after + bound] and a valid checksum
 * starts at any offset >= from of m. */
static int any_valid_from(const struct map *m, uint64_t from, uint64_t after, uint64_t bound)
{
	for (uint64_t off = from; off + WAL_HDR_BYTES <= m->size; off++) {
		const uint8_t *h = m->p + off;
		uint64_t lsn = get_u64(h + 4);
		uint32_t len = get_u32(h);

		if (lsn <= after || lsn - after > bound)
			continue;
		if (len > WAL_MAX_RECORD || m->size - off - WAL_HDR_BYTES < len)
			continue;
		if (crc_ok(h, lsn, len))
			return 1;
	}
	return 0;
}

static int map_open(struct map *m, const char *path, int *fd_out)
{
	struct stat st;
	int fd;

	snprintf(m->path, sizeof m->path, "%s", path);
	m->p = NULL;
	m->size = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open WAL file", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return dann_fail_errno(DANN_EIO, errno, "%s: stat", path);
	}
	m->size = (uint64_t)st.st_size;
	if (m->size > 0) {
		void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			return dann_fail_errno(DANN_EIO, errno, "%s: cannot map %llu bytes", path,
					       (unsigned long long)m->size);
		}
		madvise(p, m->size, MADV_SEQUENTIAL);
		m->p = p;
	}
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return 0;
}

static void map_close(struct map *m)
{
	if (m->p)
		munmap((void *)m->p, m->size);
	m->p = NULL;
}

/* Parses "wal-<20 digits>.log"; 1 and *lsn if name is a log file. */
static int parse_name(const char *name, uint64_t *lsn)
{
	uint64_t v = 0;

	if (strlen(name) != 4 + WAL_NAME_DIGITS + 4 || strncmp(name, "wal-", 4) != 0 ||
	    strcmp(name + 4 + WAL_NAME_DIGITS, ".log") != 0)
		return 0;
	for (int i = 0; i < WAL_NAME_DIGITS; i++) {
		char c = name[4 + i];
		if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*lsn = v;
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The first LSNs of the log files in dir, sorted (malloc'd). */
static int list_files(const char *dir, uint64_t **out, size_t *n)
{
	uint64_t *v = NULL, lsn;
	size_t cap = 0, cnt = 0;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (!(d = opendir(dir)))
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open WAL directory", dir);
	while ((e = readdir(d))) {
		if (!parse_name(e->d_name, &lsn))
			continue;
		if (cnt == cap) {
			size_t c = cap ? 2 * cap : 16;
			uint64_t *nv = realloc(v, c * sizeof *nv);
			if (!nv) {
				rc = dann_fail(DANN_ENOMEM, "%s: WAL file list", dir);
				goto out;
			}
			v = nv;
			cap = c;
		}
		v[cnt++] = lsn;
	}
	if (cnt)
		qsort(v, cnt, sizeof *v, cmp_u64);
out:
	closedir(d);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* Truncates path to size and syncs it. */
static int cut_file(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open to cut the WAL tail", path);
	if (ftruncate(fd, (off_t)size) < 0)
		rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot cut the WAL tail at offset %llu", path,
				     (unsigned long long)size);
	else
		rc = fsu_fsync(fd, path);
	close(fd);
	return rc;
}

/* State of one recovery pass. */
struct scan {
	uint64_t *first;            /* first LSNs of the files, sorted */
	size_t n;
	size_t keep;                /* files [0, keep) stay */
	uint64_t cut_off;           /* ... the last of them cut to this size */
	int cut;                    /* 1: the last kept file is cut at cut_off */
};

/* 1 if a valid record follows the failure at (file i, off), after LSN
 * last_good: in the rest of file i or in any later file. */
static int valid_after(struct wal *w, struct scan *s, size_t i, const struct map *m, uint64_t off,
		       uint64_t last_good, int *rc)
{
	uint64_t bound = m->size / WAL_HDR_BYTES + 1;
	char path[PATH_MAX];
	int found = 0;

	for (size_t j = i + 1; j < s->n; j++) {
		struct stat st;
		wal_file_path(w, s->first[j], path);
		if (stat(path, &st) == 0)
			bound += (uint64_t)st.st_size / WAL_HDR_BYTES;
	}
	found = any_valid_from(m, off + 1, last_good, bound);
	for (size_t j = i + 1; j < s->n && !found; j++) {
		struct map mj;
		wal_file_path(w, s->first[j], path);
		if ((*rc = map_open(&mj, path, NULL)) < 0)
			return 0;
		found = any_valid_from(&mj, 0, last_good, bound);
		map_close(&mj);
	}
	return found;
}

/* Checks file i (mapped as m), adding it to w->files. Sets s->keep and
 * the cut when the log ends inside it. */
static int scan_file(struct wal *w, struct scan *s, size_t i, const struct map *m)
{
	uint64_t expect = s->first[i], off = 0;
	struct wal_file *f = &w->files[w->nfiles];
	enum rec_status st;
	struct rec r;
	int rc = 0;

	while ((st = rec_parse(m, off, expect, &r)) == REC_OK) {
		off += WAL_HDR_BYTES + r.len;
		expect++;
	}
	f->first_lsn = s->first[i];
	f->last_lsn = expect - 1;
	f->size = off;
	w->nfiles++;
	if (st == REC_END)
		return 0;
	if (valid_after(w, s, i, m, off, expect - 1, &rc)) {
		if (!w->p.salvage)
			return dann_fail(DANN_ECORRUPT,
					 "%s: offset %llu: %s at LSN %llu, with valid records after it "
					 "(acknowledged writes would be lost; open with salvage to cut here)",
					 m->path, (unsigned long long)off, r.why, (unsigned long long)expect);
		dann_log(DANN_LOG_ERROR, "wal",
			 "%s: offset %llu: %s at LSN %llu with valid records after it; salvage cuts the log here",
			 m->path, (unsigned long long)off, r.why, (unsigned long long)expect);
	} else if (rc < 0) {
		return rc;
	} else {
		dann_log(DANN_LOG_WARN, "wal", "%s: torn tail at offset %llu (%s): %llu bytes cut, log ends at LSN %llu",
			 m->path, (unsigned long long)off, r.why, (unsigned long long)(m->size - off),
			 (unsigned long long)(expect - 1));
	}
	s->keep = i + 1;
	s->cut = 1;
	s->cut_off = off;
	return 0;
}

/* Removes files [s->keep, s->n): nothing valid (or, salvaging, nothing
 * kept) is in them. Newest first, so a crash leaves a prefix of the log. */
static int drop_later(struct wal *w, struct scan *s)
{
	char path[PATH_MAX];

	for (size_t j = s->n; j-- > s->keep;) {
		wal_file_path(w, s->first[j], path);
		dann_log(DANN_LOG_WARN, "wal", "%s: removed: past the end of the recovered log", path);
		if (unlink(path) < 0 && errno != ENOENT)
			return dann_fail_errno(DANN_EIO, errno, "%s: cannot remove", path);
	}
	return s->n > s->keep ? fsu_fsync_dir(w->dir) : 0;
}

/* Opens (creating) the last file for appending. */
static int open_last(struct wal *w, int create)
{
	char path[PATH_MAX];
	int rc;

	wal_file_path(w, w->files[w->nfiles - 1].first_lsn, path);
	if ((w->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open WAL file for appending", path);
	if (create && (rc = fsu_fsync_dir(w->dir)) < 0)
		return rc;
	return 0;
}

int wal_recover(struct wal *w)
{
	struct scan s = { 0 };
	char path[PATH_MAX];
	int rc;

	if ((rc = fsu_mkdirs(w->dir)) < 0)
		return rc;
	if ((rc = list_files(w->dir, &s.first, &s.n)) < 0)
		return rc;
	w->cap_files = s.n + 8;
	if (!(w->files = calloc(w->cap_files, sizeof *w->files))) {
		rc = dann_fail(DANN_ENOMEM, "%s: WAL file list", w->dir);
		goto out;
	}
	s.keep = s.n;
	for (size_t i = 0; i < s.n && !s.cut; i++) {
		struct map m;
		wal_file_path(w, s.first[i], path);
		if (s.first[i] == 0) {
			rc = dann_fail(DANN_ECORRUPT, "%s: LSN 0 in a WAL file name (LSNs start at 1)", path);
			goto out;
		}
		if (i > 0 && s.first[i] != w->files[i - 1].last_lsn + 1) {
			if (!w->p.salvage) {
				rc = dann_fail(DANN_ECORRUPT, "%s: starts at LSN %llu, expected %llu (records are missing)",
					       path, (unsigned long long)s.first[i],
					       (unsigned long long)(w->files[i - 1].last_lsn + 1));
				goto out;
			}
			dann_log(DANN_LOG_ERROR, "wal", "%s: starts at LSN %llu, expected %llu; salvage ends the log before it",
				 path, (unsigned long long)s.first[i], (unsigned long long)(w->files[i - 1].last_lsn + 1));
			s.keep = i;
			break;
		}
		if ((rc = map_open(&m, path, NULL)) < 0)
			goto out;
		rc = scan_file(w, &s, i, &m);
		map_close(&m);
		if (rc < 0)
			goto out;
	}
	/* Later files go first: a crash between the two steps then leaves
	 * the cut file last, with its bad tail, to be cut on the next open. */
	if ((rc = drop_later(w, &s)) < 0)
		goto out;
	if (s.cut) {
		wal_file_path(w, w->files[w->nfiles - 1].first_lsn, path);
		if ((rc = cut_file(path, s.cut_off)) < 0)
			goto out;
	}
	if (w->nfiles == 0) {
		w->files[0] = (struct wal_file){ .first_lsn = 1, .last_lsn = 0, .size = 0 };
		w->nfiles = 1;
		rc = open_last(w, 1);
	} else {
		rc = open_last(w, 0);
	}
	atomic_store(&w->last_lsn, w->files[w->nfiles - 1].last_lsn);
out:
	free(s.first);
	return rc;
}

int wal_replay(struct wal *w, uint64_t after, wal_replay_fn fn, void *arg)
{
	char path[PATH_MAX];
	int rc = 0;

	for (size_t i = 0; i < w->nfiles && rc == 0; i++) {
		const struct wal_file *f = &w->files[i];
		uint64_t off = 0, expect = f->first_lsn;
		struct map m;
		struct rec r;

		if (f->last_lsn <= after)
			continue;
		wal_file_path(w, f->first_lsn, path);
		if ((rc = map_open(&m, path, NULL)) < 0)
			return rc;
		if (m.size > f->size)
			m.size = f->size; /* appends since open are not replayed */
		while (expect <= f->last_lsn) {
			if (rec_parse(&m, off, expect, &r) != REC_OK) {
				rc = dann_fail(DANN_ECORRUPT, "%s: offset %llu: %s at LSN %llu (changed since open)",
					       path, (unsigned long long)off, r.why,
					       (unsigned long long)expect);
				break;
			}
			if (r.lsn > after && (rc = fn(arg, r.lsn, r.payload, r.len)) != 0)
				break;
			off += WAL_HDR_BYTES + r.len;
			expect++;
		}
		map_close(&m);
	}
	return rc;
}
