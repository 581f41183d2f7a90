"""Speed benchmarks (``oscbench speed``): steps per CPU-second, never a timed test.

A *case* is a function ``case(scale: float) -> SpeedResult``; it compiles first (timed separately),
then measures process CPU time (``time.process_time``) over a run sized by ``scale`` (1.0 = the
documented size). Register cases with :func:`case`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


_CASES: dict[str, tuple[Callable[[float], "SpeedResult"], str]] = {}


@dataclass
class SpeedResult:
    """One measurement. ``steps`` counts stream steps (times the batch size for batched runs)."""

    name: str
    steps: int
    cpu_seconds: float
    wall_seconds: float
    compile_seconds: float
    unit: str = "steps"
    anchor: float | None = None      # reference figure in the same unit (e.g. the authors' C++)
    note: str = ""

    @property
    def per_cpu_second(self) -> float:
        return self.steps / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["per_cpu_second"] = self.per_cpu_second
        d["ratio_to_anchor"] = None if not self.anchor else self.per_cpu_second / self.anchor
        return d


def case(name: str, description: str) -> Callable[[Callable[[float], SpeedResult]], Callable[[float], SpeedResult]]:
    """Decorator registering a speed case under ``name``."""
    def deco(fn: Callable[[float], SpeedResult]) -> Callable[[float], SpeedResult]:
        _CASES[name] = (fn, description)
        return fn
    return deco


def measure(fn: Callable[[], int]) -> tuple[int, float, float]:
    """Run ``fn`` (returns steps done); return (steps, cpu seconds, wall seconds)."""
    c0, w0 = time.process_time(), time.perf_counter()
    steps = fn()
    return steps, time.process_time() - c0, time.perf_counter() - w0


def _load_cases() -> None:
    # importing these modules registers their cases
    import importlib

    for mod in ("oscbench.baselines.bench",):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:  # a part of the suite not installed yet
            if not (err.name and mod.startswith(err.name)):
                raise


def available_cases() -> dict[str, str]:
    """name -> description of every registered case."""
    _load_cases()
    return {k: d for k, (_, d) in _CASES.items()}


def run_cases(names: list[str] | None = None, scale: float = 1.0) -> list[SpeedResult]:
    """Run the named cases (all when None) and return their results."""
    _load_cases()
    from oscbench.errors import ConfigError

    names = names or list(_CASES)
    unknown = [n for n in names if n not in _CASES]
    if unknown:
        raise ConfigError(f"unknown speed case(s) {unknown}; choose from {sorted(_CASES)}.")
    return [_CASES[n][0](scale) for n in names]


def format_table(results: list[SpeedResult]) -> str:
    rows = [f"{'case':<28}{'per CPU-s':>14}{'anchor':>12}{'ratio':>8}{'compile s':>11}  unit"]
    for r in results:
        ratio = f"{r.per_cpu_second / r.anchor:.2f}x" if r.anchor else "-"
        anchor = f"{r.anchor:,.0f}" if r.anchor else "-"
        rows.append(f"{r.name:<28}{r.per_cpu_second:>14,.0f}{anchor:>12}{ratio:>8}{r.compile_seconds:>11.2f}  {r.unit}"
                    + (f"  ({r.note})" if r.note else ""))
    return "\n".join(rows)


# -- the stream's own case ---------------------------------------------------------------------------
@case("trace-stream", "trace-patterning generation (numba), steps per CPU-second")
def _trace_stream(scale: float) -> SpeedResult:
    from oscbench.datasets.trace_patterning import TracePatterningStream

    s = TracePatterningStream(seed=0)
    t0 = time.perf_counter()
    for _ in s.raw_blocks(1000):
        pass
    compile_s = time.perf_counter() - t0
    n = max(int(20_000_000 * scale), 65536)

    def go() -> int:
        done = 0
        for b in s.raw_blocks(n):
            done += len(b["cumulants"])
        return done

    steps, cpu, wall = measure(go)
    return SpeedResult("trace-stream", steps, cpu, wall, compile_s, note="uint8 observations + both targets")



@case("atari-replay", "Atari replay + grayscale + 16x16 cv2 resize (ale-py), frames per CPU-second")
def _atari_replay(scale: float) -> SpeedResult:
    from oscbench.datasets.atari.bench import ANCHOR_CPP, prepare_replay

    work = prepare_replay(max(int(50_000 * scale), 2_000))
    steps, cpu, wall = measure(work.run)
    return SpeedResult("atari-replay", steps, cpu, wall, work.warmup_seconds, unit="frames", anchor=ANCHOR_CPP,
                       note=work.note)
