#!/usr/bin/env python3
"""Interoperability check of okeyd from another gRPC stack (Python grpcio from PyPI).

Usage: okey_interop.py HOST:PORT

Without any .proto file of OKEY, it:
  1. lists the services through server reflection, both grpc.reflection.v1 (raw method, the messages
     are wire-identical to v1alpha) and v1alpha (grpcio-reflection's stock descriptor database);
  2. loads the okey.v1 service descriptors through reflection and checks every RPC of the contract;
  3. gets SERVING from the standard health service, for the server and for okey.v1.RenewalService,
     and NOT_FOUND for an unknown service.
Prints one line per check and exits non-zero on the first failure.
"""
import sys

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

EXPECTED_RPCS = {
    "okey.v1.AuthService": ["Login", "WhoAmI", "Logout"],
    "okey.v1.RenewalService": [
        "StartRenewal", "AddDocument", "RemoveDocument", "SetValidator", "SubmitRenewal",
        "CancelRenewal", "GetRenewal", "ListMyRenewals", "ChooseMobilePlatform", "GetReasonsCatalogue", "GetCharter",
        "SignCharter", "ListPickupSlots", "BookPickup", "WatchRenewal", "GetDocument",
        "MarkElementsSent", "GetEnrolmentCode", "ConfirmEnrolmentScanned", "CancelPickup",
    ],
    "okey.v1.ApprovalService": ["ListPendingApprovals", "Approve", "Reject", "ListKeysToHandOver", "HandOverKey"],
    "okey.v1.OperationsService": [
        "ListWork", "ConfirmEnrolmentElements", "AttachEnrolmentCode", "Finalize", "PublishPickupSlots",
        "RecordHandover", "PublishCharter", "Reroute", "CancelRenewal", "RequestElementsAgain",
        "RecordNoShow", "AllowPhoneChange", "ImportKeys",
    ],
    "okey.v1.SupportService": [
        "SearchRenewals", "GetRenewal", "ResolveRouting", "ListKeys", "VerifyAuditTrail", "GetAuditHead", "Stats", "ListOutbox",
        "ExplainRenewal", "Report",
    ],
}


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def list_services_v1(channel):
    call = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    responses = list(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
    return sorted(s.name for s in responses[0].list_services_response.service)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    with grpc.insecure_channel(sys.argv[1]) as channel:
        services_v1 = list_services_v1(channel)
        missing = [s for s in EXPECTED_RPCS if s not in services_v1]
        if missing:
            fail(f"reflection v1 does not list {missing}; got {services_v1}")
        print(f"ok reflection v1 lists {len(services_v1)} services: {', '.join(services_v1)}")

        database = ProtoReflectionDescriptorDatabase(channel)
        services_alpha = sorted(database.get_services())
        if services_alpha != services_v1:
            fail(f"reflection v1alpha lists {services_alpha}, v1 lists {services_v1}")
        print("ok reflection v1alpha lists the same services")

        pool = descriptor_pool.DescriptorPool(database)
        for service, rpcs in EXPECTED_RPCS.items():
            descriptor = pool.FindServiceByName(service)
            names = [m.name for m in descriptor.methods]
            absent = [r for r in rpcs if r not in names]
            if absent:
                fail(f"{service} lacks {absent} (has {names})")
        watch = pool.FindServiceByName("okey.v1.RenewalService").methods_by_name["WatchRenewal"]
        if not watch.server_streaming:
            fail("WatchRenewal is not server-streaming")
        timestamp = pool.FindMessageTypeByName("okey.v1.Renewal").fields_by_name["created_at"].message_type
        if timestamp.full_name != "google.protobuf.Timestamp":
            fail(f"Renewal.created_at is {timestamp.full_name}")
        print(f"ok reflection describes all {sum(len(r) for r in EXPECTED_RPCS.values())} okey.v1 RPCs")

        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", "okey.v1.RenewalService"]:
            status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
            if status != health_pb2.HealthCheckResponse.SERVING:
                fail(f"health of '{service}' is {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")
            print(f"ok health '{service}' SERVING")
        try:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
            fail("health of an unknown service did not fail")
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                fail(f"health of an unknown service gave {error.code()}")
        print("ok health unknown service NOT_FOUND")
    print("interop passed")


if __name__ == "__main__":
    main()
