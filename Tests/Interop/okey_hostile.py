#!/usr/bin/env python3
"""Hostile values over every okey.v1 RPC, generated from the server's own descriptors.

Usage: okey_hostile.py HOST:PORT PORTAL_KEY

It reads the okey.v1 services through server reflection (so a new RPC or field is covered without
editing this file), and for every field of every request message, nested messages included, sends the
edge values of the field's type: int32/int64 extremes and -1, out-of-range timestamps, a 70 kB string,
NUL, an RTL override, LDAP and SQL metacharacters, path tricks, 2 MiB of bytes, unknown enum numbers,
repeated fields with many elements. Each RPC is called as anonymous, an agent through the portal, an
approver (N+1), support and the DSI (sessions opened with Login). After each RPC the health service
must still answer SERVING. Prints the count of answers per status code, and every UNKNOWN answer (an
error okeyd did not map: a bug to fix); exits 1 when okeyd stopped answering or the run went past
its time budget (150 s: it shares two cores with the rest of the test run).
"""
import collections
import sys
import time

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor as F
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

SERVICES = ["okey.v1.AuthService", "okey.v1.RenewalService", "okey.v1.ApprovalService",
            "okey.v1.OperationsService", "okey.v1.SupportService"]
BUDGET_SECONDS = 150
PASSWORD = "password1"

STRINGS = ["", "\x00", "a\x00b", "\u202eevil", "*)(uid=*", "ens1a)(|(uid=*", "'; DROP TABLE renewals;--",
           "../../etc/passwd", "\r\nBcc: x@evil", "é" * 10]
BIG_STRING = "x" * 70_000
INT32 = [-(2 ** 31), 2 ** 31 - 1, -1]
INT64 = [-(2 ** 63), 2 ** 63 - 1, -1]
UINT32 = [2 ** 32 - 1]
UINT64 = [2 ** 64 - 1]
BYTES = [b"", b"\x00", b"%PDF-", b"\x89PNG\r\n\x1a\n"]
BIG_BYTES = b"\x00" * (2 * 1024 * 1024)
TIMESTAMPS = [(2 ** 62, 0), (-(2 ** 63), 0), (2 ** 63 - 1, 999_999_999), (0, -1), (0, 2 ** 31 - 1), (253402300800, 0)]


def is_repeated(field):
    flag = getattr(field, "is_repeated", None)
    return flag if flag is not None else field.label == F.LABEL_REPEATED


def scalar_values(field, big):
    t = field.type
    if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return INT32
    if t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        return INT64
    if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return UINT32
    if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return UINT64
    if t == F.TYPE_BOOL:
        return [True]
    if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return [float("nan"), float("inf"), -1e308]
    if t == F.TYPE_STRING:
        return STRINGS + ([BIG_STRING] if big else [])
    if t == F.TYPE_BYTES:
        return BYTES + ([BIG_BYTES] if big else [])
    if t == F.TYPE_ENUM:
        return [9999, -1] + [v.number for v in field.enum_type.values]
    return []


def variants(descriptor, big, depth=0):
    """Yields (path, mutate) pairs: each sets one field (or one nested field) to one edge value."""
    for field in descriptor.fields:
        name = field.name
        if field.type == F.TYPE_MESSAGE:
            sub = field.message_type
            if sub.full_name == "google.protobuf.Timestamp":
                for seconds, nanos in TIMESTAMPS:
                    def set_ts(m, field=field, seconds=seconds, nanos=nanos):
                        target = getattr(m, field.name).add() if is_repeated(field) else getattr(m, field.name)
                        target.seconds, target.nanos = seconds, nanos
                    yield f"{name}=({seconds},{nanos})", set_ts
                continue
            if depth >= 2:
                continue
            for path, inner in variants(sub, big, depth + 1):
                def set_nested(m, field=field, inner=inner):
                    target = getattr(m, field.name).add() if is_repeated(field) else getattr(m, field.name)
                    inner(target)
                yield f"{name}.{path}", set_nested
            if is_repeated(field) and big:
                def many_messages(m, field=field):
                    for _ in range(5_000):
                        getattr(m, field.name).add()
                yield f"{name}=5000 elements", many_messages
            continue
        for value in scalar_values(field, big):
            if is_repeated(field):
                def set_repeated(m, field=field, value=value):
                    getattr(m, field.name).extend([value] * 3)
                yield f"{name}=[{describe(value)}]x3", set_repeated
            else:
                def set_scalar(m, field=field, value=value):
                    setattr(m, field.name, value)
                yield f"{name}={describe(value)}", set_scalar
        if is_repeated(field) and big:
            values = scalar_values(field, False)
            if values:
                def many(m, field=field, value=values[0]):
                    getattr(m, field.name).extend([value] * 20_000)
                yield f"{name}=20000 elements", many


def describe(value):
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}...({len(value)})"


