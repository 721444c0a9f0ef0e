/*
 * coll_cli.h — what the collection commands of the `dann` CLI share
 * (collection, insert, upsert, delete, get, flush, compact, and search
 * with --data-dir): opening a data directory and a collection with errors
 * printed the CLI's way, and parsing keys.
 */
#ifndef DANN_COLL_CLI_H
#define DANN_COLL_CLI_H

#include <stdint.h>

#include "../engine/dann.h"
#include "datadir.h"

struct coll_cli {
	struct datadir dd;           /* the data dir with its catalog (datadir.h) */
	struct dann_db *db;          /* dd.db */
	struct dann_coll *c;
	struct dann_schema schema;
};

/* Opens the data directory with the catalog it uses (datadir.h; cc->c
 * stays NULL) (background builds only when background is 1: a command
 * that exits soon would abandon them). Only `collection create` makes a
 * new one (create 1): for any other command a missing directory is a
 * mistyped path, reported, not created. 0, or the exit status after
 * printing "dann <cmd>: <why>". coll_cli_close closes it. */
int coll_cli_open_db(const char *cmd, const char *data_dir, int create, int background, struct coll_cli *cc);
/* ... and the collection name in it, with its schema. */
int coll_cli_open(const char *cmd, const char *data_dir, const char *name, int background,
		  struct coll_cli *cc);
void coll_cli_close(struct coll_cli *cc);
/* On a tiered data dir (DANN_STORE), waits for a sync pass that uploads
 * what the command flushed and prints what the bucket got; 0 otherwise. */
int coll_cli_sync(const char *cmd, struct dann_db *db);

/* Parses a whole signed decimal int64 for option opt; prints a usage
 * error and returns -1 otherwise. */
int coll_cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t *out);

/* Keys from exactly one of --ids FILE (int32 .ibin), --ids-i64 FILE or a
 * single --id; NULL for those not given. 0, or the exit status after
 * printing why (1 for a bad file). */
int coll_cli_load_keys(const char *cmd, const char *ids, const char *ids_i64, const int64_t *one,
		       int64_t **keys, uint64_t *n);

/* "float32" / "uint8" / "int8" into *out; -1 after a usage error. */
int coll_cli_parse_dtype(const char *cmd, const char *s, enum dann_dtype *out);

#endif
