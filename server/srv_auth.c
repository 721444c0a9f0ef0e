/*
 * srv_auth.c — checking the "authorization" metadata (see srv_auth.h).
 */
#include "srv_auth.h"

#include <argon2.h>
#include <string.h>

#include "srv_impl.h"

#define AUTH_CRED_MAX 512

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == '+' || ch == '-') return 62;
	if (ch == '/' || ch == '_') return 63;
	return -1;
}

int srv_base64_decode(const char *in, size_t len, char *out, size_t cap)
{
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0;

	while (len && (in[len - 1] == '=' || in[len - 1] == '\n' || in[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= cap)
				return -1;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[n] = 0;
	return (int)n;
}

static int user_ok(const struct srv_config *cfg, const char *cred)
{
	const char *colon = strchr(cred, ':');
	size_t ulen;

	if (!colon)
		return 0;
	ulen = (size_t)(colon - cred);
	for (uint32_t i = 0; i < cfg->nusers; i++) {
		const struct srv_user *u = &cfg->users[i];
		if (strlen(u->name) != ulen || memcmp(u->name, cred, ulen) != 0)
			continue;
		return argon2_verify(u->hash, colon + 1, strlen(colon + 1),
				     strncmp(u->hash, "$argon2id$", 10) == 0   ? Argon2_id
				     : strncmp(u->hash, "$argon2i$", 9) == 0 ? Argon2_i
									     : Argon2_d) == ARGON2_OK;
	}
	return 0;
}

int srv_auth_check(struct srv *s, const grpc_metadata_array *md, grpc_status_code *code,
		   const char **msg)
{
	char cred[AUTH_CRED_MAX];

	if (!s->cfg.auth)
		return 0;
	for (size_t i = 0; i < md->count; i++) {
		const grpc_metadata *m = &md->metadata[i];
		const char *v = (const char *)GRPC_SLICE_START_PTR(m->value);
		size_t vlen = GRPC_SLICE_LENGTH(m->value);

		if (GRPC_SLICE_LENGTH(m->key) != 13 ||
		    memcmp(GRPC_SLICE_START_PTR(m->key), "authorization", 13) != 0)
			continue;
		if (srv_base64_decode(v, vlen, cred, sizeof cred) < 0)
			break;
		if (user_ok(&s->cfg, cred))
			return 0;
		*code = GRPC_STATUS_UNAUTHENTICATED;
		*msg = "dannd: wrong user name or password";
		return -1;
	}
	*code = GRPC_STATUS_UNAUTHENTICATED;
	*msg = "dannd: authentication is on; send user and password (authorization metadata)";
	return -1;
}
