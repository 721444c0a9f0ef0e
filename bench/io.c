/*
 * bench/io.c — random 4 KiB O_DIRECT reads through engine/io, next to fio.
 *
 * For each queue depth and each backend (io_uring, libaio, pread) it keeps
 * exactly QD reads in flight for a fixed time over a file of real random
 * bytes (never sparse: a hole would be answered without touching the
 * device), then runs fio with the same file, block size, engine (io_uring,
 * libaio, psync), depth and time, right after, so both see the same machine
 * state. Printed per point: IOPS, mean and p99 latency (submit to reap), CPU
 * microseconds per read (getrusage of the whole process, user + system; for
 * fio its usr_cpu + sys_cpu), and dann / fio IOPS. A point's time is split
 * into rounds that alternate dann and fio; the ratio is the median of the
 * rounds' ratios, so a neighbour's burst on a shared machine, which lands
 * in one round, does not decide it.
 *
 * The file is read with O_DIRECT, so the page cache plays no part and no
 * cache drop is needed between points; a virtual disk may still be cached
 * by its host, which this program cannot see. The file is created once
 * under bench/data/ (git-ignored) and reused while its size matches.
 *
 *   bench_io                     4 GiB file, QD 1 8 32 128, 5 s per point
 *   bench_io --quick             256 MiB file, 1 s per point (CI)
 *   bench_io --json              one JSON object per point on stdout,
 *                                the table on stderr
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/aligned.h"
#include "../engine/error.h"
#include "../engine/io/dio.h"
#include "../engine/log.h"

#define BLOCK 4096u
#define MAX_DEPTHS 8
#define MAX_ROUNDS 100
#define FILL_CHUNK (8u << 20)
#define LAT_CAP (16u << 20) /* latency samples kept per point */

struct point {
	double iops, mean_us, p99_us, cpu_us_per_read;
	int ok;
	char note[160];
	/* sums over the rounds of a point */
	double reads, secs, cpu, lat_sum_us, p99_weighted;
	double enters; /* dann: system calls its context made */
	double ratio;  /* dann: median over rounds of dann IOPS / fio IOPS */
	uint64_t nlat;
};

static struct {
	const char *file;
	uint64_t bytes;
	double seconds;
	unsigned rounds;
	unsigned depths[MAX_DEPTHS], ndepths;
	int backends[DIO_NBACKENDS];
	int fio, json;
} cfg;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Creates cfg.file with random bytes unless it already has cfg.bytes. */
static int ensure_file(void)
{
	struct stat st;
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	uint64_t *buf;
	int fd;
	double t0;

	if (stat(cfg.file, &st) == 0 && (uint64_t)st.st_size == cfg.bytes)
		return 0;
	fprintf(stderr, "bench_io: writing %llu MiB of random bytes to %s (once)\n",
		(unsigned long long)(cfg.bytes >> 20), cfg.file);
	if ((fd = open(cfg.file, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644)) < 0) {
		fprintf(stderr, "bench_io: create %s: %s (does its directory exist?)\n", cfg.file, strerror(errno));
		return -1;
	}
	if (!(buf = dann_aligned_alloc(FILL_CHUNK))) {
		close(fd);
		return -1;
	}
	t0 = (double)now_ns();
	for (uint64_t off = 0; off < cfg.bytes; off += FILL_CHUNK) {
		size_t n = cfg.bytes - off < FILL_CHUNK ? (size_t)(cfg.bytes - off) : FILL_CHUNK;

		for (size_t i = 0; i < n / 8; i++)
			buf[i] = xorshift(&seed);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			fprintf(stderr, "bench_io: write %s at %llu: %s\n", cfg.file, (unsigned long long)off,
				strerror(errno));
			close(fd);
			dann_aligned_free(buf);
			return -1;
		}
	}
	fsync(fd);
	close(fd);
	dann_aligned_free(buf);
	fprintf(stderr, "bench_io: written in %.1f s\n", ((double)now_ns() - t0) / 1e9);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Keeps qd random reads in flight on backend b for secs; adds to pt, its
 * latencies to lat[pt->nlat...]. */
