"""Leaderboard figures against independent computations; ties; the Atari suite; escaping; and a build that
is deterministic and all-or-nothing."""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from leaderboard_fixtures import make_record, make_records
from oscbench._atomic import write_text_atomic
from oscbench.baselines import reference_config
from oscbench.benchmark.loading import reference_sha256
from oscbench.benchmark import tasks
from oscbench.errors import OscbenchError
from oscbench.leaderboard import entries as E
from oscbench.leaderboard import plots, site
from oscbench.leaderboard.aggregate import aggregate, probability_of_improvement
from oscbench.leaderboard.ranking import assign_ranks, build_boards
from oscbench.leaderboard.render_markdown import BEGIN, END, board_text, md_escape, safe_url
from oscbench.leaderboard.submissions import build_entry
from oscbench.leaderboard.validation import check_entry

GAMES = sorted(set(tasks.get_task("atari-v1").games))


def exact_bootstrap_quantiles(x: np.ndarray, qs=(0.025, 0.975)) -> list[float]:
    """Quantiles of the exact bootstrap distribution of the mean: every multiset of n draws, weighted by
    its multinomial probability (independent of scipy's Monte Carlo resampling)."""
    n = len(x)
    means, weights = [], []
    for combo in itertools.combinations_with_replacement(range(n), n):
        counts = np.bincount(combo, minlength=n)
        w = math.factorial(n) / np.prod([math.factorial(c) for c in counts]) / n ** n
        means.append(float(counts @ x) / n)
        weights.append(w)
    order = np.argsort(means)
    m, cw = np.asarray(means)[order], np.cumsum(np.asarray(weights)[order])
    return [float(m[np.searchsorted(cw, q)]) for q in qs]


