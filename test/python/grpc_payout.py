"""impact-calc as a proxyless gRPC member in Python (test/python/grpc.test.ts runs it).

svcmesh.client("grant-pay") is a grpcio channel to xds:///grant-pay: grpcio's
own xDS client finds the instances through the control plane and does mTLS
with the certificates the compiled bootstrap names. PayoutRequest and
PayoutReply (examples/ceq/apps/grpc/grant_pay.proto) are encoded by hand:
the test venv has grpcio but not protobuf.
"""
import sys

import grpc

import svcmesh as mesh


def varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def encode_request(project: str, usd: int) -> bytes:
    p = project.encode()
    return b"\x0a" + varint(len(p)) + p + b"\x10" + varint(usd)


def decode_reply(data: bytes) -> dict:
    out, i = {"ok": False, "version": ""}, 0
    while i < len(data):
        tag, i = data[i], i + 1
        if tag == 0x08:
            out["ok"], i = data[i] == 1, i + 1
        elif tag == 0x12:
            n, i = data[i], i + 1
            out["version"], i = data[i:i + n].decode(), i + n
        else:
            raise ValueError(f"unexpected tag {tag}")
    return out


mesh.init(service="impact-calc", version="v1")
channel = mesh.client("grant-pay")
payout = channel.unary_unary("/ceq.GrantPay/Payout", request_serializer=lambda b: b, response_deserializer=decode_reply)
try:
    # Connected first (xDS discovery, then the mTLS handshake): the route's 2 s deadline is for the call.
    grpc.channel_ready_future(channel).result(timeout=20)
    # No x-trace from the app: the SDK's channel adds one, grant-pay echoes it.
    reply, call = payout.with_call(encode_request("HWY-94", 200_000), timeout=20)
except Exception as err:  # noqa: BLE001 (the test reads the line)
    print(f"Status: {getattr(err, 'code', lambda: err)()} {getattr(err, 'details', lambda: '')()}", flush=True)
    sys.exit(1)
trace = dict(call.initial_metadata()).get("x-trace")
print(f"Status: OK Trace: {trace} (grant-pay {reply['version']}, ok={reply['ok']})", flush=True)
mesh.close()
