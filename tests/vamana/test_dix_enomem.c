/*
 * test_dix_enomem.c — running out of memory is an error, not a crash: in
 * a forked child whose address space is capped (RLIMIT_AS) just above what
 * it already uses, a search that needs a large visited set and in-memory
 * builds that need large arrays return DANN_ENOMEM with a message, and the
 * child exits normally. The sanitizer builds reserve terabytes of address
 * space for their shadow memory, so a cap cannot work there: skipped.
 */
#include <criterion/criterion.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "dix_fx.h"
#include "vamana/vamana.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#define HEADROOM_BYTES (4ull << 20)

struct outcome {
	int rc;
	char msg[512];
};

__attribute__((unused)) static uint64_t vm_bytes(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* Runs fn in a child capped at its current size plus HEADROOM_BYTES; the
 * child's return code and message come back through a pipe. */
__attribute__((unused)) static struct outcome capped(int (*fn)(void *), void *arg)
{
	struct outcome o = { 0 };
	int fds[2], status;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	fflush(NULL);
	cr_assert((pid = fork()) >= 0);
	if (pid == 0) {
		struct rlimit rl;
		close(fds[0]);
		rl.rlim_cur = rl.rlim_max = vm_bytes() + HEADROOM_BYTES;
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			_exit(3);
		o.rc = fn(arg);
		snprintf(o.msg, sizeof o.msg, "%s", dann_errmsg());
		if (write(fds[1], &o, sizeof o) != (ssize_t)sizeof o)
			_exit(4);
		_exit(0);
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], &o, sizeof o), (ssize_t)sizeof o, "the child died");
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	return o;
}

__attribute__((unused)) static int search_huge_L(void *arg)
{
	struct dann_index *ix = arg;
	struct dann_search_params p;
	uint32_t ids[10], found;
	float dists[10], q[16] = { 0 };

	dann_search_params_default(&p);
	/* A visited set of L (R/2 + 1) slots, doubled: 32M entries, 128 MiB,
	 * past what malloc can take from address space it already holds. */
	p.L = 100000;
	return dann_search(ix, q, &p, ids, dists, &found, NULL);
}

Test(dix_enomem, a_search_without_memory_for_its_lists_is_enomem_with_a_message)
{
#ifdef SANITIZED
	cr_skip_test("RLIMIT_AS cannot cap a sanitizer build");
#else
	struct dix_fx f;
	struct dann_index *ix;
	struct outcome o;

	char *err = NULL;

	dix_fx_data(&f, 300, 16, 1);
	setenv("OMP_WAIT_POLICY", "passive", 0);
	cr_assert_eq(cli_run(NULL, &err, "build", "--data", f.data, "--out", f.dir, "-R", "256",
			     "-L", "32", "--pq-bytes", "4", "--threads", "1", NULL),
		     0, "dann build: %s", err);
	free(err);
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	o = capped(search_huge_L, ix);
	cr_assert_eq(o.rc, DANN_ENOMEM, "rc %d: %s", o.rc, o.msg);
	cr_assert_not_null(strstr(o.msg, "no memory"), "%s", o.msg);
	/* The same search with the memory it needs works (in this process). */
	cr_assert_eq(search_huge_L(ix), 0, "%s", dann_errmsg());
	dann_index_close(ix);
	dix_fx_free(&f);
#endif
}

struct build_arg {
	const float *x;
	uint64_t n;
	uint32_t threads;
};

__attribute__((unused)) static int build_big(void *arg)
{
	struct build_arg *a = arg;
	struct vam_params p;
	struct vam *v = NULL;
	int rc;

	vam_params_default(&p);
	p.R = 64;
	p.threads = a->threads;
	rc = vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, 16, a->x, a->n, &p, &v);
	vam_free(v);
	return rc;
}

Test(dix_enomem, an_in_memory_build_without_memory_is_enomem_with_a_message)
{
#ifdef SANITIZED
	cr_skip_test("RLIMIT_AS cannot cap a sanitizer build");
#else
	/* 200k x 16 floats: 12 MiB of vectors copied, 51 MiB of graph. */
	struct build_arg a = { .n = 200000, .threads = 1 };
	float *x = calloc(a.n * 16, sizeof *x);
	struct outcome o;

	a.x = x;
	o = capped(build_big, &a);
	cr_assert_eq(o.rc, DANN_ENOMEM, "rc %d: %s", o.rc, o.msg);
	cr_assert_neq(o.msg[0], '\0');
	cr_assert_not_null(strstr(o.msg, "memory"), "%s", o.msg);
	free(x);
#endif
}
