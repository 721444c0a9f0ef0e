/*
 * coll_write.h — `dann insert` and `dann upsert`: rows from a vector file
 * (and keys from a key file) written to a collection in batches.
 */
#ifndef DANN_COLL_WRITE_H
#define DANN_COLL_WRITE_H

/* Runs the command (cmd "insert" or "upsert"); help is its --help text.
 * Returns the exit status. */
int coll_write_main(const char *cmd, int upsert, const char *help, int argc, char **argv);

#endif
