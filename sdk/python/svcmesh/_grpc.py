"""gRPC callees (`protocol: grpc`): a grpcio channel to xds:///<name>.

grpcio's own xDS client does discovery, load balancing, outlier detection
and mTLS (xds_channel_credentials: the cluster's certificate providers) with
the bootstrap `mesh build` wrote for this service (out/<service>/bootstrap.json),
its certificate paths made absolute as src/sdk/grpc.ts does. An operator's
GRPC_XDS_BOOTSTRAP / GRPC_XDS_BOOTSTRAP_CONFIG wins (its node id must be the
service). An HTTP member (it has a sidecar) gets a plaintext channel to its
sidecar's outbound listener with the callee as :authority instead. Either
way every call carries `x-trace` (the request being handled, else a fresh id)
unless the app set one, as src/sdk/grpc.ts's interceptor does.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Tuple

from ._member import Member
from ._trace import TRACE_HEADER, current_trace, new_trace_id
from .errors import MeshSdkError

_PKI_KEYS = ("certificate_file", "private_key_file", "ca_certificate_file")


def prepare_bootstrap(member: Member) -> str:
    """Sets GRPC_XDS_BOOTSTRAP_CONFIG for this process (grpcio reads it when its first xDS channel is made)."""
    given = os.environ.get("GRPC_XDS_BOOTSTRAP_CONFIG")
    if os.environ.get("GRPC_XDS_BOOTSTRAP"):
        with open(os.environ["GRPC_XDS_BOOTSTRAP"], encoding="utf-8") as f:
            given = f.read()
    if given is not None:
        node = (json.loads(given).get("node") or {}).get("id")
        if node != member.service:
            raise MeshSdkError(f'the xDS bootstrap in the environment is for node "{node}", not "{member.service}"')
        return given
    if not member.grpc_bootstrap:
        raise MeshSdkError(f"{member.service} has no gRPC bootstrap in its handover; run `mesh build` and start it with `mesh run`")
    try:
        with open(member.grpc_bootstrap, encoding="utf-8") as f:
            boot: Dict[str, Any] = json.load(f)
    except (OSError, ValueError) as err:
        raise MeshSdkError(f"no gRPC bootstrap for {member.service} at {member.grpc_bootstrap} ({err}); run `mesh build`") from None
    base = os.path.dirname(os.path.dirname(os.path.dirname(member.grpc_bootstrap)))
    for provider in (boot.get("certificate_providers") or {}).values():
        cfg = provider.get("config") or {}
        for k in _PKI_KEYS:
            if isinstance(cfg.get(k), str) and not os.path.isabs(cfg[k]):
                cfg[k] = os.path.normpath(os.path.join(os.environ.get("HMS_MESH_DIR", base), cfg[k]))
    text = json.dumps(boot)
    os.environ["GRPC_XDS_BOOTSTRAP_CONFIG"] = text
    return text


def with_trace(metadata: Any) -> List[Tuple[str, Any]]:
    """The call's metadata with an `x-trace` added when it has none."""
    items = list(metadata or ())
    if not any(k.lower() == TRACE_HEADER for k, _ in items):
        items.append((TRACE_HEADER, current_trace() or new_trace_id()))
    return items


def _trace_interceptor(grpc: Any) -> Any:
    class _Details(grpc.ClientCallDetails):  # type: ignore[misc,name-defined]
        def __init__(self, d: Any) -> None:
            self.method, self.timeout, self.credentials = d.method, d.timeout, d.credentials
            self.wait_for_ready, self.compression = getattr(d, "wait_for_ready", None), getattr(d, "compression", None)
            self.metadata = with_trace(d.metadata)

    class _Interceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,  # type: ignore[misc,name-defined]
                       grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
        def intercept_unary_unary(self, cont: Any, details: Any, request: Any) -> Any:
            return cont(_Details(details), request)

        def intercept_unary_stream(self, cont: Any, details: Any, request: Any) -> Any:
            return cont(_Details(details), request)

        def intercept_stream_unary(self, cont: Any, details: Any, requests: Any) -> Any:
            return cont(_Details(details), requests)

        def intercept_stream_stream(self, cont: Any, details: Any, requests: Any) -> Any:
            return cont(_Details(details), requests)

    return _Interceptor()


def grpc_channel(member: Member, callee: str) -> Any:
    try:
        import grpc  # type: ignore[import-untyped]
        import grpc.experimental  # type: ignore[import-untyped]  # noqa: F401 (insecure fallback: the mesh always sends TLS)
    except ImportError:
        raise MeshSdkError(f"{callee} is a gRPC service: install grpcio (pip install 'svcmesh[grpc]')") from None
    if member.protocol == "http":
        # Through the sidecar, which does mTLS and discovery; the callee is named by :authority.
        channel = grpc.insecure_channel(f"127.0.0.1:{member.outbound_port}", options=[("grpc.default_authority", callee)])
    else:
        prepare_bootstrap(member)
        creds = grpc.xds_channel_credentials(fallback_credentials=grpc.experimental.insecure_channel_credentials())
        channel = grpc.secure_channel(f"xds:///{callee}", creds)
    return grpc.intercept_channel(channel, _trace_interceptor(grpc))
