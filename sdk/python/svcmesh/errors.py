"""Everything the SDK raises, in one hierarchy (as requests does).

MeshSdkError       setup problems: no handover, no certificate, no sidecar, refused registration.
MeshError          a call the mesh answered for itself (the response is attached):
  CircuitOpen        the caller's sidecar has no instance that can take the call (x-mesh-error: circuit-open)
  Timeout            the shared deadline passed (x-mesh-error: timeout, or no answer within timeout=)
  Denied             the mesh refused the call: the callee's sidecar refused this caller (403 from its RBAC), or:
    NoRoute            the caller's sidecar has no route for it (x-mesh-error: no-route): a callee or external
                       host the mesh does not declare for this caller (egress denied)
    GuardrailBlocked   a compliance guardrail rule refused the request in the caller's sidecar (403,
                       x-mesh-error: guardrail; the rule in x-mesh-guardrail, `rule`); the callee saw nothing
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


class Denied(MeshError):
    kind = "denied"


class NoRoute(Denied):
    kind = "no-route"


class GuardrailBlocked(Denied):
    """``rule`` is the refusing rule's name (never the matched value: the sidecar does not send it)."""

    kind = "guardrail"

    def __init__(self, message: str, response: Optional[requests.Response] = None, rule: str = "") -> None:
        super().__init__(message, response)
        self.rule = rule


class RateLimited(MeshError):
    kind = "rate-limited"


class SidecarUnavailable(MeshError):
    kind = "sidecar-unavailable"


# The sidecar's x-mesh-error values (src/envoy/listener.ts meshErrorReplies).
BY_HEADER = {"circuit-open": CircuitOpen, "timeout": Timeout, "no-route": NoRoute, "guardrail": GuardrailBlocked}
