"""The conformance checks of ``oscbench check``: protocol, declared FLOPs within the budget, the
causality and determinism audit (:mod:`oscbench.benchmark.audit`) on the task's own stream, shapes and
finiteness -- one line each, every check run even when an earlier one failed where it can be.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from oscbench.benchmark.audit import run_audit
from oscbench.benchmark.guard import LearnerFault, declared_flops, run_checked, step_checked


@dataclass
class Check:
    name: str
    status: str          # "ok" | "FAIL" | "skip"
    detail: str

    def line(self) -> str:
        return f"{self.status:<5} {self.name:<12} {self.detail}"


@dataclass
class CheckReport:
    learner: str
    task: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status != "FAIL" for c in self.checks)

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def to_dict(self) -> dict[str, Any]:
        return {"learner": self.learner, "task": self.task, "ok": self.ok,
                "checks": [asdict(c) for c in self.checks]}


def check_learner(spec: Any, *, task: str = "trace-patterning-v1", hyperparameters: Mapping[str, Any] | None = None,
                  seed: int = 0, dataset: Any = None) -> CheckReport:
    """Conformance checks a researcher runs before submitting; one :class:`Check` per line.

    load, construct, protocol, flops (declared, within the task's budget), step (a float per step),
    run (shape [N], finite; skipped without ``run``), causality and determinism (the audit).
    """
    from oscbench.benchmark import loading, streams, tasks

    t, games = tasks.resolve(task)
    checks: list[Check] = []
    name = spec if isinstance(spec, str) else getattr(spec, "__qualname__", repr(spec))
    report = CheckReport(str(name), task, checks)

    def skip_rest(names: list[str]) -> CheckReport:
        checks.extend(Check(n, "skip", "needs the checks above") for n in names)
        return report

    later = ["construct", "protocol", "flops", "step", "run", "causality", "determinism"]
    try:
        loaded = loading.load_learner(spec)
    except Exception as err:  # noqa: BLE001 - report, do not crash
        checks.append(Check("load", "FAIL", str(err)))
        return skip_rest(later)
    checks.append(Check("load", "ok", f"{loaded.spec} -> {loaded.name}" +
                        (f" ({loaded.source_path})" if loaded.source_path else "")))
    preset = t.presets.get("smoke") or next(iter(t.presets.values()))
    n_audit = t.audit_prefix_steps
    try:
        source = streams.open_stream(t, game=games[0], seed=seed, n_steps=max(n_audit, 1), dataset=dataset)
        prefix = next(iter(source.chunks(n_audit, n_audit)))
        hp = loaded.hyperparameters(t.kind, preset.steps, hyperparameters or {})

        def build() -> Any:
            return loaded.build(source.n_features, seed, hp)

        learner = build()
    except LearnerFault as f:
        checks.append(Check("construct", "FAIL", f.message))
        return skip_rest(later[1:])
    except Exception as err:  # noqa: BLE001
        checks.append(Check("construct", "FAIL", f"{type(err).__name__}: {err}"))
        return skip_rest(later[1:])
    checks.append(Check("construct", "ok", f"{type(learner).__name__}({source.n_features} features, seed={seed}"
                        + "".join(f", {k}={v!r}" for k, v in hp.items()) + ")"))

    has_step = callable(getattr(learner, "step", None))
    has_run = callable(getattr(learner, "run", None))
    if not has_step:
        checks.append(Check("protocol", "FAIL", "no step(x, cumulant, continuation) method"))
    else:
        checks.append(Check("protocol", "ok", "step() and flops_per_step()" + (" and run()" if has_run else "; no run(), step() is used")))
    flops, why = declared_flops(learner)
    if flops is None:
        checks.append(Check("flops", "FAIL", why))
    elif t.over_budget(flops):
        checks.append(Check("flops", "FAIL", f"declares {flops:,} FLOPs/step, over {t.id}'s budget of {t.budget_flops:,}"))
    else:
        checks.append(Check("flops", "ok", f"declares {flops:,} FLOPs/step, within {t.id}'s budget of {t.budget_flops:,}"))
    if not has_step:
        return skip_rest(["step", "run", "causality", "determinism"])

    n_try = min(100, len(prefix))
    try:
        fresh = build()
        for i in range(n_try):
            step_checked(fresh, i, np.array(prefix.observations[i]), prefix.cumulants[i], prefix.continuations[i])
        checks.append(Check("step", "ok", f"a finite float on each of {n_try} steps"))
    except LearnerFault as f:
        checks.append(Check("step", "FAIL", f.message))
    if has_run:
        try:
            out = run_checked(build(), 0, prefix.observations, prefix.cumulants, prefix.continuations)
            checks.append(Check("run", "ok", f"shape ({len(out)},), finite, on {len(out)} steps"))
        except LearnerFault as f:
            checks.append(Check("run", "FAIL", f.message))
    else:
        checks.append(Check("run", "skip", "no run(); the evaluator calls step() per step (slower)"))
    if any(c.status == "FAIL" for c in checks):
        return skip_rest(["causality", "determinism"])
    from oscbench.benchmark.isolation import LocalHost

    try:
        audit = run_audit(LocalHost(build), prefix, max_chunk=t.audit_max_chunk)
    except LearnerFault as f:
        checks.append(Check("causality", "FAIL", f.message))
        return skip_rest(["determinism"])
    for name_, status in (("causality", audit.causality), ("determinism", audit.determinism)):
        if status == "passed":
            detail = (f"same seed, same {audit.prefix_steps} predictions" if name_ == "determinism" else
                      f"one chunk == step by step == {audit.n_chunks} chunks of 1..{audit.max_chunk} steps, "
                      f"on {audit.prefix_steps} steps")
            checks.append(Check(name_, "ok", detail))
        elif status == "failed":
            checks.append(Check(name_, "FAIL", audit.message))
        else:
            checks.append(Check(name_, "skip", "needs determinism"))
    return report
