/*
 * srv_status.c — DANN_E* codes to Milvus statuses and gRPC codes.
 *
 * The legacy ErrorCode is derived from the catalogue code the way Milvus
 * derives it, because older SDK paths still test error_code only: unknown
 * collection -> CollectionNotExists, bad parameter -> IllegalArgument,
 * missing index -> IndexNotExist, throttling -> RateLimit, anything else
 * UnexpectedError.
 */
#include "srv_status.h"

#include "common.pb-c.h"
#include "dann.h"

static int legacy_of(int code)
{
	switch (code) {
	case SRV_M_OK:
		return MILVUS__PROTO__COMMON__ERROR_CODE__Success;
	case SRV_M_COLL_NOT_FOUND:
		return MILVUS__PROTO__COMMON__ERROR_CODE__CollectionNotExists;
	case SRV_M_PARAM_INVALID:
	case SRV_M_PARAM_MISSING:
	case SRV_M_PARAM_TOO_LARGE:
	case SRV_M_COLL_ILLEGAL_SCHEMA:
	case SRV_M_DUPLICATE:
		return MILVUS__PROTO__COMMON__ERROR_CODE__IllegalArgument;
	case SRV_M_METRIC_INVALID:
		return MILVUS__PROTO__COMMON__ERROR_CODE__IllegalMetricType;
	case SRV_M_INDEX_NOT_FOUND:
		return MILVUS__PROTO__COMMON__ERROR_CODE__IndexNotExist;
	case SRV_M_INDEX_NOT_SUPPORTED:
		return MILVUS__PROTO__COMMON__ERROR_CODE__IllegalIndexType;
	case SRV_M_RATE_LIMIT:
	case SRV_M_TOO_MANY:
		return MILVUS__PROTO__COMMON__ERROR_CODE__RateLimit;
	case SRV_M_MEMORY:
		return MILVUS__PROTO__COMMON__ERROR_CODE__OutOfMemory;
	default:
		return MILVUS__PROTO__COMMON__ERROR_CODE__UnexpectedError;
	}
}

static int mcode_of(int rc)
{
	switch (rc) {
	case DANN_OK: return SRV_M_OK;
	case DANN_EINVAL: return SRV_M_PARAM_INVALID;
	case DANN_ENOMEM: return SRV_M_MEMORY;
	case DANN_EIO: return SRV_M_IO_FAILED;
	case DANN_ECORRUPT: return SRV_M_INTERNAL;
	case DANN_ENOTFOUND: return SRV_M_COLL_NOT_FOUND;
	case DANN_EUNSUPPORTED: return SRV_M_UNIMPLEMENTED;
	case DANN_EBUSY: return SRV_M_TOO_MANY;
	case DANN_ECANCELED: return SRV_M_CANCELED;
	case DANN_EEXIST: return SRV_M_DUPLICATE;
	case DANN_ETIMEDOUT: return SRV_M_TIMEOUT;
	default: return SRV_M_INTERNAL;
	}
}

struct srv_status srv_status_of(int dann_rc, int mcode)
{
	struct srv_status s;

	s.code = dann_rc == DANN_OK ? SRV_M_OK : mcode ? mcode : mcode_of(dann_rc);
	s.error_code = legacy_of(s.code);
	s.retriable = dann_rc == DANN_EBUSY;
	return s;
}

grpc_status_code srv_grpc_status_of(int dann_rc)
{
	switch (dann_rc) {
	case DANN_OK: return GRPC_STATUS_OK;
	case DANN_EINVAL: return GRPC_STATUS_INVALID_ARGUMENT;
	case DANN_ENOMEM: return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case DANN_EBUSY: return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case DANN_ENOTFOUND: return GRPC_STATUS_NOT_FOUND;
	case DANN_EUNSUPPORTED: return GRPC_STATUS_UNIMPLEMENTED;
	case DANN_ECANCELED: return GRPC_STATUS_CANCELLED;
	case DANN_ETIMEDOUT: return GRPC_STATUS_DEADLINE_EXCEEDED;
	case DANN_EEXIST: return GRPC_STATUS_ALREADY_EXISTS;
	case DANN_EIO: return GRPC_STATUS_UNAVAILABLE;
	default: return GRPC_STATUS_INTERNAL;
	}
}

const char *srv_grpc_status_name(grpc_status_code c)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
		"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};
	if ((unsigned)c < sizeof names / sizeof names[0])
		return names[c];
	return "UNKNOWN";
}
