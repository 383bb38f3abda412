"""The gRPC channel's own logic: a plain grpcio server on loopback stands in for
the sidecar's outbound listener (test/python/grpc.test.ts runs the xDS channel
against a real control plane)."""
from concurrent import futures

import grpc

from svcmesh import _grpc
from svcmesh._member import parse_handover
from svcmesh._trace import reset_current, set_current

from conftest import handover


def _echo_server():
    seen = []

    def echo(request, context):
        md = dict(context.invocation_metadata())
        seen.append(md)
        context.send_initial_metadata((("x-trace", md.get("x-trace", "")),))
        return request

    handler = grpc.method_handlers_generic_handler("ceq.GrantPay", {"Payout": grpc.unary_unary_rpc_method_handler(echo)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port, seen


def test_a_sidecar_members_grpc_channel_names_the_callee_and_carries_a_trace(tmp_path):
    server, port, seen = _echo_server()
    try:
        m = parse_handover(handover(tmp_path, outbound_port=port), "test")
        ch = _grpc.grpc_channel(m, "ledger")
        payout = ch.unary_unary("/ceq.GrantPay/Payout")
        assert payout(b"x", timeout=5) == b"x"
        fresh = seen[-1]["x-trace"]
        assert len(fresh) == 32 and int(fresh, 16) >= 0, "a fresh 128-bit id when nothing is being handled"
        token = set_current("abc123")
        try:
            payout(b"x", timeout=5)
            assert seen[-1]["x-trace"] == "abc123", "the id of the request being handled"
            payout(b"x", timeout=5, metadata=(("x-trace", "mine"),))
            assert seen[-1]["x-trace"] == "mine", "the app's own id is kept"
        finally:
            reset_current(token)
        ch.close()
    finally:
        server.stop(None)


def test_with_trace_adds_one_only_when_missing():
    assert [k for k, _ in _grpc.with_trace(None)] == ["x-trace"]
    assert _grpc.with_trace((("X-Trace", "t1"), ("a", "b"))) == [("X-Trace", "t1"), ("a", "b")]
