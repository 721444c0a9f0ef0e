/*
 * fsutil.h — the one way dann reads and writes files durably.
 *
 * Every writer in the library (index stages, vector files, PQ and graph
 * files, the WAL, segment and catalog files) goes through these, so that
 * short transfers, EINTR, fsync of the file and of its directory, and
 * "never replace an existing name" are handled once, the same way, with an
 * error naming the path. Functions return 0 or a DANN_E* code (dann.h).
 */
#ifndef DANN_FSUTIL_H
#define DANN_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Every file format of dann (vector files, graph, PQ, disk index, WAL,
 * segments) is little-endian, and writers store integers as they are in
 * memory: the one check that this holds is here, in the header every
 * durable writer includes. A big-endian port must convert at the writers
 * and readers first. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "dann's files are little-endian and are written in native byte order");

/* Reads exactly len bytes at off (retrying EINTR and short reads).
 * DANN_ECORRUPT naming path if the file ends first, DANN_EIO otherwise. */
int fsu_pread_all(int fd, const char *path, void *buf, size_t len, uint64_t off);
/* Writes exactly len bytes at off / at the current position. */
int fsu_pwrite_all(int fd, const char *path, const void *buf, size_t len, uint64_t off);
int fsu_write_all(int fd, const char *path, const void *buf, size_t len);

/* fsync / fdatasync of fd, DANN_EIO naming path. */
int fsu_fsync(int fd, const char *path);
int fsu_fdatasync(int fd, const char *path);
/* fsyncs the directory dir (after a create, rename or unlink in it). */
int fsu_fsync_dir(const char *dir);
/* fsyncs the directory that holds path. */
int fsu_fsync_parent(const char *path);

/* Renames from to to only if to does not exist (renameat2 RENAME_NOREPLACE;
 * where the filesystem lacks it, link + unlink), then fsyncs to's
 * directory. DANN_EEXIST naming to if it exists. */
int fsu_rename_noreplace(const char *from, const char *to);
/* Renames from over to (replacing it atomically), then fsyncs to's directory. */
int fsu_rename_replace(const char *from, const char *to);

/* Writes len bytes as the whole new content of path: to "<path>.tmp",
 * fsync, rename over path, fsync the directory. A crash leaves the old
 * file or the new one. */
int fsu_write_file_atomic(const char *path, const void *buf, size_t len);
/* Reads a whole file into a malloc'd buffer (*len bytes, plus a NUL after
 * them). DANN_ENOTFOUND if it does not exist. */
int fsu_read_file(const char *path, void **buf, size_t *len);

/* Removes dir and everything below it (no error if it does not exist). */
int fsu_rmtree(const char *dir);
/* mkdir -p, then fsync of each directory created and of its parent. */
int fsu_mkdirs(const char *dir);

#endif
