"""Speed benchmarks (``oscbench speed``): steps per CPU-second, never a timed test.

A *case* is a function ``case(scale: float, long: bool) -> SpeedResult``; it compiles first (timed
separately), then measures process CPU time (``time.process_time``) over a run sized by ``scale`` (1.0 =
the documented size). ``long=True`` (``oscbench speed --long``) asks a learner case for a long run measured
per segment (:attr:`SpeedResult.segments`), which shows whether speed holds over a whole run. Register
cases with :func:`case`.

Cases that declare ``flops_per_step`` (the paper's formula, :mod:`oscbench.benchmark.flops`) also
report GFLOP/s and, measured in the same process, the single-threaded float32 GEMM rate of the core
(:func:`gemm_rate`) and their ratio.

Every result names where it was measured: the host (:func:`~oscbench.benchmark.records.compiled_target`:
CPU model and the target numba compiles for) and the 1-minute load average before and after the case, with
the case's CPU share (CPU time over wall time): a figure measured beside other jobs, or on another CPU, says
so itself. The same code's share of the GEMM rate differs between CPUs (docs/performance.md).
"""
from __future__ import annotations

import ctypes
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache

_CASES: dict[str, tuple[Callable[..., "SpeedResult"], str]] = {}
HOLDS_WITHIN = 0.10   # --long: speed holds when no segment is more than this fraction below the first (issue 11)


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
    flops_per_step: int | None = None    # the paper's formula for one step of one run
    gemm_gflops: float | None = None     # 1-thread float32 GEMM rate of this core, same process
    gemm_kernel: str = ""                # the BLAS kernel that ran it (e.g. OpenBLAS "Haswell")
    segments: list[float] = field(default_factory=list)   # steps per CPU-second of each segment (--long)
    segment_work: list[float] = field(default_factory=list)  # mean work per step of each segment (staged runs)
    segment_stage: list[int | None] = field(default_factory=list)  # the stage of each segment (None: spans two)
    subnormals: int | None = None        # subnormal floats in the learner's state at the end
    load_before: float | None = None     # 1-minute load average before the case (None: not available)
    load_after: float | None = None      # ... and after it
    host: dict = field(default_factory=dict)   # records.compiled_target(): cpu, compiled_target, cpu_features

    @property
    def cpu_share(self) -> float | None:
        """CPU time over wall time of the timed loop: below 1, the case waited for the CPU (other jobs)."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else None

    @property
    def gflops(self) -> float | None:
        if not self.flops_per_step:
            return None
        return self.per_cpu_second * self.flops_per_step / 1e9

    @property
    def share_of_gemm(self) -> float | None:
        g = self.gflops
        return None if g is None or not self.gemm_gflops else g / self.gemm_gflops

    @property
    def last_over_first(self) -> float | None:
        """Rate of the last segment over the first (1.0 = speed held over the whole run)."""
        return self.segments[-1] / self.segments[0] if len(self.segments) > 1 and self.segments[0] > 0 else None

    @property
    def work_last_over_first(self) -> float | None:
        """The same at equal work: each segment's rate times its mean work per step (a staged run's later
        stages do more work a step); None when the work does not change along the run."""
        r, w = self.last_over_first, self.segment_work
        return None if r is None or len(w) < 2 or w[0] <= 0 else r * w[-1] / w[0]

    @property
    def stage_last_over_first(self) -> float | None:
        """Staged runs: the lowest, over the stages holding two or more whole segments, of the stage's last
        segment rate over its first -- whether speed holds at constant work (1.0 = it does); None for
        runs without stages or without such a stage."""
        if not self.segment_stage:
            return None
        ratios = [v[-1] / v[0] for v in self._stage_runs() if len(v) > 1 and v[0] > 0]
        return min(ratios) if ratios else None

    def _stage_runs(self) -> list[list[float]]:
        """The segment rates grouped by stage (segments spanning a switch left out); one group for runs without
        stages."""
        if not self.segment_stage:
            return [list(self.segments)] if self.segments else []
        by: dict[int, list[float]] = {}
        for rate, stage in zip(self.segments, self.segment_stage):
            if stage is not None:
                by.setdefault(stage, []).append(rate)
        return list(by.values())

    @property
    def lowest_over_first(self) -> float | None:
        """The slowest segment over the first -- within each stage for staged runs, at constant work -- the
        lowest over the stages with two or more whole segments: catches a slowdown in the middle of a run
        that has passed by its end (last/first would not)."""
        ratios = [min(v) / v[0] for v in self._stage_runs() if len(v) > 1 and v[0] > 0]
        return min(ratios) if ratios else None

    @property
    def holds(self) -> bool | None:
        """Speed holds over the run: no segment more than 10% below the first (:data:`HOLDS_WITHIN`); None
        without segments."""
        low = self.lowest_over_first
        return None if low is None else low >= 1.0 - HOLDS_WITHIN

    @property
    def per_cpu_second(self) -> float:
        return self.steps / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["per_cpu_second"] = self.per_cpu_second
        d["ratio_to_anchor"] = None if not self.anchor else self.per_cpu_second / self.anchor
        d["gflops"] = self.gflops
        d["share_of_gemm"] = self.share_of_gemm
        d["last_over_first"] = self.last_over_first
        d["work_last_over_first"] = self.work_last_over_first
        d["stage_last_over_first"] = self.stage_last_over_first
        d["cpu_share"] = self.cpu_share
        d["lowest_over_first"] = self.lowest_over_first
        d["holds"] = self.holds
        return d


def case(name: str, description: str) -> Callable[[Callable[..., SpeedResult]], Callable[..., SpeedResult]]:
    """Decorator registering a speed case ``fn(scale, long) -> SpeedResult`` under ``name``."""
    def deco(fn: Callable[..., SpeedResult]) -> Callable[..., SpeedResult]:
        _CASES[name] = (fn, description)
        return fn
    return deco


# -- the core's own limit: single-threaded float32 GEMM --------------------------------------------
def _openblas_symbols() -> tuple[Callable | None, Callable | None]:
    """(set_num_threads, get_corename) of the OpenBLAS that numpy loaded, found through ctypes."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return None, None
    for path in sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps))):
        lib = ctypes.CDLL(path)
        setn = getn = None
        for pre in ("scipy_openblas", "openblas"):
            for suf in ("64_", ""):
                setn = setn or getattr(lib, f"{pre}_set_num_threads{suf}", None)
                getn = getn or getattr(lib, f"{pre}_get_corename{suf}", None)
        if setn is not None:
            if getn is not None:
                getn.restype = ctypes.c_char_p
            return setn, getn
    return None, None


