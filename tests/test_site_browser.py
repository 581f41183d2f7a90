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

import numpy as np
import pytest

from leaderboard_fixtures import make_records
from oscbench.baselines import reference_config
from oscbench.benchmark import tasks
from oscbench.leaderboard.site import write_site
from oscbench.leaderboard.submissions import build_entry

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


FIXTURE = [  # name, level (≈ NMSE), FLOPs/step, description, wobble key, verification field
    ("Columnar-5 (fixture)", 0.30, 1960, "five independent columns", 1, {"status": "verified", "by": "ci"}),
    ("Hybrid-20 (fixture)", 0.305, 4048, "twenty columns, four per stage", 1, {"status": "failed"}),
    (EVIL, 0.70, 3000, '<img src=x onerror="document.title=\'pwned\'"> & friends', 2, {"status": "verified<b>"}),
    ("T-BPTT 30:2 (fixture)", 0.71, 3720, "truncated BPTT", 2, None),
]
SHORT = "Hybrid reference (fixture)"


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke board (the fixture above: two pairs of entries inside each other's noise) and a short board
    holding a reference entry; every other task x preset has no entries.

    The page is written by ``write_site`` (what ``build`` runs after validating): the ``verification``
    field is set by the leaderboard's verifier, which validation does not let submitters write."""
    root = tmp_path_factory.mktemp("lb")
    entries = []
    for i, (name, level, flops, desc, key, ver) in enumerate(FIXTURE):
        recs = make_records(3, level, name=f"learner{i}", flops=flops, key=key)
        entry = build_entry(recs, name=name, description=desc, authors=["A. Author"],
                            url="https://example.org/x" if i == 0 else None, submitted=f"2025-0{i + 1}-15")
        if ver is not None:
            entry["verification"] = ver
        entries.append((Path(f"{entry['slug']}.json"), entry))
    short = tasks.get_task("trace-patterning-v1").presets["short"].steps
    recs = make_records(2, 0.12, name="ref", spec="hybrid", preset="short", flops=4048,
                        hyperparameters=reference_config("hybrid", "trace-patterning", short))
    entries.append((Path("hybrid-reference.json"), build_entry(recs, name=SHORT, submitted="2025-06-01")))
    write_site(root, entries)
    return root / "site"


@pytest.fixture(scope="module")
def browser() -> Browser:
    b = Browser(CHROMIUM)
    yield b
    b.close()


SMOKE_BOARD = "#trace-patterning-v1--smoke"


def _names(b: Browser, board: str = SMOKE_BOARD) -> list[str]:
    return b.js(f"Array.from(document.querySelectorAll('{board} table.entries tbody tr .entry-name'))"
                ".map(e => e.textContent)")


def _visible(b: Browser, board: str = SMOKE_BOARD) -> list[str]:
    return b.js(f"Array.from(document.querySelectorAll('{board} table.entries tbody tr'))"
                ".filter(r => r.offsetParent !== null).map(r => r.querySelector('.entry-name').textContent)")


def test_page_renders_rows_and_plots(site_dir: Path, browser: Browser) -> None:
    browser.open((site_dir / "index.html").as_uri())
    assert browser.js("document.body.classList.contains('js')"), "the site's script did not run"
    assert _names(browser) == ["Columnar-5 (fixture)", "Hybrid-20 (fixture)", EVIL, "T-BPTT 30:2 (fixture)"]
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
    assert browser.js("Array.from(document.querySelectorAll('table.entries tbody a')).map(a => a.href)") == \
        ["https://example.org/x"]


def test_sorting_and_filtering(site_dir: Path, browser: Browser) -> None:
    browser.open((site_dir / "index.html").as_uri())
    heads = f"document.querySelectorAll('{SMOKE_BOARD} table.entries thead th')"
    col = browser.js(f"Array.from({heads}).map(t => t.textContent.trim()).indexOf('FLOPs/step')")
    assert col > 0
    click = f"{heads}[{col}].querySelector('button').click()"
    browser.js(click)
    assert _names(browser) == ["Columnar-5 (fixture)", EVIL, "T-BPTT 30:2 (fixture)", "Hybrid-20 (fixture)"]
    browser.js(click)  # descending
    assert _names(browser) == ["Hybrid-20 (fixture)", "T-BPTT 30:2 (fixture)", EVIL, "Columnar-5 (fixture)"]
    browser.js("const f = document.getElementById('filter'); f.value = 'hybrid';"
               "f.dispatchEvent(new Event('input'));")
    assert _visible(browser) == ["Hybrid-20 (fixture)"]
    assert _visible(browser, "#trace-patterning-v1--short") == [SHORT]  # the filter applies to every board



def _ci(text: str) -> tuple[float, float]:
    lo, hi = text.strip("[]").split(",")
    return float(lo), float(hi)


def test_board_order_collapsed_empty_boards_and_smoke_label(site_dir: Path, browser: Browser) -> None:
    browser.open((site_dir / "index.html").as_uri())
    boards = browser.js("Array.from(document.querySelectorAll('section.board')).map(s => [s.id, s.dataset.preset, "
                        "s.classList.contains('empty'), s.querySelector('details') ? s.querySelector('details').open "
                        ": null, s.getBoundingClientRect().height])")
    ids = [b[0] for b in boards]
    # the board with the reference entry first, then the trace task by preset length, then the rest
    assert ids[:2] == ["trace-patterning-v1--short", "trace-patterning-v1--smoke"], ids
    with_entries = [b for b in boards if not b[2]]
    assert [b[0] for b in with_entries] == ids[:2]
    empty = boards[2:]
    assert empty and all(b[2] and b[3] is False and b[4] < 60 for b in empty), empty  # collapsed to one line
    want = []  # the empty boards: the trace task first, then by task and preset length (from the task files)
    for t in sorted(tasks.list_tasks(), key=lambda t: (t.kind != "trace-patterning", t.id)):
        for p in sorted(t.presets.values(), key=lambda p: p.steps):
            bid = f"{t.id}--{p.name}" + ("--suite" if t.is_suite else "")
            if bid not in ids[:2]:
                want.append(bid)
    assert ids[2:] == want
    # the smoke board, and only smoke boards, say they are not for ranking
    label = browser.js(f"document.querySelector('{SMOKE_BOARD} p.not-for-ranking').textContent")
    assert "Not for ranking" in label and "200,000 steps × 3 seeds" in label and "too few seeds" in label
    assert browser.js("document.querySelector('#trace-patterning-v1--short p.not-for-ranking')") is None
    smoke_tags = browser.js("Array.from(document.querySelectorAll('section.board')).filter(s => "
                            "s.querySelector('.tag.smoke')).map(s => s.dataset.preset)")
    assert smoke_tags and set(smoke_tags) == {"smoke"}


def test_rank_groups_follow_overlapping_intervals(site_dir: Path, browser: Browser) -> None:
    browser.open((site_dir / "index.html").as_uri())
    rows = browser.js(f"Array.from(document.querySelectorAll('{SMOKE_BOARD} table.entries tbody tr')).map(r => "
                      "[r.querySelector('.entry-name').textContent, r.cells[0].textContent, r.cells[3].textContent])")
    # independent: connected components of the 'intervals overlap' relation over the displayed CIs
    cis = [_ci(c) for _, _, c in rows]
    group = list(range(len(rows)))
    for i in range(len(rows)):
        for j in range(len(rows)):
            if cis[i][0] <= cis[j][1] and cis[j][0] <= cis[i][1]:
                a, b = group[i], group[j]
                group = [a if g == b else g for g in group]
    want = []
    for i in range(len(rows)):
        members = [k for k in range(len(rows)) if group[k] == group[i]]
        first = min(members)
        want.append(("=" if len(members) > 1 else "") + str(first + 1))
    assert [r[1] for r in rows] == want
    # the fixture's design: two pairs, each inside its own noise, far apart
    assert [r[1] for r in rows] == ["=1", "=1", "=3", "=3"], rows
    tip = browser.js(f"document.querySelector('{SMOKE_BOARD} tr[data-file=\"hybrid-20-fixture.json\"] .badge.tie')"
                     ".title")
    assert "Columnar-5 (fixture)" in tip and "T-BPTT" not in tip


def test_verification_badges(site_dir: Path, browser: Browser) -> None:
    browser.open((site_dir / "index.html").as_uri())
    got = dict(browser.js(f"Array.from(document.querySelectorAll('{SMOKE_BOARD} table.entries tbody tr')).map(r => "
                          "[r.querySelector('.entry-name').textContent, Array.from(r.querySelectorAll("
                          "'.badge[class*=ver-]')).map(b => b.className + ':' + b.textContent)])"))
    assert got == {"Columnar-5 (fixture)": ["badge ver-verified:verified"],
                   "Hybrid-20 (fixture)": ["badge ver-failed:failed"],
                   EVIL: ["badge ver-unverified:unverified"],  # an unknown status is not shown as verified
                   "T-BPTT 30:2 (fixture)": ["badge ver-unverified:unverified"]}  # absent = unverified


def test_bayes_floor_line_and_excess(site_dir: Path, browser: Browser) -> None:
    from oscbench.datasets.trace_patterning import TracePatterningConfig, bayes_floor_score

    browser.open((site_dir / "index.html").as_uri())
    for board, seeds, steps in ((SMOKE_BOARD, 3, 200_000), ("#trace-patterning-v1--short", 5, 5_000_000)):
        foot = browser.js(f"document.querySelector('{board} tfoot tr.floor').innerText")
        floor = float(browser.js(f"document.querySelector('{board} tfoot tr.floor td.num').textContent"))
        cfg = TracePatterningConfig()
        want = np.mean([bayes_floor_score(cfg, s, steps, 200_000).nmse for s in range(seeds)])
        assert "Bayes floor" in foot and floor == pytest.approx(want, rel=1e-3)
    heads = browser.js(f"Array.from(document.querySelectorAll('{SMOKE_BOARD} table.entries thead th'))"
                       ".map(t => t.textContent.trim())")
    ex, nm = heads.index("excess"), heads.index("NMSE")
    cells = browser.js(f"Array.from(document.querySelectorAll('{SMOKE_BOARD} table.entries tbody tr')).map(r => "
                       f"[r.cells[{nm}].dataset.sort, r.cells[{ex}].dataset.sort])")
    want = np.mean([bayes_floor_score(TracePatterningConfig(), s, 200_000, 200_000).nmse for s in range(3)])
    for nmse, excess in cells:  # the fixture entries ran on seeds 0-2: the board's own floor
        assert float(excess) == pytest.approx(float(nmse) - want, rel=1e-9, abs=1e-12)


def test_filter_state_lives_in_the_url(site_dir: Path, browser: Browser) -> None:
    index = (site_dir / "index.html").as_uri()
    browser.open(index)
    browser.js("const f = document.getElementById('filter'); f.value = 'columnar';"
               "f.dispatchEvent(new Event('input'));"
               "const b = document.getElementById('board-filter'); b.value = 'trace-patterning-v1--smoke';"
               "b.dispatchEvent(new Event('change'));")
    url = browser.js("location.href")
    assert "q=columnar" in url and "board=trace-patterning-v1--smoke" in url
    browser.open("about:blank")
    browser.open(url)  # a fresh load of the bookmarked address restores the view
    assert browser.js("document.getElementById('filter').value") == "columnar"
    assert browser.js("document.getElementById('board-filter').value") == "trace-patterning-v1--smoke"
    assert _visible(browser) == ["Columnar-5 (fixture)"]
    shown = browser.js("Array.from(document.querySelectorAll('section.board')).filter(s => !s.hidden).map(s => s.id)")
    assert shown == ["trace-patterning-v1--smoke"]
    # an empty (collapsed) board chosen through the URL opens; an unknown board is ignored
    browser.open(index + "?board=trace-patterning-v1--full&superseded=1")
    assert browser.js("document.querySelector('#trace-patterning-v1--full details').open") is True
    assert browser.js("document.getElementById('show-superseded').checked") is True
    browser.open(index + "?board=%3Cscript%3E&q=hy")
    assert browser.js("document.getElementById('board-filter').value") == ""
    assert _visible(browser) == ["Hybrid-20 (fixture)"]
