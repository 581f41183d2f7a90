"""Side-by-side speed of two source trees (e.g. main vs a branch): ``oscbench speed`` cases run
alternately (A, B, A, B, ...) in fresh processes pinned to one core, medians reported with the load.

    python tools/speed_ab.py --a /tmp/old_tree --b . --case hybrid-atari --case tbptt-atari --reps 3 --cpu 1

Each tree is a directory holding the ``oscbench`` package; it is put first on PYTHONPATH. Extra
``--arg`` values are passed to ``oscbench speed`` (e.g. ``--arg=--scale --arg=0.5``). Not part of CI.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys


def _run(tree: str, case: str, cpu: int | None, extra: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    # -P and cwd=tree: the current directory must not come first on sys.path (with ``-m`` it would,
    # and both sides would import the same oscbench)
    cmd = [sys.executable, "-P", "-m", "oscbench.cli", "speed", "--case", case, "--json", *extra]
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=tree).stdout
    return json.loads(out)[0]


def _origin(tree: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    code = "import oscbench, os; print(os.path.dirname(os.path.dirname(oscbench.__file__)))"
    return subprocess.run([sys.executable, "-P", "-c", code], env=env, check=True, capture_output=True,
                          text=True, cwd=tree).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="first tree (e.g. the old code)")
    ap.add_argument("--b", required=True, help="second tree (e.g. the new code)")
    ap.add_argument("--case", action="append", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1, help="core to pin to (taskset -c); -1: no pinning")
    ap.add_argument("--arg", action="append", default=[], help="extra argument for oscbench speed")
    args = ap.parse_args()
    cpu = None if args.cpu < 0 else args.cpu
    for side in ("a", "b"):       # each side really imports its own tree
        got, want = _origin(getattr(args, side)), os.path.abspath(getattr(args, side))
        if os.path.realpath(got) != os.path.realpath(want):
            sys.exit(f"error: --{side} {want} imports oscbench from {got}; give a directory holding the package.")
    print("load before:", os.getloadavg())
    for case in args.case:
        rates: dict[str, list[float]] = {"a": [], "b": []}
        for _ in range(args.reps):
            for side in ("a", "b"):
                r = _run(getattr(args, side), case, cpu, args.arg)
                rates[side].append(r["per_cpu_second"])
        ma, mb = statistics.median(rates["a"]), statistics.median(rates["b"])
        print(json.dumps({"case": case, "a": [round(x) for x in rates["a"]], "b": [round(x) for x in rates["b"]],
                          "median_a": round(ma), "median_b": round(mb), "b_over_a": round(mb / ma, 3),
                          "load": os.getloadavg()}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