class Okeyd:
    def __init__(self, address, portal_key):
        self.channel = grpc.insecure_channel(address, options=[
            ("grpc.max_send_message_length", 16 * 1024 * 1024), ("grpc.max_receive_message_length", 16 * 1024 * 1024)])
        self.pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(self.channel))
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.portal_key = portal_key

    def message_class(self, descriptor):
        return message_factory.GetMessageClass(descriptor)

    def serving(self):
        try:
            answer = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            return answer.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False

    def login(self, uid):
        method = self.pool.FindMethodByName("okey.v1.AuthService.Login")
        request = self.message_class(method.input_type)(uid=uid, password=PASSWORD)
        response = self.unary(method, request, ())
        return (("authorization", f"Bearer {response.token}"),)

    def unary(self, method, request, metadata, timeout=5):
        call = self.channel.unary_unary(
            f"/{method.containing_service.full_name}/{method.name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=self.message_class(method.output_type).FromString)
        return call(request, metadata=metadata, timeout=timeout)

    def call(self, method, request, metadata):
        """The status code of one call (OK when it succeeded)."""
        return self.raw_call(method, request.SerializeToString(), metadata)

    def raw_call(self, method, payload, metadata):
        """The status code of a call with these request bytes (serialized, or written by hand)."""
        path = f"/{method.containing_service.full_name}/{method.name}"
        identity = {"request_serializer": lambda b: b, "response_deserializer": lambda b: b}
        try:
            if method.server_streaming:
                stream = self.channel.unary_stream(path, **identity)(payload, metadata=metadata, timeout=2)
                try:
                    next(stream)
                finally:
                    stream.cancel()
            else:
                self.channel.unary_unary(path, **identity)(payload, metadata=metadata, timeout=5)
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as error:
            code = error.code()
            if code == grpc.StatusCode.CANCELLED or code == grpc.StatusCode.DEADLINE_EXCEEDED and method.server_streaming:
                return grpc.StatusCode.OK, ""
            return code, error.details() or ""

def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    started = time.monotonic()
    okeyd = Okeyd(sys.argv[1], sys.argv[2])
    callers = {
        "anonymous": (),
        "agent-through-portal": (("authorization", f"Bearer {okeyd.portal_key}"), ("x-okey-on-behalf-of", "ens1a")),
        "approver": okeyd.login("ien1"),
        "support": okeyd.login("helpdesk1"),
        "dsi": okeyd.login("dsi-op1"),
    }
    # A real request of the agent, so that one field at a time is hostile and the others lead the
    # call past the first checks.
    start = okeyd.pool.FindMethodByName("okey.v1.RenewalService.StartRenewal")
    base = {"uid": "ens1a", "validator_uid": "ien1", "key_type": 1, "motif": 1, "platform": 1}
    try:
        renewal = okeyd.unary(start, okeyd.message_class(start.input_type)(key_type=1, motif=1), callers["agent-through-portal"]).renewal
        base.update(request_id=renewal.request_id, expected_version=renewal.version)
    except grpc.RpcError as error:
        print(f"no request of the agent to aim at ({error.code().name}): ids stay empty")
    codes = collections.Counter()
    unknown = []
    calls = 0
    for service_name in SERVICES:
        service = okeyd.pool.FindServiceByName(service_name)
        for method in service.methods:
            # Logout would end the sessions the other callers use: it is called last, alone.
            if method.name == "Logout":
                continue
            request_class = okeyd.message_class(method.input_type)
            for caller, metadata in callers.items():
                big = caller == "agent-through-portal"
                for path, mutate in variants(method.input_type, big):
                    request = request_class()
                    for name, value in base.items():
                        field = method.input_type.fields_by_name.get(name)
                        if field is not None and not is_repeated(field) and field.type != F.TYPE_MESSAGE:
                            setattr(request, name, value)
                    try:
                        mutate(request)
                    except (ValueError, TypeError):
                        continue  # a value this language's runtime itself refuses (e.g. NaN in no field)
                    code, details = okeyd.call(method, request, metadata)
                    calls += 1
                    codes[code.name] += 1
                    if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
                        unknown.append(f"{method.name} as {caller} with {path}: {code.name} {details[:120]}")
                # Invalid UTF-8 in each string field: no runtime of this language would write it.
                for field in method.input_type.fields:
                    if field.type != F.TYPE_STRING or field.number > 15:
                        continue
                    payload = bytes([(field.number << 3) | 2, 3]) + b"\xff\xfe\x00"
                    code, details = okeyd.raw_call(method, payload, metadata)
                    calls += 1
                    codes[code.name] += 1
                    if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
                        unknown.append(f"{method.name} as {caller} with invalid UTF-8 in {field.name}: {code.name} {details[:120]}")
                if time.monotonic() - started > BUDGET_SECONDS:
                    print(f"FAIL past the time budget after {calls} calls")
                    sys.exit(1)
            if not okeyd.serving():
                print(f"FAIL okeyd stopped answering after {method.name}")
                sys.exit(1)
    logout = okeyd.pool.FindMethodByName("okey.v1.AuthService.Logout")
    for caller, metadata in callers.items():
        okeyd.call(logout, okeyd.message_class(logout.input_type)(), metadata)
    if not okeyd.serving():
        print("FAIL okeyd stopped answering after Logout")
        sys.exit(1)
    print(f"{calls} calls in {time.monotonic() - started:.1f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())))
    for line in unknown:
        print(f"UNMAPPED {line}")
    if unknown:
        print(f"FAIL {len(unknown)} answers were UNKNOWN or INTERNAL: errors okeyd did not map")
        sys.exit(1)
    print("hostile run passed: okeyd answered after every RPC, every error with a mapped status")


if __name__ == "__main__":
    main()
