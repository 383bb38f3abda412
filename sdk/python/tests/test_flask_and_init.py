import json
import os

import flask
import pytest

import svcmesh
from svcmesh._http import ServiceClient
from conftest import handover
from svcmesh._member import parse_handover


def test_calls_inside_a_flask_request_carry_its_id(sidecar):
    app = flask.Flask("t")
    svcmesh.flask.instrument(app)
    out = ServiceClient("ledger", sidecar.port)

    @app.route("/payout", methods=["POST"])
    def payout():
        out.post("/entry", json={})
        return {"trace": svcmesh.trace(), "caller": svcmesh.context()["caller"]}, 202

    xfcc = 'By=spiffe://ceq.gov/svc/grant-pay;Hash=1;URI=spiffe://ceq.gov/svc/impact-calc'
    res = app.test_client().post("/payout", json={}, headers={"x-request-id": "feedbeef" * 4, "x-forwarded-client-cert": xfcc})
    assert res.status_code == 202 and res.headers["x-trace"] == "feedbeef" * 4
    assert res.get_json() == {"trace": "feedbeef" * 4, "caller": "spiffe://ceq.gov/svc/impact-calc"}
    sent = {k.lower(): v for k, v in sidecar.requests[0]["headers"].items()}
    assert sent["x-request-id"] == "feedbeef" * 4 and sent["traceparent"].split("-")[1] == "feedbeef" * 4


def test_without_the_helper_a_flask_request_still_propagates(sidecar):
    app = flask.Flask("t2")
    out = ServiceClient("ledger", sidecar.port)

    @app.route("/")
    def index():
        out.get("/")
        return "ok"

    app.test_client().get("/", headers={"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"})
    assert {k.lower(): v for k, v in sidecar.requests[0]["headers"].items()}["x-request-id"] == "ab" * 16


def test_undeclared_callee_is_refused_before_sending(tmp_path, sidecar, monkeypatch):
    # A member as init leaves it, without a control plane: the refusal happens before any I/O.
    m = parse_handover(handover(tmp_path, outbound_port=sidecar.port), "test")
    monkeypatch.setattr(svcmesh, "_current", m)
    with pytest.raises(svcmesh.UndeclaredCallee, match="does not call public-docs"):
        svcmesh.client("public-docs")
    assert sidecar.requests == []
    assert svcmesh.client("grant-pay") is svcmesh.client("grant-pay")


def test_grpc_callee_gets_an_xds_channel_with_the_compiled_bootstrap(tmp_path, monkeypatch):
    import grpc

    from svcmesh import _grpc

    boot = tmp_path / "out" / "impact-calc" / "bootstrap.json"
    boot.parent.mkdir(parents=True)
    boot.write_text(json.dumps({"node": {"id": "impact-calc"}, "certificate_providers": {"mesh": {"config": {"certificate_file": "pki/svc/impact-calc/chain.pem"}}}}))
    monkeypatch.delenv("GRPC_XDS_BOOTSTRAP", raising=False)
    monkeypatch.delenv("GRPC_XDS_BOOTSTRAP_CONFIG", raising=False)
    monkeypatch.setenv("HMS_MESH_DIR", str(tmp_path))
    m = parse_handover(handover(tmp_path, protocol="grpc", grpc_bootstrap=str(boot)), "test")
    ch = _grpc.grpc_channel(m, "ledger")
    assert isinstance(ch, grpc.Channel)
    ch.close()
    cfg = json.loads(os.environ["GRPC_XDS_BOOTSTRAP_CONFIG"])
    assert cfg["certificate_providers"]["mesh"]["config"]["certificate_file"] == str(tmp_path / "pki/svc/impact-calc/chain.pem")
    monkeypatch.setenv("GRPC_XDS_BOOTSTRAP_CONFIG", json.dumps({"node": {"id": "other"}}))
    with pytest.raises(svcmesh.MeshSdkError, match='for node "other"'):
        _grpc.prepare_bootstrap(m)
