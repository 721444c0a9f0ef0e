/*
 * meta_cmd.h — the catalog's commands and their encoding in the Raft log.
 *
 * Every change to the catalog is one command: a Raft log entry that every
 * node applies in the same order (meta_fsm.h). A command carries a request
 * id (the issuing client's id and its sequence number) so that a command
 * retried after a lost reply or a leader change is applied once.
 *
 * Encoding (version 1), all integers little-endian:
 *   u32 magic "DMC1" | u16 version | u16 type | u64 client | u64 seq |
 *   u32 payload bytes | payload | u32 CRC32C of everything before it
 * Strings are a u16 length and bytes (no NUL). A decoder refuses a wrong
 * magic, a bad checksum, a field that runs past the end or out of its
 * range, and trailing bytes, naming what was wrong; a newer version or type
 * it tells apart as unsupported, not malformed (meta_fsm_apply halts).
 */
#ifndef META_CMD_H
#define META_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"

#define META_CMD_MAGIC 0x31434d44u  /* "DMC1" */
#define META_CMD_VERSION 1
#define META_SEG_APPLY_MAX 4096     /* segment records in one command */
#define META_USER_NAME_MAX 255
#define META_USER_HASH_MAX 511      /* a password hash string (argon2 encoded) */
#define META_USER_ROLES_MAX 1023    /* comma-separated role names */

enum meta_cmd_type {
	META_CMD_COLL_CREATE = 1,
	META_CMD_COLL_DROP = 2,
	META_CMD_COLL_UPDATE = 3,
	META_CMD_SEG_APPLY = 4,
	META_CMD_ALLOC = 5,
	META_CMD_USER_CREATE = 6,
	META_CMD_USER_DROP = 7,
	META_CMD_USER_PASSWORD = 8,
	META_CMD_USER_ROLES = 9,
	META_CMD_COLL_IMPORT = 10,
	META_CMD_COLL_CREATE_PROPS = 11,
};
#define META_CMD_TYPE_MAX 11

struct meta_reqid {
	uint64_t client;   /* random per client (a node, a process) */
	uint64_t seq;      /* increasing per client */
};

struct meta_user {
	char name[META_USER_NAME_MAX + 1];
	char hash[META_USER_HASH_MAX + 1];
	char roles[META_USER_ROLES_MAX + 1];
};

/* One command. Which members are used depends on type:
 *   COLL_CREATE  schema          COLL_DROP     id
 *   COLL_CREATE_PROPS coll (schema and properties; its id is ignored):
 *                a collection and its first properties (dannd's owner
 *                line) in one entry: no crash can leave one without the other
 *   COLL_UPDATE  coll            SEG_APPLY     segs, nsegs
 *   ALLOC        counter, count
 *   USER_CREATE  user (name, hash, roles)   USER_DROP user.name
 *   USER_PASSWORD user.name, user.hash      USER_ROLES user.name, user.roles
 *   COLL_IMPORT  coll (or NULL), its segs and nsegs (0..META_SEG_APPLY_MAX),
 *                counters: a collection of another catalog with its own id
 *                (meta_import.c), and counters to raise to at least these
 * A decoded command owns schema, coll and segs (meta_cmd_free). */
struct meta_cmd {
	enum meta_cmd_type type;
	struct meta_reqid req;
	uint64_t id;
	struct dann_schema *schema;
	struct dann_cat_coll *coll;
	struct dann_cat_segment *segs;
	uint32_t nsegs;
	enum dann_cat_counter counter;
	uint64_t count;
	struct meta_user user;
	uint64_t counters[4];
};

/* Encodes c into a malloc'd buffer (*buf, *len). DANN_EINVAL naming a
 * member the command needs but lacks (or too many segments). */
int meta_cmd_encode(const struct meta_cmd *c, void **buf, size_t *len);
/* Decodes len bytes into c (zeroed first). DANN_ECORRUPT naming the field or
 * check that failed; DANN_EUNSUPPORTED for a command this build does not
 * know but a newer one may (magic right, and a version above
 * META_CMD_VERSION, or an intact frame of a type above META_CMD_TYPE_MAX);
 * c holds nothing to free then. */
int meta_cmd_decode(const void *buf, size_t len, struct meta_cmd *c);
/* Frees what a decode allocated; c may be partly filled or zeroed. */
void meta_cmd_free(struct meta_cmd *c);
/* "coll_create", ... ; "unknown" for a bad type. */
const char *meta_cmd_name(enum meta_cmd_type t);

/* The schema, collection and segment encodings, shared with snapshots. */
struct meta_wbuf;
struct meta_rbuf;
void meta_put_schema(struct meta_wbuf *w, const struct dann_schema *s);
void meta_get_schema(struct meta_rbuf *r, struct dann_schema *s);
void meta_put_coll(struct meta_wbuf *w, const struct dann_cat_coll *c);
void meta_get_coll(struct meta_rbuf *r, struct dann_cat_coll *c);
void meta_put_segment(struct meta_wbuf *w, const struct dann_cat_segment *s);
void meta_get_segment(struct meta_rbuf *r, struct dann_cat_segment *s);
void meta_put_user(struct meta_wbuf *w, const struct meta_user *u);
void meta_get_user(struct meta_rbuf *r, struct meta_user *u);

#endif
