"""What every section of the reproduction report shares: the learners, verdicts, number formats, figures,
and loading the committed records (reference entries and study records)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


REPO = Path(__file__).resolve().parents[2]
LEARNERS = ("hybrid", "constructive", "columnar", "tbptt")
LABEL = {"hybrid": "Hybrid", "constructive": "Constructive", "columnar": "Columnar", "tbptt": "T-BPTT"}
TRACE = "trace-patterning-v1"
ATARI = "atari-v1"


@dataclass(frozen=True)
class Verdict:
    claim: str
    verdict: str          # reproduced / partly / not reproduced / not tested at this scale
    scale: str            # e.g. "5M steps, seeds 0-4"
    evidence: str         # one paragraph, figures computed from the records
    command: str          # what produced the figures


def fmt(x: float | None, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def seeds_text(seeds: Sequence[int]) -> str:
    s = sorted(seeds)
    return f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) and len(s) > 1 else ",".join(map(str, s))


def steps_text(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:.3g}k"      # 249,999 -> 250k


def ci_text(s: Mapping[str, Any]) -> str:
    return f"{fmt(s['mean'], 3)} [{fmt(s['ci_low'], 3)}, {fmt(s['ci_high'], 3)}]"


def mean_se(values: Sequence[float]) -> tuple[float, float | None]:
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None)


def pm(mean: float, se: float | None, digits: int = 3) -> str:
    return f"{mean:.{digits}f}" + ("" if se is None else f" ± {se:.{digits}f}")


@contextmanager
def figure(path: Path, *args: Any, **kw: Any) -> Iterator[Any]:
    """``plt.subplots(*args, **kw)`` (Agg) yielded as (fig, ax-or-axes), saved to ``path`` and closed afterwards."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(*args, **kw)
    try:
        yield fig, ax
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)


def load_reference_entries(root: Path) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(task id, preset) -> learner -> the active entry of that learner on that board made by this
    installation's reference code at its reference configuration -- whatever its verification by
    re-execution says: the report uses the project's own runs and states each one's verification
    (:func:`verification_line`), where the board takes a failed one's reference status away."""
    from oscbench.leaderboard import entries, ownership

    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for _path, entry in entries.iter_entries(root):
        if not entries.is_active(entry):
            continue
        try:
            kind = ownership.reference_claim(entry["learner"], entry["task"]["id"], entry["records"][0]["steps"])
        except (KeyError, IndexError, TypeError):
            kind = None
        if kind is None:
            continue
        out.setdefault((entry["task"]["id"], entry["task"]["preset"]), {})[kind] = entry
    return out


def verification_line(by: Mapping[str, Mapping[str, Any]]) -> str:
    """One sentence: each entry's verification by re-execution (``leaderboard/verification/``)."""
    parts = []
    for k in LEARNERS:
        if k in by:
            status = (by[k].get("verification") or {}).get("status", "unverified")
            parts.append(f"{LABEL[k]} {'**failed**' if status == 'failed' else status}")
    text = "Verification by re-execution (`oscbench leaderboard verify`; `leaderboard/verification/`): " + ", ".join(parts) + "."
    if any((by[k].get("verification") or {}).get("status") == "failed" for k in by):
        text += (" An entry that failed keeps its numbers here, but holds no reference status on the board "
                 "(no badge, and the board measures no relative error against it); "
                 "[baselines.md](baselines.md) says what failed and what was measured since.")
    return text


def game_aggregate(entry: Mapping[str, Any], game: str = "") -> Mapping[str, Any]:
    return entry["aggregate"]["games"][game]


def load_study(root: Path, study: str) -> list[dict[str, Any]]:
    """The finished records of ``<root>/studies/<study>/*.json`` (a sweep's records, outside the board)."""
    from oscbench.benchmark.records import read_record

    folder = root / "studies" / study
    recs = [read_record(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return [r for r in recs if r.get("status") == "ok" and r.get("metrics", {}).get("nmse") is not None]
