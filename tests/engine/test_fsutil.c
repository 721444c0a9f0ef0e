/*
 * test_fsutil.c — the durable file helpers: transfers that continue after
 * short reads, short writes and EINTR; a rename that never replaces an
 * existing name (where a plain rename() would); an atomic write that leaves
 * the old content or the new one, even when the writer dies midway; rmtree,
 * mkdirs, read_file; every error names its path.
 *
 * Faults are injected by interposing pread, pwrite, write and renameat2:
 * the test executable's definitions take precedence over libc's for the
 * statically linked library, and they pass through to the real calls
 * (dlsym RTLD_NEXT) except on the one descriptor a test arms.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "helpers/tmpdir.h"

/* ---- fault injection -------------------------------------------------- */

enum fault {
	FAULT_NONE,
	FAULT_SHORT_EINTR, /* every other call EINTR, the rest move at most 3 bytes */
	FAULT_EIO,         /* every call fails with EIO */
	FAULT_ZERO,        /* writes return 0 (no progress, no errno) */
	FAULT_DIE_HALFWAY, /* the process exits after half the bytes are written */
};

static enum fault fault;
static int fault_fd = -1;
static unsigned fault_calls;
static size_t fault_moved, fault_die_after;
static int renameat2_einval; /* renameat2 acts as on a filesystem without NOREPLACE */

/* Decides what an armed call does: returns 1 with *ret set if the call is
 * faked, 0 with *len possibly clipped if it goes to the real call. */
static int inject(int fd, size_t *len, ssize_t *ret)
{
	if (fault == FAULT_NONE || fd != fault_fd)
		return 0;
	fault_calls++;
	switch (fault) {
	case FAULT_SHORT_EINTR:
		if (fault_calls % 2) {
			errno = EINTR;
			*ret = -1;
			return 1;
		}
		if (*len > 3)
			*len = 3;
		return 0;
	case FAULT_EIO:
		errno = EIO;
		*ret = -1;
		return 1;
	case FAULT_ZERO:
		*ret = 0;
		return 1;
	case FAULT_DIE_HALFWAY:
		if (fault_moved >= fault_die_after)
			_exit(0);
		if (*len > fault_die_after - fault_moved)
			*len = fault_die_after - fault_moved;
		return 0;
	default:
		return 0;
	}
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);
	ssize_t ret;

	if (!real)
		real = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
	if (inject(fd, &len, &ret))
		return ret;
	return real(fd, buf, len, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	ssize_t ret;

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	if (inject(fd, &len, &ret))
		return ret;
	ret = real(fd, buf, len, off);
	if (ret > 0 && fd == fault_fd)
		fault_moved += (size_t)ret;
	return ret;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	static ssize_t (*real)(int, const void *, size_t);
	ssize_t ret;

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (inject(fd, &len, &ret))
		return ret;
	ret = real(fd, buf, len);
	if (ret > 0 && fd == fault_fd)
		fault_moved += (size_t)ret;
	return ret;
}

int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);

	if (!real)
		real = (int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT,
										       "renameat2");
	if (renameat2_einval) {
		errno = EINVAL;
		return -1;
	}
	return real(ofd, from, nfd, to, flags);
}

static void arm(int fd, enum fault f)
{
	fault = f;
	fault_fd = fd;
	fault_calls = 0;
	fault_moved = 0;
}

static void disarm(void)
{
	fault = FAULT_NONE;
	fault_fd = -1;
}

/* The descriptor open() will hand out next (the lowest free one), so a
 * fault can be armed for a file the library opens itself. */
static int next_fd(void)
{
	int fd = dup(0);
	cr_assert(fd >= 0);
	close(fd);
	return fd;
}

/* ---- helpers ---------------------------------------------------------- */

static void setup(void)
{
	tmpdir_make("fsutil");
}

static void teardown(void)
{
	disarm();
	renameat2_einval = 0;
	tmpdir_remove();
}

TestSuite(fsutil, .init = setup, .fini = teardown);

static void put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");
	cr_assert_not_null(fp, "%s", path);
	cr_assert_eq(fwrite(text, 1, strlen(text), fp), strlen(text));
	cr_assert_eq(fclose(fp), 0);
}

static char *get(const char *path)
{
	void *buf;
	size_t len;
	cr_assert_eq(fsu_read_file(path, &buf, &len), 0, "%s", dann_errmsg());
	return buf;
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void assert_names(const char *path)
{
	cr_assert_not_null(strstr(dann_errmsg(), path), "message does not name %s: %s", path,
			   dann_errmsg());
}

/* ---- transfers -------------------------------------------------------- */

#define PATTERN_BYTES 1000

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + seed);
}