@lru_cache(maxsize=1)
def gemm_rate(n: int = 1024, reps: int = 7) -> tuple[float, str]:
    """(GFLOP/s, BLAS kernel) of numpy's float32 ``n×n @ n×n`` on one thread: the best of ``reps`` runs
    (2n³ FLOPs each, process CPU time). Measured once per process. OpenBLAS is limited to one thread
    through its own API (``OPENBLAS_CORETYPE``, when set, chooses the kernel reported here)."""
    import numpy as np

    setn, getn = _openblas_symbols()
    if setn is not None:
        setn(1)
    kernel = getn().decode() if getn is not None else "unknown BLAS (thread count not limited)"
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    a @ b
    best = float("inf")
    for _ in range(reps):
        c0 = time.process_time()
        a @ b
        best = min(best, time.process_time() - c0)
    return 2 * n ** 3 / max(best, 1e-9) / 1e9, kernel


def measure(fn: Callable[[], int]) -> tuple[int, float, float]:
    """Run ``fn`` (returns steps done); return (steps, cpu seconds, wall seconds)."""
    c0, w0 = time.process_time(), time.perf_counter()
    steps = fn()
    return steps, time.process_time() - c0, time.perf_counter() - w0


def _load_cases() -> None:
    # importing these modules registers their cases
    import importlib

    for mod in ("oscbench.benchmark.learner_speed",):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:  # a part of the suite not installed yet
            if not (err.name and mod.startswith(err.name)):
                raise


def long_capable(name: str) -> bool:
    """Whether case ``name`` has a long, per-segment mode (its function takes ``long``)."""
    import inspect

    return "long" in inspect.signature(_CASES[name][0]).parameters


