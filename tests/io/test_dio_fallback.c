/*
 * test_dio_fallback.c — when a backend cannot start, the log says which and
 * why and the next one is used; $DANN_IO picks the first one to try.
 *
 * Unavailability is produced for real, in a forked child: a seccomp filter
 * makes io_uring_setup / io_setup fail with EPERM or ENOSYS exactly as a
 * container runtime or an old kernel would, and the memlock case drops
 * CAP_IPC_LOCK (root ignores RLIMIT_MEMLOCK otherwise) and lowers the limit
 * below the buffer region to register.
 */
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "dio_test.h"

struct outcome {
	int rc;
	int backend;
	int probe_chosen;
	char log[4096];
	char probe_why[DIO_REASON_BYTES];
	char probe_reason[DIO_NBACKENDS][DIO_REASON_BYTES];
};

/* Denies io_uring_setup with uring_errno and io_setup with aio_errno (0:
 * allowed). */
static void deny(int uring_errno, int aio_errno)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, uring_errno ? SECCOMP_RET_ERRNO | (unsigned)uring_errno : SECCOMP_RET_ALLOW),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, aio_errno ? SECCOMP_RET_ERRNO | (unsigned)aio_errno : SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		_exit(90);
}

/* The current hard limit (raising it needs a capability the sandbox may
 * lack), at most 64 MiB. */
static rlim_t roomy_memlock(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		_exit(93);
	return rl.rlim_max < (64u << 20) ? rl.rlim_max : (64u << 20);
}

static void limit_memlock(rlim_t bytes)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2];
	struct rlimit rl = { bytes, bytes };

	if (syscall(SYS_capget, &h, c))
		_exit(91);
	c[0].effective &= ~(1u << CAP_IPC_LOCK);
	c[0].permitted &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, c) || setrlimit(RLIMIT_MEMLOCK, &rl))
		_exit(92);
}

/* LOW_MEMLOCK is below any fixed-buffer region the tests ask for;
 * ROOMY_MEMLOCK leaves headroom because the kernel charges io_uring's locked
 * memory to the user, not the process, so rings that other tests (run in
 * parallel by ctest, as the same user) hold count against this child too. */
enum setup { NONE, DENY_URING_EPERM, DENY_URING_ENOSYS, DENY_BOTH, LOW_MEMLOCK, ROOMY_MEMLOCK };

/* In a child: applies setup, probes, opens a context with opts, reports. */
static void in_child(enum setup s, const char *env, enum dio_backend first, size_t buf_bytes, struct outcome *out)
{
	int p[2];
	pid_t pid;
	int status;

	cr_assert_eq(pipe(p), 0);
	cr_assert((pid = fork()) >= 0);
	if (pid == 0) {
		struct outcome o;
		struct t_log log = { .len = 0 };
		void *buf = buf_bytes ? dann_aligned_alloc(buf_bytes) : NULL;
		struct dio_buf_region region = { buf, buf_bytes };
		struct dio_opts opts = { .backend = first, .bufs = &region, .nbufs = buf_bytes ? 1 : 0 };
		struct dio_probe pr;
		struct dio *d = NULL;

		memset(&o, 0, sizeof o);
		close(p[0]);
		if (env)
			setenv(DIO_ENV, env, 1);
		else
			unsetenv(DIO_ENV);
		if (s == DENY_URING_EPERM)
			deny(EPERM, 0);
		else if (s == DENY_URING_ENOSYS)
			deny(ENOSYS, 0);
		else if (s == DENY_BOTH)
			deny(EPERM, ENOSYS);
		else if (s == LOW_MEMLOCK)
			limit_memlock(512 * 1024);
		else if (s == ROOMY_MEMLOCK)
			limit_memlock(roomy_memlock());
		dann_log_set(t_log_hook, &log, DANN_LOG_INFO);
		if (dio_probe(&opts, &pr) == 0) {
			o.probe_chosen = pr.chosen;
			memcpy(o.probe_why, pr.why, sizeof o.probe_why);
			memcpy(o.probe_reason, pr.reason, sizeof o.probe_reason);
		}
		o.rc = dio_open(&opts, &d);
		o.backend = d ? (int)dio_backend_of(d) : -1;
		if (o.rc < 0)
			snprintf(log.text + log.len, sizeof log.text - log.len, "rc:%s", dann_errmsg());
		memcpy(o.log, log.text, sizeof o.log - 1);
		dio_close(d);
		if (write(p[1], &o, sizeof o) != (ssize_t)sizeof o)
			_exit(93);
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], out, sizeof *out), (ssize_t)sizeof *out, "child reported nothing");
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