Test(fsutil, pread_all_continues_after_short_reads_and_eintr)
{
	unsigned char want[PATTERN_BYTES], got[PATTERN_BYTES];
	char *path = tmpdir_path("p.bin");
	int fd;

	fill(want, sizeof want, 7);
	cr_assert((fd = open(path, O_RDWR | O_CREAT, 0644)) >= 0);
	cr_assert_eq(fsu_pwrite_all(fd, path, want, sizeof want, 0), 0);
	arm(fd, FAULT_SHORT_EINTR);
	cr_assert_eq(fsu_pread_all(fd, path, got, sizeof got - 100, 100), 0, "%s", dann_errmsg());
	disarm();
	cr_assert_arr_eq(got, want + 100, sizeof got - 100);
	cr_assert_gt(fault_calls, 400, "the faults were not exercised (%u calls)", fault_calls);
	close(fd);
}

Test(fsutil, pwrite_and_write_all_continue_after_short_writes_and_eintr)
{
	unsigned char want[PATTERN_BYTES], got[2 * PATTERN_BYTES];
	char *path = tmpdir_path("w.bin");
	int fd;

	fill(want, sizeof want, 3);
	cr_assert((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) >= 0);
	arm(fd, FAULT_SHORT_EINTR);
	cr_assert_eq(fsu_write_all(fd, path, want, sizeof want), 0, "%s", dann_errmsg());
	cr_assert_eq(fsu_pwrite_all(fd, path, want, sizeof want, PATTERN_BYTES), 0, "%s",
		     dann_errmsg());
	disarm();
	cr_assert_eq(fsu_pread_all(fd, path, got, sizeof got, 0), 0, "%s", dann_errmsg());
	cr_assert_arr_eq(got, want, PATTERN_BYTES);
	cr_assert_arr_eq(got + PATTERN_BYTES, want, PATTERN_BYTES);
	close(fd);
}

Test(fsutil, pread_past_the_end_is_corrupt_naming_the_file)
{
	char buf[64], *path = tmpdir_path("short.bin");
	int fd;

	put(path, "0123456789");
	cr_assert((fd = open(path, O_RDONLY)) >= 0);
	cr_assert_eq(fsu_pread_all(fd, path, buf, 20, 0), DANN_ECORRUPT);
	assert_names(path);
	cr_assert_eq(fsu_pread_all(fd, path, buf, 10, 0), 0);
	cr_assert_eq(fsu_pread_all(fd, path, buf, 1, 10), DANN_ECORRUPT);
	close(fd);
}

Test(fsutil, device_errors_are_eio_naming_the_file)
{
	char buf[16], *path = tmpdir_path("eio.bin");
	int fd;

	put(path, "0123456789abcdef");
	cr_assert((fd = open(path, O_RDWR)) >= 0);
	arm(fd, FAULT_EIO);
	cr_assert_eq(fsu_pread_all(fd, path, buf, sizeof buf, 0), DANN_EIO);
	assert_names(path);
	cr_assert_eq(fsu_pwrite_all(fd, path, buf, sizeof buf, 0), DANN_EIO);
	assert_names(path);
	cr_assert_eq(fsu_write_all(fd, path, buf, sizeof buf), DANN_EIO);
	assert_names(path);
	disarm();
	close(fd);
	/* A descriptor the kernel refuses (write-only for a read) is EIO too. */
	cr_assert((fd = open(path, O_WRONLY)) >= 0);
	cr_assert_eq(fsu_pread_all(fd, path, buf, sizeof buf, 0), DANN_EIO);
	assert_names(path);
	close(fd);
}

Test(fsutil, a_write_that_makes_no_progress_is_an_error_not_a_spin)
{
	char *path = tmpdir_path("zero.bin");
	int fd;

	cr_assert((fd = open(path, O_RDWR | O_CREAT, 0644)) >= 0);
	arm(fd, FAULT_ZERO);
	cr_assert_eq(fsu_write_all(fd, path, "abc", 3), DANN_EIO);
	assert_names(path);
	cr_assert_eq(fsu_pwrite_all(fd, path, "abc", 3, 0), DANN_EIO);
	cr_assert_eq(fault_calls, 2);
	disarm();
	close(fd);
}

/* ---- syncs ------------------------------------------------------------ */

