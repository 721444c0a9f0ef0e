/*
 * coll_op.h — the shared body of `dann flush` and `dann compact`.
 */
#ifndef DANN_COLL_OP_H
#define DANN_COLL_OP_H

#include "../engine/dann.h"

/* Parses --data-dir/--name, runs op on the collection and prints the time
 * and the segments. Returns the exit status. */
int coll_op_main(const char *cmd, const char *help, int (*op)(struct dann_coll *), int argc, char **argv);

#endif
