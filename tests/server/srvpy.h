/*
 * srvpy.h — the Python grpcio client of the server tests
 * (tests/python/dannd_meta.py): its stubs, generated from dann's .proto
 * into the test's temporary directory, and running one of its modes.
 * (Header-only: tests/ compiles only test_*.c and helpers/.)
 */
#ifndef DANN_SRVPY_H
#define DANN_SRVPY_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "helpers/cli.h"
#include "helpers/proc.h"
#include "helpers/tmpdir.h"

#define SRVPY_BIN "/usr/bin/python3"
#define SRVPY_SCRIPT DANN_SOURCE_DIR "/tests/python/dannd_meta.py"
#define SRVPY_PROTO_DIR DANN_SOURCE_DIR "/server/proto"
#define SRVPY_TIMEOUT_S 180

static char srvpy_stubs[256]; /* tmpdir_path's buffers rotate: keep a copy */

/* Generates the stubs (call once per test, after tmpdir_make). */
static inline void srvpy_make_stubs(void)
{
	char out[300], grpc_out[300];

	snprintf(srvpy_stubs, sizeof srvpy_stubs, "%s", tmpdir_path("stubs"));
	cr_assert_eq(mkdir(srvpy_stubs, 0755), 0);
	snprintf(out, sizeof out, "--python_out=%s", srvpy_stubs);
	snprintf(grpc_out, sizeof grpc_out, "--grpc_python_out=%s", srvpy_stubs);
	char *argv[] = { SRVPY_BIN, "-m", "grpc_tools.protoc", "-I" SRVPY_PROTO_DIR, out, grpc_out,
			 SRVPY_PROTO_DIR "/common.proto", SRVPY_PROTO_DIR "/schema.proto",
			 SRVPY_PROTO_DIR "/milvus.proto", NULL };
	int rc = proc_run(NULL, tmpdir_path("protoc.out"), 60, argv);
	char *text = cli_slurp(tmpdir_path("protoc.out"));
	cr_assert_eq(rc, 0, "grpc_tools.protoc: %s", text ? text : "");
	free(text);
}

/* Runs dannd_meta.py MODE ADDR args... (NULL-terminated, at most 12); its
 * exit status (output logged). */
static inline int srvpy_run(char *const args[])
{
	char *argv[16] = { SRVPY_BIN, SRVPY_SCRIPT, srvpy_stubs };
	const char *out = tmpdir_path("py.out");
	int i = 0, rc;
	char *text;

	while (args[i] && i < 12) {
		argv[3 + i] = args[i];
		i++;
	}
	argv[3 + i] = NULL;
	rc = proc_run(NULL, out, SRVPY_TIMEOUT_S, argv);
	text = cli_slurp(out);
	cr_log_info("dannd_meta.py %s %s: exit %d: %s", args[0], args[1], rc, text ? text : "");
	free(text);
	return rc;
}

#endif
