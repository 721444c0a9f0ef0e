/*
 * cmd_compact.c — `dann compact`: rewrite a collection's segments without
 * their deleted rows, now (coll_op.c does the work).
 */
#include "cmd.h"
#include "coll_op.h"

static const char compact_help[] =
	"usage: dann compact --data-dir D --name C\n"
	"\n"
	"Rewrites collection C's segments that have many deleted rows, and runs of\n"
	"small segments, into new ones without the deleted rows, and waits until\n"
	"they are swapped in and the old files are gone; prints the time taken and\n"
	"the segments.\n";

static int run_compact(int argc, char **argv)
{
	return coll_op_main("compact", compact_help, dann_coll_compact, argc, argv);
}

DANN_COMMAND(compact, "rewrite a collection's segments without their deleted rows, now", run_compact)