def test_mean_and_ci_equal_independent_computation() -> None:
    recs = make_records(7, 0.5, name="ci", noise=0.3)
    agg = aggregate(recs)["games"][""]
    x = np.array([r["metrics"]["nmse"] for r in recs])
    assert agg["nmse"]["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert agg["final_error"]["mean"] == pytest.approx(np.mean([r["metrics"]["final_error"] for r in recs]), rel=1e-12)
    lo, hi = exact_bootstrap_quantiles(x)
    sem = x.std() / math.sqrt(len(x))
    assert abs(agg["nmse"]["ci_low"] - lo) < 0.15 * sem, (agg["nmse"], lo, hi, sem)
    assert abs(agg["nmse"]["ci_high"] - hi) < 0.15 * sem, (agg["nmse"], lo, hi, sem)
    # the learning-curve band: per-bin mean over seeds and a bootstrap band around it
    curves = np.array([r["curve"]["mse"] for r in recs])
    c = agg["curve"]
    np.testing.assert_allclose(c["mean"], curves.mean(axis=0), rtol=1e-12)
    assert np.all(np.array(c["ci_low"]) <= c["mean"]) and np.all(np.array(c["ci_high"]) >= c["mean"])
    lo10, hi10 = exact_bootstrap_quantiles(curves[:, 10])
    sem10 = curves[:, 10].std() / math.sqrt(len(recs))
    assert abs(c["ci_low"][10] - lo10) < 0.2 * sem10 and abs(c["ci_high"][10] - hi10) < 0.2 * sem10
    assert c["steps"][-1] == recs[0]["steps"] and len(c["steps"]) == len(recs[0]["curve"]["mse"])


def test_rank_groups_are_chains_of_overlapping_intervals() -> None:
    rows = [{"name": n, "file": n, "s": s} for n, s in [
        ("c", (0.50, 0.46, 0.55)), ("a", (0.40, 0.35, 0.45)), ("b", (0.43, 0.45, 0.47)),  # b: lo == a's hi
        ("d", (0.48, 0.471, 0.50)),  # overlaps c only: joins a and b through c (chaining)
        ("f", (0.70, 0.66, 0.72)), ("g", (0.71, 0.69, 0.75)),  # a second group, clear of the first
        ("h", (0.90, 0.90, 0.90)),  # one seed: a zero-width interval, alone
        ("e", None)]]
    ranked = assign_ranks(rows, "s")
    got = [(r["name"], r["rank"], r["group"], r["tied"], r["leader"]) for r in ranked]
    assert got == [("a", 1, 1, True, True), ("b", 1, 1, True, False), ("d", 1, 1, True, False),
                   ("c", 1, 1, True, False), ("f", 5, 2, True, False), ("g", 5, 2, True, False),
                   ("h", 7, 3, False, False), ("e", None, None, False, False)]
    tied = {r["name"]: sorted(r["tied_with"]) for r in ranked}
    assert tied == {"a": ["b"], "b": ["a", "c"], "c": ["b", "d"], "d": ["c"], "f": ["g"], "g": ["f"],
                    "h": [], "e": []}
    # a pair whose intervals overlap is never split across groups, and distinct groups never overlap
    by = {r["name"]: r for r in ranked}
    for x, y in itertools.combinations([r for r in ranked if r["rank"]], 2):
        overlap = x["s"][1] <= y["s"][2] and y["s"][1] <= x["s"][2]
        if overlap:
            assert x["group"] == y["group"]
    assert by["a"]["group"] != by["f"]["group"]


def _entry(recs: list[dict], name: str, submitted: str = "2025-01-01", **kw) -> dict:
    return build_entry(recs, name=name, submitted=submitted, **kw)


def _write(root: Path, entry: dict, file: str | None = None) -> Path:
    path = E.entry_dir(root, entry["task"]["id"], entry["task"]["preset"]) / (file or f"{entry['slug']}.json")
    write_text_atomic(path, E.dumps(entry))
    return path


def test_trace_board_ranks_ties_and_relative_error(tmp_path: Path) -> None:
    steps = tasks.get_task("trace-patterning-v1").presets["smoke"].steps
    tb_hp = reference_config("tbptt", "trace-patterning", steps)
    tb = make_records(3, 1.0, name="tbptt", spec="tbptt", hyperparameters=tb_hp, flops=3720,
                      source_sha256=reference_sha256())   # run by this installation's reference code
    a = make_records(3, 0.40, name="a", key=7)
    b = make_records(3, 0.405, name="b", key=7)  # the same runs, 1.25% worse: the CIs overlap
    old = make_records(3, 0.2, name="b")
    entries = [(Path("t.json"), _entry(tb, "T-BPTT ref")), (Path("a.json"), _entry(a, "A")),
               (Path("b.json"), _entry(b, "B")), (Path("b.superseded-1.json"),
                                                  {**_entry(old, "B"), "superseded": {"date": "2025-02-02", "by": "b.json"}})]
    (board,) = build_boards(entries)
    rows = board["rows"]
    assert [r["name"] for r in rows] == ["A", "B", "T-BPTT ref", "B"]
    assert [r["rank"] for r in rows] == [1, 1, 3, None] and rows[1]["tied"] and not rows[2]["tied"]
    assert rows[3]["superseded"] and rows[3]["rank"] is None  # the better but superseded entry is not ranked
    assert board["reference"] == "t.json" and rows[2]["reference"] == "tbptt"
    tb_final = np.mean([r["metrics"]["final_error"] for r in tb])
    for row, recs in ((rows[2], tb), *(((r, a) if r["name"] == "A" else (r, b)) for r in rows[:2])):
        assert row["relative_error"] == pytest.approx(np.mean([x["metrics"]["final_error"] for x in recs]) / tb_final)
    assert rows[2]["relative_error"] == pytest.approx(1.0)
    # reference status is the code's, not the name's: the same records made by other code, or an entry
    # whose verification by re-execution failed, are no reference and define no relative error
    other = make_records(3, 1.0, name="tbptt", spec="tbptt", hyperparameters=tb_hp, flops=3720)
    failed = {**_entry(tb, "T-BPTT ref"), "verification": {"status": "failed"}}
    for imposter in (_entry(other, "T-BPTT ref"), failed):
        (board,) = build_boards([(Path("t.json"), imposter), (Path("a.json"), _entry(a, "A"))])
        assert board["reference"] is None and all(r["reference"] is None and r["relative_error"] is None
                                                  for r in board["rows"])


def _iqm(v: np.ndarray) -> float:
    s = np.sort(v)
    k = len(s) // 4
    return float(s[k:len(s) - k].mean())


def test_atari_suite_iqm_poi_and_normalisation(tmp_path: Path) -> None:
    seeds = 4  # 53 games x 4 runs = 212 runs: the middle half is exactly runs 53..158
    steps = tasks.get_task("atari-v1").presets["smoke"].steps
    tb_hp = reference_config("tbptt", "atari", steps)

    def recs(level: float, name: str, games=GAMES, **kw) -> list[dict]:
        return [make_record(seed=s, level=level * (1 + 0.3 * (i % 5)), task_id="atari-v1", game=g, preset="smoke",
                            name=name, noise=0.2, **kw) for i, g in enumerate(games) for s in range(seeds)]

    tb = recs(1.0, "tbptt", spec="tbptt", hyperparameters=tb_hp, flops=50_000, source_sha256=reference_sha256())
    x, y = recs(0.5, "x"), recs(0.55, "y")
    part = recs(0.1, "p", games=["Pong"])
    entries = [(Path(f"{n}.json"), _entry(r, n)) for n, r in (("tb", tb), ("x", x), ("y", y), ("part", part))]
    assert check_entry(entries[1][1], check_data=False) == []  # a complete Atari entry is valid
    boards = build_boards(entries)
    suite = [b for b in boards if b["kind"] == "suite"][0]
    assert len([b for b in boards if b["kind"] == "game"]) == len(GAMES)
    pong = [b for b in boards if b.get("game") == "Pong"][0]
    assert pong["rows"][0]["name"] == "part"  # the single-game entry ranks on its game's board
    rows = {r["name"]: r for r in suite["rows"]}
    assert rows["part"]["rank"] is None and rows["part"]["complete"] is False
    # IQM and its stratified bootstrap CI, computed independently
    nm = {g: np.array([r["metrics"]["nmse"] for r in x if r["task"]["game"] == g]) for g in GAMES}
    allv = np.concatenate(list(nm.values()))
    assert rows["x"]["iqm"][0] == pytest.approx(_iqm(allv), rel=1e-12)
    rng = np.random.default_rng(123)
    boot = [_iqm(np.concatenate([v[rng.integers(0, len(v), len(v))] for v in nm.values()])) for _ in range(1000)]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    width = hi - lo
    assert abs(rows["x"]["iqm"][1] - lo) < 0.2 * width and abs(rows["x"]["iqm"][2] - hi) < 0.2 * width
    # probability of improvement, by brute force over run pairs
    ny = {g: [r["metrics"]["nmse"] for r in y if r["task"]["game"] == g] for g in GAMES}
    brute = np.mean([np.mean([1.0 if a < b else 0.5 if a == b else 0.0 for a in nm[g] for b in ny[g]]) for g in GAMES])
    poi = suite["probability_of_improvement"]
    i, j = poi["order"].index("x.json"), poi["order"].index("y.json")
    assert poi["matrix"][i][j] == pytest.approx(brute, rel=1e-12)
    assert poi["matrix"][i][j] + poi["matrix"][j][i] == pytest.approx(1.0)
    assert probability_of_improvement({"g": [1, 2]}, {"g": [3, 4]}) == 1.0
    assert probability_of_improvement({"g": [1, 2]}, {"g": [1, 2]}) == 0.5
    # Fig. 7 normalisation: per-game final error / the reference T-BPTT's
    fe = lambda rs, g: np.mean([r["metrics"]["final_error"] for r in rs if r["task"]["game"] == g])  # noqa: E731
    assert rows["x"]["normalised"]["Pong"] == pytest.approx(fe(x, "Pong") / fe(tb, "Pong"))
    assert rows["tb"]["normalised"]["Alien"] == pytest.approx(1.0)
    assert plots.atari_bars(suite).startswith("<?xml") and plots.pareto(suite).startswith("<?xml")


def test_escaping_in_markdown_and_html() -> None:
    assert safe_url("javascript:alert(1)") is None and safe_url("data:text/html,x") is None
    assert safe_url("https://a.org/x?y=1&z=2") == "https://a.org/x?y=1&z=2"
    assert safe_url('https://a.org/"><script>') == "https://a.org/%22%3E%3Cscript%3E"
    assert md_escape("<script>alert(1)</script> | x") == r"&lt;script&gt;alert(1)&lt;/script&gt; \| x"
    assert md_escape("[a](javascript:x) *b*") == r"\[a\](javascript:x) \*b\*"
    row = {"name": "<b>n</b>", "url": "javascript:alert(1)", "learner": "x", "file": "f", "authors": ["<i>"],
           "description": "\"'><img src=x>", "hyperparameters": {}, "command": None}
    cell = site._name_td(row, {})
    assert "<a " not in cell and "<b>" not in cell and "<img" not in cell and "<i>" not in cell
    assert "&lt;b&gt;n&lt;/b&gt;" in cell and "&quot;&#x27;&gt;&lt;img src=x&gt;" in cell


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "submissions" not in p.parts}


