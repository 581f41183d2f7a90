"""Helpers for the Atari and download tests: the upstream action logs and a local HTTP server on 127.0.0.1.

The tests obtain the recorded logs the way a user does -- :func:`oscbench.datasets.download.fetch`
with the registry's sha256 -- from, in order: ``$OSCBENCH_MIRROR`` (a URL or directory), the shared
folder ``../shared/atari/policies`` used as a mirror directory when it exists (``$OSCBENCH_SHARED``
moves it), and the pinned upstream URL (short timeout, no retries: on a machine without internet it
fails in well under a second). When none of them has a log the test is skipped with a one-line
reason naming how to provide it -- unless a mirror was provided, where it fails.
"""
from __future__ import annotations

import atexit
import contextlib
import http.server
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import USER_MIRROR, shared_dir

from oscbench.datasets.atari import games as G
from oscbench.datasets.download import fetch, resolve_source
from oscbench.errors import OscbenchError

PROBE_TIMEOUT = 5.0
_cache: dict[str, Path | str] = {}      # game -> fetched log, or the reason it could not be fetched
_dir: list[Path] = []


def log_sources() -> dict[str, str]:
    """Where the logs are looked for, in order (label -> base): $OSCBENCH_MIRROR, ../shared, upstream."""
    out = {"OSCBENCH_MIRROR": USER_MIRROR} if USER_MIRROR else {}
    shared = shared_dir() / "atari" / "policies"
    if shared.is_dir():
        out["shared"] = str(shared)
    return {**out, "upstream": G.UPSTREAM_BASE}


def _cache_dir() -> Path:
    if not _dir:
        _dir.append(Path(tempfile.mkdtemp(prefix="oscbench-test-logs-")))
        atexit.register(shutil.rmtree, _dir[0], True)
    return _dir[0]


def _obtain(game: str) -> Path | str:
    """Fetch ``game``'s verified log into the session cache; its path, or why no source had it."""
    if game not in _cache:
        tried = []
        for label, base in log_sources().items():
            try:
                src = resolve_source(G.policy_filename(game), G.UPSTREAM_BASE, base)
                got = fetch(src, _cache_dir() / G.policy_filename(game), sha256=G.game_facts(game)["policy_sha256"],
                            size=G.game_facts(game)["policy_size"], retries=0, timeout=PROBE_TIMEOUT, progress=False)
                _cache[game] = got.path
                break
            except OscbenchError as err:
                tried.append(f"{label}: " + re.sub(r"\S+://\S+|/\S+", "<url>", str(err).split(";")[0]))
        else:
            _cache[game] = " | ".join(tried)
    return _cache[game]


def policy_file(game: str) -> Path:
    """A verified copy of ``game``'s upstream log; skips the test (naming how to provide one) when unreachable.

    When a mirror was provided ($OSCBENCH_MIRROR, or ../shared as in CI) and still has no good copy, the
    test fails instead: there, nothing may be skipped.
    """
    got = _obtain(game)
    if isinstance(got, str) and set(log_sources()) - {"upstream"}:
        pytest.fail(f"the upstream Atari log {G.policy_filename(game)} is not in the provided mirror(s): {got}")
    if isinstance(got, str):
        pytest.skip(f"needs the upstream Atari log {G.policy_filename(game)}, unreachable ({got}); set "
                    f"OSCBENCH_MIRROR to a URL or directory holding the logs, or put them in ../shared/atari/policies")
    return got


def policies_dir(*games: str) -> Path:
    """The directory holding verified logs of ``games`` (all 58 when none are named); skips as above."""
    for g in games or G.GAMES:
        policy_file(g)
    return _cache_dir()


def policy_bytes(game: str) -> bytes:
    return policy_file(game).read_bytes()


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
def serve(root: Path) -> Iterator[Server]:
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
