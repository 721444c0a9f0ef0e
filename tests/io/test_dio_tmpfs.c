/*
 * test_dio_tmpfs.c — files where O_DIRECT is refused are read through the
 * page cache, with one warning naming the file; files on tmpfs (/dev/shm)
 * read right whichever way their kernel treats O_DIRECT there (refused
 * before Linux 6.6, accepted since).
 *
 * A filesystem that refuses O_DIRECT for sure is ramfs: the test mounts one
 * in a private mount namespace of a forked child, so nothing outside sees it.
 */
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "dio_test.h"

/* Reads every sector of path with each backend and checks the bytes. */
static int read_all_backends(const char *path, uint64_t sectors)
{
	uint8_t *buf = dann_aligned_alloc(sectors * T_SECTOR);
	struct dio_file f;

	if (dio_file_open(path, &f) < 0)
		return 0;
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio_opts o = { .backend = t_backend(b), .depth = 64 };
		struct dio_req r[64];
		struct dio_cqe c[64];
		struct dio *d;
		uint32_t slot;
		unsigned got = 0;

		memset(buf, 0, sectors * T_SECTOR);
		if (dio_open(&o, &d) < 0 || dio_backend_of(d) != t_backend(b) || dio_file_add(d, f.fd, &slot) < 0)
			return 0;
		for (unsigned i = 0; i < sectors; i++)
			r[i] = (struct dio_req){ .tag = i, .off = (uint64_t)i * T_SECTOR, .buf = buf + i * T_SECTOR,
						 .len = T_SECTOR, .file = slot };
		if (dio_submit(d, r, (unsigned)sectors) != (int)sectors)
			return 0;
		while (got < sectors) {
			int k = dio_reap(d, c, 64, 1, 10000);

			if (k <= 0)
				return 0;
			for (int j = 0; j < k; j++)
				if (c[j].res != T_SECTOR)
					return 0;
			got += (unsigned)k;
		}
		dio_close(d);
		if (!t_matches(buf, 0, sectors * T_SECTOR))
			return 0;
	}
	dio_file_close(&f);
	dann_aligned_free(buf);
	return 1;
}

Test(dio_tmpfs, a_file_on_dev_shm_reads_right)
{
	char dir[256], path[300];
	struct t_log log = { .len = 0 };
	struct dio_file f;

	dann_log_set(t_log_hook, &log, DANN_LOG_DEBUG);
	t_mkdtemp(dir, sizeof dir, "/dev/shm");
	snprintf(path, sizeof path, "%s/shm.bin", dir);
	t_write_pattern(path, 32 * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0, "%s", dann_errmsg());
	/* whichever way this kernel went, the log says so iff it fell back */
	cr_assert_eq(!f.direct, strstr(log.text, "refuses O_DIRECT") != NULL, "direct=%d log:\n%s", f.direct,
		     log.text);
	dio_file_close(&f);
	cr_assert(read_all_backends(path, 32));
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
	t_rmdir(dir);
}

Test(dio_tmpfs, a_filesystem_refusing_o_direct_is_read_buffered_with_one_warning)
{
	char dir[256];
	pid_t pid;
	int status;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	cr_assert((pid = fork()) >= 0);
	if (pid == 0) {
		char a[300], b[300];
		struct t_log log = { .len = 0 };
		struct dio_file fa, fb;

		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("none", dir, "ramfs", 0, NULL) < 0)
			_exit(77); /* no privilege to mount: reported as skipped */
		snprintf(a, sizeof a, "%s/a.bin", dir);
		snprintf(b, sizeof b, "%s/b.bin", dir);
		t_write_pattern(a, 16 * T_SECTOR);
		t_write_pattern(b, 16 * T_SECTOR);
		dann_log_set(t_log_hook, &log, DANN_LOG_DEBUG);
		if (dio_file_open(a, &fa) < 0 || fa.direct || dio_file_open(b, &fb) < 0 || fb.direct)
			_exit(1);
		/* one warning, naming the first file; the second only at debug */
		if (log.warnings != 1 || !strstr(log.text, "warning:io:") || !strstr(log.text, a) ||
		    !strstr(log.text, "refuses O_DIRECT") || !strstr(log.text, "debug:io:"))
			_exit(2);
		if (!read_all_backends(a, 16))
			_exit(3);
		dio_file_close(&fa);
		dio_file_close(&fb);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	t_rmdir(dir);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("cannot mount ramfs in a private namespace here");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed at step %d", WEXITSTATUS(status));
}
