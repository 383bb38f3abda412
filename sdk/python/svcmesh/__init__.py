"""svcmesh: the HMS-SVC SDK for Python (docs/sdk.md has the behaviour table shared with src/sdk).

    import svcmesh as mesh
    mesh.init(service="impact-calc", version="v1")
    client = mesh.client("grant-pay")
    res = client.post("/payout", json={"project": "HWY-94", "usd": 200_000}, timeout=2)
    print("Status:", res.status_code, "Trace:", res.headers["x-trace"])

No addresses, ports or secrets in the app: `mesh run` hands the process who
it is (HMS_MEMBER); the sidecar does discovery, mTLS, retries, timeouts and
circuit breaking. One member per process.
"""
from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import urllib.request
from typing import Any, Dict, Optional

from . import flask as flask  # noqa: F401  (svcmesh.flask.instrument)
from ._http import ServiceClient, classify
from ._member import Member, load_member
from ._registration import Registration
from ._trace import current_trace, new_trace_id
from .errors import (CircuitOpen, Denied, GuardrailBlocked, MeshError, MeshSdkError, NoRoute, RateLimited,
                     SidecarUnavailable, Timeout, UndeclaredCallee)

__all__ = [
    "init", "client", "close", "member", "trace", "context", "Member", "ServiceClient", "classify",
    "MeshSdkError", "UndeclaredCallee", "MeshError", "CircuitOpen", "Timeout", "NoRoute", "Denied", "RateLimited",
    "SidecarUnavailable", "GuardrailBlocked",
]

# Re-entrant: a signal handler (close) may run while this thread holds it.
_lock = threading.RLock()
_current: Optional[Member] = None
_version: Optional[str] = None
_registration: Optional[Registration] = None
_clients: Dict[str, Any] = {}


def _wait_sidecar(m: Member, timeout_s: float) -> None:
    """An HTTP member is useless without its sidecar: fail fast, saying how to start one."""
    import time

    url = f"http://127.0.0.1:{m.sidecar_admin_port}/ready"
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 (loopback admin)
                if r.status == 200:
                    return
                last = f"answered {r.status}"
        except OSError as err:
            last = str(getattr(err, "reason", err))
        if time.monotonic() > deadline:
            raise MeshSdkError(f"no ready sidecar for {m.service} at 127.0.0.1:{m.sidecar_admin_port} ({last}); start the app with `mesh run {m.service} -- <command>`")
        time.sleep(0.1)


def init(service: str, version: str, *, address: Optional[str] = None, ttl_ms: Optional[int] = None,
         handle_signals: bool = True, register_timeout: float = 10.0, sidecar_timeout: float = 5.0) -> Member:
    """Joins the mesh: checks the sidecar, registers this instance over mTLS, heartbeats, deregisters on exit."""
    global _current, _version, _registration
    with _lock:
        if _current is not None:
            if (_current.service, _version) != (service, version):
                raise MeshSdkError(f"this process already joined the mesh as {_current.service} {_version}; one member per process")
            return _current
        m = load_member(service, version)
        if m.protocol == "http":
            _wait_sidecar(m, sidecar_timeout)
        ttl = ttl_ms if ttl_ms is not None else int(os.environ.get("HMS_TTL_MS") or 15000)
        reg = Registration(m, version, address or os.environ.get("HMS_ADVERTISE_ADDRESS") or "127.0.0.1", ttl)
        reg.start(register_timeout)
        _current, _version, _registration = m, version, reg
    atexit.register(close)
    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _on_signal)
    return m


def _on_signal(signum: int, _frame: Any) -> None:
    # Deregister first, so callers stop choosing this instance; then die by the same signal.
    # A second one (a terminal's Ctrl-C reaches `mesh run` and the app) must not interrupt that.
    signal.signal(signum, signal.SIG_IGN)
    close()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def member() -> Member:
    if _current is None:
        raise MeshSdkError('call mesh.init(service=..., version=...) first')
    return _current


def client(name: str, *, raise_mesh_errors: bool = False) -> Any:
    """A client of a mesh service by name: HTTP -> ServiceClient (requests through the sidecar); gRPC -> a grpcio channel."""
    m = member()
    if name not in m.calls:
        raise UndeclaredCallee(f"{m.service} does not call {name}: add it to `calls:` in its manifest (the mesh configures only declared calls); nothing was sent")
    key = f"{name}\0{raise_mesh_errors}"
    if key not in _clients:
        if m.calls[name] == "grpc":
            from ._grpc import grpc_channel

            _clients[key] = grpc_channel(m, name)
        else:
            if m.protocol == "grpc":
                raise MeshSdkError(f"{name} speaks HTTP behind a sidecar; a proxyless gRPC member can only call gRPC services")
            _clients[key] = ServiceClient(name, m.outbound_port, os.environ.get("HMS_TRACE_LOG") == "1", raise_mesh_errors)
    return _clients[key]


def close() -> None:
    """Deregisters and closes clients. Idempotent."""
    global _current, _registration
    with _lock:
        reg, _registration, _current = _registration, None, None
        clients = list(_clients.values())
        _clients.clear()
    if reg is not None:
        reg.stop(True)
    for c in clients:
        try:
            c.close()
        except Exception:  # noqa: BLE001 (closing anyway)
            pass


def trace() -> Optional[str]:
    """The trace id of the request being handled, if any."""
    return current_trace()


def context() -> Dict[str, Optional[str]]:
    """Trace id and caller SPIFFE ID of the Flask request being handled (svcmesh.flask.instrument)."""
    f = sys.modules.get("flask")
    caller = f.g.get("svcmesh_caller") if f is not None and f.has_request_context() else None
    return {"trace": current_trace(), "caller": caller}


_ = new_trace_id  # re-exported for tests and apps that start their own chains
