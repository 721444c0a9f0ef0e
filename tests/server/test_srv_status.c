/*
 * test_srv_status.c — how dann's errors reach a Milvus client: the status
 * code, the legacy error code the SDKs test, and the gRPC codes used for
 * transport-level failures.
 */
#include <criterion/criterion.h>

#include "common.pb-c.h"
#include "dann.h"
#include "srv_status.h"

#define E(x) MILVUS__PROTO__COMMON__ERROR_CODE__##x

Test(srv_status, success_is_code_zero_and_error_code_success)
{
	struct srv_status s = srv_status_of(0, SRV_M_COLL_NOT_FOUND);

	cr_assert_eq(s.code, 0);
	cr_assert_eq(s.error_code, E(Success));
	cr_assert_eq(s.retriable, 0);
}

Test(srv_status, each_dann_error_has_a_milvus_code_and_legacy_error_code)
{
	static const struct { int rc, code, legacy; } cases[] = {
		{ DANN_EINVAL, SRV_M_PARAM_INVALID, E(IllegalArgument) },
		{ DANN_ENOMEM, SRV_M_MEMORY, E(OutOfMemory) },
		{ DANN_EIO, SRV_M_IO_FAILED, E(UnexpectedError) },
		{ DANN_ECORRUPT, SRV_M_INTERNAL, E(UnexpectedError) },
		{ DANN_ENOTFOUND, SRV_M_COLL_NOT_FOUND, E(CollectionNotExists) },
		{ DANN_EUNSUPPORTED, SRV_M_UNIMPLEMENTED, E(UnexpectedError) },
		{ DANN_EBUSY, SRV_M_TOO_MANY, E(RateLimit) },
		{ DANN_ECANCELED, SRV_M_CANCELED, E(UnexpectedError) },
		{ DANN_EEXIST, SRV_M_DUPLICATE, E(IllegalArgument) },
		{ DANN_ETIMEDOUT, SRV_M_TIMEOUT, E(UnexpectedError) },
		{ -99, SRV_M_INTERNAL, E(UnexpectedError) },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct srv_status s = srv_status_of(cases[i].rc, 0);
		cr_expect_eq(s.code, cases[i].code, "%s: code %d", dann_errname(cases[i].rc), s.code);
		cr_expect_eq(s.error_code, cases[i].legacy, "%s: error_code %d", dann_errname(cases[i].rc),
			     s.error_code);
	}
	cr_assert_eq(srv_status_of(DANN_EBUSY, 0).retriable, 1);
	cr_assert_eq(srv_status_of(DANN_EINVAL, 0).retriable, 0);
}

Test(srv_status, a_handler_chosen_code_overrides_the_default)
{
	struct srv_status s = srv_status_of(DANN_ENOTFOUND, SRV_M_INDEX_NOT_FOUND);

	cr_assert_eq(s.code, SRV_M_INDEX_NOT_FOUND);
	cr_assert_eq(s.error_code, E(IndexNotExist));
	s = srv_status_of(DANN_EINVAL, SRV_M_COLL_NOT_LOADED);
	cr_assert_eq(s.code, SRV_M_COLL_NOT_LOADED);
	cr_assert_eq(s.error_code, E(UnexpectedError));
	s = srv_status_of(DANN_EINVAL, SRV_M_METRIC_INVALID);
	cr_assert_eq(s.error_code, E(IllegalMetricType));
}

Test(srv_status, transport_failures_map_to_grpc_codes)
{
	cr_assert_eq(srv_grpc_status_of(0), GRPC_STATUS_OK);
	cr_assert_eq(srv_grpc_status_of(DANN_EBUSY), GRPC_STATUS_RESOURCE_EXHAUSTED);
	cr_assert_eq(srv_grpc_status_of(DANN_ENOMEM), GRPC_STATUS_RESOURCE_EXHAUSTED);
	cr_assert_eq(srv_grpc_status_of(DANN_ETIMEDOUT), GRPC_STATUS_DEADLINE_EXCEEDED);
	cr_assert_eq(srv_grpc_status_of(DANN_ECANCELED), GRPC_STATUS_CANCELLED);
	cr_assert_eq(srv_grpc_status_of(DANN_EINVAL), GRPC_STATUS_INVALID_ARGUMENT);
	cr_assert_eq(srv_grpc_status_of(DANN_EUNSUPPORTED), GRPC_STATUS_UNIMPLEMENTED);
	cr_assert_str_eq(srv_grpc_status_name(GRPC_STATUS_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
	cr_assert_str_eq(srv_grpc_status_name(GRPC_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
	cr_assert_str_eq(srv_grpc_status_name((grpc_status_code)99), "UNKNOWN");
}
