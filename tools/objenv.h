/*
 * objenv.h — an object-store config from the environment, for the CLI and
 * dannd (the library itself never reads the environment).
 *
 * The usual AWS names: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, AWS_REGION (else AWS_DEFAULT_REGION),
 * AWS_ENDPOINT_URL_S3 (else AWS_ENDPOINT_URL). What they leave unset comes
 * from AWS's shared files for the profile AWS_PROFILE (else "default"):
 * aws_access_key_id, aws_secret_access_key and aws_session_token from the
 * credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials),
 * then those and region and endpoint_url from the config file
 * (AWS_CONFIG_FILE, else ~/.aws/config; section "profile NAME" for a
 * profile other than default). A key pair comes whole from one place.
 * Addressing is path style
 * when an endpoint is given (MinIO, s3rver and most servers that are not
 * AWS want it) and virtual-host style for AWS itself; DANN_S3_PATH_STYLE=0|1
 * overrides either.
 */
#ifndef DANN_OBJENV_H
#define DANN_OBJENV_H

#include "../engine/io/obj.h"

/* Fills c from the environment and the shared files (strings point into
 * the environment or into copies kept for the life of the process).
 * DANN_EINVAL naming a variable with a bad value or a file's bad line. */
int objenv_config(struct obj_config *c);

/* Opens uri with objenv_config's settings; the error is left for
 * cmd_fail_lib. */
int objenv_open(const char *uri, struct obj_store **out);

#endif
