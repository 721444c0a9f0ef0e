/*
 * srv_status.h — how a dann failure is told to a Milvus client.
 *
 * Milvus reports a failed request inside the response, as a common.Status
 * with the legacy ErrorCode enum, a numeric code from its error catalogue
 * and a reason, while the gRPC status stays OK; only transport-level
 * failures (a malformed or oversized message, overload, a passed deadline,
 * an unknown method, authentication) use gRPC status codes. The SDKs check
 * error_code (and code) in the status, so both are set the way Milvus sets
 * them.
 */
#ifndef SRV_STATUS_H
#define SRV_STATUS_H

#include <grpc/status.h>

/* Milvus's error catalogue codes dannd uses (common.Status.code). */
enum srv_mcode {
	SRV_M_OK = 0,
	SRV_M_UNAVAILABLE = 2,         /* service unavailable */
	SRV_M_MEMORY = 3,              /* memory limit exceeded */
	SRV_M_TOO_MANY = 4,            /* too many concurrent requests */
	SRV_M_INTERNAL = 5,            /* service internal error */
	SRV_M_RATE_LIMIT = 8,
	SRV_M_UNIMPLEMENTED = 10,
	SRV_M_COLL_NOT_FOUND = 100,
	SRV_M_COLL_NOT_LOADED = 101,
	SRV_M_COLL_ILLEGAL_SCHEMA = 105,
	SRV_M_INDEX_NOT_FOUND = 700,
	SRV_M_INDEX_NOT_SUPPORTED = 701,
	SRV_M_IO_FAILED = 1001,
	SRV_M_PARAM_INVALID = 1100,
	SRV_M_PARAM_MISSING = 1101,
	SRV_M_PARAM_TOO_LARGE = 1102,
	SRV_M_METRIC_INVALID = 1200,
	SRV_M_DUPLICATE = 1103,        /* a name or key already exists */
	SRV_M_TIMEOUT = 6,             /* request ran past its deadline */
	SRV_M_CANCELED = 7,
};

struct srv_status {
	int error_code;                /* common.ErrorCode (legacy) */
	int code;                      /* enum srv_mcode */
	int retriable;
};

/* The Milvus status for a dann error code (DANN_E*, 0 for success). mcode,
 * when nonzero, is a more precise catalogue code the handler chose
 * (SRV_M_COLL_NOT_FOUND rather than a generic "not found"). */
struct srv_status srv_status_of(int dann_rc, int mcode);

/* The gRPC status for a failure that is reported at the transport level
 * instead of inside a response (DANN_EBUSY: RESOURCE_EXHAUSTED, DANN_ETIMEDOUT:
 * DEADLINE_EXCEEDED, ...). */
grpc_status_code srv_grpc_status_of(int dann_rc);

/* Short name of a gRPC status code ("RESOURCE_EXHAUSTED"). */
const char *srv_grpc_status_name(grpc_status_code c);

#endif
