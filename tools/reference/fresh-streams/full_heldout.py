"""Trace full T-BPTT 20:3 a1e-4 on streams other than the board's: how often does it collapse?

As run in session 11 (only reformatted since; the paths are the machine's it ran on). The plan,
/work/notes/heldout/plan.json, was ``[[0, S], [1, S]]`` (S = 4314227479707518779, the stream on which the
entry's verification saw a collapse) followed by 8 pairs ``[secrets.choice(range(30)), secrets.randbelow(2**63)]``.
Usage: ``PYTHONPATH=. python full_heldout.py LANE`` for LANE 0 and 1 (each runs every other pair serially).
Results: /work/notes/heldout/<tag>.json, collected in leaderboard/studies/tbptt-fresh-streams/summary.json.
"""
import json
import resource
import sys
import time
from pathlib import Path

from oscbench.benchmark.evaluator import evaluate

HP = {"hidden": 3, "lam": 0.99, "step_size": 0.0001, "truncation": 20}
plan = json.load(open("/work/notes/heldout/plan.json"))
lane = int(sys.argv[1])
for i, (ls, ss) in enumerate(plan):
    if i % 2 != lane:
        continue
    tag = f"l{ls}_s{ss}"
    out = Path(f"/work/notes/heldout/{tag}.json")
    if out.exists():
        continue
    t0 = time.time()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    res = evaluate("tbptt", task="trace-patterning-v1", preset="full", seeds=[ls], hyperparameters=HP,
                   stream_seeds={ls: ss}, progress=False, out_dir=f"/work/notes/heldout/runs_{tag}")
    r = res.records[0]
    out.write_text(json.dumps({"learner_seed": ls, "stream_seed": ss, "status": r["status"], "nmse": r["metrics"]["nmse"],
                               "curve": r["curve"]["mse"], "wall": time.time() - t0,
                               "child_cpu": resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - c0}))
    print(tag, r["metrics"]["nmse"], flush=True)
