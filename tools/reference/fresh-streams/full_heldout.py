"""Trace full T-BPTT 20:3 a1e-4 on streams other than the board's: how often does it collapse?
Usage: heldout.py <lane> ; lane 0/1 each runs its half of the plan serially. Results -> /work/notes/heldout/<tag>.json"""
import json, sys, time, resource
from pathlib import Path
from oscbench.benchmark.evaluator import evaluate
HP = {'hidden': 3, 'lam': 0.99, 'step_size': 0.0001, 'truncation': 20}
plan = json.load(open('/work/notes/heldout/plan.json'))
lane = int(sys.argv[1])
for i, (ls, ss) in enumerate(plan):
    if i % 2 != lane: continue
    tag = f"l{ls}_s{ss}"
    out = Path(f'/work/notes/heldout/{tag}.json')
    if out.exists(): continue
    t0 = time.time(); c0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    res = evaluate('tbptt', task='trace-patterning-v1', preset='full', seeds=[ls], hyperparameters=HP,
                   stream_seeds={ls: ss}, progress=False, out_dir=f'/work/notes/heldout/runs_{tag}')
    r = res.records[0]
    out.write_text(json.dumps({'learner_seed': ls, 'stream_seed': ss, 'status': r['status'], 'nmse': r['metrics']['nmse'],
                               'curve': r['curve']['mse'], 'wall': time.time() - t0,
                               'child_cpu': resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - c0}))
    print(tag, r['metrics']['nmse'], flush=True)
