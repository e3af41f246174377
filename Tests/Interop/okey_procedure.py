#!/usr/bin/env python3
"""An authenticated renewal from another gRPC stack (Python grpcio), with no .proto file of OKEY.

Usage: okey_procedure.py HOST:PORT PASSWORD

The okey.v1 messages are built from the descriptors server reflection serves. As a Python client
of the portal team would, it logs in as the agent ens1a, starts a software-key renewal, adds a PDF,
submits it, logs in as her N+1 ien1 and approves it; then it sends a refused call (the approval
again, with the version it already used) and reads the google.rpc.Status details from the trailer:
ErrorInfo with domain okey.v1 and reason STALE_VERSION, metadata current_version; and an
INVALID_ARGUMENT (expected_version 0) with its BadRequest field violation.
Prints one line per step and exits non-zero on the first failure.
"""
import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_status import rpc_status

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


class Contract:
    """okey.v1 as reflection describes it: message classes and unary calls by name."""

    def __init__(self, channel):
        self.channel = channel
        self.pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))

    def message(self, name, **fields):
        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(f"okey.v1.{name}"))(**fields)

    def enum(self, enum, value):
        return self.pool.FindEnumTypeByName(f"okey.v1.{enum}").values_by_name[value].number

    def call(self, service, method, request, token):
        descriptor = self.pool.FindServiceByName(f"okey.v1.{service}").methods_by_name[method]
        reply = message_factory.GetMessageClass(descriptor.output_type)
        stub = self.channel.unary_unary(
            f"/okey.v1.{service}/{method}", request_serializer=lambda m: m.SerializeToString(), response_deserializer=reply.FromString)
        metadata = [("authorization", f"Bearer {token}")] if token else []
        return stub(request, metadata=metadata, timeout=10)


def error_details(error):
    """The ErrorInfo and BadRequest of a refused call, from grpc-status-details-bin."""
    status = rpc_status.from_call(error)
    if status is None:
        fail(f"{error.code()} without google.rpc.Status details: {error.details()}")
    info, bad_request = None, None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
    if info is None:
        fail(f"{error.code()} without ErrorInfo")
    return info, bad_request


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    password = sys.argv[2]
    with grpc.insecure_channel(sys.argv[1]) as channel:
        okey = Contract(channel)
        agent = okey.call("AuthService", "Login", okey.message("LoginRequest", uid="ens1a", password=password), None).token
        print("ok login ens1a")
        renewal = okey.call("RenewalService", "StartRenewal", okey.message(
            "StartRenewalRequest", key_type=okey.enum("KeyType", "KEY_TYPE_SOFTWARE"), motif=okey.enum("Motif", "MOTIF_EXPIRED"),
            idempotency_key="python-start-1"), agent).renewal
        print(f"ok start {renewal.request_id} version {renewal.version}")
        renewal = okey.call("RenewalService", "AddDocument", okey.message(
            "AddDocumentRequest", request_id=renewal.request_id, filename="justificatif.pdf", kind="supporting-document",
            content=PDF, expected_version=renewal.version), agent).renewal
        print(f"ok document added, {len(renewal.documents)} document(s)")
        renewal = okey.call("RenewalService", "SubmitRenewal", okey.message(
            "SubmitRenewalRequest", request_id=renewal.request_id, expected_version=renewal.version), agent).renewal
        if renewal.status != okey.enum("RenewalStatus", "RENEWAL_STATUS_PENDING_APPROVAL"):
            fail(f"submitted request is in status {renewal.status}")
        print(f"ok submitted to {renewal.routing.n1.person.uid}")
        approver = okey.call("AuthService", "Login", okey.message("LoginRequest", uid=renewal.routing.n1.person.uid, password=password), None).token
        used = renewal.version
        approved = okey.call("ApprovalService", "Approve", okey.message(
            "ApproveRequest", request_id=renewal.request_id, expected_version=used, idempotency_key="python-approve-1"), approver).renewal
        if approved.status != okey.enum("RenewalStatus", "RENEWAL_STATUS_AWAITING_ENROLMENT"):
            fail(f"approved request is in status {approved.status}")
        print("ok approved by the N+1: AWAITING_ENROLMENT")
        retried = okey.call("ApprovalService", "Approve", okey.message(
            "ApproveRequest", request_id=renewal.request_id, expected_version=used, idempotency_key="python-approve-1"), approver).renewal
        if retried.version != approved.version:
            fail(f"the retried approval gave version {retried.version}, the first {approved.version}")
        print("ok the approval retried with its key gives the first result")

        try:
            okey.call("ApprovalService", "Approve", okey.message("ApproveRequest", request_id=renewal.request_id, expected_version=used), approver)
            fail("a second approval with a stale version succeeded")
        except grpc.RpcError as error:
            info, _ = error_details(error)
            if error.code() != grpc.StatusCode.ABORTED or info.domain != "okey.v1" or info.reason != "STALE_VERSION":
                fail(f"stale approval: {error.code()} {info.domain} {info.reason}")
            if info.metadata.get("current_version") != str(approved.version):
                fail(f"current_version metadata {dict(info.metadata)}")
            print(f"ok refused: ABORTED, ErrorInfo okey.v1 {info.reason}, current_version {info.metadata['current_version']}")
        try:
            okey.call("RenewalService", "CancelRenewal", okey.message("CancelRenewalRequest", request_id=renewal.request_id), agent)
            fail("a cancel without expected_version succeeded")
        except grpc.RpcError as error:
            info, bad_request = error_details(error)
            fields = [v.field for v in bad_request.field_violations] if bad_request else []
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT or info.reason != "INVALID_FIELD" or fields != ["expected_version"]:
                fail(f"forgotten version: {error.code()} {info.reason} {fields}")
            print(f"ok refused: INVALID_ARGUMENT, BadRequest names {fields[0]}")
    print("procedure passed")


if __name__ == "__main__":
    main()
