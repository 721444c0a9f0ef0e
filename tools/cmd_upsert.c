/*
 * cmd_upsert.c — `dann upsert`: rows from a vector file inserted or
 * replaced by key (coll_write.c does the work).
 */
#include "cmd.h"
#include "coll_write.h"

static const char upsert_help[] =
	"usage: dann upsert --data-dir D --name C --vectors FILE\n"
	"                   (--ids FILE.ibin | --ids-i64 FILE | --first-id N) [--batch 10000]\n"
	"                   [--fields FILE.jsonl]  (scalar fields, see dann insert --help)\n"
	"\n"
	"Writes every row of FILE into collection C under its key, replacing the\n"
	"row that has the key if there is one (a delete and an insert in one\n"
	"durable write per batch). Keys and files as for dann insert; a key given\n"
	"twice is an error and nothing is written.\n";

static int run_upsert(int argc, char **argv)
{
	return coll_write_main("upsert", 1, upsert_help, argc, argv);
}

DANN_COMMAND(upsert, "insert or replace rows by key from a vector file", run_upsert)
