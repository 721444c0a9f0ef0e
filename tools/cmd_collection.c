/*
 * cmd_collection.c — `dann collection create|index|list|describe|drop`:
 * the collections of a data directory (dann_coll_create, _set_index,
 * _list, _schema, _segments, _drop).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dann.h"
#include "cmd.h"
#include "coll_cli.h"

#define CMD "collection"

static const char collection_help[] =
	"usage: dann collection create --data-dir D --name C --dim N [--metric l2|ip|cosine]\n"
	"                              [--dtype float32|uint8|int8] [--auto-id] [-R 64] [-L 100]\n"
	"                              [--alpha 1.2] [--pq-bytes B] [--opq] [--build-ram GiB]\n"
	"                              [--seal-rows N] [--seal-mib M]\n"
	"                              [--field NAME:TYPE[?] ...] [--dynamic-field]\n"
	"       dann collection index --data-dir D --name C [--metric M] [-R N] [-L N]\n"
	"                             [--alpha A] [--pq-bytes B] [--opq | --no-opq] [--build-ram GiB]\n"
	"       dann collection list --data-dir D\n"
	"       dann collection describe --data-dir D --name C\n"
	"       dann collection drop --data-dir D --name C\n"
	"\n"
	"A data directory (created on first use) holds any number of collections.\n"
	"create makes collection C of N-dimensional vectors (default float32, L2)\n"
	"whose rows have int64 primary keys, given with each insert or, with\n"
	"--auto-id, assigned by the collection. -R, -L, --alpha, --pq-bytes, --opq\n"
	"and --build-ram are the disk index parameters of every sealed segment and\n"
	"compaction (see dann build --help; --opq learns a rotation before PQ,\n"
	"for embedding-like data); --seal-rows / --seal-mib seal the growing\n"
	"segment at that many rows / MiB of vectors (default: the engine's). index\n"
	"changes the parameters it is given (the rest stay) for segments built from\n"
	"then on; a new --metric rebuilds the flushed segments. list prints the\n"
	"names, describe the schema, row count and segments, drop removes C and\n"
	"its files.\n"
	"\n"
	"--field adds a scalar field (repeat it): TYPE is bool, int8, int16, int32,\n"
	"int64, float, double, json or varchar(N) (N bytes at most); a trailing ?\n"
	"makes it nullable (price:float?). A trailing :default=VALUE gives the value\n"
	"a row stores when it leaves the field out or gives null (n:int32:default=5,\n"
	"ok:bool:default=true, tag:varchar(16)?:default=none; a varchar default is\n"
	"the rest of the argument, at most 255 bytes; json fields take none).\n"
	"--dynamic-field keeps keys that are no field in a JSON column ($meta).\n"
	"Fields are written with dann insert --fields and read by dann query and\n"
	"dann search --filter.\n";

/* Which options were given: index changes only those, and refuses the
 * ones that belong to create. */
enum {
	G_METRIC = 1 << 0, G_R = 1 << 1, G_L = 1 << 2, G_ALPHA = 1 << 3, G_PQ = 1 << 4,
	G_OPQ = 1 << 5, G_RAM = 1 << 6, G_CREATE_ONLY = 1 << 7,
};

struct coll_opts {
	const char *data_dir, *name;
	struct dann_schema s;
	int have_dim;
	unsigned given;   /* G_* */
};

/* VALUE of a :default= suffix, read as the field's type; whether it fits
 * the type (range, max_length) dann_coll_create checks, naming the field. */
