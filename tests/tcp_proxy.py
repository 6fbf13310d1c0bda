"""A loopback TCP proxy in front of the test server that hangs up on the first N connections.

It plants connect failures that the retry logic treats as transient, deterministically: the
first ``drop`` connections are closed as soon as they are accepted, later ones are forwarded.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _target(host: str, port: int) -> socket.socket:
    if host.startswith("/"):  # a Unix-socket directory, as the embedded server uses
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(f"{host}/.s.PGSQL.{port}")
        return sock
    return socket.create_connection((host, port))


@contextmanager
def dropping_proxy(host: str, port: int, *, drop: int) -> Iterator[int]:
    """Listen on 127.0.0.1 (the port is yielded); hang up on the first ``drop`` connections."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = 0
    sockets: list[socket.socket] = [listener]

    def _serve() -> None:
        nonlocal accepted
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            accepted += 1
            if accepted <= drop:
                client.close()
                continue
            server = _target(host, port)
            sockets.extend((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=_serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        thread.join(timeout=5)
