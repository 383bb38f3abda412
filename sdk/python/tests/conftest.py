"""A local http.server standing in for the sidecar's outbound listener: these
tests are about the SDK's own logic (what it sends, how it reads answers), not
about the mesh (test/envoy-real/python-apps.test.ts runs it through real Envoy)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Tuple

import pytest


class StubSidecar:
    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.replies: List[Tuple[int, Dict[str, str], str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                stub.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": self.rfile.read(n)})
                status, headers, body = stub.replies.pop(0) if stub.replies else (200, {}, "ok")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                data = body.encode()
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def sidecar():
    s = StubSidecar()
    yield s
    s.close()


def handover(tmp_path, **over: Any) -> Dict[str, Any]:
    for f in ("chain.pem", "key.pem", "trust-bundle.pem"):
        (tmp_path / f).write_text("x")
    h: Dict[str, Any] = {
        "service": "impact-calc", "version": "v1", "versions": ["v1"], "protocol": "http", "port": 8081, "mesh_port": 15081,
        "outbound_port": 15001, "sidecar_admin_port": 15000, "calls": {"grant-pay": "http", "ledger": "grpc"},
        "trust_domain": "ceq.gov", "admin_url": "https://127.0.0.1:18001", "chain": str(tmp_path / "chain.pem"),
        "key": str(tmp_path / "key.pem"), "trust_bundle": str(tmp_path / "trust-bundle.pem"),
    }
    h.update(over)
    return h


def env_of(h: Dict[str, Any]) -> Dict[str, str]:
    return {"HMS_MEMBER": json.dumps(h)}
