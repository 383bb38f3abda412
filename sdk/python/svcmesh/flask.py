"""Flask helper: every request is handled inside its trace context, and the
response says which trace it belonged to.

    app = flask.Flask(__name__)
    svcmesh.flask.instrument(app)

Hooks before_request/after_request (no wrapping of the app). Calls made while
handling a request carry its id even without this helper (the SDK reads the
current Flask request's headers); the helper adds `x-trace` to responses and
`svcmesh.context()` (trace and the caller's SPIFFE ID from the sidecar's
x-forwarded-client-cert).
"""
from __future__ import annotations

import re
from typing import Any, Optional

from . import _trace

_XFCC_URI = re.compile(r"URI=(spiffe://[^;,\s]+)")


def caller_identity(xfcc: Optional[str]) -> Optional[str]:
    m = _XFCC_URI.search(xfcc or "")
    return m.group(1) if m else None


def instrument(app: Any) -> Any:
    import flask

    @app.before_request
    def _svcmesh_enter() -> None:
        trace = _trace.from_headers(flask.request.headers) or _trace.new_trace_id()
        flask.g.svcmesh_trace = trace
        flask.g.svcmesh_caller = caller_identity(flask.request.headers.get("x-forwarded-client-cert"))
        flask.g.svcmesh_token = _trace.set_current(trace)

    @app.after_request
    def _svcmesh_mark(response: Any) -> Any:
        trace = flask.g.get("svcmesh_trace")
        if trace:
            response.headers[_trace.TRACE_HEADER] = trace
        return response

    @app.teardown_request
    def _svcmesh_leave(_exc: Optional[BaseException]) -> None:
        token = flask.g.pop("svcmesh_token", None)
        if token is not None:
            try:
                _trace.reset_current(token)
            except ValueError:
                pass  # another context (a streamed response ending elsewhere)

    return app
