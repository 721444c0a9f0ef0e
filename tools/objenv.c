/*
 * objenv.c — the object-store config from AWS's environment variables and
 * shared files (see objenv.h for the names and the order).
 *
 * The files are read once per process and their values kept for its life
 * (in `files`, reachable, never freed): an obj_config points at its
 * strings, as it points into the environment for the variables.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/error.h"
#include "objenv.h"

#define LINE_MAX_BYTES 4096

enum { F_KEY_ID, F_SECRET, F_TOKEN, F_REGION, F_ENDPOINT, F_N };

static const char *const file_keys[F_N] = {
	"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", "endpoint_url",
};

static struct {
	int loaded;
	const char *v[F_N];
} files;

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* Reads the settings of section `want` of the INI file at path into out[]
 * where out[] is still empty. A missing file is no error (nothing is
 * configured there); a line that is not "[section]", "key = value" or a
 * comment is. */
static int read_file(const char *path, const char *want, const char *out[F_N])
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_BYTES], section[256] = "";
	int lineno = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		char *p = trim(line), *eq;

		lineno++;
		if (!*p || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			char *end = strchr(p, ']');
			if (!end) {
				fclose(f);
				return dann_fail(DANN_EINVAL, "%s:%d: a section without ']'", path, lineno);
			}
			*end = 0;
			snprintf(section, sizeof section, "%s", trim(p + 1));
			continue;
		}
		if (!(eq = strchr(p, '='))) {
			fclose(f);
			return dann_fail(DANN_EINVAL, "%s:%d: expected 'name = value'", path, lineno);
		}
		*eq = 0;
		if (strcmp(section, want) != 0)
			continue;
		for (int k = 0; k < F_N; k++)
			if (!out[k] && !strcmp(trim(p), file_keys[k]) && *trim(eq + 1) &&
			    !(out[k] = strdup(trim(eq + 1)))) {
				fclose(f);
				return dann_fail(DANN_ENOMEM, "%s:%d", path, lineno);
			}
	}
	fclose(f);
	return 0;
}

/* The shared credentials file, then the config file (whose sections other
 * than "default" are "profile NAME"), for the profile AWS_PROFILE names. */
static int read_files(const char *out[F_N])
{
	const char *profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default", *home = env("HOME");
	char path[4096], section[300];
	int rc;

	if (env("AWS_SHARED_CREDENTIALS_FILE"))
		snprintf(path, sizeof path, "%s", env("AWS_SHARED_CREDENTIALS_FILE"));
	else if (home)
		snprintf(path, sizeof path, "%s/.aws/credentials", home);
	else
		path[0] = 0;
	if (path[0] && (rc = read_file(path, profile, out)) < 0)
		return rc;
	if (env("AWS_CONFIG_FILE"))
		snprintf(path, sizeof path, "%s", env("AWS_CONFIG_FILE"));
	else if (home)
		snprintf(path, sizeof path, "%s/.aws/config", home);
	else
		return 0;
	if (!strcmp(profile, "default"))
		snprintf(section, sizeof section, "default");
	else
		snprintf(section, sizeof section, "profile %s", profile);
	return read_file(path, section, out);
}

int objenv_config(struct obj_config *c)
{
	const char **f = files.v, *ps;
	int rc;

	obj_config_default(c);
	if (!files.loaded && (rc = read_files(files.v)) < 0)
		return rc;
	files.loaded = 1;
	/* the variables win over the files, as in AWS's own tools; a key pair
	 * comes whole from one place */
	if (env("AWS_ACCESS_KEY_ID")) {
		c->access_key = env("AWS_ACCESS_KEY_ID");
		c->secret_key = env("AWS_SECRET_ACCESS_KEY");
		c->session_token = env("AWS_SESSION_TOKEN");
	} else {
		c->access_key = f[F_KEY_ID];
		c->secret_key = f[F_SECRET];
		c->session_token = f[F_TOKEN];
	}
	c->region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION") ? env("AWS_DEFAULT_REGION")
										  : f[F_REGION];
	c->endpoint = env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3")
			: env("AWS_ENDPOINT_URL") ? env("AWS_ENDPOINT_URL") : f[F_ENDPOINT];
	c->path_style = c->endpoint != NULL;
	if ((ps = env("DANN_S3_PATH_STYLE"))) {
		if (strcmp(ps, "0") != 0 && strcmp(ps, "1") != 0)
			return dann_fail(DANN_EINVAL, "DANN_S3_PATH_STYLE='%s': expected 0 or 1", ps);
		c->path_style = ps[0] == '1';
	}
	if (c->access_key && !c->secret_key)
		return env("AWS_ACCESS_KEY_ID")
			? dann_fail(DANN_EINVAL, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
			: dann_fail(DANN_EINVAL, "profile %s of the AWS shared files has an aws_access_key_id but "
				    "no aws_secret_access_key", env("AWS_PROFILE") ? env("AWS_PROFILE") : "default");
	return 0;
}

int objenv_open(const char *uri, struct obj_store **out)
{
	struct obj_config c;
	int rc;

	if ((rc = objenv_config(&c)) < 0)
		return rc;
	return obj_open(uri, &c, out);
}
