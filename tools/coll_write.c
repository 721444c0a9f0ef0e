/*
 * coll_write.c — the write path shared by `dann insert` and `dann upsert`
 * (see coll_write.h).
 *
 * Bad input must change nothing, so everything that can be checked before
 * the first write is: the file's dimension and element type against the
 * schema, the key count against the row count, NaN and Inf in the vectors,
 * keys repeated in the file and (insert) keys already in the collection.
 * Only then are the rows written, one batch per dann_coll_insert/upsert
 * call; each batch is durable when the call returns. A failure part-way
 * (an I/O error) says how many rows were written before it.
 */
#include "coll_write.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dann.h"
#include "../engine/error.h"
#include "../engine/vf.h"
#include "cmd.h"
#include "coll_cli.h"
#include "fields_file.h"
#include "ids_file.h"
#include "search_report.h"

#define WRITE_DEFAULT_BATCH 10000
#define WRITE_MAX_BATCH (1u << 20)
#define WRITE_FETCH_CHUNK 65536

struct write_opts {
	const char *data_dir, *name, *vectors, *ids, *ids_i64, *keys_out, *fields;
	int64_t first_id;
	int have_first_id;
	unsigned long long batch;
};

static int parse(const char *cmd, const char *help, int argc, char **argv, struct write_opts *o)
{
	enum { O_DATA_DIR = 256, O_NAME, O_VECTORS, O_IDS, O_IDS64, O_FIRST, O_BATCH, O_KEYS_OUT, O_FIELDS,
	       O_HELP };
	static const struct option longs[] = {
		{ "data-dir", required_argument, 0, O_DATA_DIR },
		{ "name", required_argument, 0, O_NAME },
		{ "vectors", required_argument, 0, O_VECTORS },
		{ "ids", required_argument, 0, O_IDS },
		{ "ids-i64", required_argument, 0, O_IDS64 },
		{ "first-id", required_argument, 0, O_FIRST },
		{ "batch", required_argument, 0, O_BATCH },
		{ "keys-out", required_argument, 0, O_KEYS_OUT },
		{ "fields", required_argument, 0, O_FIELDS },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	int c;

	memset(o, 0, sizeof *o);
	o->batch = WRITE_DEFAULT_BATCH;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case O_DATA_DIR: o->data_dir = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_VECTORS: o->vectors = optarg; break;
		case O_IDS: o->ids = optarg; break;
		case O_IDS64: o->ids_i64 = optarg; break;
		case O_KEYS_OUT: o->keys_out = optarg; break;
		case O_FIELDS: o->fields = optarg; break;
		case O_FIRST:
			if (coll_cli_parse_i64(cmd, "--first-id", optarg, &o->first_id) < 0)
				return 2;
			o->have_first_id = 1;
			break;
		case O_BATCH:
			if (cmd_parse_u64(cmd, "--batch", optarg, WRITE_MAX_BATCH, &o->batch) < 0)
				return 2;
			if (o->batch == 0)
				return cmd_usage_error(cmd, "--batch must be at least 1");
			break;
		case 'h':
		case O_HELP: fputs(help, stdout); return -1;
		default: return cmd_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!o->data_dir || !o->name || !o->vectors)
		return cmd_usage_error(cmd, "--data-dir D, --name C and --vectors FILE are required");
	if ((o->ids != NULL) + (o->ids_i64 != NULL) + o->have_first_id > 1)
		return cmd_usage_error(cmd, "give keys one way: --ids FILE, --ids-i64 FILE or --first-id N");
	return 0;
}

/* Whether the file's rows can be written to the schema's vectors. */
static int check_file(const char *cmd, const struct vf *f, const char *path, const struct dann_schema *s)
{
	enum dann_dtype t = vf_dtype(f);

	if (vf_dim(f) != s->dim)
		return dann_fail(DANN_EINVAL, "%s: vectors of dimension %u, collection %s has %u", path, vf_dim(f),
				 s->name, s->dim);
	if (t == DANN_DTYPE_I32)
		return dann_fail(DANN_EINVAL, "%s: an id file, not vectors", path);
	if (s->dtype != DANN_DTYPE_F32 && t != s->dtype)
		return dann_fail(DANN_EINVAL, "%s: %s elements, collection %s stores %s", path, dann_dtype_name(t),
				 s->name, dann_dtype_name(s->dtype));
	(void)cmd;
	return 0;
}

/* Rows [first, first+n) in the schema's element type. */
static int read_rows(const struct vf *f, const struct dann_schema *s, uint64_t first, uint64_t n, void *dst)
{
	return s->dtype == DANN_DTYPE_F32 ? vf_read_f32(f, first, n, dst) : vf_read(f, first, n, dst);
}

