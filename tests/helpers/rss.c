/*
 * rss.c — see rss.h.
 */
#include "rss.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double rss_status_mib(const char *key)
{
	char line[256];
	double kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			kb = atof(line + strlen(key) + 1);
	fclose(f);
	cr_assert_geq(kb, 0, "/proc/self/status has no %s", key);
	return kb / 1024.0;
}

void rss_reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	cr_assert_not_null(f, "cannot open /proc/self/clear_refs");
	cr_assert_eq(fputs("5", f) >= 0 && fclose(f) == 0, 1, "cannot reset the peak RSS");
}
