/*
 * srv_addr.h — "host:port" text to an IPv4 socket address.
 */
#ifndef SRV_ADDR_H
#define SRV_ADDR_H

#include <netinet/in.h>

/* Parses "a.b.c.d:port" or "localhost:port" or ":port" (all interfaces).
 * DANN_EINVAL naming the text otherwise. */
int srv_addr_parse(const char *text, struct sockaddr_in *out);

#endif
