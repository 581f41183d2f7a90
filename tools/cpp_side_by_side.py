"""The authors' C++ and oscbench side by side: one-run speed cases on one pinned core, interleaved.

    python tools/cpp_side_by_side.py --cpp-src /path/to/Columnar-Constructive-Networks

``--cpp-src`` is a checkout of the authors' public C++ (khurramjaved96/Columnar-Constructive-Networks);
nothing of it is copied into oscbench. The script compiles ``tools/cpp_side_by_side_driver.cpp`` (ours)
against that checkout's network and environment sources (g++ -O3 -march=native, into ``--build-dir``),
then, for each repetition and each case, runs the C++ driver and ``oscbench speed --case NAME --json``
in fresh processes pinned to one core (``taskset -c CORE``), alternating which side goes first. Each
side reports its own steps per CPU-second over the timed loop (the stream is generated before the clock
starts on both sides); the script also records each process's CPU time (getrusage of the child), wall
time, CPU share (CPU / wall) and the load average. Output: a markdown table of medians (``--json`` for
every run). Not part of CI: a maintainer's script (see docs/performance.md).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from oscbench.benchmark.records import compiled_target

ROOT = Path(__file__).resolve().parent.parent
DRIVER_SRC = Path(__file__).resolve().parent / "cpp_side_by_side_driver.cpp"
# the authors' sources the driver links (their CMakeLists' AnimalLearning target, less the experiment,
# database and JSON-config files, which need a MariaDB server and are not timed)
CPP_SOURCES = [
    "src/nn/lstm.cpp", "src/nn/neuron.cpp", "src/nn/synapse.cpp", "src/nn/dynamic_elem.cpp", "src/nn/utils.cpp",
    "src/utils.cpp", "src/nn/networks/lstm_incremental_networks.cpp", "src/nn/networks/lstm_bptt.cpp",
    "src/nn/networks/neural_network.cpp", "src/environments/animal_learning/tracepatterning.cpp",
    "src/environments/animal_learning/traceconditioning.cpp",
]
MARKER = "include/nn/networks/lstm_incremental_networks.h"


@dataclass
class Case:
    """One `oscbench speed` case and the C++ run that matches it (same learner, sizes, steps, stages)."""
    name: str
    label: str
    algo: str
    n_inputs: int
    default_steps: int
    minimum: int
    stages: int = 1               # stages visited in the run (steps_per_stage = steps // stages)
    opts: dict[str, str] = field(default_factory=dict)

    def steps(self, scale: float) -> int:   # as oscbench.benchmark.learner_speed._length
        return max(int(self.default_steps * scale), self.minimum)

    def cpp_args(self, scale: float) -> list[str]:
        n = self.steps(scale)
        args = [self.algo, str(self.n_inputs), str(n)]
        if self.stages > 1:
            args += ["--steps-per-stage", str(n // self.stages)]
        if self.n_inputs != 12:
            args += ["--pool", "65536"]   # 275 x 65,536 floats; oscbench cycles 131,072 steps at this size
        for k, v in self.opts.items():
            args += [f"--{k}", v]
        return args


TRACE_CC = {"std-cap": "0.1", "decay": "0.99999", "step-size": "3e-4"}
ATARI_CC = {"std-cap": "0.001", "decay": "0.999998", "step-size": "3e-4"}
CASES = {c.name: c for c in [
    Case("hybrid", "hybrid 20 columns / 4 per stage, 12 inputs, all 5 stages", "hybrid", 12, 2_000_000, 50_000, 5,
         {"columns": "20", "per-stage": "4", **TRACE_CC}),
    Case("columnar", "columnar 7 columns, 12 inputs", "columnar", 12, 2_000_000, 50_000, 1,
         {"columns": "7", **TRACE_CC}),
    Case("constructive", "constructive 10 columns, 12 inputs, all 10 stages", "constructive", 12, 2_000_000,
         50_000, 10, {"columns": "10", **TRACE_CC, "std-cap": "0.01", "step-size": "1e-4"}),
    Case("tbptt", "T-BPTT hidden 2, truncation 30, 12 inputs", "tbptt", 12, 1_000_000, 50_000, 1,
         {"hidden": "2", "truncation": "30", "step-size": "3e-4"}),
    Case("hybrid-atari", "hybrid 15 columns / 5 per stage, 275 inputs, all 3 stages", "hybrid", 275, 300_000,
         30_000, 3, {"columns": "15", "per-stage": "5", **ATARI_CC}),
    Case("tbptt-atari", "T-BPTT hidden 5, truncation 8, 275 inputs", "tbptt", 275, 300_000, 30_000, 1,
         {"hidden": "5", "truncation": "8", "step-size": "1e-4"}),
]}


class UsageError(Exception):
    """A user error: printed as one line, no traceback."""


def build_driver(cpp_src: Path, build_dir: Path, cxx: str, flags: list[str], force: bool) -> Path:
    if not (cpp_src / MARKER).is_file():
        raise UsageError(f"{cpp_src} is not a checkout of the authors' C++ (no {MARKER}); "
                         "see docs/performance.md for how to obtain it")
    if shutil.which(cxx) is None:
        raise UsageError(f"C++ compiler {cxx!r} not found (--cxx)")
    build_dir.mkdir(parents=True, exist_ok=True)
    exe = build_dir / "osc_cpp_driver"
    srcs = [DRIVER_SRC, *(cpp_src / s for s in CPP_SOURCES)]
    missing = [str(s) for s in srcs if not s.is_file()]
    if missing:
        raise UsageError(f"missing C++ source(s): {', '.join(missing)}")
    if exe.is_file() and not force and exe.stat().st_mtime > max(s.stat().st_mtime for s in srcs):
        return exe
    # -include cstdint: their synapse.h uses int64_t without including <cstdint> (GCC >= 11 needs it)
    cmd = [cxx, "-std=c++20", *flags, "-DNDEBUG", "-include", "cstdint", f"-I{cpp_src}", "-o", str(exe),
           *map(str, srcs)]
    print("building:", " ".join(cmd), file=sys.stderr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise UsageError(f"C++ build failed ({cxx} exit {r.returncode}): "
                         + (r.stderr.strip().splitlines() or ["no output"])[-1])
    return exe


def measured(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    """Run ``cmd``; its stdout, CPU seconds (this child's getrusage delta), wall seconds, load before."""
    load = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"{' '.join(cmd[:6])}... failed (exit {p.returncode}): {tail}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"stdout": p.stdout, "process_cpu_seconds": cpu, "process_wall_seconds": wall,
            "cpu_share": cpu / wall if wall > 0 else None, "load_before": load}