static int parse_default(const char *arg, const char *v, struct dann_field *f)
{
	struct dann_default *d = &f->def;
	char *end = NULL;

	errno = 0;
	d->type = f->type;
	switch (f->type) {
	case DANN_FIELD_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "1"))
			d->i = 1;
		else if (strcmp(v, "false") && strcmp(v, "0"))
			return cmd_usage_error(CMD, "--field '%s': default '%s', expected true or false", arg, v);
		return 0;
	case DANN_FIELD_FLOAT:
	case DANN_FIELD_DOUBLE:
		d->d = strtod(v, &end);
		break;
	case DANN_FIELD_VARCHAR:
		if (strlen(v) > DANN_DEFAULT_MAX)
			return cmd_usage_error(CMD, "--field '%s': default longer than %d bytes", arg,
					       DANN_DEFAULT_MAX);
		d->len = (uint32_t)strlen(v);
		memcpy(d->s, v, d->len + 1);
		return 0;
	case DANN_FIELD_JSON:
		return cmd_usage_error(CMD, "--field '%s': a json field takes no default", arg);
	default:
		d->i = strtoll(v, &end, 10);
		break;
	}
	if (!*v || *end || errno)
		return cmd_usage_error(CMD, "--field '%s': default '%s' is not %s", arg, v,
				       f->type == DANN_FIELD_FLOAT || f->type == DANN_FIELD_DOUBLE ? "a number"
												   : "an integer");
	return 0;
}

/* NAME:TYPE[?][:default=VALUE] with TYPE bool, int8, int16, int32, int64,
 * float, double, json or varchar(N); a trailing ? makes the field
 * nullable, :default= gives it a default. */
static int parse_field(const char *arg, struct dann_schema *s)
{
	static const struct { const char *name; enum dann_field_type t; } types[] = {
		{ "bool", DANN_FIELD_BOOL }, { "int8", DANN_FIELD_INT8 }, { "int16", DANN_FIELD_INT16 },
		{ "int32", DANN_FIELD_INT32 }, { "int64", DANN_FIELD_INT64 }, { "float", DANN_FIELD_FLOAT },
		{ "double", DANN_FIELD_DOUBLE }, { "json", DANN_FIELD_JSON },
	};
	const char *colon = strchr(arg, ':'), *def = colon ? strstr(colon + 1, ":default=") : NULL;
	char type[64];
	struct dann_field *f;
	size_t n;
	unsigned len;
	int done = 0, rc;

	if (s->nfields == DANN_MAX_FIELDS)
		return cmd_usage_error(CMD, "--field: at most %d fields", DANN_MAX_FIELDS);
	if (!colon || colon == arg || (size_t)(colon - arg) > DANN_NAME_MAX ||
	    snprintf(type, sizeof type, "%.*s", def ? (int)(def - colon - 1) : 64, colon + 1) >=
		    (int)sizeof type)
		return cmd_usage_error(CMD, "--field '%s': expected NAME:TYPE[:default=VALUE], e.g. "
					    "price:float or title:varchar(64)?", arg);
	f = &s->fields[s->nfields];
	memset(f, 0, sizeof *f);
	memcpy(f->name, arg, (size_t)(colon - arg));
	n = strlen(type);
	if (n && type[n - 1] == '?') {
		f->nullable = 1;
		type[--n] = '\0';
	}
	for (size_t i = 0; i < sizeof types / sizeof types[0] && !done; i++)
		if (!strcmp(type, types[i].name)) {
			f->type = types[i].t;
			done = 1;
		}
	if (!done) {
		int pos = 0;
		if (sscanf(type, "varchar(%u%n", &len, &pos) != 1 || strcmp(type + pos, ")"))
			return cmd_usage_error(CMD, "--field '%s': type '%s', expected bool, int8, int16, int32, "
						    "int64, float, double, json or varchar(N)", arg, type);
		f->type = DANN_FIELD_VARCHAR;
		f->max_length = len;
	}
	if (def && (rc = parse_default(arg, def + strlen(":default="), f)) != 0)
		return rc;
	s->nfields++;
	return 0;
}

