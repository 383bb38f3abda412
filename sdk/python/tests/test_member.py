import json

import pytest

import svcmesh
from svcmesh._member import load_member
from conftest import env_of, handover


def test_handover_is_read_and_checked(tmp_path):
    m = load_member("impact-calc", "v1", env_of(handover(tmp_path)))
    assert m.outbound_port == 15001 and m.calls["grant-pay"] == "http"
    assert m.identity == "spiffe://ceq.gov/svc/impact-calc"


def test_no_handover_says_how_to_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(svcmesh.MeshSdkError, match=r"mesh run impact-calc -- "):
        load_member("impact-calc", "v1", {"HMS_MESH_DIR": str(tmp_path)})


def test_mesh_dev_handover_is_found_from_a_subfolder(tmp_path):
    d = tmp_path / ".mesh-dev" / "members"
    d.mkdir(parents=True)
    (d / "impact-calc.json").write_text(json.dumps(handover(tmp_path)))
    (tmp_path / "apps").mkdir()
    m = load_member("impact-calc", "v1", {"HMS_MESH_DIR": str(tmp_path / "apps")})
    assert m.source.endswith("impact-calc.json")


@pytest.mark.parametrize("field,value", [("outbound_port", "15001"), ("outbound_port", 70000), ("calls", {"x": "ftp"}), ("admin_url", None)])
def test_broken_handover_names_the_field(tmp_path, field, value):
    with pytest.raises(svcmesh.MeshSdkError, match=field):
        load_member("impact-calc", "v1", env_of(handover(tmp_path, **{field: value})))


def test_wrong_service_or_version_or_missing_certificate(tmp_path):
    with pytest.raises(svcmesh.MeshSdkError, match="not grant-pay"):
        load_member("grant-pay", "v1", env_of(handover(tmp_path)))
    with pytest.raises(svcmesh.MeshSdkError, match='version "v9"'):
        load_member("impact-calc", "v9", env_of(handover(tmp_path)))
    with pytest.raises(svcmesh.MeshSdkError, match="mesh certs issue impact-calc"):
        load_member("impact-calc", "v1", env_of(handover(tmp_path, key=str(tmp_path / "nope.pem"))))


def test_init_fails_fast_without_a_sidecar(tmp_path, monkeypatch):
    monkeypatch.setenv("HMS_MEMBER", json.dumps(handover(tmp_path, sidecar_admin_port=1)))
    with pytest.raises(svcmesh.MeshSdkError, match=r"no ready sidecar .* `mesh run impact-calc"):
        svcmesh.init("impact-calc", "v1", sidecar_timeout=0.2)