def available_cases() -> dict[str, str]:
    """name -> description of every registered case."""
    _load_cases()
    return {k: d for k, (_, d) in _CASES.items()}


def run_cases(names: list[str] | None = None, scale: float = 1.0, long: bool = False) -> list[SpeedResult]:
    """Run the named cases (all when None) and return their results (``long``: see the module docs)."""
    _load_cases()
    from oscbench.errors import ConfigError

    names = names or [n for n in _CASES if not long or long_capable(n)]
    unknown = [n for n in names if n not in _CASES]
    if unknown:
        raise ConfigError(f"unknown speed case(s) {unknown}; choose from {sorted(_CASES)}.")
    if long and [n for n in names if not long_capable(n)]:
        raise ConfigError(f"case(s) {[n for n in names if not long_capable(n)]} have no long mode; drop --long or "
                          f"choose from {[n for n in _CASES if long_capable(n)]}.")
    from oscbench.benchmark.records import compiled_target

    host = compiled_target()
    results = []
    for n in names:
        before = load_average()
        r = _CASES[n][0](scale, long=True) if long else _CASES[n][0](scale)
        if r.flops_per_step:
            r.gemm_gflops, r.gemm_kernel = gemm_rate()
        r.load_before, r.load_after, r.host = before, load_average(), dict(host)
        results.append(r)
    return results


def load_average() -> float | None:
    """The 1-minute load average (None where the OS does not give one)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def format_load(x: float | None) -> str:
    """A load average as printed in reports ("?" where the OS gives none)."""
    return "?" if x is None else f"{x:.2f}"


def host_line(results: list[SpeedResult]) -> str:
    """Where a run of cases was measured: the CPU, numba's target, and the load over the run."""
    if not results:
        return ""
    h = results[0].host
    return (f"host: {h.get('cpu') or 'unknown CPU'} (numba target {h.get('compiled_target') or '?'}); "
            f"load (1-minute average) {format_load(results[0].load_before)} before, {format_load(results[-1].load_after)} after")


def format_table(results: list[SpeedResult]) -> str:
    rows = [host_line(results),
            f"{'case':<28}{'per CPU-s':>14}{'anchor':>12}{'ratio':>8}{'compile s':>11}{'CPU share':>11}  unit"]
    for r in results:
        ratio = f"{r.per_cpu_second / r.anchor:.2f}x" if r.anchor else "-"
        anchor = f"{r.anchor:,.0f}" if r.anchor else "-"
        share = f"{r.cpu_share:.2f}" if r.cpu_share is not None else "-"
        rows.append(f"{r.name:<28}{r.per_cpu_second:>14,.0f}{anchor:>12}{ratio:>8}{r.compile_seconds:>11.2f}"
                    f"{share:>11}  {r.unit}"
                    + (f"  ({r.note})" if r.note else ""))
        if r.gflops is not None:
            share = f"{r.share_of_gemm:.1%}" if r.share_of_gemm is not None else "-"
            rows.append(f"{'':<4}{r.flops_per_step:,} FLOPs/step (paper's formula): {r.gflops:.2f} GFLOP/s = {share} "
                        f"of 1-thread float32 GEMM ({r.gemm_gflops:.1f} GFLOP/s, OpenBLAS kernel {r.gemm_kernel})")
        if r.segments:
            seg = " ".join(f"{x / 1e3:,.0f}k" for x in r.segments)
            work = r.work_last_over_first
            stage = r.stage_last_over_first
            rows.append(f"{'':<4}per segment: {seg}; last/first {r.last_over_first:.2f}"
                        + (f" ({work:.2f} per unit of work: later stages do more a step)" if work is not None else "")
                        + (f"; within a stage, last/first >= {stage:.2f}" if stage is not None else "")
                        + f"; subnormals in the state at the end: {r.subnormals}")
            if r.holds is not None:
                low = f"slowest segment {r.lowest_over_first:.2f} of the first" + (" of its stage" if r.segment_stage
                                                                                    else "")
                rows.append(f"{'':<4}" + (f"speed holds ({low})" if r.holds else
                                          f"SPEED DOES NOT HOLD: {low} (more than {HOLDS_WITHIN:.0%} below)"))
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
