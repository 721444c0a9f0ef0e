/*
 * srv_auth.h — Milvus-style authentication of a call.
 *
 * The SDKs send credentials as the "authorization" metadata: base64 of
 * "user:password" (a token "user:password" is sent the same way). When the
 * config turns auth on, each call's credentials are checked against the
 * configured users, whose passwords are stored only as argon2 hashes;
 * anything else is UNAUTHENTICATED. The check runs on a worker thread
 * (argon2 is deliberately slow).
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <grpc/grpc.h>

struct srv;

/* 0 when auth is off or the metadata names a user with the right password;
 * else -1 with *code UNAUTHENTICATED and *msg saying why. */
int srv_auth_check(struct srv *s, const grpc_metadata_array *md, grpc_status_code *code,
		   const char **msg);

/* Decodes standard base64 (padding optional) into out (cap bytes, NUL
 * added); returns the length or -1 on a bad character or overflow. */
int srv_base64_decode(const char *in, size_t len, char *out, size_t cap);

#endif