#define HAS(hay, needle) cr_assert(strstr((hay), (needle)), "'%s' not in:\n%s", (needle), (hay))

Test(dio_fallback, io_uring_blocked_by_seccomp_falls_back_to_libaio_and_says_why)
{
	struct outcome o;

	in_child(DENY_URING_EPERM, NULL, DIO_BACKEND_AUTO, 0, &o);
	cr_assert_eq(o.rc, 0);
	cr_assert_eq(o.backend, DIO_BACKEND_AIO, "%s", o.log);
	HAS(o.log, "warning:io:io_uring unavailable");
	HAS(o.log, "Operation not permitted");
	HAS(o.log, "seccomp");
	HAS(o.log, "trying libaio");
	cr_assert_eq(o.probe_chosen, DIO_BACKEND_AIO);
	HAS(o.probe_reason[DIO_BACKEND_URING], "Operation not permitted");
	HAS(o.probe_why, "libaio");
}

Test(dio_fallback, kernel_without_io_uring_falls_back_to_libaio)
{
	struct outcome o;

	in_child(DENY_URING_ENOSYS, NULL, DIO_BACKEND_AUTO, 0, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_AIO, "%s", o.log);
	HAS(o.log, "this kernel has no io_uring");
}

Test(dio_fallback, neither_async_api_falls_back_to_pread)
{
	struct outcome o;

	in_child(DENY_BOTH, NULL, DIO_BACKEND_AUTO, 0, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_PREAD, "%s", o.log);
	HAS(o.log, "io_uring unavailable");
	HAS(o.log, "libaio unavailable: io_setup");
	HAS(o.log, "trying pread");
	cr_assert_eq(o.probe_chosen, DIO_BACKEND_PREAD);
	/* forcing libaio first when it is blocked also lands on pread */
	in_child(DENY_BOTH, "aio", DIO_BACKEND_AUTO, 0, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_PREAD, "%s", o.log);
	cr_assert_null(strstr(o.log, "io_uring"), "io_uring tried though libaio was forced:\n%s", o.log);
}

Test(dio_fallback, memlock_too_low_for_fixed_buffers_falls_back_to_libaio)
{
	struct outcome o;

	in_child(LOW_MEMLOCK, NULL, DIO_BACKEND_AUTO, 1 << 20, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_AIO, "%s", o.log);
	HAS(o.log, "registering 1024 KiB of fixed buffers failed");
	HAS(o.log, "RLIMIT_MEMLOCK is 512 KiB");
	cr_assert_eq(o.probe_chosen, DIO_BACKEND_AIO);
	HAS(o.probe_reason[DIO_BACKEND_URING], "RLIMIT_MEMLOCK");
	/* a limit the region fits in keeps io_uring */
	in_child(ROOMY_MEMLOCK, NULL, DIO_BACKEND_AUTO, 16 << 10, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_URING, "%s", o.log);
}

Test(dio_fallback, dann_io_environment_variable_picks_the_backend)
{
	struct outcome o;

	in_child(NONE, "pread", DIO_BACKEND_AUTO, 0, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_PREAD);
	HAS(o.log, "forced by DANN_IO");
	in_child(NONE, "aio", DIO_BACKEND_AUTO, 0, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_AIO);
	cr_assert_eq(o.probe_chosen, DIO_BACKEND_AIO);
	in_child(NONE, "uring", DIO_BACKEND_AUTO, 0, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_URING);
	/* an explicit choice in the options wins over the environment */
	in_child(NONE, "pread", DIO_BACKEND_AIO, 0, &o);
	cr_assert_eq(o.backend, DIO_BACKEND_AIO);
	in_child(NONE, "fast", DIO_BACKEND_AUTO, 0, &o);
	cr_assert_eq(o.rc, DANN_EINVAL);
	HAS(o.log, "unknown I/O backend 'fast'");
	HAS(o.log, "DANN_IO");
}