static int run_dann(enum dio_backend b, unsigned qd, int fd, double secs, uint32_t *lat, struct point *pt)
{
	uint8_t *bufs = dann_aligned_alloc((size_t)qd * BLOCK);
	struct dio_buf_region region = { bufs, (size_t)qd * BLOCK };
	struct dio_opts o = { .backend = b, .depth = qd, .bufs = &region, .nbufs = 1 };
	struct dio_req *reqs = calloc(qd, sizeof *reqs);
	struct dio_cqe *cqes = calloc(qd, sizeof *cqes);
	uint64_t *sent = calloc(qd, sizeof *sent);
	uint64_t seed = 0x2545F4914F6CDD1Dull ^ (qd * 7919u + (unsigned)b) ^ now_ns(), sectors = cfg.bytes / BLOCK;
	uint64_t nlat = pt->nlat, reads = 0, t_end, t0, t, lat_sum = 0;
	struct dio *d = NULL;
	double c0;
	uint32_t slot;
	int rc = -1;

	if (!bufs || !reqs || !cqes || !sent || dio_open(&o, &d) < 0 || dio_file_add(d, fd, &slot) < 0) {
		snprintf(pt->note, sizeof pt->note, "%s", dann_errmsg());
		goto out;
	}
	if (dio_backend_of(d) != b) {
		snprintf(pt->note, sizeof pt->note, "unavailable, fell back to %s", dio_backend_name(dio_backend_of(d)));
		goto out;
	}
	for (unsigned i = 0; i < qd; i++)
		reqs[i] = (struct dio_req){ .tag = i, .off = (xorshift(&seed) % sectors) * BLOCK,
					    .buf = bufs + (size_t)i * BLOCK, .len = BLOCK, .file = slot };
	c0 = cpu_us();
	t0 = now_ns();
	t_end = t0 + (uint64_t)(secs * 1e9);
	for (unsigned i = 0; i < qd; i++)
		sent[i] = t0;
	if (dio_submit(d, reqs, qd) != (int)qd)
		goto out;
	for (t = t0; t < t_end;) {
		int n = dio_reap(d, cqes, qd, 1, -1);

		if (n < 0)
			goto out;
		t = now_ns();
		for (int i = 0; i < n; i++) {
			uint32_t k = (uint32_t)cqes[i].tag;
			uint64_t l = t - sent[k];

			if (cqes[i].res != BLOCK) {
				snprintf(pt->note, sizeof pt->note, "read failed: %lld", (long long)cqes[i].res);
				goto out;
			}
			lat_sum += l;
			if (nlat < LAT_CAP)
				lat[nlat++] = l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
			sent[k] = t;
			reqs[i] = (struct dio_req){ .tag = k, .off = (xorshift(&seed) % sectors) * BLOCK,
						    .buf = bufs + (size_t)k * BLOCK, .len = BLOCK, .file = slot };
		}
		reads += (uint64_t)n;
		if (dio_submit(d, reqs, (unsigned)n) != n)
			goto out;
	}
	pt->cpu += cpu_us() - c0;
	{
		struct dio_stats st;

		dio_stats_get(d, &st);
		pt->enters += (double)st.enters;
	}
	pt->reads += (double)reads;
	pt->secs += (double)(t - t0) / 1e9;
	pt->lat_sum_us += (double)lat_sum / 1e3;
	pt->nlat = nlat;
	pt->ok = 1;
	snprintf(pt->note, sizeof pt->note, "%s", dio_describe(d));
	rc = 0;
out:
	dio_close(d);
	free(reqs);
	free(cqes);
	free(sent);
	dann_aligned_free(bufs);
	return rc;
}

static void dann_finish(struct point *pt, uint32_t *lat)
{
	if (!pt->ok || !pt->reads)
		return;
	pt->iops = pt->reads / pt->secs;
	pt->mean_us = pt->lat_sum_us / pt->reads;
	pt->cpu_us_per_read = pt->cpu / pt->reads;
	qsort(lat, pt->nlat, sizeof *lat, cmp_u32);
	pt->p99_us = lat[(size_t)((double)pt->nlat * 0.99)] / 1e3;
}

/* fio's p99 over rounds: the rounds' p99s weighted by their reads (fio
 * reports percentiles, not samples). */
static void fio_finish(struct point *pt)
{
	if (!pt->ok || !pt->reads)
		return;
	pt->iops = pt->reads / pt->secs;
	pt->mean_us = pt->lat_sum_us / pt->reads;
	pt->cpu_us_per_read = pt->cpu / pt->reads;
	pt->p99_us = pt->p99_weighted / pt->reads;
}

