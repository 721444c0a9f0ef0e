/*
 * srv_tls.c — building the port's credentials (see srv_tls.h).
 *
 * The files are read into memory once at start: gRPC wants PEM text, and
 * a missing or unreadable file must stop dannd with its name, not fail
 * later on the first handshake.
 */
#include "srv_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"

#define TLS_FILE_MAX (1u << 20)

static int slurp(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return dann_fail_errno(DANN_EIO, errno, "dannd: TLS file %s", path);
	buf = malloc(TLS_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return dann_fail(DANN_ENOMEM, "dannd: TLS file %s", path);
	}
	n = fread(buf, 1, TLS_FILE_MAX, f);
	if (ferror(f) || n == TLS_FILE_MAX || n == 0) {
		fclose(f);
		free(buf);
		return dann_fail(DANN_EIO, "dannd: TLS file %s: cannot read (empty, too large or I/O error)", path);
	}
	fclose(f);
	buf[n] = 0;
	*out = buf;
	return 0;
}

int srv_tls_credentials(const struct srv_config *c, grpc_server_credentials **out)
{
	grpc_ssl_pem_key_cert_pair pair;
	char *cert = NULL, *key = NULL;
	int rc;

	if (!c->tls_cert[0]) {
		*out = grpc_insecure_server_credentials_create();
		return 0;
	}
	if ((rc = slurp(c->tls_cert, &cert)) < 0)
		return rc;
	if ((rc = slurp(c->tls_key, &key)) < 0) {
		free(cert);
		return rc;
	}
	pair.private_key = key;
	pair.cert_chain = cert;
	*out = grpc_ssl_server_credentials_create_ex(NULL, &pair, 1,
						    GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
	free(cert);
	free(key);
	if (!*out)
		return dann_fail(DANN_EINVAL, "dannd: TLS certificate %s / key %s rejected",
				 c->tls_cert, c->tls_key);
	return 0;
}

int srv_tls_channel_credentials(const struct srv_config *c, grpc_channel_credentials **out)
{
	char *roots = NULL;
	int rc;

	if (!c->tls_cert[0]) {
		*out = grpc_insecure_credentials_create();
		return 0;
	}
	if ((rc = slurp(c->tls_cert, &roots)) < 0)
		return rc;
	*out = grpc_ssl_credentials_create(roots, NULL, NULL, NULL);
	free(roots);
	return *out ? 0 : dann_fail(DANN_EIO, "dannd: TLS file %s: gRPC refused it as trusted roots", c->tls_cert);
}
