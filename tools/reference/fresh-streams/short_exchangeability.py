"""Are board streams (stream seed = learner seed, 0-29) and fresh streams (random 63-bit stream seed)
exchangeable for T-BPTT 20:3 a1e-4? 5M steps (the short preset).

As run in session 11 (only reformatted since; the paths are the machine's it ran on). The plan,
/work/notes/exch/plan.json, was ``["board", s, s]`` and ``["fresh", s, secrets.randbelow(2**63)]`` for s in 0..29.
Usage: ``PYTHONPATH=. python short_exchangeability.py LANE`` for LANE 0 and 1.
Results: /work/notes/exch/<kind>_<ls>_<ss>.json, collected in leaderboard/studies/tbptt-fresh-streams/summary.json.
"""
import json
import sys
from pathlib import Path

from oscbench.benchmark.evaluator import evaluate

HP = {"hidden": 3, "lam": 0.99, "step_size": 0.0001, "truncation": 20}
plan = json.load(open("/work/notes/exch/plan.json"))
lane = int(sys.argv[1])
for i, (kind, ls, ss) in enumerate(plan):
    if i % 2 != lane:
        continue
    out = Path(f"/work/notes/exch/{kind}_{ls}_{ss}.json")
    if out.exists():
        continue
    r = evaluate("tbptt", task="trace-patterning-v1", preset="short", seeds=[ls], hyperparameters=HP,
                 stream_seeds={ls: ss}, progress=False).records[0]
    out.write_text(json.dumps({"kind": kind, "learner_seed": ls, "stream_seed": ss, "nmse": r["metrics"]["nmse"],
                               "curve": r["curve"]["mse"]}))
