/*
 * objenv.c — the object-store config from AWS's environment variables.
 */
#include <stdlib.h>
#include <string.h>

#include "../engine/error.h"
#include "objenv.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int objenv_config(struct obj_config *c)
{
	const char *ps;

	obj_config_default(c);
	c->access_key = env("AWS_ACCESS_KEY_ID");
	c->secret_key = env("AWS_SECRET_ACCESS_KEY");
	c->session_token = env("AWS_SESSION_TOKEN");
	c->region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
	c->endpoint = env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3") : env("AWS_ENDPOINT_URL");
	c->path_style = c->endpoint != NULL;
	if ((ps = env("DANN_S3_PATH_STYLE"))) {
		if (strcmp(ps, "0") != 0 && strcmp(ps, "1") != 0)
			return dann_fail(DANN_EINVAL, "DANN_S3_PATH_STYLE='%s': expected 0 or 1", ps);
		c->path_style = ps[0] == '1';
	}
	if (c->access_key && !c->secret_key)
		return dann_fail(DANN_EINVAL, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
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
