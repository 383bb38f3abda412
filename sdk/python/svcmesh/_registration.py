"""Keeping one instance in the control plane's registry (same protocol as
src/sdk/registration.ts): register over mTLS with the service's own
certificate, heartbeat every third of the TTL, register again after a 404
(the TTL ran out), deregister on close. The server must present the
control-plane SPIFFE ID; host names are not identities here.

The stdlib's http.client is used rather than requests: requests cannot check
a URI SAN, and this is three small POSTs.
"""
from __future__ import annotations

import http.client
import json
import ssl
import sys
import threading
import time
from typing import Callable, Dict, Optional, Tuple
from urllib.parse import urlsplit

from ._member import Member
from .errors import MeshSdkError

REQUEST_TIMEOUT_S = 5.0


def _warn(message: str) -> None:
    print(f"svcmesh: {message}", file=sys.stderr, flush=True)


class Registration:
    def __init__(self, member: Member, version: str, address: str, ttl_ms: int, warn: Callable[[str], None] = _warn) -> None:
        self.member = member
        self.version = version
        self.address = address
        self.ttl_ms = ttl_ms
        self.warn = warn
        self.instance_id: Optional[str] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        url = urlsplit(member.admin_url)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise MeshSdkError(f"admin URL {member.admin_url!r} is not http(s)://host:port")
        self._url = url
        self._ctx: Optional[ssl.SSLContext] = None
        if url.scheme == "https":
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=member.trust_bundle)
            ctx.check_hostname = False  # the identity is checked below, by URI SAN
            try:
                ctx.load_cert_chain(member.chain, member.key)
            except (OSError, ssl.SSLError) as err:
                raise MeshSdkError(f"cannot load the certificate of {member.service} ({err}); run `mesh certs issue {member.service}`") from None
            self._ctx = ctx

    # -- protocol -----------------------------------------------------------
    def _post(self, action: str, body: Dict[str, object]) -> Tuple[int, Dict[str, object]]:
        host, port = self._url.hostname or "", self._url.port or (443 if self._ctx else 80)
        conn: http.client.HTTPConnection
        if self._ctx is not None:
            conn = http.client.HTTPSConnection(host, port, timeout=REQUEST_TIMEOUT_S, context=self._ctx)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.connect()
            if self._ctx is not None:
                self._check_peer(conn.sock)  # type: ignore[arg-type]
            conn.request("POST", f"/v1/registry/{action}", body=json.dumps(body), headers={"content-type": "application/json"})
            res = conn.getresponse()
            text = res.read(64 * 1024)
            try:
                parsed = json.loads(text or b"{}")
            except ValueError:
                parsed = {}
            return res.status, parsed if isinstance(parsed, dict) else {}
        finally:
            conn.close()

    def _check_peer(self, sock: ssl.SSLSocket) -> None:
        expected = f"spiffe://{self.member.trust_domain}/control-plane"
        cert = sock.getpeercert() or {}
        uris = [v for k, v in cert.get("subjectAltName", ()) if k == "URI"]
        if expected not in uris:
            raise MeshSdkError(f"the admin API at {self.member.admin_url} presented {uris or 'no URI SAN'}, not {expected}")

    def _register(self) -> str:
        m = self.member
        port = m.port if m.protocol == "grpc" else m.mesh_port
        status, body = self._post("register", {"service": m.service, "version": self.version, "address": self.address, "port": port, "ttl_ms": self.ttl_ms})
        if status != 200:
            # 400/403 do not get better by retrying: the mesh or the certificate is wrong.
            raise MeshSdkError(f"the control plane refused to register {m.service} {self.version} at {self.address}:{port} ({status}): {body.get('error', '')}")
        self.instance_id = str(body.get("id"))
        return self.instance_id

    # -- lifecycle ----------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        delay = 0.1
        while True:
            try:
                instance = self._register()
                break
            except MeshSdkError:
                raise
            except (OSError, http.client.HTTPException) as err:
                if time.monotonic() + delay > deadline:
                    raise MeshSdkError(f"cannot register with the control plane at {self.member.admin_url}: {err} (is it running? `mesh dev` starts one)") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        self._thread = threading.Thread(target=self._beat_loop, name="svcmesh-heartbeat", daemon=True)
        self._thread.start()
        return instance

    def _beat_loop(self) -> None:
        failing = False
        while not self._stop.wait(max(0.05, self.ttl_ms / 3000.0)):
            try:
                status, body = self._post("heartbeat", {"service": self.member.service, "id": self.instance_id})
                if status == 404 and not self._stop.is_set():
                    self._register()
                elif status != 200:
                    raise OSError(f"heartbeat refused ({status}): {body.get('error', '')}")
                if failing:
                    self.warn(f"registration of {self.instance_id} restored")
                failing = False
            except (OSError, http.client.HTTPException, MeshSdkError) as err:
                # Once per outage; keep trying: the control plane may be restarting.
                if not failing:
                    self.warn(f"heartbeat to {self.member.admin_url} failed: {err}")
                failing = True

    def stop(self, deregister: bool = True) -> None:
        self._stop.set()
        if not deregister or self.instance_id is None:
            return
        try:
            self._post("deregister", {"service": self.member.service, "id": self.instance_id})
        except (OSError, http.client.HTTPException, MeshSdkError) as err:
            self.warn(f"could not deregister {self.instance_id}: {err}")  # the TTL removes it anyway
        self.instance_id = None
