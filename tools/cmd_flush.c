/*
 * cmd_flush.c — `dann flush`: seal a collection's growing segment and wait
 * for its disk index (coll_op.c does the work).
 */
#include "cmd.h"
#include "coll_op.h"

static const char flush_help[] =
	"usage: dann flush --data-dir D --name C\n"
	"\n"
	"Seals collection C's growing segment and waits until every sealed segment\n"
	"is a disk index (built, fsynced, swapped in) and the write-ahead log is\n"
	"checkpointed past them; prints the time taken and the segments.\n";

static int run_flush(int argc, char **argv)
{
	return coll_op_main("flush", flush_help, dann_coll_flush, argc, argv);
}

DANN_COMMAND(flush, "seal a collection's growing segment and wait for its disk index", run_flush)
