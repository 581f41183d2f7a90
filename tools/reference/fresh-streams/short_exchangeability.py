"""Are board streams (stream seed = learner seed, 0-29) and fresh streams (random 63-bit stream seed) exchangeable
for T-BPTT 20:3 a1e-4? 5M steps (short). lane k of 2. Output: /work/notes/exch/<kind>_<ls>_<ss>.json"""
import json, sys, secrets
from pathlib import Path
from oscbench.benchmark.evaluator import evaluate
HP = {'hidden': 3, 'lam': 0.99, 'step_size': 0.0001, 'truncation': 20}
plan = json.load(open('/work/notes/exch/plan.json'))
lane = int(sys.argv[1])
for i, (kind, ls, ss) in enumerate(plan):
    if i % 2 != lane: continue
    out = Path(f'/work/notes/exch/{kind}_{ls}_{ss}.json')
    if out.exists(): continue
    r = evaluate('tbptt', task='trace-patterning-v1', preset='short', seeds=[ls], hyperparameters=HP,
                 stream_seeds={ls: ss}, progress=False).records[0]
    out.write_text(json.dumps({'kind': kind, 'learner_seed': ls, 'stream_seed': ss, 'nmse': r['metrics']['nmse'],
                               'curve': r['curve']['mse']}))