static int parse(int argc, char **argv, struct coll_opts *o)
{
	enum { O_DATA_DIR = 256, O_NAME, O_DIM, O_METRIC, O_DTYPE, O_AUTO, O_FIELD, O_DYNAMIC, O_ALPHA, O_PQ,
	       O_RAM, O_SEAL_ROWS,
	       O_SEAL_MIB, O_OPQ, O_NO_OPQ, O_HELP };
	static const struct option longs[] = {
		{ "data-dir", required_argument, 0, O_DATA_DIR },
		{ "name", required_argument, 0, O_NAME },
		{ "dim", required_argument, 0, O_DIM },
		{ "metric", required_argument, 0, O_METRIC },
		{ "dtype", required_argument, 0, O_DTYPE },
		{ "auto-id", no_argument, 0, O_AUTO },
		{ "field", required_argument, 0, O_FIELD },
		{ "dynamic-field", no_argument, 0, O_DYNAMIC },
		{ "alpha", required_argument, 0, O_ALPHA },
		{ "pq-bytes", required_argument, 0, O_PQ },
		{ "opq", no_argument, 0, O_OPQ },
		{ "no-opq", no_argument, 0, O_NO_OPQ },
		{ "build-ram", required_argument, 0, O_RAM },
		{ "seal-rows", required_argument, 0, O_SEAL_ROWS },
		{ "seal-mib", required_argument, 0, O_SEAL_MIB },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	unsigned long long v;
	double d;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "R:L:h", longs, NULL)) != -1) {
		switch (c) {
		case O_DATA_DIR: o->data_dir = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_DIM:
			if (cmd_parse_u64(CMD, "--dim", optarg, DANN_MAX_DIM, &v) < 0)
				return 2;
			o->s.dim = (uint32_t)v;
			o->have_dim = 1;
			o->given |= G_CREATE_ONLY;
			break;
		case O_METRIC:
			if (dann_metric_parse(optarg, &o->s.index.metric) < 0)
				return cmd_usage_error(CMD, "--metric: %s", dann_errmsg());
			o->given |= G_METRIC;
			break;
		case O_DTYPE:
			if (coll_cli_parse_dtype(CMD, optarg, &o->s.dtype) < 0)
				return 2;
			o->given |= G_CREATE_ONLY;
			break;
		case O_AUTO: o->s.auto_id = 1; o->given |= G_CREATE_ONLY; break;
		case O_FIELD:
			if (parse_field(optarg, &o->s))
				return 2;
			o->given |= G_CREATE_ONLY;
			break;
		case O_DYNAMIC: o->s.dynamic_field = 1; o->given |= G_CREATE_ONLY; break;
		case 'R':
			if (cmd_parse_u64(CMD, "-R", optarg, 1024, &v) < 0)
				return 2;
			o->s.index.R = (uint32_t)v;
			o->given |= G_R;
			break;
		case 'L':
			if (cmd_parse_u64(CMD, "-L", optarg, 100000, &v) < 0)
				return 2;
			o->s.index.L = (uint32_t)v;
			o->given |= G_L;
			break;
		case O_ALPHA:
			if (cmd_parse_double(CMD, "--alpha", optarg, &d) < 0)
				return 2;
			o->s.index.alpha = (float)d;
			o->given |= G_ALPHA;
			break;
		case O_PQ:
			if (cmd_parse_u64(CMD, "--pq-bytes", optarg, 4096, &v) < 0)
				return 2;
			o->s.index.pq_bytes = (uint32_t)v;
			o->given |= G_PQ;
			break;
		case O_OPQ:
		case O_NO_OPQ:
			if ((o->given & G_OPQ) && o->s.index.opq != (c == O_OPQ))
				return cmd_usage_error(CMD, "--opq and --no-opq contradict each other");
			o->s.index.opq = c == O_OPQ;
			o->given |= G_OPQ;
			break;
		case O_RAM:
			if (cmd_parse_double(CMD, "--build-ram", optarg, &o->s.index.build_ram_gib) < 0)
				return 2;
			if (o->s.index.build_ram_gib < 0)
				return cmd_usage_error(CMD, "--build-ram must not be negative");
			o->given |= G_RAM;
			break;
		case O_SEAL_ROWS:
			if (cmd_parse_u64(CMD, "--seal-rows", optarg, 1ull << 40, &v) < 0)
				return 2;
			o->s.seal_rows = v;
			o->given |= G_CREATE_ONLY;
			break;
		case O_SEAL_MIB:
			if (cmd_parse_u64(CMD, "--seal-mib", optarg, 1u << 20, &v) < 0)
				return 2;
			o->s.seal_bytes = v << 20;
			o->given |= G_CREATE_ONLY;
			break;
		case 'h':
		case O_HELP: fputs(collection_help, stdout); return -1;
		default: return cmd_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!o->data_dir)
		return cmd_usage_error(CMD, "--data-dir D is required");
	return 0;
}

