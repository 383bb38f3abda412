"""Everything the SDK raises, in one hierarchy (as requests does).

MeshSdkError       setup problems: no handover, no certificate, no sidecar, refused registration.
MeshError          a call the mesh answered for itself (the response is attached):
  CircuitOpen        the caller's sidecar has no instance that can take the call (x-mesh-error: circuit-open)
  Timeout            the shared deadline passed (x-mesh-error: timeout, or no answer within timeout=)
  NoRoute            the callee is not routed from this sidecar (x-mesh-error: no-route)
  Denied             the callee's sidecar refused this caller (403 from its RBAC)
  RateLimited        the callee's sidecar is over its rate limit (429)
  SidecarUnavailable the local sidecar is not listening
UndeclaredCallee   mesh.client() of a service the manifest does not call (nothing is sent).
"""
from __future__ import annotations

from typing import Optional

import requests


class MeshSdkError(Exception):
    """Misconfiguration: what is missing and the command that fixes it."""


class UndeclaredCallee(MeshSdkError):
    pass


class MeshError(Exception):
    """A call the mesh answered instead of the callee. ``kind`` is the x-mesh-error value."""

    kind = "mesh-error"

    def __init__(self, message: str, response: Optional[requests.Response] = None) -> None:
        super().__init__(message)
        self.response = response


class CircuitOpen(MeshError):
    kind = "circuit-open"


class Timeout(MeshError):
    kind = "timeout"


class NoRoute(MeshError):
    kind = "no-route"


class Denied(MeshError):
    kind = "denied"


class RateLimited(MeshError):
    kind = "rate-limited"


class SidecarUnavailable(MeshError):
    kind = "sidecar-unavailable"


# The sidecar's x-mesh-error values (src/envoy/listener.ts meshErrorReplies).
BY_HEADER = {"circuit-open": CircuitOpen, "timeout": Timeout, "no-route": NoRoute}