@pytest.fixture()
def lb_root(tmp_path: Path) -> Path:
    root = tmp_path / "lb"
    for i, (name, lvl) in enumerate([("Alpha", 0.4), ("<script>alert(1)</script>", 0.6), ("Gamma | pipes", 0.9)]):
        _write(root, _entry(make_records(3, lvl, name=f"l{i}", flops=1000 * (i + 1)), name,
                            description="<img src=x onerror=alert(2)>"))
    return root


def test_build_is_deterministic_and_escapes(lb_root: Path, tmp_path: Path) -> None:
    site.build(lb_root)
    first = _tree(lb_root)
    assert {"README.md", "site/index.html", "site/assets/leaderboard.js", "site/assets/leaderboard.css",
            "site/plots/trace-patterning-v1--smoke-curves.svg", "site/plots/trace-patterning-v1--smoke-pareto.svg"} <= set(first)
    site.build(lb_root)
    assert _tree(lb_root) == first
    copy = tmp_path / "elsewhere" / "lb"
    shutil.copytree(lb_root / "submissions", copy / "submissions")
    site.build(copy)
    assert _tree(copy) == first  # nothing of the location or the time leaks into the files
    html = (lb_root / "site/index.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and html.count("<script") == 1
    readme = (lb_root / "README.md").read_text()
    assert "<script>" not in readme and "&lt;script&gt;" in readme and BEGIN in readme and END in readme
    table = [l for l in readme.splitlines() if "Gamma" in l][0]
    head = [line for line in readme.splitlines() if line.startswith("| rank |")][0]
    assert table.count("|") - table.count(r"\|") == head.count("|")  # the name's pipe does not add a column
    svg = (lb_root / "site/plots/trace-patterning-v1--smoke-curves.svg").read_text()
    assert "<script" not in svg and "<dc:date>" not in svg


def test_readme_keeps_text_outside_markers(lb_root: Path) -> None:
    (lb_root / "README.md").write_text(f"# Intro by hand\n\n{BEGIN}\nold\n{END}\n\nFooter by hand\n")
    site.build(lb_root)
    text = (lb_root / "README.md").read_text()
    assert text.startswith("# Intro by hand\n") and text.endswith("Footer by hand\n") and "\nold\n" not in text
    assert "Alpha" in text


def test_build_refuses_half_built_site(lb_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site.build(lb_root)
    before = _tree(lb_root)

    def boom(board):
        raise RuntimeError("plotting failed half-way")

    monkeypatch.setattr(plots, "pareto", boom)
    with pytest.raises(RuntimeError, match="half-way"):
        site.build(lb_root)
    assert _tree(lb_root) == before
    assert sorted(p.name for p in lb_root.iterdir()) == ["README.md", "site", "submissions"]
    monkeypatch.undo()
    # an invalid (tampered) entry: refused before anything is written
    path = next((lb_root / "submissions").rglob("alpha.json"))
    entry = E.read_entry(path)
    entry["aggregate"]["games"][""]["nmse"]["mean"] = 0.001
    path.write_text(E.dumps(entry))
    with pytest.raises(OscbenchError, match="alpha.json is invalid .*tampered"):
        site.build(lb_root)
    assert _tree(lb_root) == before


def test_show_reports_excess_over_the_bayes_floor(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from oscbench.cli import cli
    from oscbench.datasets.trace_patterning import TracePatterningConfig, bayes_floor_score

    root = tmp_path / "lb"
    recs = make_records(3, 0.4, name="a")
    _write(root, _entry(recs, "A"))
    r = CliRunner().invoke(cli, ["leaderboard", "show", "--root", str(root)])
    assert r.exit_code == 0, r.output
    floor = np.mean([bayes_floor_score(TracePatterningConfig(), s, 200_000, 200_000).nmse for s in range(3)])
    nmse = np.mean([x["metrics"]["nmse"] for x in recs])
    lines = r.output.splitlines()
    head = lines[1].split()
    row = [line for line in lines if line.startswith("1 ")][0].split()
    assert head[5] == "excess" and float(row[5]) == pytest.approx(nmse - floor, rel=2e-3)  # rank, name, NMSE, CI (2 tokens)
    assert "not verified" in r.output and "Not for ranking: smoke preset" in r.output
    assert f"NMSE {floor:.4g} on seeds 0–2" in r.output
    r = CliRunner().invoke(cli, ["leaderboard", "show", "--json", "--root", str(root)])
    (board,) = json.loads(r.output)
    assert board["floor"]["nmse"] == pytest.approx(floor, rel=1e-12)
    assert board["rows"][0]["excess_nmse"] == pytest.approx(nmse - floor, rel=1e-9)


def test_verification_status_read_from_the_entry() -> None:
    recs = make_records(3, 0.4, name="v")
    cases = {"verified": {"status": "verified", "by": "ci"}, "failed": {"status": "failed"},
             "odd": {"status": "Verified"}, "junk": "verified", "absent": None}
    entries = []
    for name, v in cases.items():
        e = _entry(recs, name)
        if v is not None:
            e["verification"] = v
        entries.append((Path(f"{name}.json"), e))
    (board,) = build_boards(entries)
    got = {r["name"]: r["verification"] for r in board["rows"]}
    assert got == {"verified": "verified", "failed": "failed", "odd": "unverified", "junk": "unverified",
                   "absent": "unverified"}
    text = board_text(board)
    assert "verified by re-execution" in text and "verification failed" in text and text.count("not verified") == 3


def test_show_filters_the_suite_board_and_one_game(tmp_path: Path) -> None:
    """`leaderboard show --task atari-v1/suite` (as its help says) prints only the suite board;
    `--task atari-v1/Pong` only Pong's; a misspelt game is still a user error."""
    from click.testing import CliRunner

    from oscbench.cli import cli

    root = tmp_path / "lb"
    recs = [r for g in ("Pong", "Qbert") for r in make_records(3, 0.4, name="a", task_id="atari-v1", game=g)]
    _write(root, _entry(recs, "A"))
    run = CliRunner()
    suite = run.invoke(cli, ["leaderboard", "show", "--json", "--task", "atari-v1/suite", "--root", str(root)])
    assert suite.exit_code == 0, suite.output
    assert [b["kind"] for b in json.loads(suite.output)] == ["suite"]
    pong = run.invoke(cli, ["leaderboard", "show", "--json", "--task", "atari-v1/Pong", "--root", str(root)])
    assert [(b["kind"], b["game"]) for b in json.loads(pong.output)] == [("game", "Pong")]
    bad = run.invoke(cli, ["leaderboard", "show", "--task", "atari-v1/Pongg", "--root", str(root)])
    assert bad.exit_code == 2 and "'Pongg' is not a game of atari-v1" in bad.output
