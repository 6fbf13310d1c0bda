"""A local OpenAI-compatible embeddings endpoint for tests, with scripted failures.

Vectors are deterministic (a seeded unit vector per text), so two runs agree. A test scripts
what the next requests get (``fail_next``), can hold requests until released (``hold``), and
reads every request it received (``requests``: body and headers).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIMENSIONS = 8


def text_vector(text: str, dims: int = DIMENSIONS) -> list[float]:
    """The unit vector the server gives ``text``."""
    rng = random.Random(hashlib.sha256(text.encode("utf-8")).hexdigest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


@dataclass
class Script:
    """What the server does: scripted answers first, then vectors."""

    dims: int = DIMENSIONS
    failures: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    hold: bool = False
    hold_from: int | None = None  # hold every request from this one on (1-based)
    delay: float = 0.0
    down: bool = False

    def fail_next(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        """The next request gets ``status`` with ``body`` (JSON text, or anything)."""
        self.failures.append((status, body, headers or {}))


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, raw: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            script.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
            if script.hold or (
                script.hold_from is not None and len(script.requests) >= script.hold_from
            ):
                script.released.wait(30)
            if script.down:
                self.close_connection = True
                return
            if script.delay:
                threading.Event().wait(script.delay)
            if script.failures:
                status, text, headers = script.failures.pop(0)
                return self._send(status, text.encode(), headers)
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {"object": "embedding", "index": i, "embedding": text_vector(t, script.dims)}
                for i, t in reversed(list(enumerate(texts)))  # out of order, as some servers do
            ]
            raw = json.dumps({"object": "list", "model": body.get("model"), "data": data})
            self._send(200, raw.encode())

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def embedding_server(script: Script | None = None) -> Iterator[tuple[str, Script]]:
    """A running server on a free loopback port: its ``/v1`` base URL and its script."""
    script = script or Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        script.released.set()
        server.shutdown()
        server.server_close()