static int do_create(struct coll_opts *o)
{
	struct coll_cli cc;
	int rc, status;

	if (!o->name || !o->have_dim)
		return cmd_usage_error(CMD, "create needs --name C and --dim N");
	if (strlen(o->name) > DANN_NAME_MAX)
		return cmd_usage_error(CMD, "--name: longer than %d bytes", DANN_NAME_MAX);
	snprintf(o->s.name, sizeof o->s.name, "%s", o->name);
	if ((status = coll_cli_open_db(CMD, o->data_dir, 1, 0, &cc)))
		return status;
	if ((rc = dann_coll_create(cc.db, &o->s)) < 0)
		status = cmd_fail_lib(CMD, rc);
	else
		printf("created collection %s: dim %u, %s, %s, %s keys\n", o->s.name, o->s.dim,
		       dann_dtype_name(o->s.dtype), dann_metric_name(o->s.index.metric),
		       o->s.auto_id ? "auto-id" : "user");
	coll_cli_close(&cc);
	return status;
}

/* The current index parameters with the given ones changed. */
static int do_index(struct coll_opts *o)
{
	const struct dann_index_params *in = &o->s.index;
	struct dann_index_params ip;
	struct coll_cli cc;
	int rc, status;

	if (!o->name)
		return cmd_usage_error(CMD, "index needs --name C");
	if (o->given & G_CREATE_ONLY)
		return cmd_usage_error(CMD, "index changes the index parameters only (--metric, -R, -L, "
					    "--alpha, --pq-bytes, --opq, --no-opq, --build-ram)");
	if (!o->given)
		return cmd_usage_error(CMD, "index needs a parameter to change (--metric, -R, -L, --alpha, "
					    "--pq-bytes, --opq, --no-opq, --build-ram)");
	if ((status = coll_cli_open(CMD, o->data_dir, o->name, 0, &cc)))
		return status;
	ip = cc.schema.index;
	if (o->given & G_METRIC) ip.metric = in->metric;
	if (o->given & G_R) ip.R = in->R;
	if (o->given & G_L) ip.L = in->L;
	if (o->given & G_ALPHA) ip.alpha = in->alpha;
	if (o->given & G_PQ) ip.pq_bytes = in->pq_bytes;
	if (o->given & G_OPQ) ip.opq = in->opq;
	if (o->given & G_RAM) ip.build_ram_gib = in->build_ram_gib;
	if ((rc = dann_coll_set_index(cc.c, &ip)) < 0)
		status = cmd_fail_lib(CMD, rc);
	else
		printf("collection %s: index %s, R %u, L %u, alpha %.2f, pq bytes %u, %s for segments "
		       "built from now on\n", o->name, dann_metric_name(ip.metric), ip.R, ip.L,
		       (double)ip.alpha, ip.pq_bytes, ip.opq ? "OPQ" : "plain PQ");
	coll_cli_close(&cc);
	return status;
}

static int do_list(struct coll_opts *o)
{
	struct coll_cli cc;
	char **names = NULL;
	size_t n = 0;
	int rc, status;

	if (o->name)
		return cmd_usage_error(CMD, "list takes no --name");
	if ((status = coll_cli_open_db(CMD, o->data_dir, 0, 0, &cc)))
		return status;
	if ((rc = dann_coll_list(cc.db, &names, &n)) < 0)
		status = cmd_fail_lib(CMD, rc);
	for (size_t i = 0; i < n; i++)
		printf("%s\n", names[i]);
	free(names);
	coll_cli_close(&cc);
	return status;
}

static const char *state_name(enum dann_seg_state s)
{
	switch (s) {
	case DANN_SEG_GROWING: return "growing";
	case DANN_SEG_SEALED: return "sealed";
	case DANN_SEG_FLUSHED: return "flushed";
	case DANN_SEG_DROPPED: return "dropped";
	}
	return "?";
}

