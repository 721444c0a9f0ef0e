/*
 * cmd_insert.c — `dann insert`: rows from a vector file into a collection
 * (coll_write.c does the work).
 */
#include "cmd.h"
#include "coll_write.h"

static const char insert_help[] =
	"usage: dann insert --data-dir D --name C --vectors FILE\n"
	"                   [--ids FILE.ibin | --ids-i64 FILE | --first-id N]\n"
	"                   [--batch 10000] [--keys-out FILE] [--fields FILE.jsonl]\n"
	"\n"
	"Inserts every row of FILE (.fbin/.u8bin/.i8bin/.fvecs/.bvecs; float32\n"
	"collections take any of them, uint8/int8 ones their own type) into\n"
	"collection C, --batch rows per write; each write is durable and searchable\n"
	"when it returns. Keys: one per row from --ids (an .ibin of count x 1 int32)\n"
	"or --ids-i64 (int64 count, then count int64 keys), or N, N+1, ... with\n"
	"--first-id; an auto-id collection assigns them (--keys-out FILE writes\n"
	"them as an int64 key file). Nothing is written if the input is bad: a\n"
	"wrong dimension or element type, NaN or Inf, a key count that differs from\n"
	"the row count, a key given twice or already in the collection (use\n"
	"dann upsert to replace rows). Rows past the seal threshold are built into\n"
	"disk segments in the background while the command runs; dann flush\n"
	"finishes that.\n"
	"\n"
	"--fields FILE.jsonl gives the scalar fields: line i is row i's fields as\n"
	"one JSON object, e.g. {\"cat\": 3, \"name\": \"red\", \"meta\": {\"a\": 1}}. A\n"
	"field missing or null is null (an error unless nullable); values must\n"
	"fit the field's type; other keys go to the dynamic field ($meta) when the\n"
	"collection has one (an error otherwise). dann query and dann search\n"
	"--filter read them.\n";

static int run_insert(int argc, char **argv)
{
	return coll_write_main("insert", 0, insert_help, argc, argv);
}

DANN_COMMAND(insert, "insert rows from a vector file into a collection (durable, searchable at once)", run_insert)