/* The number after "key" : at or after from, or -1. */
static double json_num(const char *from, const char *key)
{
	const char *p = from ? strstr(from, key) : NULL;

	if (!p || !(p = strchr(p + strlen(key), ':')))
		return -1;
	return strtod(p + 1, NULL);
}

static const char *fio_engine(enum dio_backend b)
{
	return b == DIO_BACKEND_URING ? "io_uring --fixedbufs=1 --registerfiles=1"
	       : b == DIO_BACKEND_AIO ? "libaio"
				      : "psync";
}

static int run_fio(enum dio_backend b, unsigned qd, double secs, struct point *pt)
{
	char cmd[1024], *out = NULL;
	size_t cap = 0, len = 0;
	const char *rd, *lat;
	double ios, runtime_ms, usr, sys;
	FILE *p;

	snprintf(cmd, sizeof cmd,
		 "fio --name=bench_io --filename='%s' --size=%llu --direct=1 --rw=randread --bs=%u "
		 "--ioengine=%s --iodepth=%u --runtime=%g --time_based --norandommap --randrepeat=0 "
		 "--lat_percentiles=1 --output-format=json 2>&1",
		 cfg.file, (unsigned long long)cfg.bytes, BLOCK, fio_engine(b), qd, secs);
	if (!(p = popen(cmd, "r")))
		return -1;
	for (;;) {
		if (len + 4096 + 1 > cap && !(out = realloc(out, cap = cap * 2 + 8192)))
			break;
		size_t n = fread(out + len, 1, 4096, p);

		if (!n)
			break;
		len += n;
	}
	pclose(p);
	if (!out)
		return -1;
	out[len] = '\0';
	if (!(rd = strstr(out, "\"read\" :")) || !(lat = strstr(rd, "\"lat_ns\" :"))) {
		snprintf(pt->note, sizeof pt->note, "fio failed: %.120s", out);
		free(out);
		return -1;
	}
	ios = json_num(rd, "\"total_ios\"");
	runtime_ms = json_num(rd, "\"job_runtime\"");
	usr = json_num(rd, "\"usr_cpu\"");
	sys = json_num(rd, "\"sys_cpu\"");
	if (ios <= 0 || runtime_ms <= 0) {
		snprintf(pt->note, sizeof pt->note, "fio gave no reads");
		free(out);
		return -1;
	}
	pt->reads += ios;
	pt->secs += runtime_ms / 1e3;
	pt->lat_sum_us += json_num(lat, "\"mean\"") / 1e3 * ios;
	pt->p99_weighted += json_num(strstr(lat, "\"percentile\""), "\"99.000000\"") / 1e3 * ios;
	pt->cpu += (usr + sys) / 100.0 * runtime_ms * 1e3;
	pt->ok = 1;
	snprintf(pt->note, sizeof pt->note, "fio %s", fio_engine(b));
	free(out);
	return 0;
}

static void print_header(FILE *f)
{
	fprintf(f, "%-4s %-6s | %9s %9s %6s | %8s %8s | %8s %8s | %7s %7s\n", "QD", "engine", "dann IOPS",
		"fio IOPS", "ratio", "mean us", "fio", "p99 us", "fio", "CPU us", "fio");
	fprintf(f, "%.*s\n", 107, "-----------------------------------------------------------------------------"
				  "------------------------------------------------");
}

static void print_row(FILE *f, enum dio_backend b, unsigned qd, const struct point *d, const struct point *x)
{
	if (!d->ok) {
		fprintf(f, "%-4u %-6s | failed: %s\n", qd, dio_backend_name(b), d->note);
		return;
	}
	if (!x->ok) {
		fprintf(f, "%-4u %-6s | %9.0f %9s %6s | %8.1f %8s | %8.1f %8s | %7.2f %7s\n", qd, dio_backend_name(b),
			d->iops, "-", "-", d->mean_us, "-", d->p99_us, "-", d->cpu_us_per_read, "-");
		return;
	}
	fprintf(f, "%-4u %-6s | %9.0f %9.0f %6.3f | %8.1f %8.1f | %8.1f %8.1f | %7.2f %7.2f\n", qd,
		dio_backend_name(b), d->iops, x->iops, d->ratio, d->mean_us, x->mean_us, d->p99_us, x->p99_us,
		d->cpu_us_per_read, x->cpu_us_per_read);
}