Test(fsutil, fsync_of_a_missing_directory_names_it)
{
	char *missing = tmpdir_path("nope/deeper");
	char *file = tmpdir_path("nope/deeper/f");
	int fd;

	cr_assert_eq(fsu_fsync_dir(missing), DANN_EIO);
	assert_names(missing);
	cr_assert_eq(fsu_fsync_parent(file), DANN_EIO);
	assert_names(missing);
	cr_assert_eq(fsu_fsync_dir(tmpdir_get()), 0, "%s", dann_errmsg());
	cr_assert_eq(fsu_fsync_parent("relative-name"), 0, "%s", dann_errmsg()); /* "." */
	cr_assert((fd = open(tmpdir_path("s"), O_RDWR | O_CREAT, 0644)) >= 0);
	cr_assert_eq(fsu_fsync(fd, "s"), 0);
	cr_assert_eq(fsu_fdatasync(fd, "s"), 0);
	close(fd);
	cr_assert_eq(fsu_fsync(fd, "closed-file"), DANN_EIO);
	assert_names("closed-file");
}

/* ---- renames ---------------------------------------------------------- */

/* Both cases would be replaced by a plain rename(): a file over a file, a
 * directory over an empty directory. */
static void check_noreplace_refuses(void)
{
	char *from = tmpdir_path("new.txt"), *to = tmpdir_path("old.txt");
	char *dfrom = tmpdir_path("stage"), *dto = tmpdir_path("index");
	char *dfile = tmpdir_path("stage/data");
	char *s;

	put(from, "new");
	put(to, "old");
	cr_assert_eq(fsu_rename_noreplace(from, to), DANN_EEXIST);
	assert_names(to);
	cr_assert_str_eq((s = get(to)), "old");
	free(s);
	cr_assert(exists(from), "the source went away on a refused rename");

	cr_assert_eq(mkdir(dfrom, 0755), 0);
	put(dfile, "x");
	cr_assert_eq(mkdir(dto, 0755), 0);
	cr_assert_eq(fsu_rename_noreplace(dfrom, dto), DANN_EEXIST);
	assert_names(dto);
	cr_assert(exists(dfile), "the staged directory was moved");
	cr_assert_eq(rmdir(dto), 0);
	cr_assert_eq(fsu_rename_noreplace(dfrom, dto), 0, "%s", dann_errmsg());
	cr_assert(exists(tmpdir_path("index/data")));
	cr_assert(!exists(dfrom));

	cr_assert_eq(unlink(to), 0);
	cr_assert_eq(fsu_rename_noreplace(from, to), 0, "%s", dann_errmsg());
	cr_assert_str_eq((s = get(to)), "new");
	free(s);
	cr_assert(!exists(from));
	cr_assert_eq(fsu_rename_noreplace(from, to), DANN_ENOTFOUND);
	assert_names(from);
}

Test(fsutil, rename_noreplace_refuses_an_existing_file_or_directory)
{
	check_noreplace_refuses();
}

Test(fsutil, rename_noreplace_refuses_on_a_filesystem_without_renameat2_flags)
{
	renameat2_einval = 1;
	check_noreplace_refuses();
}

Test(fsutil, rename_replace_replaces_and_names_a_missing_source)
{
	char *from = tmpdir_path("a"), *to = tmpdir_path("b"), *s;

	put(from, "new");
	put(to, "old");
	cr_assert_eq(fsu_rename_replace(from, to), 0, "%s", dann_errmsg());
	cr_assert_str_eq((s = get(to)), "new");
	free(s);
	cr_assert_eq(fsu_rename_replace(from, to), DANN_ENOTFOUND);
	assert_names(from);
}

/* ---- atomic writes ---------------------------------------------------- */

Test(fsutil, write_file_atomic_replaces_the_content_and_leaves_no_temporary)
{
	char *path = tmpdir_path("conf"), *s;

	cr_assert_eq(fsu_write_file_atomic(path, "first", 5), 0, "%s", dann_errmsg());
	cr_assert_str_eq((s = get(path)), "first");
	free(s);
	cr_assert_eq(fsu_write_file_atomic(path, "second!", 7), 0, "%s", dann_errmsg());
	cr_assert_str_eq((s = get(path)), "second!");
	free(s);
	cr_assert(!exists(tmpdir_path("conf.tmp")));
}

Test(fsutil, a_failed_atomic_write_leaves_the_old_content)
{
	char *path = tmpdir_path("conf"), *s;

	put(path, "old content");
	arm(next_fd(), FAULT_EIO);
	cr_assert_eq(fsu_write_file_atomic(path, "new content", 11), DANN_EIO);
	disarm();
	assert_names("conf.tmp");
	cr_assert_str_eq((s = get(path)), "old content");
	free(s);
	cr_assert(!exists(tmpdir_path("conf.tmp")), "the temporary was left behind");
	cr_assert_eq(fsu_write_file_atomic(tmpdir_path("no/such/dir/f"), "x", 1), DANN_ENOTFOUND);
	assert_names("no/such/dir/f.tmp");
}