def run_cpp(exe: Path, case: Case, scale: float, pin: list[str]) -> dict:
    m = measured([*pin, str(exe), *case.cpp_args(scale)])
    # their constructors print to stdout; the driver's result is the last line
    res = json.loads([ln for ln in m.pop("stdout").splitlines() if ln.startswith("{")][-1])
    return {**m, **res, "command": " ".join([exe.name, *case.cpp_args(scale)])}


def run_python(tree: Path, case: Case, scale: float, pin: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-P", "-m", "oscbench.cli", "speed", "--case", case.name, "--json"]
    if scale != 1.0:
        cmd += ["--scale", str(scale)]
    m = measured([*pin, *cmd], env=env, cwd=tree)
    res = json.loads(m.pop("stdout"))[0]
    keep = ("steps", "cpu_seconds", "wall_seconds", "per_cpu_second", "compile_seconds", "note", "subnormals")
    return {**m, **{k: res.get(k) for k in keep}, "command": "oscbench speed --case " + case.name + " --json"}


def header(meta: dict) -> str:
    l0, l1 = meta["load_before"], meta["load_after"]
    target = f" (numba target {meta['compiled_target']})" if meta.get("compiled_target") else ""
    return (f"CPU: {meta['cpu_model']}{target}, pinned to core {meta['core']}; {meta['reps']} interleaved repetitions; "
            f"load average {l0[0]:.2f}/{l0[1]:.2f}/{l0[2]:.2f} before, {l1[0]:.2f}/{l1[1]:.2f}/{l1[2]:.2f} after. "
            "Medians (range).")


def fmt(x: float | None, nd: int = 0) -> str:
    return "–" if x is None else f"{x:,.{nd}f}"


def table(results: dict[str, dict[str, list[dict]]]) -> str:
    rows = ["| case | C++ steps per CPU-second | oscbench steps per CPU-second | oscbench / C++ | "
            "CPU share C++ (loop; process) | CPU share oscbench (loop; process) |", "|---|---|---|---|---|---|"]
    for name, sides in results.items():
        c = [r["per_cpu_second"] for r in sides["cpp"]]
        p = [r["per_cpu_second"] for r in sides["python"]]

        def cell(v: list[float]) -> str:
            s = fmt(statistics.median(v))
            return s + (f" ({fmt(min(v))}–{fmt(max(v))})" if len(v) > 1 else "")

        def share(rs: list[dict]) -> str:     # the timed loop's CPU / wall; the whole process's
            loop = [r["cpu_seconds"] / r["wall_seconds"] for r in rs if r.get("wall_seconds")]
            proc = [r["cpu_share"] for r in rs if r["cpu_share"] is not None]
            return "; ".join(f"{min(v):.2f}–{max(v):.2f}" if v else "–" for v in (loop, proc))

        ratio = statistics.median(p) / statistics.median(c)
        rows.append(f"| {CASES[name].label} | {cell(c)} | {cell(p)} | {ratio:.1f}× | "
                    f"{share(sides['cpp'])} | {share(sides['python'])} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="cases: " + ", ".join(CASES))
    ap.add_argument("--cpp-src", type=Path,
                    help="checkout of khurramjaved96/Columnar-Constructive-Networks (not modified)")
    ap.add_argument("--build-dir", type=Path, default=Path("/tmp/oscbench-cpp-build"),
                    help="where the C++ driver is built (default: %(default)s)")
    ap.add_argument("--cxx", default="g++", help="C++ compiler (default: %(default)s)")
    ap.add_argument("--cxxflags", default="-O3 -march=native", help="optimisation flags (default: %(default)s)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the driver even if up to date")
    ap.add_argument("--build-only", action="store_true", help="build the driver, print its path and stop")
    ap.add_argument("--case", action="append", choices=list(CASES), help="run only these cases (repeatable)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of every case and side (default: 3)")
    ap.add_argument("--core", type=int, default=0, help="CPU core both sides are pinned to (default: 0)")
    ap.add_argument("--scale", type=float, default=1.0, help="run-length multiplier, as oscbench speed --scale")
    ap.add_argument("--tree", type=Path, default=ROOT, help="oscbench source tree to time (default: this one)")
    ap.add_argument("--json", action="store_true", help="print every run as JSON instead of the table")
    ap.add_argument("--table-from", type=Path, metavar="JSON",
                    help="print the table of an earlier --json output and stop (nothing is run)")
    a = ap.parse_args(argv)
    try:
        if a.table_from is not None:
            if not a.table_from.is_file():
                raise UsageError(f"{a.table_from} does not exist (--table-from)")
            saved = json.loads(a.table_from.read_text())
            print(header(saved["meta"]) + "\n")
            print(table(saved["results"]))
            return 0
        if a.cpp_src is None:
            raise UsageError("--cpp-src is required: a checkout of the authors' C++ "
                             "(see docs/performance.md for how to obtain it)")
        if not a.cpp_src.is_dir():
            raise UsageError(f"C++ source path {a.cpp_src} does not exist (--cpp-src); "
                             "see docs/performance.md for how to obtain the authors' C++")
        exe = build_driver(a.cpp_src.resolve(), a.build_dir.resolve(), a.cxx, a.cxxflags.split(), a.rebuild)
        if a.build_only:
            print(exe)
            return 0
        if shutil.which("taskset") is None:
            raise UsageError("taskset not found (util-linux): both sides must run pinned to one core")
        pin = ["taskset", "-c", str(a.core)]
        names = a.case or list(CASES)
        results: dict[str, dict[str, list[dict]]] = {n: {"cpp": [], "python": []} for n in names}
        load0 = os.getloadavg()
        for rep in range(a.reps):
            for n in names:
                order = ("cpp", "python") if rep % 2 == 0 else ("python", "cpp")
                for side in order:
                    r = (run_cpp(exe, CASES[n], a.scale, pin) if side == "cpp"
                         else run_python(a.tree.resolve(), CASES[n], a.scale, pin))
                    results[n][side].append(r)
                    print(f"rep {rep + 1} {n:13s} {side:6s} {r['per_cpu_second']:>12,.0f} steps/CPU-s  "
                          f"share {r['cpu_share']:.2f}  load {r['load_before']:.2f}", file=sys.stderr)
        load1 = os.getloadavg()
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    host = compiled_target()
    meta = {"cpu_model": host["cpu"] or "unknown", "compiled_target": host["compiled_target"],
            "core": a.core, "reps": a.reps, "scale": a.scale,
            "load_before": load0, "load_after": load1, "cxx": a.cxx, "cxxflags": a.cxxflags,
            "cpp_src": str(a.cpp_src.resolve()), "argv": sys.argv}
    if a.json:
        print(json.dumps({"meta": meta, "results": results}, indent=2))
    else:
        print(header(meta) + "\n")
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
