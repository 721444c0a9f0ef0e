/*
 * srv_auth.c — checking the "authorization" metadata (see srv_auth.h).
 */
#include "srv_auth.h"

#include <argon2.h>
#include <pthread.h>
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

#define SEEN_T_COST 1
#define SEEN_M_COST_KIB 8
#define SEEN_BYTES 32

/* A cheap keyed digest of verified credentials: never the password
 * itself, and useless outside this process (random salt). */
static int seen_digest(struct srv *s, const char *cred, uint8_t out[SEEN_BYTES])
{
	return argon2id_hash_raw(SEEN_T_COST, SEEN_M_COST_KIB, 1, cred, strlen(cred), s->auth_salt,
				 sizeof s->auth_salt, out, SEEN_BYTES) == ARGON2_OK ? 0 : -1;
}

static int user_ok(struct srv *s, const char *cred)
{
	const struct srv_config *cfg = &s->cfg;
	const char *colon = strchr(cred, ':');
	uint8_t digest[SEEN_BYTES];
	size_t ulen;
	int have_digest, hit, ok;

	if (!colon)
		return 0;
	ulen = (size_t)(colon - cred);
	for (uint32_t i = 0; i < cfg->nusers; i++) {
		const struct srv_user *u = &cfg->users[i];
		if (strlen(u->name) != ulen || memcmp(u->name, cred, ulen) != 0)
			continue;
		have_digest = seen_digest(s, cred, digest) == 0;
		pthread_mutex_lock(&s->auth_lock);
		hit = have_digest && s->auth_seen_valid[i] && memcmp(s->auth_seen[i], digest, SEEN_BYTES) == 0;
		pthread_mutex_unlock(&s->auth_lock);
		if (hit)
			return 1;
		ok = argon2_verify(u->hash, colon + 1, strlen(colon + 1),
				   strncmp(u->hash, "$argon2id$", 10) == 0  ? Argon2_id
				   : strncmp(u->hash, "$argon2i$", 9) == 0 ? Argon2_i
									   : Argon2_d) == ARGON2_OK;
		if (ok && have_digest) {
			pthread_mutex_lock(&s->auth_lock);
			memcpy(s->auth_seen[i], digest, SEEN_BYTES);
			s->auth_seen_valid[i] = 1;
			pthread_mutex_unlock(&s->auth_lock);
		}
		return ok;
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
		if (user_ok(s, cred))
			return 0;
		*code = GRPC_STATUS_UNAUTHENTICATED;
		*msg = "dannd: wrong user name or password";
		return -1;
	}
	*code = GRPC_STATUS_UNAUTHENTICATED;
	*msg = "dannd: authentication is on; send user and password (authorization metadata)";
	return -1;
}
