/*
 * tmpdir.c — per-test temporary directories (see tmpdir.h).
 */
#include "tmpdir.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char dir[128];

void tmpdir_make(const char *tag)
{
	snprintf(dir, sizeof dir, "/tmp/dann_test_%s_XXXXXX", tag);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

void tmpdir_remove(void)
{
	if (dir[0])
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

const char *tmpdir_get(void)
{
	return dir;
}

char *tmpdir_path(const char *name)
{
	static char paths[8][256];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof paths[0], "%s/%s", dir, name);
	return p;
}
