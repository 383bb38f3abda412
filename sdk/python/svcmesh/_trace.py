"""Trace ids: one id follows a request end to end.

Behind an Envoy sidecar the id is Envoy's request id: the sidecar keeps an
x-request-id the app sends (loopback callers are internal), logs it as
trace_id, and returns it to the app as x-trace. Calls made while handling a
request carry that request's id (a contextvar the Flask helper sets, or the
current Flask request's headers); other calls get a fresh 128-bit id. W3C
traceparent carries the same id for tracers that read only that.
"""
from __future__ import annotations

import contextvars
import re
import secrets
import sys
from typing import Optional

TRACE_HEADER = "x-trace"
REQUEST_ID_HEADER = "x-request-id"
TRACEPARENT_HEADER = "traceparent"

_current: "contextvars.ContextVar[Optional[str]]" = contextvars.ContextVar("svcmesh_trace", default=None)
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def new_trace_id() -> str:
    return secrets.token_hex(16)


def sanitize(value: Optional[str]) -> Optional[str]:
    """Accepts what a peer sent only if it looks like an id (no header injection through logs)."""
    return value if value and _SAFE.match(value) else None


def from_headers(headers) -> Optional[str]:  # type: ignore[no-untyped-def]
    """The id of an incoming request: x-request-id, x-trace, then traceparent's trace id."""
    for name in (REQUEST_ID_HEADER, TRACE_HEADER):
        v = sanitize(headers.get(name))
        if v:
            return v
    m = _TRACEPARENT.match(headers.get(TRACEPARENT_HEADER) or "")
    return m.group(1) if m else None


def _flask_request_trace() -> Optional[str]:
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return None
    return from_headers(flask.request.headers)


def current_trace() -> Optional[str]:
    """The id of the request being handled, if any."""
    return _current.get() or _flask_request_trace()


def set_current(trace: Optional[str]) -> "contextvars.Token[Optional[str]]":
    return _current.set(trace)


def reset_current(token: "contextvars.Token[Optional[str]]") -> None:
    _current.reset(token)


def traceparent(trace: str) -> str:
    """W3C traceparent with the same trace id (dashes of a UUID dropped; other ids hashed to 32 hex)."""
    hexid = trace.replace("-", "").lower()
    if not re.match(r"^[0-9a-f]{32}$", hexid) or hexid == "0" * 32:
        import hashlib

        hexid = hashlib.sha256(trace.encode()).hexdigest()[:32]
    return f"00-{hexid}-{secrets.token_hex(8)}-01"


def trace_line(trace: str, target: str, outcome: str, elapsed_s: float) -> str:
    """`[TRACE 1a2b3c] http://grant-pay/payout 202 0.030s`, the chapter's line (same as src/sdk/trace.ts)."""
    return f"[TRACE {trace[:6]}] {target} {outcome} {elapsed_s:.3f}s"
