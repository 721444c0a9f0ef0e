/*
 * cmd_query.c — `dann query`: the rows of a collection whose scalar fields
 * pass a filter expression (dann_coll_query), as JSON lines with the
 * asked output fields, or their count (dann_coll_count_filter).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dann.h"
#include "cmd.h"
#include "coll_cli.h"

#define CMD "query"
#define MAX_OUT_FIELDS 65

static const char query_help[] =
	"usage: dann query --data-dir D --name C [--filter EXPR]\n"
	"                  [--output-fields a,b,...] [--limit N] [--offset N] [--count]\n"
	"\n"
	"Prints the live rows of collection C whose scalar fields pass EXPR (a\n"
	"Milvus-style filter: comparisons, in / not in, and / or / not, like,\n"
	"is null, arithmetic, JSON paths such as meta[\"a\"] > 3, and names of the\n"
	"dynamic field), in ascending primary-key order, one JSON object per line:\n"
	"{\"id\": KEY, \"a\": ..., \"b\": ...} (null for a null value; JSON fields\n"
	"as they were stored). Without --filter every live row passes.\n"
	"\n"
	"  --output-fields L  fields to print beside the key (\"$meta\" for the\n"
	"                     dynamic field, or a key inside it by its name)\n"
	"  --limit N          at most N rows (default 100; 0: all)\n"
	"  --offset N         skip the first N rows\n"
	"  --count            print only the number of rows passing (count(*))\n";

static void print_str(const char *s, uint64_t n)
{
	putchar('"');
	for (uint64_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void print_value(const struct dann_column *c, uint64_t i)
{
	if (c->valid && !c->valid[i]) {
		printf("null");
		return;
	}
	switch (c->type) {
	case DANN_FIELD_BOOL: printf(((const uint8_t *)c->values)[i] ? "true" : "false"); break;
	case DANN_FIELD_INT8: printf("%d", ((const int8_t *)c->values)[i]); break;
	case DANN_FIELD_INT16: printf("%d", ((const int16_t *)c->values)[i]); break;
	case DANN_FIELD_INT32: printf("%d", ((const int32_t *)c->values)[i]); break;
	case DANN_FIELD_INT64: printf("%lld", (long long)((const int64_t *)c->values)[i]); break;
	case DANN_FIELD_FLOAT: printf("%.9g", (double)((const float *)c->values)[i]); break;
	case DANN_FIELD_DOUBLE: printf("%.17g", ((const double *)c->values)[i]); break;
	case DANN_FIELD_VARCHAR:
		print_str((const char *)c->values + c->offsets[i], c->offsets[i + 1] - c->offsets[i]);
		break;
	case DANN_FIELD_JSON: {
		uint64_t n = c->offsets[i + 1] - c->offsets[i];
		if (n)
			fwrite((const char *)c->values + c->offsets[i], 1, n, stdout);
		else
			printf("null");
		break;
	}
	}
}

/* Splits a,b,c in place into names. */
static int split_fields(char *s, const char **names, uint32_t *n)
{
	*n = 0;
	for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_OUT_FIELDS)
			return cmd_usage_error(CMD, "--output-fields: at most %d fields", MAX_OUT_FIELDS);
		names[(*n)++] = t;
	}
	return 0;
}

static int run_query(int argc, char **argv)
{
	enum { O_DATA_DIR = 256, O_NAME, O_FILTER, O_FIELDS, O_LIMIT, O_OFFSET, O_COUNT, O_HELP };
	static const struct option longs[] = {
		{ "data-dir", required_argument, 0, O_DATA_DIR },
		{ "name", required_argument, 0, O_NAME },
		{ "filter", required_argument, 0, O_FILTER },
		{ "output-fields", required_argument, 0, O_FIELDS },
		{ "limit", required_argument, 0, O_LIMIT },
		{ "offset", required_argument, 0, O_OFFSET },
		{ "count", no_argument, 0, O_COUNT },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	const char *data_dir = NULL, *name = NULL, *names[MAX_OUT_FIELDS];
	char *fields = NULL;
	unsigned long long limit = 100, offset = 0;
	struct dann_coll_query_params qp = { 0 };
	struct dann_rows *rows = NULL;
	struct coll_cli cc;
	int64_t *keys = NULL;
	uint64_t n = 0;
	uint32_t nfields = 0;
	int c, rc, count = 0, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case O_DATA_DIR: data_dir = optarg; break;
		case O_NAME: name = optarg; break;
		case O_FILTER: qp.filter = optarg; break;
		case O_FIELDS: fields = optarg; break;
		case O_LIMIT:
			if (cmd_parse_u64(CMD, "--limit", optarg, UINT32_MAX, &limit) < 0)
				return 2;
			break;
		case O_OFFSET:
			if (cmd_parse_u64(CMD, "--offset", optarg, UINT64_MAX >> 1, &offset) < 0)
				return 2;
			break;
		case O_COUNT: count = 1; break;
		case 'h':
		case O_HELP: fputs(query_help, stdout); return 0;
		default: return cmd_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!data_dir || !name)
		return cmd_usage_error(CMD, "--data-dir D and --name C are required");
	if (fields && (status = split_fields(fields, names, &nfields)))
		return status;
	if ((status = coll_cli_open(CMD, data_dir, name, 0, &cc)))
		return status;
	if (count) {
		if ((rc = dann_coll_count_filter(cc.c, qp.filter, &n)) < 0)
			status = cmd_fail_lib(CMD, rc);
		else
			printf("%llu\n", (unsigned long long)n);
		coll_cli_close(&cc);
		return status;
	}
	qp.limit = limit;
	qp.offset = offset;
	qp.fields = names;
	qp.nfields = nfields;
	if ((rc = dann_coll_query(cc.c, &qp, &keys, &n, &rows)) < 0) {
		status = cmd_fail_lib(CMD, rc);
	} else {
		for (uint64_t i = 0; i < n; i++) {
			if (!rows->found[i]) /* deleted between the query and the fetch */
				continue;
			printf("{\"%s\": %lld", cc.schema.pk_field, (long long)keys[i]);
			for (uint32_t j = 0; j < rows->ncols; j++) {
				printf(", ");
				print_str(names[j], strlen(names[j]));
				printf(": ");
				print_value(&rows->cols[j], i);
			}
			printf("}\n");
		}
	}
	dann_rows_free(rows);
	free(keys);
	coll_cli_close(&cc);
	return status;
}

DANN_COMMAND(query, "rows of a collection passing a filter expression, with output fields (or their count)",
	     run_query)
