"""Who this process is in the mesh: the handover `mesh run` (or `mesh dev`'s
files, or the lab) gives it, checked once at init.

HMS_MEMBER is a JSON object written by src/compose/member-env.ts. Without it
the SDK looks for the handover `mesh dev` leaves in the mesh folder
(`$HMS_MESH_DIR` or the working directory, then its parents):
`.mesh-dev/members/<service>.json`. Nothing here parses YAML: the CLI, which
validated the mesh, did that.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from .errors import MeshSdkError

RUN_HINT = "start the app with `mesh run {service} -- <command>` (and a control plane with `mesh dev`)"


@dataclass(frozen=True)
class Member:
    service: str
    version: str
    versions: List[str]
    protocol: str
    port: int
    mesh_port: int
    outbound_port: int
    sidecar_admin_port: int
    calls: Dict[str, str]
    trust_domain: str
    admin_url: str
    chain: str
    key: str
    trust_bundle: str
    grpc_bootstrap: Optional[str] = None
    source: str = field(default="HMS_MEMBER", compare=False)

    @property
    def identity(self) -> str:
        return f"spiffe://{self.trust_domain}/svc/{self.service}"


_INT_FIELDS = ("port", "mesh_port", "outbound_port", "sidecar_admin_port")
_STR_FIELDS = ("service", "protocol", "trust_domain", "admin_url", "chain", "key", "trust_bundle")


def parse_handover(raw: Mapping[str, object], source: str) -> Member:
    """Checks every field's type: a broken handover fails here, not on the first call."""
    bad = [f for f in _STR_FIELDS if not isinstance(raw.get(f), str)]
    bad += [f for f in _INT_FIELDS if not isinstance(raw.get(f), int) or not 0 < int(raw[f]) < 65536]  # type: ignore[call-overload]
    calls = raw.get("calls", {})
    if not isinstance(calls, dict) or not all(isinstance(k, str) and v in ("http", "grpc") for k, v in calls.items()):
        bad.append("calls")
    versions = raw.get("versions", [])
    if not isinstance(versions, list):
        bad.append("versions")
    if bad:
        raise MeshSdkError(f"{source}: invalid member handover (fields: {', '.join(bad)}); {RUN_HINT.format(service=raw.get('service', '<service>'))}")
    return Member(
        service=str(raw["service"]),
        version=str(raw.get("version", "")),
        versions=[str(v) for v in versions],  # type: ignore[union-attr]
        protocol=str(raw["protocol"]),
        port=int(raw["port"]),  # type: ignore[call-overload]
        mesh_port=int(raw["mesh_port"]),  # type: ignore[call-overload]
        outbound_port=int(raw["outbound_port"]),  # type: ignore[call-overload]
        sidecar_admin_port=int(raw["sidecar_admin_port"]),  # type: ignore[call-overload]
        calls=dict(calls),  # type: ignore[arg-type]
        trust_domain=str(raw["trust_domain"]),
        admin_url=str(raw["admin_url"]),
        chain=str(raw["chain"]),
        key=str(raw["key"]),
        trust_bundle=str(raw["trust_bundle"]),
        grpc_bootstrap=str(raw["grpc_bootstrap"]) if isinstance(raw.get("grpc_bootstrap"), str) else None,
        source=source,
    )


def _dev_handover(service: str, env: Mapping[str, str]) -> Optional[Path]:
    start = Path(env.get("HMS_MESH_DIR") or os.getcwd()).resolve()
    for d in [start, *start.parents]:
        f = d / ".mesh-dev" / "members" / f"{service}.json"
        if f.is_file():
            return f
    return None


def load_member(service: str, version: str, env: Optional[Mapping[str, str]] = None) -> Member:
    env = os.environ if env is None else env
    raw_text = env.get("HMS_MEMBER")
    source = "HMS_MEMBER"
    if not raw_text:
        found = _dev_handover(service, env)
        if found is None:
            raise MeshSdkError(f"no mesh handover for {service} (HMS_MEMBER is not set and no .mesh-dev/members/{service}.json was found); {RUN_HINT.format(service=service)}")
        source = str(found)
        raw_text = found.read_text(encoding="utf-8")
    try:
        raw = json.loads(raw_text)
    except ValueError as err:
        raise MeshSdkError(f"{source} is not JSON ({err}); {RUN_HINT.format(service=service)}") from None
    if not isinstance(raw, dict):
        raise MeshSdkError(f"{source} is not a JSON object; {RUN_HINT.format(service=service)}")
    member = parse_handover(raw, source)
    if member.service != service:
        raise MeshSdkError(f"this process was started as {member.service} ({source}), not {service}: `mesh run {service} -- ...`")
    if member.versions and version not in member.versions:
        raise MeshSdkError(f'version "{version}" of {service} is not declared in its manifest (versions: {", ".join(member.versions)})')
    for f in (member.chain, member.key, member.trust_bundle):
        if not os.path.isfile(f):
            raise MeshSdkError(f"no certificate for {service}: {f} is missing; run `mesh certs issue {service}` (or `mesh dev`, which issues them)")
    return member
