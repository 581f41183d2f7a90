"""The leaderboard site in a real browser: Debian's headless Chromium, driven over the DevTools
protocol on a pipe (``--remote-debugging-pipe``: no network, no driver download, no extra package).

Builds the site from fixture entries (one named ``<script>alert(1)</script>``), opens
``index.html`` from disk and checks that the rows and plots render, that sorting by a column
reorders the rows, that the filter hides rows, and that the script-named submission is inert (no
dialog, no injected element, the text shown literally). Saves ``test-artifacts/leaderboard.png``.

``make test`` installs chromium first (``tests/ensure_chromium.sh``); the test skips only when no
browser is installed.
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from leaderboard_fixtures import make_records
from oscbench.leaderboard.site import build
from oscbench.leaderboard.submissions import build_entry
from oscbench.leaderboard import entries as E
from oscbench._atomic import write_text_atomic

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
EVIL = "<script>alert(1)</script>"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium browser installed (make test installs "
                                "Debian's chromium via tests/ensure_chromium.sh when run as root)")


class Browser:
    """A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out)."""

    def __init__(self, exe: str, width: int = 1280, height: int = 900) -> None:
        self.profile = tempfile.mkdtemp(prefix="oscbench-chromium-")
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()

        def wire() -> None:  # in the child: the pipe ends become fds 3 and 4 (dup2 clears close-on-exec)
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-default-apps", "--hide-scrollbars", "--mute-audio",
             f"--window-size={width},{height}", f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             "about:blank"],
            preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False,
             timeout: float = 60.0) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)
            if m.get("method") == "Page.javascriptDialogOpening":  # never block on a dialog
                self.call("Page.handleJavaScriptDialog", {"accept": True}, session=True)

    def wait_event(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == name:
                return self.events.pop(i)
        while True:
            m = self._read(deadline)
            self.events.append(m)
            if m.get("method") == "Page.javascriptDialogOpening":
                self.call("Page.handleJavaScriptDialog", {"accept": True}, session=True)
            if m.get("method") == name:
                return m

    def open(self, url: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]  # no stale loads
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_event("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                        session=True)
        if "exceptionDetails" in res:
            raise AssertionError(f"page script error: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)
        shutil.rmtree(self.profile, ignore_errors=True)


FIXTURE = [  # name, level (≈ NMSE), FLOPs/step, description
    ("Columnar-5 (fixture)", 0.30, 1960, "five independent columns"),
    ("Hybrid-20 (fixture)", 0.32, 4048, "twenty columns, four per stage"),
    (EVIL, 0.70, 3000, '<img src=x onerror="document.title=\'pwned\'"> & friends'),
    ("T-BPTT 30:2 (fixture)", 1.10, 3720, "truncated BPTT"),
]


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lb")
    for i, (name, level, flops, desc) in enumerate(FIXTURE):
        recs = make_records(3, level, name=f"learner{i}", flops=flops)
        entry = build_entry(recs, name=name, description=desc, authors=["A. Author"],
                            url="https://example.org/x" if i == 0 else None, submitted=f"2025-0{i + 1}-15")
        write_text_atomic(E.entry_dir(root, "trace-patterning-v1", "smoke") / f"{entry['slug']}.json", E.dumps(entry))
    build(root)
    return root / "site"


@pytest.fixture(scope="module")
def browser() -> Browser:
    b = Browser(CHROMIUM)
    yield b
    b.close()


def _names(b: Browser) -> list[str]:
    return b.js("Array.from(document.querySelectorAll('table.entries tbody tr .entry-name'))"
                ".map(e => e.textContent)")


def test_page_renders_rows_and_plots(site_dir: Path, browser: Browser) -> None:
    browser.open((site_dir / "index.html").as_uri())
    assert browser.js("document.body.classList.contains('js')"), "the site's script did not run"
    assert _names(browser) == ["Columnar-5 (fixture)", "Hybrid-20 (fixture)", EVIL, "T-BPTT 30:2 (fixture)"]
    ranks = browser.js("Array.from(document.querySelectorAll('table.entries tbody tr td:first-child'))"
                       ".map(e => e.textContent)")
    assert ranks == ["=1", "=1", "3", "4"]  # the two close entries are tied; no false order
    imgs = browser.js("Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    assert {Path(s).name.split("-")[-1] for s, _, _ in imgs} == {"curves.svg", "pareto.svg"}
    assert all(done and width > 300 for _, done, width in imgs), imgs
    browser.screenshot(ARTIFACTS / "leaderboard.png")
    assert (ARTIFACTS / "leaderboard.png").stat().st_size > 20_000


def test_script_named_submission_is_inert(site_dir: Path, browser: Browser) -> None:
    browser.events.clear()
    browser.open((site_dir / "index.html").as_uri())
    time.sleep(0.3)
    assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"], "a dialog opened"
    assert browser.js("document.title") == "oscbench leaderboard"
    # the only scripts are the site's own, no element came from the description's markup
    assert browser.js("Array.from(document.scripts).map(s => s.getAttribute('src'))") == ["assets/leaderboard.js"]
    assert browser.js("document.querySelectorAll('main img[src=x], main script').length") == 0
    assert EVIL in browser.js("document.body.innerText")
    assert browser.js("document.body.innerText").count("<img src=x") == 1  # the description, shown as text
    # only the http(s) URL became a link
    assert browser.js("Array.from(document.querySelectorAll('table.entries a')).map(a => a.href)") == \
        ["https://example.org/x"]


def test_sorting_and_filtering(site_dir: Path, browser: Browser) -> None:
    browser.open((site_dir / "index.html").as_uri())
    col = browser.js("Array.from(document.querySelectorAll('table.entries thead th')).map(t => t.textContent.trim())"
                     ".indexOf('FLOPs/step')")
    assert col > 0
    click = f"document.querySelectorAll('table.entries thead th')[{col}].querySelector('button').click()"
    browser.js(click)
    assert _names(browser) == ["Columnar-5 (fixture)", EVIL, "T-BPTT 30:2 (fixture)", "Hybrid-20 (fixture)"]
    browser.js(click)  # descending
    assert _names(browser) == ["Hybrid-20 (fixture)", "T-BPTT 30:2 (fixture)", EVIL, "Columnar-5 (fixture)"]
    browser.js("const f = document.getElementById('filter'); f.value = 'hybrid';"
               "f.dispatchEvent(new Event('input'));")
    visible = browser.js("Array.from(document.querySelectorAll('table.entries tbody tr'))"
                         ".filter(r => r.offsetParent !== null).map(r => r.querySelector('.entry-name').textContent)")
    assert visible == ["Hybrid-20 (fixture)"]
