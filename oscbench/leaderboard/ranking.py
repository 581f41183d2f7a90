"""Rankings: per task, preset and budget (and per Atari game), plus the Atari suite.

A board ranks the active entries by mean NMSE (lower is better). The leader is the lowest mean; an
entry whose 95% bootstrap CI overlaps the leader's is *statistically tied* with it and shares rank 1
(shown as ``=1``), rather than being given an order the data do not support. Other entries get
their position (competition ranking). Superseded entries are listed after the ranked ones, unranked.

``relative_error`` is the paper's figure: the entry's mean final error ÷ the mean final error of the
reference T-BPTT entry on the same board (the entry holding reference status for ``tbptt``: produced
by this installation's reference code, see :mod:`oscbench.leaderboard.ownership`).

The Atari suite board ranks entries covering every game of the suite by the interquartile mean (IQM)
of per-run NMSE with its stratified bootstrap CI, with the same tie rule, and gives the probability
of improvement P(row improves on column) of rliable for every pair.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from oscbench.leaderboard import aggregate as agg
from oscbench.leaderboard.ownership import REFERENCE_LEARNERS, reference_kind  # noqa: F401 - re-exported

def _ci(summary: Mapping[str, Any] | None) -> tuple[float, float, float] | None:
    if not summary or summary.get("mean") is None:
        return None
    m = summary["mean"]
    lo = summary["ci_low"] if summary.get("ci_low") is not None else m
    hi = summary["ci_high"] if summary.get("ci_high") is not None else m
    return m, lo, hi


def assign_ranks(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Sort ``rows`` by ``row[key] = (mean, lo, hi)`` and set ``rank``, ``tied`` and ``leader``.

    Rows without a score go last, unranked. Ties: CI overlapping the leader's (lo ≤ leader's hi).
    """
    scored = sorted((r for r in rows if r[key] is not None), key=lambda r: (r[key][0], r[key][2], r["name"], r["file"]))
    rest = [r for r in rows if r[key] is None]
    if scored:
        lead_hi = scored[0][key][2]
        for pos, r in enumerate(scored, start=1):
            r["leader"] = pos == 1
            r["tied"] = pos > 1 and r[key][1] <= lead_hi
            r["rank"] = 1 if (pos == 1 or r["tied"]) else pos
    for r in rest:
        r.update(rank=None, tied=False, leader=False)
    return scored + rest


def _base_row(path: Path | None, entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": entry["name"], "slug": entry["slug"], "file": path.name if path else entry["slug"] + ".json",
        "authors": list(entry["authors"]), "url": entry["url"], "description": entry["description"],
        "command": entry["command"], "submitted": entry["submitted"], "superseded": entry["superseded"],
        "learner": entry["learner"]["spec"], "flops_per_step": entry["learner"]["flops_per_step"],
        "hyperparameters": entry["learner"]["hyperparameters"], "reference": reference_kind(entry),
        "verification": entry.get("verification") or {"status": "unverified"},
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
        r.update(rank=None, tied=False, leader=False)
    ranked = assign_ranks(active, score)
    refs = sorted((r for r in ranked if r["reference"] == "tbptt"), key=lambda r: (r["submitted"], r["file"]))
    return ranked + old, (refs[0] if refs else None)


def build_boards(entries: Iterable[tuple[Path | None, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Every board: ``{"kind": "task"|"game"|"suite", "task", "preset", "budget_flops", "game", "rows", ...}``.

    Boards come sorted by task, preset, then game; rows in rank order (see module docs).
    """
    groups: dict[tuple[str, str, int], list[tuple[Path | None, Mapping[str, Any]]]] = {}
    for path, entry in entries:
        groups.setdefault(_board_key(entry), []).append((path, entry))
    boards = []
    for (task_id, preset, budget), members in sorted(groups.items()):
        games = sorted({g for _, e in members for g in e["aggregate"]["games"]})
        start = len(boards)
        for game in games:
            rows = [_game_row(p, e, e["aggregate"]["games"][game]) for p, e in members if game in e["aggregate"]["games"]]
            rows, ref = _finish(rows, "nmse")
            for r in rows:
                if ref is not None and ref["final_error"] > 0:
                    r["relative_error"] = r["final_error"] / ref["final_error"]
            boards.append({"kind": "game" if game else "task", "task": task_id, "preset": preset,
                           "budget_flops": budget, "game": game or None, "rows": rows,
                           "reference": ref["file"] if ref else None})
        if any(game for game in games):  # the suite's board first, then one per game
            boards.insert(start, suite_board(task_id, preset, budget, members))
    return boards


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
