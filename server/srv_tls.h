/*
 * srv_tls.h — the listening port's credentials: plaintext, or TLS from a
 * PEM certificate chain and key named in the config.
 */
#ifndef SRV_TLS_H
#define SRV_TLS_H

#include <grpc/grpc_security.h>

#include "srv.h"

/* Insecure credentials when c->tls_cert is empty, else TLS credentials
 * (the files read now: DANN_EIO naming a file that cannot be read). */
int srv_tls_credentials(const struct srv_config *c, grpc_server_credentials **out);

/* What this node uses to call another node of its cluster (srv_fwd.c):
 * plaintext when c->tls_cert is empty, else TLS trusting the certificates
 * of c->tls_cert (the cluster's nodes share a certificate, or its chain
 * ends in the cluster's CA). DANN_EIO naming a file that cannot be read. */
int srv_tls_channel_credentials(const struct srv_config *c, grpc_channel_credentials **out);

#endif
