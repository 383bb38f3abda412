"""HTTP callees: a thin client over requests that goes through the local
sidecar's outbound listener (plain HTTP on 127.0.0.1, the callee named in
the Host header, src/envoy/listener.ts), and returns real requests.Response
objects with `mesh_error` set when the mesh answered instead of the callee.

No retries here: the sidecar retries by policy; retrying in the app too
would multiply attempts. `timeout=` is the call's deadline and is handed to
the sidecar as x-envoy-upstream-rq-timeout-ms, which its outbound listener
honours from the local app only, and only to shorten the route's timeout
(src/envoy/listener.ts, src/envoy/deadline.ts): at the deadline the sidecar
answers 504 `x-mesh-error: timeout` (res.mesh_error is Timeout). The app's
own socket timeout is the deadline plus DEADLINE_GRACE_S, so the sidecar's
answer, which says what happened, normally arrives first; without one (a
stuck sidecar) the call raises Timeout itself.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Dict, Mapping, Optional, Type

import requests
from requests.adapters import HTTPAdapter

from . import _trace
from .errors import BY_HEADER, CircuitOpen, Denied, GuardrailBlocked, MeshError, NoRoute, RateLimited, SidecarUnavailable, Timeout

MESH_ERROR_HEADER = "x-mesh-error"
GUARDRAIL_HEADER = "x-mesh-guardrail"
TIMEOUT_HEADER = "x-envoy-upstream-rq-timeout-ms"
DEADLINE_GRACE_S = 1.0
# Bodies of Envoy's own local replies on the callee's inbound listener (RBAC
# and local rate limit filters): they tell the mesh's 403/429 from an app's.
_DENIED_BODY = "RBAC: access denied"
_RATE_LIMITED_BODY = "local_rate_limited"


class _CircuitWatch:
    """One warning line when a callee's circuit is seen to open, one when it is seen to close."""

    def __init__(self) -> None:
        self._open: Dict[str, bool] = {}
        self._lock = threading.Lock()

    def observe(self, service: str, circuit_open: bool) -> None:
        with self._lock:
            was = self._open.get(service, False)
            self._open[service] = circuit_open
        if circuit_open and not was:
            print(f"svcmesh: WARNING circuit to {service} is OPEN: its sidecar has no instance that can take calls (failing fast)", file=sys.stderr, flush=True)
        elif was and not circuit_open:
            print(f"svcmesh: circuit to {service} closed: calls reach it again", file=sys.stderr, flush=True)


CIRCUITS = _CircuitWatch()


def classify(res: requests.Response) -> Optional[MeshError]:
    """The typed outcome of a response the mesh made itself, else None."""
    marked = res.headers.get(MESH_ERROR_HEADER, "")
    kind: Optional[Type[MeshError]] = BY_HEADER.get(marked)
    if kind is None and res.status_code == 403 and res.text.strip() == _DENIED_BODY:
        kind = Denied
    if kind is None and res.status_code == 429 and res.text.strip() == _RATE_LIMITED_BODY:
        kind = RateLimited
    if kind is None:
        return None
    host = res.request.headers.get("host", "?") if res.request else "?"
    if kind is GuardrailBlocked:
        rule = res.headers.get(GUARDRAIL_HEADER, "")
        return GuardrailBlocked(f"{host}: refused by guardrail {rule or '?'} ({res.status_code})", res, rule=rule)
    what = {CircuitOpen: "circuit open", Timeout: "timed out", NoRoute: "no route", Denied: "access denied", RateLimited: "rate limited"}[kind]
    return kind(f"{host}: {what} ({res.status_code})", res)


class ServiceClient:
    """A client of one HTTP service of the mesh, by name."""

    protocol = "http"

    def __init__(self, service: str, outbound_port: int, trace_log: bool = False, raise_mesh_errors: bool = False) -> None:
        self.service = service
        self.base = f"http://127.0.0.1:{outbound_port}"
        self.trace_log = trace_log
        self.raise_mesh_errors = raise_mesh_errors
        self.session = requests.Session()
        # Only the sidecar: no proxies or .netrc from the environment, no retries.
        self.session.trust_env = False
        self.session.mount("http://", HTTPAdapter(max_retries=0))

    def request(self, method: str, path: str, *, json: Any = None, data: Any = None, headers: Optional[Mapping[str, str]] = None,
                params: Any = None, timeout: Optional[float] = None) -> requests.Response:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r} (the service is named by the client: mesh.client({self.service!r}))")
        trace = _trace.current_trace() or _trace.new_trace_id()
        h: Dict[str, str] = dict(headers or {})
        h["Host"] = self.service
        h[_trace.REQUEST_ID_HEADER] = trace
        h[_trace.TRACEPARENT_HEADER] = _trace.traceparent(trace)
        if timeout is not None:
            if not timeout > 0:
                raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
            h[TIMEOUT_HEADER] = str(max(1, int(timeout * 1000)))
        started = time.monotonic()
        target = f"http://{self.service}{path}"
        try:
            res = self.session.request(method, self.base + path, json=json, data=data, headers=h, params=params,
                                       timeout=None if timeout is None else timeout + DEADLINE_GRACE_S, allow_redirects=False)
        except requests.Timeout:
            self._log(trace, target, "timeout", started)
            raise Timeout(f"{self.service}: no answer within {timeout} s (not even the sidecar's)") from None
        except requests.ConnectionError as err:
            self._log(trace, target, "sidecar-unavailable", started)
            raise SidecarUnavailable(f"the local sidecar ({self.base}) is unreachable: {err.__class__.__name__}; is the app running under `mesh run`?") from None
        got = _trace.sanitize(res.headers.get(_trace.TRACE_HEADER)) or trace
        if _trace.TRACE_HEADER not in res.headers:
            res.headers[_trace.TRACE_HEADER] = got
        err = classify(res)
        res.mesh_error = err  # type: ignore[attr-defined]
        if err is None or isinstance(err, CircuitOpen):
            CIRCUITS.observe(self.service, isinstance(err, CircuitOpen))
        self._log(got, target, f"{res.status_code} {err.kind}" if err else str(res.status_code), started)
        if err is not None and self.raise_mesh_errors:
            raise err
        return res

    def _log(self, trace: str, target: str, outcome: str, started: float) -> None:
        if self.trace_log:
            print(_trace.trace_line(trace, target, outcome, time.monotonic() - started), file=sys.stderr, flush=True)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self.session.close()