Test(fsutil, a_writer_killed_midway_leaves_the_old_content)
{
	static char big[1 << 16];
	char *path = tmpdir_path("conf"), *s;
	int status;
	pid_t pid;

	memset(big, 'n', sizeof big);
	put(path, "old content");
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		fault_die_after = sizeof big / 2;
		arm(next_fd(), FAULT_DIE_HALFWAY);
		fsu_write_file_atomic(path, big, sizeof big);
		_exit(3); /* the write was meant to die before finishing */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	cr_assert_str_eq((s = get(path)), "old content");
	free(s);
	/* The next writer starts over the leftover temporary. */
	cr_assert_eq(fsu_write_file_atomic(path, big, sizeof big), 0, "%s", dann_errmsg());
	s = get(path);
	cr_assert_arr_eq(s, big, sizeof big);
	free(s);
}

/* ---- read_file -------------------------------------------------------- */

Test(fsutil, read_file_returns_the_bytes_with_a_nul_after_them)
{
	char *path = tmpdir_path("r.txt");
	void *buf;
	size_t len;

	put(path, "hello");
	cr_assert_eq(fsu_read_file(path, &buf, &len), 0);
	cr_assert_eq(len, 5);
	cr_assert_str_eq(buf, "hello");
	free(buf);
	put(path, "");
	cr_assert_eq(fsu_read_file(path, &buf, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(buf, "");
	free(buf);
	/* A file whose size stat cannot tell (procfs says 0) is read whole. */
	cr_assert_eq(fsu_read_file("/proc/self/status", &buf, &len), 0, "%s", dann_errmsg());
	cr_assert_gt(len, 100);
	cr_assert_eq(strlen(buf), len);
	cr_assert_not_null(strstr(buf, "VmRSS"));
	free(buf);
}

Test(fsutil, read_file_names_a_missing_file_or_a_directory)
{
	char *missing = tmpdir_path("missing");
	void *buf = (void *)1;
	size_t len = 1;

	cr_assert_eq(fsu_read_file(missing, &buf, &len), DANN_ENOTFOUND);
	assert_names(missing);
	cr_assert_null(buf);
	cr_assert_eq(len, 0);
	cr_assert_eq(fsu_read_file(tmpdir_get(), &buf, &len), DANN_EINVAL);
	assert_names(tmpdir_get());
}

/* ---- directories ------------------------------------------------------ */

Test(fsutil, mkdirs_makes_every_level_and_accepts_existing_ones)
{
	char *deep = tmpdir_path("a/b//c/"), *file = tmpdir_path("a/f");
	struct stat st;

	cr_assert_eq(fsu_mkdirs(deep), 0, "%s", dann_errmsg());
	cr_assert_eq(stat(tmpdir_path("a/b/c"), &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(fsu_mkdirs(deep), 0, "%s", dann_errmsg());
	put(file, "x");
	cr_assert_eq(fsu_mkdirs(tmpdir_path("a/f/g")), DANN_EEXIST);
	assert_names(file);
	cr_assert_eq(fsu_mkdirs(""), DANN_EINVAL);
}

Test(fsutil, rmtree_removes_everything_below_and_does_not_follow_links)
{
	char *outside = tmpdir_path("keep"), *kept = tmpdir_path("keep/precious");
	char *tree = tmpdir_path("tree");

	cr_assert_eq(fsu_mkdirs(tmpdir_path("tree/x/y")), 0);
	cr_assert_eq(fsu_mkdirs(outside), 0);
	put(kept, "do not delete");
	put(tmpdir_path("tree/x/y/f1"), "1");
	put(tmpdir_path("tree/x/f2"), "2");
	put(tmpdir_path("tree/f3"), "3");
	cr_assert_eq(symlink(outside, tmpdir_path("tree/x/link")), 0);
	cr_assert_eq(fsu_rmtree(tree), 0, "%s", dann_errmsg());
	cr_assert(!exists(tree));
	cr_assert(exists(kept), "rmtree followed a symbolic link out of the tree");
	cr_assert_eq(fsu_rmtree(tree), 0, "a missing tree is not an error");
}

Test(fsutil, rmtree_names_what_it_cannot_remove)
{
	char *locked = tmpdir_path("locked"), *inner = tmpdir_path("locked/inner");

	if (geteuid() == 0)
		cr_skip_test("running as root: directory permissions do not stop removal");
	cr_assert_eq(fsu_mkdirs(inner), 0);
	put(tmpdir_path("locked/inner/f"), "x");
	cr_assert_eq(chmod(inner, 0500), 0);
	cr_assert_lt(fsu_rmtree(locked), 0);
	cr_assert_not_null(strstr(dann_errmsg(), "locked/inner"), "%s", dann_errmsg());
	cr_assert_eq(chmod(inner, 0755), 0);
	cr_assert_eq(fsu_rmtree(locked), 0, "%s", dann_errmsg());
}