static void print_json(enum dio_backend b, unsigned qd, const struct point *d, const struct point *x)
{
	printf("{\"bench\":\"io\",\"file_bytes\":%llu,\"block\":%u,\"seconds\":%g,\"rounds\":%u,\"direct\":true,"
	       "\"backend\":\"%s\",\"qd\":%u,\"ok\":%s,\"iops\":%.1f,\"lat_mean_us\":%.2f,\"lat_p99_us\":%.2f,"
	       "\"cpu_us_per_read\":%.3f,\"syscalls_per_read\":%.4f",
	       (unsigned long long)cfg.bytes, BLOCK, cfg.seconds, cfg.rounds, dio_backend_name(b), qd, d->ok ? "true" : "false",
	       d->iops, d->mean_us, d->p99_us, d->cpu_us_per_read, d->reads > 0 ? d->enters / d->reads : 0.0);
	if (x->ok)
		printf(",\"fio_iops\":%.1f,\"fio_lat_mean_us\":%.2f,\"fio_lat_p99_us\":%.2f,\"fio_cpu_us_per_read\":%.3f,"
		       "\"ratio_to_fio\":%.4f,\"ratio_of_totals\":%.4f",
		       x->iops, x->mean_us, x->p99_us, x->cpu_us_per_read, d->ratio, d->ok ? d->iops / x->iops : 0.0);
	printf("}\n");
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_io [--file PATH] [--size-mib N] [--seconds S] [--rounds R]\n"
		   "                [--depths 1,8,32,128] [--backends uring,aio,pread] [--no-fio]\n"
		   "                [--quick] [--json]\n"
		   "Random %u-byte O_DIRECT reads at each queue depth and backend, each next to fio;\n"
		   "a point's S seconds per side are split into R alternating dann/fio rounds.\n"
		   "Defaults: bench/data/io_4g.bin, 4096 MiB, 5 s, 5 rounds.\n"
		   "--quick: bench/data/io_quick.bin, 256 MiB, 1 s, 1 round.\n",
		   BLOCK);
}

static int parse_list(char *s, int backends_list)
{
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (backends_list) {
			enum dio_backend b;

			if (dio_backend_parse(tok, &b) < 0 || b == DIO_BACKEND_AUTO) {
				fprintf(stderr, "bench_io: --backends: '%s' is not uring, aio or pread\n", tok);
				return -1;
			}
			cfg.backends[b] = 1;
		} else {
			char *end;
			unsigned long v = strtoul(tok, &end, 10);

			if (*end || !v || v > 4096 || cfg.ndepths == MAX_DEPTHS) {
				fprintf(stderr, "bench_io: --depths: '%s' is not a depth 1..4096 (at most %d)\n", tok,
					MAX_DEPTHS);
				return -1;
			}
			cfg.depths[cfg.ndepths++] = (unsigned)v;
		}
	}
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, 0, 'f' },	 { "size-mib", required_argument, 0, 's' },
		{ "seconds", required_argument, 0, 't' }, { "depths", required_argument, 0, 'd' },
		{ "backends", required_argument, 0, 'b' }, { "no-fio", no_argument, 0, 'n' },
		{ "quick", no_argument, 0, 'q' },	   { "json", no_argument, 0, 'j' },
		{ "rounds", required_argument, 0, 'r' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, quick = 0, any_backend = 0;
	char *end;

	cfg.fio = 1;
	cfg.file = NULL;
	cfg.bytes = 0;
	cfg.seconds = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': cfg.file = optarg; break;
		case 's':
			cfg.bytes = strtoull(optarg, &end, 10) << 20;
			if (*end || !cfg.bytes) {
				fprintf(stderr, "bench_io: --size-mib '%s' is not a positive integer\n", optarg);
				return -1;
			}
			break;
		case 't':
			cfg.seconds = strtod(optarg, &end);
			if (*end || cfg.seconds <= 0 || cfg.seconds > 3600) {
				fprintf(stderr, "bench_io: --seconds '%s' is not in (0, 3600]\n", optarg);
				return -1;
			}
			break;
		case 'd': if (parse_list(optarg, 0) < 0) return -1; break;
		case 'b': if (parse_list(optarg, 1) < 0) return -1; any_backend = 1; break;
		case 'r':
			cfg.rounds = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !cfg.rounds || cfg.rounds > MAX_ROUNDS) {
				fprintf(stderr, "bench_io: --rounds '%s' is not in 1..100\n", optarg);
				return -1;
			}
			break;
		case 'n': cfg.fio = 0; break;
		case 'q': quick = 1; break;
		case 'j': cfg.json = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_io: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!cfg.file)
		cfg.file = quick ? "bench/data/io_quick.bin" : "bench/data/io_4g.bin";
	if (!cfg.bytes)
		cfg.bytes = quick ? 256ull << 20 : 4096ull << 20;
	if (cfg.seconds == 0)
		cfg.seconds = quick ? 1 : 5;
	if (!cfg.rounds)
		cfg.rounds = quick ? 1 : 5;
	if (!cfg.ndepths) {
		static const unsigned def[] = { 1, 8, 32, 128 };

		memcpy(cfg.depths, def, sizeof def);
		cfg.ndepths = 4;
	}
	if (!any_backend)
		for (int b = DIO_BACKEND_URING; b < DIO_NBACKENDS; b++)
			cfg.backends[b] = 1;
	return 0;
}

