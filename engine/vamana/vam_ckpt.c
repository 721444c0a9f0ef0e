/*
 * vam_ckpt.c — the partitioned build's checkpoint: a build of a file much
 * larger than its RAM budget spends hours in its shard graphs (10M points
 * under 2 GiB: eight shards of 2.5M on two cores), and one interrupted by
 * a crash, a reboot or a deadline should not start over.
 *
 * In the checkpoint directory:
 *   state          written once the assignment pass is over: what the build
 *                  is (input file, its size and mtime, every parameter that
 *                  decides the shards), then "---" and what the passes
 *                  found (largest norm, medoid, shard sizes);
 *   shard<s>.ids   the members of each shard (the assignment pass);
 *   shard<s>.graph each shard graph, renamed into place once complete;
 *   shard<s>.done  its entry point and build seconds, written after it.
 * Every file is fsynced before the one that vouches for it, so a crash
 * leaves either a shard recorded as done with its whole graph, or a shard
 * to build again. A later build with the same input and parameters skips
 * training, assignment and the shards recorded as done; one that differs
 * is refused with the first line that differs, and the directory is left
 * as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "vam_part_impl.h"

#define CKPT_MAGIC "dann vamana checkpoint 1"
#define CKPT_SEP "---\n"

static void ckpt_path(const struct part *pt, const char *name, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", pt->dir, name);
}

/* The lines that must match for a checkpoint to be resumed. */
static int fingerprint(const struct part *pt, char *out, size_t cap)
{
	const char *in = vf_path(pt->f);
	char real[PATH_MAX];
	struct stat st;
	int n;

	if (!realpath(in, real) || stat(real, &st) < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot stat the input", in);
	n = snprintf(out, cap,
		     CKPT_MAGIC "\ninput %s size %lld mtime %lld.%09ld\n"
		     "n %llu dim %u dtype %d metric %d\n"
		     "R %u L %u alpha %.9g passes %u seed %llu\n"
		     "budget %llu shards %u cap %llu\n",
		     real, (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		     (unsigned long long)pt->n, pt->dim, (int)vf_dtype(pt->f), (int)pt->metric, pt->p.R,
		     pt->p.L, (double)pt->p.alpha, pt->p.passes, (unsigned long long)pt->p.seed,
		     (unsigned long long)pt->budget, pt->k, (unsigned long long)pt->cap);
	if (n < 0 || (size_t)n >= cap)
		return dann_fail(DANN_EINVAL, "%s: input path too long for a checkpoint", in);
	return 0;
}

/* DANN_EINVAL naming the first line of have that differs from want. */
static int mismatch(const struct part *pt, const char *want, const char *have)
{
	const char *w = want, *h = have;

	while (*w && *h) {
		size_t wl = strcspn(w, "\n"), hl = strcspn(h, "\n");
		if (wl != hl || memcmp(w, h, wl) != 0)
			return dann_fail(DANN_EINVAL, "checkpoint %s is another build's: it has '%.*s', this "
					 "build '%.*s'; remove it to start over", pt->p.checkpoint_dir, (int)hl, h,
					 (int)wl, w);
		w += wl + (w[wl] == '\n');
		h += hl + (h[hl] == '\n');
	}
	return dann_fail(DANN_EINVAL, "checkpoint %s is another build's; remove it to start over",
			 pt->p.checkpoint_dir);
}

/* The part after the separator: largest norm, medoid, shard sizes. */
static int parse_found(struct part *pt, const char *path, const char *at)
{
	uint64_t total = 0;
	char *end;

	if (strncmp(at, "ip_M2 ", 6) != 0)
		goto bad;
	pt->ip_M2 = strtof(at + 6, &end);
	if (strncmp(end, "\nmedoid ", 8) != 0)
		goto bad;
	pt->medoid = (uint32_t)strtoul(end + 8, &end, 10);
	if (strncmp(end, "\nsizes", 6) != 0 || pt->medoid >= pt->n)
		goto bad;
	end += 6;
	for (uint32_t s = 0; s < pt->k; s++) {
		char *next;
		pt->size[s] = strtoull(end, &next, 10);
		if (next == end)
			goto bad;
		total += pt->size[s];
		end = next;
	}
	if (total != 2 * pt->n) /* every point is in two shards */
		goto bad;
	return 0;
bad:
	return dann_fail(DANN_ECORRUPT, "%s: cannot read what the assignment pass found", path);
}

/* Shard s recorded as done: its medoid and seconds. 0 if not done. */
static int read_done(struct part *pt, uint32_t s, double *seconds)
{
	char path[PATH_MAX], graph[PATH_MAX];
	unsigned long medoid;
	void *buf;
	size_t len;
	int rc;

	vam_part_path(pt, s, "done", path);
	if ((rc = fsu_read_file(path, &buf, &len)) == DANN_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	vam_part_path(pt, s, "graph", graph);
	if (sscanf(buf, "medoid %lu seconds %lf", &medoid, seconds) != 2 || medoid >= pt->n ||
	    access(graph, R_OK) != 0) {
		free(buf);
		return dann_fail(DANN_ECORRUPT, "%s: not a shard record (or %s is missing)", path, graph);
	}
	free(buf);
	pt->shard_medoid[s] = (uint32_t)medoid;
	pt->built[s] = true;
	return 1;
}

int vam_ckpt_open(struct part *pt, bool *resumed, double *earlier_s)
{
	char want[PATH_MAX + 512], path[PATH_MAX];
	const char *dir = pt->p.checkpoint_dir;
	char *buf = NULL, *sep;
	size_t len;
	int rc;

	*resumed = false;
	*earlier_s = 0;
	if (strlen(dir) >= sizeof pt->dir)
		return dann_fail(DANN_EINVAL, "checkpoint %s: path too long", dir);
	snprintf(pt->dir, sizeof pt->dir, "%s", dir);
	if ((rc = fingerprint(pt, want, sizeof want)) < 0)
		return rc;
	ckpt_path(pt, "state", path);
	rc = fsu_read_file(path, (void **)&buf, &len);
	if (rc == DANN_ENOTFOUND) {
		/* A new checkpoint (a state-less one is an assignment pass cut
		 * short: it is redone). */
		if ((rc = fsu_mkdirs(pt->dir)) < 0)
			return rc;
		for (uint32_t s = 0; s < pt->k; s++) {
			vam_part_path(pt, s, "done", path);
			unlink(path);
		}
		pt->ckpt = true;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!(sep = strstr(buf, CKPT_SEP))) {
		rc = dann_fail(DANN_ECORRUPT, "%s: no '---' line: not a checkpoint's state", path);
		goto out;
	}
	*sep = 0;
	if (strcmp(buf, want) != 0) {
		rc = mismatch(pt, want, buf);
		goto out;
	}
	if ((rc = parse_found(pt, path, sep + strlen(CKPT_SEP))) < 0)
		goto out;
	for (uint32_t s = 0; s < pt->k; s++) {
		double sec = 0;
		if ((rc = read_done(pt, s, &sec)) < 0)
			goto out;
		*earlier_s += sec;
	}
	pt->ckpt = true;
	*resumed = true;
	rc = 0;
out:
	free(buf);
	return rc;
}

int vam_ckpt_save_state(const struct part *pt)
{
	size_t cap = PATH_MAX + 1024 + (size_t)pt->k * 24;
	char *buf = malloc(cap), path[PATH_MAX];
	size_t n;
	int rc;

	if (!buf)
		return dann_fail(DANN_ENOMEM, "checkpoint: no memory");
	if ((rc = fingerprint(pt, buf, cap)) < 0)
		goto out;
	n = strlen(buf);
	n += (size_t)snprintf(buf + n, cap - n, CKPT_SEP "ip_M2 %a\nmedoid %u\nsizes", (double)pt->ip_M2,
			      pt->medoid);
	for (uint32_t s = 0; s < pt->k; s++)
		n += (size_t)snprintf(buf + n, cap - n, " %llu", (unsigned long long)pt->size[s]);
	n += (size_t)snprintf(buf + n, cap - n, "\n");
	ckpt_path(pt, "state", path);
	rc = fsu_write_file_atomic(path, buf, n);
out:
	free(buf);
	return rc;
}

int vam_ckpt_shard_done(const struct part *pt, uint32_t s, double seconds)
{
	char path[PATH_MAX], line[96];
	int n = snprintf(line, sizeof line, "medoid %u seconds %.3f\n", pt->shard_medoid[s], seconds);

	vam_part_path(pt, s, "done", path);
	return fsu_write_file_atomic(path, line, (size_t)n);
}

void vam_ckpt_remove(const struct part *pt)
{
	char path[PATH_MAX];

	for (uint32_t s = 0; s < pt->k; s++) {
		vam_part_path(pt, s, "done", path);
		unlink(path);
	}
	ckpt_path(pt, "state", path);
	unlink(path);
}
