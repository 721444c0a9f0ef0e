/*
 * srv_addr.c — parsing listen addresses (see srv_addr.h).
 */
#include "srv_addr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int srv_addr_parse(const char *text, struct sockaddr_in *out)
{
	const char *colon = strrchr(text, ':');
	char host[64];
	char *end;
	long port;
	size_t hl;

	memset(out, 0, sizeof *out);
	if (!colon)
		return dann_fail(DANN_EINVAL, "address '%s': expected host:port", text);
	hl = (size_t)(colon - text);
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535 || hl >= sizeof host)
		return dann_fail(DANN_EINVAL, "address '%s': expected host:port with port 0..65535", text);
	memcpy(host, text, hl);
	host[hl] = 0;
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (!hl || strcmp(host, "0.0.0.0") == 0)
		out->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (strcmp(host, "localhost") == 0)
		out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		return dann_fail(DANN_EINVAL, "address '%s': '%s' is not an IPv4 address", text, host);
	return 0;
}
