"""Results must be one's own: copied results, and who may hold reference status.

**Copied results.** Two honest runs of different learners never give the same learning curve. Each
record's *result fingerprint* is the sha256 of its curve (every bin, against the task target), final
error and lifetime error, each rounded to 10 significant digits (so rescaling by 1 + 1e-12 does not
hide a copy). A submission that shares any fingerprint with an entry of another name is refused,
naming that entry (:func:`copied_from`); ``leaderboard validate`` reports committed entries that
share results, naming the earlier one.

**Reference status** (the badge, and the T-BPTT entry relative error is measured against) belongs to an
entry whose records were produced by this project's reference learners (:func:`reference_kind`): the
learner spec is a baseline name, its hyper-parameters are the baseline's reference configuration, and
the records' source digest is the digest of the code that computes the baselines' predictions in this
installation (:func:`oscbench.benchmark.loading.reference_sha256`) -- not a name or a hyper-parameter
set anyone can type. A digest is only a claim, so records that make it must also reproduce: ``submit``
re-runs a prefix of every seed and compares the first curve bins
(:func:`oscbench.leaderboard.verify.prefix_problems`), and an entry whose verification by re-execution
failed loses reference status. When the reference code changes (kernels), the digest changes and the
entries must be regenerated (``tools/regenerate_references.py``); until then no entry is the reference.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from oscbench.benchmark.loading import BASELINE_NAMES as REFERENCE_LEARNERS


def _round(v: Any) -> Any:
    return float(f"{v:.10g}") if isinstance(v, float) else v


def result_fingerprint(record: Mapping[str, Any]) -> str | None:
    """sha256 of a record's results (see module docs); None for a record without results."""
    curve, m = record.get("curve"), record.get("metrics")
    if not isinstance(curve, Mapping) or not isinstance(m, Mapping) or not isinstance(curve.get("mse"), list):
        return None
    body = [[_round(v) for v in curve["mse"]], _round(m.get("final_error")), _round(m.get("lifetime_error"))]
    return hashlib.sha256(json.dumps(body, allow_nan=True).encode()).hexdigest()


def copied_from(records: Sequence[Mapping[str, Any]], entries: Iterable[tuple[Path, Mapping[str, Any]]],
                *, same: tuple[str, str, str] | None = None) -> list[str]:
    """Problems naming each entry (other than ``same`` = (task, preset, slug)) whose results some of
    ``records`` repeat."""
    mine = {f: r for r in records if (f := result_fingerprint(r)) is not None}
    problems = []
    for path, entry in entries:
        key = (path.parts[-3], path.parts[-2], entry.get("slug"))
        if same is not None and key == same:
            continue
        prints = (result_fingerprint(rec) for rec in entry.get("records") or [])
        shared = [mine[f] for f in prints if f is not None and f in mine]
        if shared:
            seeds = ", ".join(str(r.get("seed")) for r in shared[:6])
            problems.append(f"the results of seed{'s' if len(shared) > 1 else ''} {seeds} equal those of the entry "
                            f"{entry.get('name')!r} ({path.parent.parent.name}/{path.parent.name}/{path.name}); "
                            "submit results of your own learner")
    return problems


def reference_code(learner: Mapping[str, Any]) -> str | None:
    """The baseline whose code (this installation's reference code digest) a learner block claims, else None."""
    spec = learner.get("spec")
    if spec not in REFERENCE_LEARNERS:
        return None
    try:
        from oscbench.benchmark.loading import reference_sha256

        digest = reference_sha256()
    except ImportError:
        return None
    return spec if digest is not None and learner.get("source_sha256") == digest else None


def reference_claim(learner: Mapping[str, Any], task_id: str, steps: int) -> str | None:
    """The baseline a learner block claims to be at its reference configuration and with this
    installation's reference code (:func:`reference_code`), else None."""
    spec = reference_code(learner)
    if spec is None:
        return None
    try:
        from oscbench.baselines import reference_config
        from oscbench.benchmark import tasks

        want = reference_config(spec, tasks.get_task(task_id).kind, steps)
    except Exception:  # noqa: BLE001 - an unknown task/learner pair is simply not a reference
        return None
    hp = learner.get("hyperparameters") or {}
    return spec if all(hp.get(k) == v for k, v in dict(want).items()) else None


def reference_kind(entry: Mapping[str, Any]) -> str | None:
    """``hybrid``/``constructive``/``columnar``/``tbptt`` when the entry holds reference status (module
    docs): the reference learner at its SPEC configuration, run by this installation's reference code,
    and not failed verification by re-execution."""
    v = entry.get("verification")
    if isinstance(v, Mapping) and v.get("status") == "failed":
        return None
    try:
        return reference_claim(entry["learner"], entry["task"]["id"], entry["records"][0]["steps"])
    except (KeyError, IndexError, TypeError):
        return None