int main(int argc, char **argv)
{
	FILE *table;
	struct dio_file f;
	uint32_t *lat;

	/* libdann pulls in OpenBLAS, whose idle worker thread spins in
	 * sched_yield and would be billed to every read here: run with one
	 * BLAS thread (the variable is read before main, hence the re-exec). */
	if (!getenv("OPENBLAS_NUM_THREADS")) {
		setenv("OPENBLAS_NUM_THREADS", "1", 1);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "bench_io: re-exec with OPENBLAS_NUM_THREADS=1 failed: %s\n", strerror(errno));
		return 1;
	}
	if (parse_args(argc, argv) < 0)
		return 2;
	table = cfg.json ? stderr : stdout;
	if (cfg.fio && system("fio --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "bench_io: fio not found; running without it (scripts/install-deps installs it)\n");
		cfg.fio = 0;
	}
	if (ensure_file() < 0)
		return 1;
	if (dio_file_open(cfg.file, &f) < 0) {
		fprintf(stderr, "bench_io: %s\n", dann_errmsg());
		return 1;
	}
	if (!(lat = malloc(sizeof *lat * LAT_CAP)))
		return 1;
	fprintf(table,
		"bench_io: %s, %llu MiB of random bytes, %u-byte random reads, %s,\n"
		"%g s per point per side in %u alternating dann/fio rounds\n",
		cfg.file, (unsigned long long)(cfg.bytes >> 20), BLOCK,
		f.direct ? "O_DIRECT (page cache bypassed: no cache drop needed)" : "BUFFERED (O_DIRECT refused)",
		cfg.seconds, cfg.rounds);
	fprintf(table, "latency: submit to reap; CPU us: (user + system) / reads, whole process;\n"
		       "ratio: median over rounds of dann IOPS / fio IOPS in the same round\n");
	print_header(table);
	for (unsigned i = 0; i < cfg.ndepths; i++)
		for (int b = DIO_BACKEND_URING; b < DIO_NBACKENDS; b++) {
			struct point d = { 0 }, x = { 0 };

			if (!cfg.backends[b])
				continue;
			/* Alternating short rounds: a neighbour's burst on this
			 * shared machine lands on both sides, not on one. */
			double ratios[MAX_ROUNDS];
			unsigned nratios = 0;

			for (unsigned r = 0; r < cfg.rounds; r++) {
				double secs = cfg.seconds / cfg.rounds, dr = d.reads, ds = d.secs, xr = x.reads, xs = x.secs;

				if (run_dann((enum dio_backend)b, cfg.depths[i], f.fd, secs, lat, &d) < 0)
					d.ok = 0;
				if (!d.ok)
					break;
				if (!cfg.fio || run_fio((enum dio_backend)b, cfg.depths[i], secs, &x) < 0)
					continue;
				ratios[nratios++] = ((d.reads - dr) / (d.secs - ds)) / ((x.reads - xr) / (x.secs - xs));
			}
			dann_finish(&d, lat);
			fio_finish(&x);
			x.ok = x.ok && nratios > 0;
			if (nratios) {
				qsort(ratios, nratios, sizeof ratios[0], cmp_double);
				d.ratio = nratios % 2 ? ratios[nratios / 2]
						      : (ratios[nratios / 2 - 1] + ratios[nratios / 2]) / 2;
			}
			print_row(table, (enum dio_backend)b, cfg.depths[i], &d, &x);
			fflush(table);
			if (cfg.json)
				print_json((enum dio_backend)b, cfg.depths[i], &d, &x);
		}
	free(lat);
	dio_file_close(&f);
	return 0;
}
