import re

import pytest
import requests

import svcmesh
from svcmesh import _trace
from svcmesh._http import ServiceClient


def test_calls_go_to_the_sidecar_naming_the_callee_with_trace_and_deadline(sidecar):
    c = ServiceClient("grant-pay", sidecar.port)
    sidecar.replies.append((202, {"x-trace": "abc123", "content-type": "application/json"}, '{"ok": true}'))
    res = c.post("/payout", json={"usd": 1}, timeout=2)
    assert isinstance(res, requests.Response) and res.status_code == 202 and res.json() == {"ok": True}
    assert res.mesh_error is None and res.headers["x-trace"] == "abc123"
    h = {k.lower(): v for k, v in sidecar.requests[0]["headers"].items()}
    assert h["host"] == "grant-pay"
    assert h["x-envoy-upstream-rq-timeout-ms"] == "2000"
    assert re.match(r"^[0-9a-f]{32}$", h["x-request-id"])
    assert h["traceparent"].split("-")[1] == h["x-request-id"]


def test_x_trace_is_always_there(sidecar):
    res = ServiceClient("grant-pay", sidecar.port).get("/")
    assert res.headers["x-trace"] == {k.lower(): v for k, v in sidecar.requests[0]["headers"].items()}["x-request-id"]


@pytest.mark.parametrize("status,headers,body,kind", [
    (503, {"x-mesh-error": "circuit-open"}, "no healthy upstream", svcmesh.CircuitOpen),
    (504, {"x-mesh-error": "timeout"}, "upstream request timeout", svcmesh.Timeout),
    (404, {"x-mesh-error": "no-route"}, "", svcmesh.NoRoute),
    (403, {"x-mesh-error": "guardrail", "x-mesh-guardrail": "no-pii-export"}, "refused by guardrail no-pii-export (body)", svcmesh.GuardrailBlocked),
    (403, {}, "RBAC: access denied", svcmesh.Denied),
    (429, {}, "local_rate_limited", svcmesh.RateLimited),
])
def test_the_mesh_answers_are_typed(sidecar, status, headers, body, kind):
    sidecar.replies.append((status, headers, body))
    res = ServiceClient("grant-pay", sidecar.port).get("/")
    assert isinstance(res.mesh_error, kind) and res.mesh_error.response is res
    sidecar.replies.append((status, headers, body))
    with pytest.raises(kind):
        ServiceClient("grant-pay", sidecar.port, raise_mesh_errors=True).get("/")


@pytest.mark.parametrize("status,body", [(503, "upstream down"), (403, "not yours"), (429, "slow down")])
def test_the_callees_own_answers_are_not_mesh_errors(sidecar, status, body):
    sidecar.replies.append((status, {}, body))
    assert ServiceClient("grant-pay", sidecar.port).get("/").mesh_error is None


def test_one_warning_when_the_circuit_opens_and_one_when_it_closes(sidecar, capsys):
    c = ServiceClient("ledger-x", sidecar.port)
    sidecar.replies += [(503, {"x-mesh-error": "circuit-open"}, "")] * 3 + [(200, {}, "ok")] * 2
    for _ in range(5):
        c.get("/")
    err = capsys.readouterr().err.splitlines()
    assert [l for l in err if "circuit to ledger-x" in l] == [
        "svcmesh: WARNING circuit to ledger-x is OPEN: its sidecar has no instance that can take calls (failing fast)",
        "svcmesh: circuit to ledger-x closed: calls reach it again",
    ]


def test_no_sidecar_and_client_timeout_are_typed():
    with pytest.raises(svcmesh.SidecarUnavailable, match="mesh run"):
        ServiceClient("grant-pay", 1).get("/")


def test_the_mesh_refusals_are_all_denied_and_the_guardrail_names_its_rule(sidecar):
    # An undeclared external host (egress) and a guardrail refusal are refusals by the mesh, as RBAC's is:
    # `except svcmesh.Denied` catches all three; the subclasses say which.
    sidecar.replies += [(404, {"x-mesh-error": "no-route"}, ""), (403, {"x-mesh-error": "guardrail", "x-mesh-guardrail": "no-pii-export"}, "refused")]
    c = ServiceClient("clearinghouse", sidecar.port)
    no_route, guardrail = c.post("/clear", json={}).mesh_error, c.post("/clear", json={"ssn": "x"}).mesh_error
    assert isinstance(no_route, svcmesh.Denied) and isinstance(no_route, svcmesh.NoRoute) and no_route.kind == "no-route"
    assert isinstance(guardrail, svcmesh.Denied) and isinstance(guardrail, svcmesh.GuardrailBlocked)
    assert guardrail.rule == "no-pii-export" and guardrail.kind == "guardrail"
    assert str(guardrail) == "clearinghouse: refused by guardrail no-pii-export (403)"
    # The rule header alone is not the mesh's answer: an app's own 403 stays the app's.
    sidecar.replies.append((403, {"x-mesh-guardrail": "no-pii-export"}, "refused"))
    assert c.post("/clear", json={}).mesh_error is None


def test_the_deadline_goes_to_the_sidecar_and_the_app_waits_a_grace_for_its_answer(sidecar, monkeypatch):
    seen = {}
    real = requests.Session.request

    def spy(self, method, url, **kw):
        seen["timeout"] = kw.get("timeout")
        return real(self, method, url, **kw)

    monkeypatch.setattr(requests.Session, "request", spy)
    c = ServiceClient("grant-pay", sidecar.port)
    c.get("/", timeout=0.5)
    assert {k.lower(): v for k, v in sidecar.requests[-1]["headers"].items()}["x-envoy-upstream-rq-timeout-ms"] == "500"
    assert seen["timeout"] == pytest.approx(0.5 + svcmesh._http.DEADLINE_GRACE_S)
    c.get("/")
    assert "x-envoy-upstream-rq-timeout-ms" not in {k.lower() for k in sidecar.requests[-1]["headers"]} and seen["timeout"] is None
    for bad in (0, -1):
        with pytest.raises(ValueError, match="positive"):
            c.get("/", timeout=bad)


def test_a_sidecar_that_does_not_answer_is_a_timeout_after_the_grace(monkeypatch):
    import socket
    import time
    quiet = socket.socket()
    quiet.bind(("127.0.0.1", 0))
    quiet.listen(1)  # accepts the connection (the kernel does), never answers
    monkeypatch.setattr(svcmesh._http, "DEADLINE_GRACE_S", 0.1)
    started = time.monotonic()
    with pytest.raises(svcmesh.Timeout, match="not even the sidecar's"):
        ServiceClient("grant-pay", quiet.getsockname()[1]).get("/", timeout=0.2)
    assert time.monotonic() - started < 5
    quiet.close()


def test_trace_line(sidecar, capsys):
    sidecar.replies.append((202, {"x-trace": "123abcdef"}, ""))
    ServiceClient("grant-pay", sidecar.port, trace_log=True).post("/payout", json={})
    assert re.search(r"^\[TRACE 123abc\] http://grant-pay/payout 202 \d+\.\d{3}s$", capsys.readouterr().err, re.M)


def test_traceparent_from_uuid_and_other_ids():
    assert _trace.traceparent("0af7651916cd43dd8448eb211c80319c").startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert _trace.traceparent("0af76519-16cd-43dd-8448-eb211c80319c").startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert re.match(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", _trace.traceparent("req-1"))
    assert _trace.sanitize("a\r\nb") is None
