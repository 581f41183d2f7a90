"""Rankings: per task, preset and budget (and per Atari game), plus the Atari suite.

**Rank groups.** A board sorts the active entries by mean NMSE (lower is better) and ranks them in
*groups* rather than one by one. Two entries are *tied* when their 95% bootstrap CIs overlap
(``lo_a <= hi_b`` and ``lo_b <= hi_a``); this is computed for every pair (``tied_with``). A rank group
is a connected set of ties: entries chained by overlapping CIs share a group, so any two entries in
different groups have disjoint CIs, and no difference inside the noise is given an order. The group's
rank is 1 + the number of ranked entries in better groups (shown ``=k`` when the group has several
members); groups are ordered by their best mean. Chaining is deliberately conservative: A may share a
group with C through B although A's and C's CIs are disjoint. An entry with one seed has a
zero-width CI. The *leader* is the entry with the lowest mean. Superseded entries are listed after
the ranked ones, unranked.

**Board order.** Boards holding reference entries first (so a new submission never pushes the
reference results down the page); within each part trace patterning before Atari, then by preset
length (smoke < short < full), the suite board before its games. ``smoke`` boards carry
``not_for_ranking``: 200k steps and 3 seeds check that a learner runs; they are too short and have
too few seeds to compare learners.

**Bayes floor.** Trace-patterning boards scored on G* carry ``floor`` (the Bayes-optimal prediction's
NMSE on the preset's seeds, :mod:`oscbench.leaderboard.floor`) and every row its ``floor_nmse`` and
``excess_nmse`` (its NMSE minus the floor's on the same seeds).

**Verification.** ``verification`` is the entry's ``verification.status`` (``verified``,
``unverified`` or ``failed``); absent or any other value reads as ``unverified``.

``relative_error`` is the paper's figure: the entry's mean final error ÷ the mean final error of the
reference T-BPTT entry on the same board (the reference baseline entry whose learner is ``tbptt`` at
its SPEC configuration).

The Atari suite board ranks entries covering every game of the suite by the interquartile mean (IQM)
of per-run NMSE with its stratified bootstrap CI, with the same group rule, and gives the probability
of improvement P(row improves on column) of rliable for every pair.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from oscbench.leaderboard import aggregate as agg

REFERENCE_LEARNERS = ("hybrid", "constructive", "columnar", "tbptt")


def reference_kind(entry: Mapping[str, Any]) -> str | None:
    """``hybrid``/``constructive``/``columnar``/``tbptt`` when the entry is that reference baseline at
    its SPEC configuration (``oscbench.baselines.reference_config``), else None."""
    spec = entry["learner"]["spec"]
    if spec not in REFERENCE_LEARNERS:
        return None
    try:
        from oscbench.baselines import reference_config
    except ImportError:
        return None
    try:
        from oscbench.benchmark import tasks

        want = reference_config(spec, tasks.get_task(entry["task"]["id"]).kind, entry["records"][0]["steps"])
    except Exception:  # noqa: BLE001 - an unknown task/learner pair is simply not a reference
        return None
    hp = entry["learner"]["hyperparameters"]
    return spec if all(hp.get(k) == v for k, v in dict(want).items()) else None


def _ci(summary: Mapping[str, Any] | None) -> tuple[float, float, float] | None:
    if not summary or summary.get("mean") is None:
        return None
    m = summary["mean"]
    lo = summary["ci_low"] if summary.get("ci_low") is not None else m
    hi = summary["ci_high"] if summary.get("ci_high") is not None else m
    return m, lo, hi


def _overlap(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    return a[1] <= b[2] and b[1] <= a[2]


def assign_ranks(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rank ``rows`` by ``row[key] = (mean, lo, hi)`` in groups (module docs); returns them in rank order.

    Sets ``rank``, ``group`` (1, 2, ... in order), ``tied`` (the group has other members),
    ``tied_with`` (files of the entries whose CI overlaps this one's) and ``leader``. Rows without a
    score go last, unranked.
    """
    scored = sorted((r for r in rows if r[key] is not None), key=lambda r: (r[key][0], r[key][2], r["name"], r["file"]))
    rest = [r for r in rows if r[key] is None]
    parent = list(range(len(scored)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, r in enumerate(scored):
        r["tied_with"] = [o["file"] for j, o in enumerate(scored) if j != i and _overlap(r[key], o[key])]
        for j in range(i):
            if _overlap(r[key], scored[j][key]):
                parent[root(i)] = root(j)
    order: dict[int, int] = {}  # group root -> group number, by the best mean in the group
    for i in range(len(scored)):
        order.setdefault(root(i), len(order) + 1)
    members = {g: [r for i, r in enumerate(scored) if order[root(i)] == g] for g in order.values()}
    out: list[dict[str, Any]] = []
    rank = 1
    for g in sorted(members):
        for r in members[g]:
            r.update(group=g, rank=rank, tied=len(members[g]) > 1, leader=not out)
            out.append(r)
        rank += len(members[g])
    for r in rest:
        r.update(rank=None, group=None, tied=False, tied_with=[], leader=False)
    return out + rest


def verification_status(entry: Mapping[str, Any]) -> str:
    """``verified``, ``failed`` or ``unverified`` (absent, malformed or unknown reads as unverified)."""
    v = entry.get("verification")
    status = v.get("status") if isinstance(v, Mapping) else None
    return status if status in ("verified", "failed") else "unverified"


def _base_row(path: Path | None, entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": entry["name"], "slug": entry["slug"], "file": path.name if path else entry["slug"] + ".json",
        "authors": list(entry["authors"]), "url": entry["url"], "description": entry["description"],
        "command": entry["command"], "submitted": entry["submitted"], "superseded": entry["superseded"],
        "learner": entry["learner"]["spec"], "flops_per_step": entry["learner"]["flops_per_step"],
        "hyperparameters": entry["learner"]["hyperparameters"], "reference": reference_kind(entry),
        "verification": verification_status(entry),
    }


def _game_row(path: Path | None, entry: Mapping[str, Any], g: Mapping[str, Any]) -> dict[str, Any]:
    row = _base_row(path, entry)
    row.update({
        "nmse": _ci(g["nmse"]), "final_error": g["final_error"]["mean"], "lifetime_error": g["lifetime_error"]["mean"],
        "seeds": len(g["seeds"]), "steps": g["steps"], "steps_per_second": g["steps_per_cpu_second"]["mean"],
        "curve": g["curve"], "relative_error": None,
    })
    return row


def _board_key(entry: Mapping[str, Any]) -> tuple[str, str, int]:
    t = entry["task"]
    return t["id"], t["preset"], t["budget_flops"]


def _finish(rows: list[dict[str, Any]], score: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    active = [r for r in rows if not r["superseded"]]
    old = sorted((r for r in rows if r["superseded"]), key=lambda r: (r["name"], r["file"]))
    for r in old:
        r.update(rank=None, group=None, tied=False, tied_with=[], leader=False)
    ranked = assign_ranks(active, score)
    refs = sorted((r for r in ranked if r["reference"] == "tbptt"), key=lambda r: (r["submitted"], r["file"]))
    return ranked + old, (refs[0] if refs else None)


SMOKE_PRESETS = ("smoke",)


def not_for_ranking(task_id: str, preset: str) -> str | None:
    """Why a board is not for ranking (smoke presets), or None."""
    if preset not in SMOKE_PRESETS:
        return None
    try:
        p = tasks_module().get_task(task_id).presets[preset]
        size = f"{p.steps:,} steps × {p.seeds} seeds"
    except Exception:  # noqa: BLE001 - an unknown task: the reason without the figures
        size = "a quick check"
    return (f"smoke preset ({size}): a check that a learner runs, too short and with too few seeds to rank "
            "learners; compare on short or full")


def tasks_module() -> Any:
    from oscbench.benchmark import tasks

    return tasks


def _preset_steps(task_id: str, preset: str) -> int:
    try:
        return int(tasks_module().get_task(task_id).presets[preset].steps)
    except Exception:  # noqa: BLE001 - unknown presets sort last
        return 1 << 62


def _task_kind(task_id: str) -> str:
    try:
        return str(tasks_module().get_task(task_id).kind)
    except Exception:  # noqa: BLE001
        return ""


def order_boards(boards: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Boards in page order (module docs): boards holding reference entries first; then trace patterning
    before other tasks, by preset length; the suite board before its games, games by name."""
    boards = list(boards)
    with_refs = {(b["task"], b["preset"]) for b in boards for r in b["rows"] if r.get("reference")}
    kind_rank = {"task": 0, "suite": 0, "game": 1}
    return sorted(boards, key=lambda b: ((b["task"], b["preset"]) not in with_refs,
                                         _task_kind(b["task"]) != "trace-patterning",
                                         b["task"], _preset_steps(b["task"], b["preset"]), b["preset"],
                                         b["budget_flops"], kind_rank[b["kind"]], b.get("game") or ""))


def _add_floor(board: dict[str, Any], members: Sequence[tuple[Path | None, Mapping[str, Any]]]) -> None:
    from oscbench.leaderboard import floor

    board["floor"] = floor.preset_floor(board["task"], board["preset"])
    by_file = {(p.name if p else e["slug"] + ".json"): floor.entry_floor(e) for p, e in members}
    for r in board["rows"]:
        f = by_file.get(r["file"])
        r["floor_nmse"] = f["nmse"] if f else None
        r["excess_nmse"] = r["nmse"][0] - f["nmse"] if f and r["nmse"] else None


def build_boards(entries: Iterable[tuple[Path | None, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Every board: ``{"kind": "task"|"game"|"suite", "task", "preset", "budget_flops", "game", "rows",
    "not_for_ranking", "floor", ...}``, in page order (:func:`order_boards`); rows in rank order."""
    groups: dict[tuple[str, str, int], list[tuple[Path | None, Mapping[str, Any]]]] = {}
    for path, entry in entries:
        groups.setdefault(_board_key(entry), []).append((path, entry))
    boards = []
    for (task_id, preset, budget), members in sorted(groups.items()):
        games = sorted({g for _, e in members for g in e["aggregate"]["games"]})
        note = not_for_ranking(task_id, preset)
        for game in games:
            rows = [_game_row(p, e, e["aggregate"]["games"][game]) for p, e in members if game in e["aggregate"]["games"]]
            rows, ref = _finish(rows, "nmse")
            for r in rows:
                if ref is not None and ref["final_error"] > 0:
                    r["relative_error"] = r["final_error"] / ref["final_error"]
            board = {"kind": "game" if game else "task", "task": task_id, "preset": preset,
                     "budget_flops": budget, "game": game or None, "rows": rows,
                     "reference": ref["file"] if ref else None, "not_for_ranking": note, "floor": None}
            if not game:
                _add_floor(board, members)
            boards.append(board)
        if any(game for game in games):
            suite = suite_board(task_id, preset, budget, members)
            suite.update(not_for_ranking=note, floor=None)
            boards.append(suite)
    return order_boards(boards)


def empty_boards(boards: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A board without entries for every shipped task × preset that ``boards`` lack (the page lists them
    collapsed): a ``task`` board, or a ``suite`` board for suites."""
    from oscbench.leaderboard import floor

    have = {(b["task"], b["preset"]) for b in boards}
    out: list[dict[str, Any]] = []
    for t in tasks_module().list_tasks():
        for preset in t.presets:
            if (t.id, preset) in have:
                continue
            b: dict[str, Any] = {"kind": "suite" if t.is_suite else "task", "task": t.id, "preset": preset,
                                 "budget_flops": t.budget_flops, "game": None, "rows": [], "reference": None,
                                 "not_for_ranking": not_for_ranking(t.id, preset), "floor": None}
            b["floor"] = floor.stationary_floor(t.id)
            if t.is_suite:
                b.update(games=sorted(set(t.games)), probability_of_improvement={"order": [], "matrix": []})
            out.append(b)
    return out


def suite_games(task_id: str) -> list[str]:
    """The games of a suite task (from its shipped definition)."""
    from oscbench.benchmark import tasks

    return sorted(set(tasks.get_task(task_id).games))


def suite_board(task_id: str, preset: str, budget: int,
                members: Sequence[tuple[Path | None, Mapping[str, Any]]]) -> dict[str, Any]:
    """The Atari suite board (see module docs); incomplete entries are listed unranked."""
    wanted = suite_games(task_id)
    rows = []
    for path, e in members:
        row = _base_row(path, e)
        have = set(e["aggregate"]["games"])
        complete = set(wanted) <= have
        iqm = e["aggregate"]["iqm"] if complete else None
        row.update({
            "complete": complete, "n_games": len(have & set(wanted)),
            "iqm": (iqm["iqm"], iqm["ci_low"], iqm["ci_high"]) if iqm else None,
            "per_game": {g: e["aggregate"]["games"][g]["nmse"]["mean"] for g in sorted(have)},
            "per_game_final_error": {g: e["aggregate"]["games"][g]["final_error"]["mean"] for g in sorted(have)},
            "runs": agg.nmse_by_game([r for r in e["records"] if r["task"].get("game") in wanted]),
            "seeds": min((len(e["aggregate"]["games"][g]["seeds"]) for g in have), default=0),
            "steps": e["records"][0]["steps"],
        })
        if not complete:
            row["iqm"] = None
        rows.append(row)
    rows, ref = _finish(rows, "iqm")
    # Figure 7 of the paper: each game's final error / the reference T-BPTT's on that game.
    for r in rows:
        r["normalised"] = ({g: v / ref["per_game_final_error"][g] for g, v in r["per_game_final_error"].items()
                            if ref["per_game_final_error"].get(g)} if ref else None)
    ranked = [r for r in rows if r["rank"] is not None]
    poi = [[None if a is b else agg.probability_of_improvement(a["runs"], b["runs"]) for b in ranked] for a in ranked]
    for r in rows:
        del r["runs"]
    return {"kind": "suite", "task": task_id, "preset": preset, "budget_flops": budget, "game": None,
            "games": wanted, "rows": rows, "reference": ref["file"] if ref else None,
            "probability_of_improvement": {"order": [r["file"] for r in ranked], "matrix": poi}}


def board_title(board: Mapping[str, Any]) -> str:
    """``trace-patterning-v1 · short · budget 4,400 FLOPs/step`` (game or ``suite`` included for Atari)."""
    what = board["task"] + (f"/{board['game']}" if board.get("game") else "") + (" suite" if board["kind"] == "suite" else "")
    return f"{what} · {board['preset']} · budget {board['budget_flops']:,} FLOPs/step"


def board_id(board: Mapping[str, Any]) -> str:
    """A stable identifier usable in file names and HTML ids: ``trace-patterning-v1--short`` etc."""
    parts = [board["task"], board["preset"]] + ([board["game"]] if board.get("game") else []) + \
            (["suite"] if board["kind"] == "suite" else [])
    return "--".join(p.replace("/", "-").lower() for p in parts)


def filter_boards(boards: Sequence[Mapping[str, Any]], task: str | None = None, preset: str | None = None) -> list:
    """Boards of ``task`` (``atari-v1``, ``atari-v1/Pong`` or ``atari-v1/suite``) and ``preset``."""
    out = []
    for b in boards:
        if preset and b["preset"] != preset:
            continue
        if task:
            base, _, sub = task.partition("/")
            if b["task"] != base:
                continue
            if sub == "suite" and b["kind"] != "suite":
                continue
            if sub and sub != "suite" and (b.get("game") or "").lower() != sub.lower():
                continue
        out.append(b)
    return out


def to_json(boards: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Boards without the bulky learning curves (for ``oscbench leaderboard show --json``)."""
    out = []
    for b in boards:
        bb = dict(b)
        bb["rows"] = [{k: v for k, v in r.items() if k != "curve"} for r in b["rows"]]
        out.append(bb)
    return out
