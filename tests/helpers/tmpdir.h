/*
 * tmpdir.h — one temporary directory per test, made in the suite's .init
 * and removed with everything in it in .fini (STYLE.md: each test makes its
 * own temporary directory and removes it).
 */
#ifndef DANN_TEST_TMPDIR_H
#define DANN_TEST_TMPDIR_H

/* Makes /tmp/dann_test_<tag>_XXXXXX; the test fails if it cannot. */
void tmpdir_make(const char *tag);
/* Removes the directory and everything below it. */
void tmpdir_remove(void);
/* The directory's path. */
const char *tmpdir_get(void);
/* "<dir>/<name>" in one of 8 rotating buffers, so a few can be live at once. */
char *tmpdir_path(const char *name);

#endif
