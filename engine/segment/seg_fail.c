/*
 * seg_fail.c — named failpoints for the crash tests. A test sets
 * DANN_FAILPOINT=<name> in a child's environment before it opens the data
 * directory; when the child reaches that point it is killed on the spot
 * (SIGKILL: no cleanup runs, as in a power cut). The name is read once at
 * open into the db, so there is no global state. Points: "append" (after
 * a WAL append, before apply), "build" (segment files staged, not
 * committed), "swap" (new segment durable, catalog not yet changed),
 * "swapped" (catalog changed, old files not yet removed), "compact" (the
 * compacted segment staged, not committed).
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "seg_impl.h"

void seg_failpoint(const struct dann_db *db, const char *name)
{
	if (db->failpoint[0] && !strcmp(db->failpoint, name))
		kill(getpid(), SIGKILL);
}
