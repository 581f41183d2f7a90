"""Helpers for the Atari and download tests: the shared logs and a local HTTP server on 127.0.0.1."""
from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from conftest import shared_dir

POLICIES = shared_dir() / "atari" / "policies"


def policy_bytes(game: str) -> bytes:
    return (POLICIES / f"{game}NoFrameskip-v4.txt").read_bytes()


@dataclass
class Server:
    """A running server: ``base`` (``http://127.0.0.1:<port>``) and the paths requested so far."""

    base: str
    requests: list[str] = field(default_factory=list)


def _handler(root: Path, log: list[str], state: dict):
    class Handler(http.server.SimpleHTTPRequestHandler):
        """``/ok/<f>`` the file; ``/corrupt/<f>`` one byte flipped; ``/dies/<f>`` half, then the
        connection closes; ``/flaky/<f>`` dies on the first request, then serves; anything else 404."""

        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802
            log.append(self.path)
            mode, _, name = self.path.lstrip("/").partition("/")
            f = root / name
            if mode not in ("ok", "corrupt", "dies", "flaky") or "/" in name or not f.is_file():
                self.send_error(404, "Not Found")
                return
            body = f.read_bytes()
            if mode == "corrupt":
                body = body[:100] + bytes([body[100] ^ 1]) + body[101:]
            die = mode == "dies" or (mode == "flaky" and not state.get(self.path))
            state[self.path] = True
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if die:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def serve(root: Path = POLICIES) -> Iterator[Server]:
    """Serve ``root`` on 127.0.0.1 (ephemeral port) in a thread for the duration of the block."""
    log: list[str] = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, log, {}))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(5)
