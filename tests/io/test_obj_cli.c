/*
 * test_obj_cli.c — `dann obj` against s3rver, configured only through the
 * AWS environment variables (tools/objenv.c), as an operator would use it.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "helpers/cli.h"
#include "helpers/s3rver.h"
#include "obj_test.h"

static struct s3rver srv;

static void setup(void)
{
	tmpdir_make("obj_cli");
	s3rver_start(&srv, tmpdir_path("s3rver"), "cli", 0, 0);
	setenv("AWS_ENDPOINT_URL", srv.endpoint, 1);
	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	setenv("AWS_REGION", "eu-west-1", 1);
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("DANN_S3_PATH_STYLE");
}

static void teardown(void)
{
	s3rver_stop(&srv);
	tmpdir_remove();
}

TestSuite(obj_cli, .init = setup, .fini = teardown, .timeout = 120);

Test(obj_cli, puts_lists_gets_and_removes_with_the_aws_environment)
{
	const char *src = tmpdir_path("src"), *dst = tmpdir_path("dst");
	uint32_t crc = pat_file(src, 9, 70000);
	char crc_s[16], *out = NULL, *err = NULL;

	snprintf(crc_s, sizeof crc_s, "%08x", crc);
	cr_assert_eq(cli_run(&out, &err, "obj", "put", "s3://cli/p", "a/b", src, NULL), 0, "%s", err);
	cr_assert(strstr(out, "put 70000 bytes"), "%s", out);
	free(out), free(err);
	cr_assert_eq(cli_run(&out, &err, "obj", "ls", "s3://cli/p", NULL), 0, "%s", err);
	cr_assert(strstr(out, "70000  a/b"), "%s", out);
	free(out), free(err);
	cr_assert_eq(cli_run(&out, &err, "obj", "get", "s3://cli/p", "a/b", dst, "--crc", crc_s, NULL), 0, "%s", err);
	free(out), free(err);
	pat_check_file(dst, 9, 70000);
	cr_assert_eq(cli_run(&out, &err, "obj", "rm", "s3://cli/p", "a/b", NULL), 0, "%s", err);
	free(out), free(err);
	cr_assert_neq(cli_run(&out, &err, "obj", "head", "s3://cli/p", "a/b", NULL), 0);
	cr_assert(strstr(err, "not found"), "%s", err);
	free(out), free(err);
}

Test(obj_cli, refused_credentials_and_a_missing_bucket_are_reported)
{
	char *out = NULL, *err = NULL;
	const char *src = tmpdir_path("src");

	pat_file(src, 1, 10);
	cr_assert_neq(cli_run(&out, &err, "obj", "put", "s3://nobucket/p", "k", src, NULL), 0);
	cr_assert(strstr(err, "bucket 'nobucket' does not exist"), "%s", err);
	free(out), free(err);
	setenv("AWS_ACCESS_KEY_ID", "SOMEONE", 1);
	cr_assert_neq(cli_run(&out, &err, "obj", "put", "s3://cli/p", "k", src, NULL), 0);
	cr_assert(strstr(err, "access denied"), "%s", err);
	free(out), free(err);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	cr_assert_neq(cli_run(&out, &err, "obj", "ls", "s3://cli/p", NULL), 0);
	cr_assert(strstr(err, "AWS_SECRET_ACCESS_KEY"), "%s", err);
	free(out), free(err);
}

Test(obj_cli, the_shared_aws_files_configure_what_the_variables_leave_unset)
{
	const char *src = tmpdir_path("src");
	char dir[600], path[700], *out = NULL, *err = NULL;
	FILE *f;

	pat_file(src, 3, 1000);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_REGION");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
	snprintf(dir, sizeof dir, "%s", tmpdir_path("home"));
	setenv("HOME", dir, 1);
	snprintf(path, sizeof path, "%s/.aws", dir);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/.aws/credentials", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n\n"
	      "[half]\naws_access_key_id = ONLYTHEID\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/.aws/config", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fprintf(f, "# as `aws configure` writes it\n[default]\nregion = eu-west-1\nendpoint_url = %s\n\n"
		   "[profile half]\nendpoint_url = %s\n", srv.endpoint, srv.endpoint);
	fclose(f);

	cr_assert_eq(cli_run(&out, &err, "obj", "put", "s3://cli/f", "k", src, NULL), 0, "%s", err);
	free(out), free(err);
	cr_assert_eq(cli_run(&out, &err, "obj", "ls", "s3://cli/f", NULL), 0, "%s", err);
	cr_assert(strstr(out, "1000  k"), "endpoint and keys from the files: %s", out);
	free(out), free(err);

	setenv("AWS_PROFILE", "half", 1);
	cr_assert_neq(cli_run(&out, &err, "obj", "ls", "s3://cli/f", NULL), 0);
	cr_assert(strstr(err, "half") && strstr(err, "aws_secret_access_key"), "the profile's key pair is "
		  "incomplete: %s", err);
	free(out), free(err);
	unsetenv("AWS_PROFILE");

	cr_assert_not_null(f = fopen(path, "a"));
	fputs("this line is not a setting\n", f);
	fclose(f);
	cr_assert_neq(cli_run(&out, &err, "obj", "ls", "s3://cli/f", NULL), 0);
	cr_assert(strstr(err, "config:8"), "a bad line is named: %s", err);
	free(out), free(err);
}
