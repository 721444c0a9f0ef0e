/*
 * dix_manifest.h — the MANIFEST of an index directory: every file's size
 * and CRC32C, and the staging that makes a directory appear whole or not
 * at all.
 *
 * A build writes its files into "<dir>.tmp-XXXXXX" (a stage), then
 * dix_stage_commit fsyncs every file, writes MANIFEST, fsyncs the stage,
 * renames it to <dir> and fsyncs the parent: a crash leaves either no <dir>
 * or a complete one. The loader reads MANIFEST first and checks every
 * file against it, so a file cut short, grown or altered is an error that
 * names it.
 */
#ifndef DANN_DIX_MANIFEST_H
#define DANN_DIX_MANIFEST_H

#include <stdint.h>

/* Files per index directory: a flushed segment's directory holds the disk
 * index (about ten files), keys and vectors, and up to three files for each
 * of its DANN_MAX_FIELDS scalar fields and the dynamic field. */
#define DIX_MANIFEST_MAX 256
#define DIX_NAME_MAX 64         /* bytes of a file name, with the NUL */

struct dix_manifest_entry {
	char name[DIX_NAME_MAX];
	uint64_t size;
	uint32_t crc;
};

struct dix_manifest {
	uint32_t n;
	struct dix_manifest_entry e[DIX_MANIFEST_MAX];
};

/* Reads and validates <dir>/MANIFEST (format, its own CRC, names).
 * DANN_ENOTFOUND if it is missing, DANN_ECORRUPT naming the file and line
 * if malformed. */
int dix_manifest_read(const char *dir, struct dix_manifest *m);

/* The entry named name, or NULL. */
const struct dix_manifest_entry *dix_manifest_find(const struct dix_manifest *m, const char *name);

/* Checks that every listed file exists with its listed size, and that the
 * CRC32C of each file except the one named skip_crc (NULL: none) matches.
 * The loader skips the large node file, whose header carries its own
 * checksum; `dann info --verify` checks everything. DANN_ECORRUPT /
 * DANN_ENOTFOUND naming the first bad file. */
int dix_manifest_verify(const char *dir, const struct dix_manifest *m, const char *skip_crc);

struct dix_stage;

/* Creates the stage directory "<final_dir>.tmp-XXXXXX". DANN_EINVAL if
 * final_dir already exists (an index is never overwritten in place). */
int dix_stage_begin(const char *final_dir, struct dix_stage **out);
/* The stage's path: write the index files in here. */
const char *dix_stage_dir(const struct dix_stage *st);
/* fsyncs every file, writes MANIFEST, fsyncs the stage, renames it to the
 * final name (never over an existing one: DANN_EEXIST if the name was taken
 * since dix_stage_begin) and fsyncs the parent; frees st. On failure the
 * stage is removed and whatever was at final_dir is untouched. */
int dix_stage_commit(struct dix_stage *st);
/* Removes the stage and everything in it; frees st. NULL is a no-op. */
void dix_stage_abort(struct dix_stage *st);

/* Writes a whole file at dir/name from buf and fsyncs it (no rename: it is
 * meant for files inside a stage). */
int dix_write_small_file(const char *dir, const char *name, const void *buf, uint64_t len);

/* Reads the whole of dir/name into a new malloc'd buffer of exactly
 * `expect` bytes; DANN_ECORRUPT naming the file if its size differs. */
int dix_read_small_file(const char *dir, const char *name, uint64_t expect, void **out);

#endif