static int do_describe(struct coll_opts *o)
{
	struct dann_seg_info *segs = NULL;
	const struct dann_schema *s;
	struct coll_cli cc;
	uint64_t rows = 0;
	size_t nseg = 0;
	int rc, status;

	if (!o->name)
		return cmd_usage_error(CMD, "describe needs --name C");
	if ((status = coll_cli_open(CMD, o->data_dir, o->name, 0, &cc)))
		return status;
	s = &cc.schema;
	if ((rc = dann_coll_count(cc.c, &rows)) < 0 || (rc = dann_coll_segments(cc.c, &segs, &nseg)) < 0) {
		status = cmd_fail_lib(CMD, rc);
		goto out;
	}
	printf("collection %s\n", s->name);
	printf("  vector        %s: dim %u, %s, metric %s\n", s->vector_field, s->dim, dann_dtype_name(s->dtype),
	       dann_metric_name(s->index.metric));
	printf("  primary key   %s (int64, %s)\n", s->pk_field, s->auto_id ? "auto-id" : "given with each insert");
	printf("  index         R %u, L %u, alpha %.2f, pq bytes %u%s%s, build RAM ", s->index.R, s->index.L,
	       (double)s->index.alpha, s->index.pq_bytes, s->index.pq_bytes ? "" : " (dim/8)",
	       s->index.opq ? ", OPQ" : "");
	if (s->index.build_ram_gib > 0)
		printf("%.2f GiB\n", s->index.build_ram_gib);
	else
		printf("no limit\n");
	printf("  seal at       %llu rows or %.1f MiB of vectors%s\n", (unsigned long long)s->seal_rows,
	       (double)s->seal_bytes / (1 << 20), s->seal_rows || s->seal_bytes ? "" : " (engine defaults)");
	for (uint32_t i = 0; i < s->nfields; i++) {
		const struct dann_default *d = &s->fields[i].def;
		printf("  field         %s", s->fields[i].name);
		if (d->type == DANN_FIELD_VARCHAR)
			printf(", default \"%s\"", d->s);
		else if (d->type == DANN_FIELD_FLOAT || d->type == DANN_FIELD_DOUBLE)
			printf(", default %.17g", d->d);
		else if (d->type == DANN_FIELD_BOOL)
			printf(", default %s", d->i ? "true" : "false");
		else if (d->type)
			printf(", default %lld", (long long)d->i);
		printf("\n");
	}
	printf("  rows          %llu live\n", (unsigned long long)rows);
	printf("  segments      %zu\n", nseg);
	if (nseg)
		printf("  %10s %-8s %12s %12s %14s\n", "id", "state", "rows", "deleted", "disk bytes");
	for (size_t i = 0; i < nseg; i++)
		printf("  %10llu %-8s %12llu %12llu %14llu\n", (unsigned long long)segs[i].id, state_name(segs[i].state),
		       (unsigned long long)segs[i].rows, (unsigned long long)segs[i].deleted,
		       (unsigned long long)segs[i].disk_bytes);
out:
	free(segs);
	coll_cli_close(&cc);
	return status;
}

static int do_drop(struct coll_opts *o)
{
	struct coll_cli cc;
	int rc, status;

	if (!o->name)
		return cmd_usage_error(CMD, "drop needs --name C");
	if ((status = coll_cli_open_db(CMD, o->data_dir, 0, 0, &cc)))
		return status;
	if ((rc = dann_coll_drop(cc.db, o->name)) < 0)
		status = cmd_fail_lib(CMD, rc);
	else
		printf("dropped collection %s\n", o->name);
	coll_cli_close(&cc);
	return status;
}

static int run_collection(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct coll_opts *o);
	} subs[] = { { "create", do_create }, { "index", do_index }, { "list", do_list },
		     { "describe", do_describe }, { "drop", do_drop } };
	struct coll_opts o;
	int rc;

	memset(&o, 0, sizeof o);
	dann_schema_default(&o.s);
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			fputs(collection_help, stdout);
			return 0;
		}
		return cmd_usage_error(CMD, "expected a subcommand: create, index, list, describe or drop");
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (strcmp(argv[1], subs[i].name))
			continue;
		if ((rc = parse(argc - 1, argv + 1, &o)))
			return rc < 0 ? 0 : rc;
		return subs[i].fn(&o);
	}
	return cmd_usage_error(CMD, "unknown subcommand '%s' (create, index, list, describe or drop)", argv[1]);
}

DANN_COMMAND(collection, "create, index, list, describe or drop the collections of a data directory",
	     run_collection)
