/*
 * test_log.c — the log hook: messages reach the hook set by the program,
 * levels filter them, "once" warnings repeat only at debug level, and the
 * default writes warnings to stderr.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct seen {
	char text[2048];
	size_t len;
};

static void hook(void *arg, enum dann_log_level level, const char *module, const char *msg)
{
	struct seen *s = arg;
	int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%s/%s/%s;", dann_log_level_name(level), module,
			 msg);

	if (n > 0 && s->len + (size_t)n < sizeof s->text)
		s->len += (size_t)n;
}

Test(log, messages_reach_the_hook_filtered_by_level)
{
	struct seen s = { .len = 0 };

	dann_log_set(hook, &s, DANN_LOG_INFO);
	cr_assert_eq(dann_log_level(), DANN_LOG_INFO);
	dann_log(DANN_LOG_WARN, "io", "fell back to %s", "pread");
	dann_log(DANN_LOG_INFO, "io", "chose %d", 3);
	dann_log(DANN_LOG_DEBUG, "io", "dropped");
	cr_assert_str_eq(s.text, "warning/io/fell back to pread;info/io/chose 3;");
	dann_log_set(NULL, NULL, DANN_LOG_DEBUG);
	cr_assert_eq(dann_log_level(), DANN_LOG_WARN, "the default passes warnings and errors");
}

Test(log, a_once_warning_repeats_only_at_debug_level)
{
	static atomic_int flag;
	struct seen s = { .len = 0 };

	dann_log_set(hook, &s, DANN_LOG_DEBUG);
	dann_log_once(&flag, DANN_LOG_WARN, "io", "tmpfs %d", 1);
	dann_log_once(&flag, DANN_LOG_WARN, "io", "tmpfs %d", 2);
	cr_assert_str_eq(s.text, "warning/io/tmpfs 1;debug/io/tmpfs 2;");
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
}

Test(log, the_default_writes_warnings_to_stderr)
{
	char path[] = "/tmp/dann_log_XXXXXX";
	char got[256] = { 0 };
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	FILE *f;

	cr_assert(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
	dann_log(DANN_LOG_WARN, "pq", "codebook %s", "small");
	dann_log(DANN_LOG_INFO, "pq", "not shown");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	cr_assert_not_null(f = fdopen(fd, "r"));
	rewind(f);
	cr_assert_eq(fread(got, 1, sizeof got - 1, f) > 0, 1);
	fclose(f);
	unlink(path);
	cr_assert_str_eq(got, "dann: warning: pq: codebook small\n");
}
