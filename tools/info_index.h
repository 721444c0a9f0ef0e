/*
 * info_index.h — the disk index branch of `dann info` (cmd_info.c).
 */
#ifndef DANN_INFO_INDEX_H
#define DANN_INFO_INDEX_H

/* Prints a description of the index in dir and checks every file in full;
 * returns 0 if it is well formed, 1 otherwise (the reason printed). */
int info_index_dir(const char *dir);

#endif
