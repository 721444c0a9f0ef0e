/*
 * cmd_gen.c — `dann gen`: deterministic synthetic base and query files
 * (the model and its guarantees are in engine/gen.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "gen.h"
#include "../engine/vf.h"
#include "cmd.h"
#include "progress.h"

#define CMD "gen"

static void usage(void)
{
	printf("usage: dann gen --n N --dim D --out BASE [--queries Q --queries-out QFILE]\n"
	       "                [--seed S] [--dtype float32|uint8|int8]\n"
	       "                [--latent-dim L] [--clusters C]\n"
	       "\n"
	       "Writes N synthetic vectors shaped like embeddings: a mixture of C Gaussian\n"
	       "clusters (default %d) in an L-dimensional latent space (default %d), mapped to\n"
	       "D dimensions by a fixed random linear map, plus small isotropic noise.\n"
	       "Queries come from the same mixture on a separate random stream, so they are\n"
	       "not copies of base points. The same seed gives the same bytes, whatever the\n"
	       "thread count. Files are streamed: RAM use does not grow with N.\n"
	       "\n"
	       "  --n N             base rows (>= 1)\n"
	       "  --dim D           dimension, 1..%d\n"
	       "  --out BASE        base file: .fbin, .u8bin or .i8bin (also .fvecs, .bvecs)\n"
	       "  --queries Q       query rows (default 0)\n"
	       "  --queries-out F   query file, required with --queries\n"
	       "  --seed S          64-bit seed (default 1)\n"
	       "  --dtype T         float32, uint8 or int8 (default: from BASE's extension);\n"
	       "                    integer types hold round(x * 127 / (4 rms)) (+128 for uint8)\n"
	       "  --latent-dim L    latent dimensions, 1..%d (default %d)\n"
	       "  --clusters C      mixture components, 1..%d (default %d)\n",
	       GEN_DEFAULT_CLUSTERS, GEN_DEFAULT_LATENT_DIM, VF_MAX_DIM, GEN_MAX_LATENT_DIM,
	       GEN_DEFAULT_LATENT_DIM, GEN_MAX_CLUSTERS, GEN_DEFAULT_CLUSTERS);
}

static int parse_dtype(const char *s, enum dann_dtype *out)
{
	if (!strcmp(s, "float32") || !strcmp(s, "f32"))
		*out = DANN_DTYPE_F32;
	else if (!strcmp(s, "uint8") || !strcmp(s, "u8"))
		*out = DANN_DTYPE_U8;
	else if (!strcmp(s, "int8") || !strcmp(s, "i8"))
		*out = DANN_DTYPE_I8;
	else
		return cmd_usage_error(CMD, "--dtype '%s': expected float32, uint8 or int8", s);
	return 0;
}

/* The element type the file's extension holds; the usage error names it. */
static int file_dtype(const char *opt, const char *path, enum dann_dtype *out)
{
	enum vf_format f;

	if (vf_format_from_path(path, &f) < 0 || f == VF_IBIN || f == VF_IVECS)
		return cmd_usage_error(CMD, "%s '%s': expected a .fbin, .u8bin, .i8bin, .fvecs or "
					    ".bvecs file name", opt, path);
	*out = vf_format_dtype(f);
	return 0;
}

static int write_stream(const struct gen_model *m, enum gen_stream s, uint64_t n,
			const char *path)
{
	struct progress pb;
	int rc;

	progress_init(&pb, CMD);
	rc = gen_write(m, s, n, path, progress_update, &pb);
	progress_finish(&pb);
	return rc;
}

static int check_out(const char *opt, const char *path, enum dann_dtype want)
{
	enum dann_dtype t = DANN_DTYPE_F32;

	if (file_dtype(opt, path, &t))
		return 2;
	if (t != want)
		return cmd_usage_error(CMD, "%s '%s' holds %s, but --dtype is %s", opt, path,
				       dann_dtype_name(t), dann_dtype_name(want));
	return 0;
}

static int run_gen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "n", required_argument, NULL, 'n' },
		{ "dim", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "queries", required_argument, NULL, 'q' },
		{ "queries-out", required_argument, NULL, 'Q' },
		{ "seed", required_argument, NULL, 's' },
		{ "dtype", required_argument, NULL, 't' },
		{ "latent-dim", required_argument, NULL, 'L' },
		{ "clusters", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gen_params p = { .seed = 1 };
	unsigned long long n = 0, nq = 0, v;
	const char *out = NULL, *qout = NULL, *dtype = NULL;
	int have_n = 0, have_dim = 0, c, rc;
	struct gen_model *m = NULL;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(); return 0;
		case 'n':
			if (cmd_parse_u64(CMD, "--n", optarg, (1ULL << 31) - 1, &n))
				return 2;
			have_n = 1;
			break;
		case 'd':
			if (cmd_parse_u64(CMD, "--dim", optarg, VF_MAX_DIM, &v))
				return 2;
			p.dim = (uint32_t)v;
			have_dim = 1;
			break;
		case 'o': out = optarg; break;
		case 'q':
			if (cmd_parse_u64(CMD, "--queries", optarg, (1ULL << 31) - 1, &nq))
				return 2;
			break;
		case 'Q': qout = optarg; break;
		case 's':
			if (cmd_parse_u64(CMD, "--seed", optarg, ~0ULL, &v))
				return 2;
			p.seed = v;
			break;
		case 't': dtype = optarg; break;
		case 'L':
			if (cmd_parse_u64(CMD, "--latent-dim", optarg, GEN_MAX_LATENT_DIM, &v))
				return 2;
			p.latent_dim = (uint32_t)v;
			if (!v)
				return cmd_usage_error(CMD, "--latent-dim must be at least 1");
			break;
		case 'C':
			if (cmd_parse_u64(CMD, "--clusters", optarg, GEN_MAX_CLUSTERS, &v))
				return 2;
			p.clusters = (uint32_t)v;
			if (!v)
				return cmd_usage_error(CMD, "--clusters must be at least 1");
			break;
		case ':':
			return cmd_usage_error(CMD, "%s needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!have_n || !have_dim || !out)
		return cmd_usage_error(CMD, "--n, --dim and --out are required");
	if (n == 0)
		return cmd_usage_error(CMD, "--n must be at least 1");
	if (p.dim == 0)
		return cmd_usage_error(CMD, "--dim must be at least 1");
	if ((nq > 0) != (qout != NULL))
		return cmd_usage_error(CMD, "--queries N and --queries-out FILE go together");
	if (dtype ? parse_dtype(dtype, &p.dtype) : file_dtype("--out", out, &p.dtype))
		return 2;
	if ((rc = check_out("--out", out, p.dtype)) || (qout && (rc = check_out("--queries-out", qout, p.dtype))))
		return rc;
	if (qout && !strcmp(qout, out))
		return cmd_usage_error(CMD, "--out and --queries-out are the same file '%s'", out);
	if ((rc = gen_model_new(&p, &m)) < 0)
		return cmd_fail_lib(CMD, rc);
	rc = write_stream(m, GEN_BASE, n, out);
	if (rc == 0 && qout)
		rc = write_stream(m, GEN_QUERIES, nq, qout);
	gen_model_free(m);
	if (rc < 0)
		return cmd_fail_lib(CMD, rc);
	return 0;
}

DANN_COMMAND(gen, "synthetic embedding-like base and query vectors from a seed", run_gen)