/* NaN / Inf anywhere in the float rows: the first one, named. */
static int check_finite(const struct vf *f, const char *path, const struct dann_schema *s, void *buf,
			uint64_t batch)
{
	uint64_t n = vf_count(f);

	if (s->dtype != DANN_DTYPE_F32)
		return 0;
	for (uint64_t first = 0; first < n; first += batch) {
		uint64_t m = n - first < batch ? n - first : batch;
		const float *v = buf;
		int rc;
		if ((rc = read_rows(f, s, first, m, buf)) < 0)
			return rc;
		for (uint64_t i = 0; i < m * s->dim; i++)
			if (!isfinite(v[i]))
				return dann_fail(DANN_EINVAL, "%s: row %llu, element %llu is %s", path,
						 (unsigned long long)(first + i / s->dim),
						 (unsigned long long)(i % s->dim), isnan(v[i]) ? "NaN" : "infinite");
	}
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* A key given twice, or (insert) one already in the collection. */
static int check_keys(struct dann_coll *c, const char *what, const int64_t *keys, uint64_t n, int upsert)
{
	int64_t *sorted = malloc(sizeof *sorted * (n ? n : 1));
	int rc = 0;

	if (!sorted)
		return dann_fail(DANN_ENOMEM, "no memory for %llu keys", (unsigned long long)n);
	memcpy(sorted, keys, sizeof *sorted * n);
	qsort(sorted, n, sizeof *sorted, cmp_i64);
	for (uint64_t i = 1; i < n && rc == 0; i++)
		if (sorted[i] == sorted[i - 1])
			rc = dann_fail(DANN_EINVAL, "%s: key %lld is given more than once", what, (long long)sorted[i]);
	free(sorted);
	for (uint64_t first = 0; first < n && rc == 0 && !upsert; first += WRITE_FETCH_CHUNK) {
		uint64_t m = n - first < WRITE_FETCH_CHUNK ? n - first : WRITE_FETCH_CHUNK;
		struct dann_rows *rows = NULL;
		if ((rc = dann_coll_fetch(c, keys + first, m, NULL, 0, 0, &rows)) < 0)
			break;
		for (uint64_t i = 0; i < m; i++)
			if (rows->found[i]) {
				rc = dann_fail(DANN_EEXIST, "key %lld already exists (upsert replaces rows)",
					       (long long)keys[first + i]);
				break;
			}
		dann_rows_free(rows);
	}
	return rc;
}

/* The keys of the rows: from a file or from --first-id; none for an insert
 * into an auto-id collection (an upsert names the rows it replaces, so it
 * always takes keys). */
static int keys_for(const char *cmd, int upsert, const struct write_opts *o, const struct dann_schema *s,
		    uint64_t rows, int64_t **keys)
{
	int given = o->ids || o->ids_i64 || o->have_first_id, status;
	uint64_t n = 0;

	*keys = NULL;
	if (s->auto_id && !upsert) {
		if (given)
			return cmd_usage_error(cmd, "collection %s assigns keys itself (auto-id): give no --ids, "
						    "--ids-i64 or --first-id", s->name);
		return 0;
	}
	if (!given)
		return cmd_usage_error(cmd, "%s: give the keys with --ids FILE, --ids-i64 FILE or --first-id N",
				       upsert ? "upsert replaces rows by key" : s->name);
	if (o->have_first_id) {
		if (!(*keys = malloc(sizeof **keys * (rows ? rows : 1))))
			return cmd_fail_lib(cmd, dann_fail(DANN_ENOMEM, "no memory for keys"));
		for (uint64_t i = 0; i < rows; i++)
			(*keys)[i] = o->first_id + (int64_t)i;
		return 0;
	}
	if ((status = coll_cli_load_keys(cmd, o->ids, o->ids_i64, NULL, keys, &n)))
		return status;
	if (n != rows) {
		free(*keys);
		*keys = NULL;
		return cmd_fail_lib(cmd, dann_fail(DANN_EINVAL, "%s holds %llu keys but %s holds %llu vectors",
						   o->ids ? o->ids : o->ids_i64, (unsigned long long)n, o->vectors,
						   (unsigned long long)rows));
	}
	return 0;
}

static int write_rows(const char *cmd, int upsert, struct coll_cli *cc, const struct write_opts *o,
		      const struct vf *f, const struct fields_file *ff, const int64_t *keys,
		      int64_t *out_keys, void *buf)
{
	struct dann_column cols[DANN_MAX_FIELDS + 1];
	uint64_t n = vf_count(f), done = 0;
	double t0 = search_now_s(), secs;
	int rc = 0;

	for (uint64_t first = 0; first < n; first += o->batch) {
		uint64_t m = n - first < o->batch ? n - first : o->batch;
		struct dann_batch b = { .n = m, .keys = keys ? keys + first : NULL, .vectors = buf };
		if (ff) {
			b.cols = cols;
			b.ncols = fields_file_slice(ff, first, cols);
		}
		if ((rc = read_rows(f, &cc->schema, first, m, buf)) < 0)
			break;
		rc = upsert ? dann_coll_upsert(cc->c, &b) : dann_coll_insert(cc->c, &b, out_keys ? out_keys + first : NULL);
		if (rc < 0)
			break;
		done += m;
	}
	if (rc < 0) {
		dann_fail_wrap(rc, "%s: rows %llu.. of %s", cc->schema.name, (unsigned long long)done, o->vectors);
		cmd_fail_lib(cmd, rc);
		fprintf(stderr, "dann %s: %llu rows before it were written (durably)\n", cmd, (unsigned long long)done);
		return 1;
	}
	secs = search_now_s() - t0;
	printf("%s %llu rows into %s in %.2f s (%.0f rows/s)\n", upsert ? "upserted" : "inserted",
	       (unsigned long long)n, cc->schema.name, secs, secs > 0 ? (double)n / secs : 0.0);
	return 0;
}

int coll_write_main(const char *cmd, int upsert, const char *help, int argc, char **argv)
{
	struct write_opts o;
	struct coll_cli cc;
	struct vf *f = NULL;
	struct fields_file *ff = NULL;
	int64_t *keys = NULL, *out_keys = NULL;
	void *buf = NULL;
	uint64_t n;
	int rc, status;

	if ((status = parse(cmd, help, argc, argv, &o)))
		return status < 0 ? 0 : status;
	if ((status = coll_cli_open(cmd, o.data_dir, o.name, 1, &cc)))
		return status;
	status = 1;
	if ((rc = vf_open(o.vectors, &f)) < 0 || (rc = check_file(cmd, f, o.vectors, &cc.schema)) < 0) {
		cmd_fail_lib(cmd, rc);
		goto out;
	}
	n = vf_count(f);
	if (o.fields && (rc = fields_file_read(o.fields, &cc.schema, &ff)) < 0) {
		cmd_fail_lib(cmd, rc);
		goto out;
	}
	if (ff && fields_file_rows(ff) != n) {
		cmd_fail_lib(cmd, dann_fail(DANN_EINVAL, "%s holds %llu rows of fields but %s holds %llu vectors",
					    o.fields, (unsigned long long)fields_file_rows(ff), o.vectors,
					    (unsigned long long)n));
		goto out;
	}
	if ((status = keys_for(cmd, upsert, &o, &cc.schema, n, &keys)))
		goto out;
	status = 1;
	buf = malloc((size_t)(o.batch < n ? o.batch : (n ? n : 1)) * cc.schema.dim *
		     (cc.schema.dtype == DANN_DTYPE_F32 ? sizeof(float) : 1));
	if (cc.schema.auto_id && !upsert && o.keys_out)
		out_keys = malloc(sizeof *out_keys * (n ? n : 1));
	if (!buf || (cc.schema.auto_id && !upsert && o.keys_out && !out_keys)) {
		cmd_fail_lib(cmd, dann_fail(DANN_ENOMEM, "no memory for a batch of %llu rows", o.batch));
		goto out;
	}
	if ((rc = check_finite(f, o.vectors, &cc.schema, buf, o.batch < n ? o.batch : n)) < 0 ||
	    (keys && (rc = check_keys(cc.c, o.ids ? o.ids : o.ids_i64 ? o.ids_i64 : "--first-id", keys, n, upsert)) < 0)) {
		cmd_fail_lib(cmd, rc);
		goto out;
	}
	if ((status = write_rows(cmd, upsert, &cc, &o, f, ff, keys, out_keys, buf)))
		goto out;
	if (o.keys_out) {
		if ((rc = ids_file_write_i64(o.keys_out, out_keys ? out_keys : keys, n)) < 0) {
			status = cmd_fail_lib(cmd, rc);
			goto out;
		}
	}
	status = 0;
out:
	free(buf);
	free(keys);
	free(out_keys);
	fields_file_free(ff);
	vf_close(f);
	coll_cli_close(&cc);
	return status;
}
