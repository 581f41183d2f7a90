"""``oscbench leaderboard verify``: re-run an entry's stored code and set its verification status.

An entry submitted with ``--code`` stores its learner's sources (:mod:`oscbench.leaderboard.code`).
Verification unpacks them into a temporary directory and runs them through the evaluator's public API
(:func:`oscbench.benchmark.evaluator.evaluate`, which runs each learner isolated where the evaluator
does), with every choice drawn at verification time from the operating system's entropy
(:mod:`secrets`), so a learner cannot know in advance which runs will be checked:

(a) **reproduction**: ``n_seeds`` of the entry's seeds (Atari: of one randomly chosen game), re-run at
    the entry's preset. On the same compiled target -- the record's ``provenance`` names the same
    ``cpu_features``, ``compiled_target``, numba and numpy versions as this machine -- the learning
    curve, final error, lifetime error and NMSE must be *bitwise* equal. Across machines compiled
    code may round differently, so the rule is statistical: |NMSE_rerun − NMSE_record| ≤ K·s, with
    s the entry's own spread (below).
(b) **held-out streams** (tasks whose stream is generated per seed: trace patterning): m runs on
    streams whose seeds are drawn from [0, 2^63) at verification time, each with a learner seed drawn
    from the entry's seeds -- the learner seed is decoupled from the stream seed, so a learner that
    rebuilds its stream from the seed it is handed predicts the wrong stream. For an honest learner
    the entry's n runs and the m held-out runs are exchangeable draws of one distribution, so the
    check is a one-sided permutation test of the mean NMSE (only doing better on its own seeds than on
    fresh ones fails), with a floor on the effect size. It **fails** when both

        p = #{splits of the n + m NMSEs into n and m with held-out mean ≥ the observed} / C(n+m, m) ≤ α
        mean(held-out NMSE) > mean(entry NMSE) + K · s · sqrt(1/n + 1/m)

    α = :data:`ALPHA` (0.01); K = :data:`K_SPREAD` (4); s = max(SD of the entry's per-seed NMSE,
    :data:`SPREAD_FLOOR_ABS`, :data:`SPREAD_FLOOR_REL` · mean) -- the floors keep an entry whose seeds
    agree suspiciously well (SD ≈ 0) from making the bound vanish. The permutation test makes the
    false-failure rate of an honest learner at most α whatever the distribution of its NMSE (heavy
    tails included: T-BPTT fails to learn some streams, NMSE ≈ 1); m defaults to the smallest number
    ≥ 2 for which p can reach α (C(n+m, m) ≥ 1/α: m = 4 for n = 5 seeds, m = 7 for n = 3).
(c) **shifted stream** (recorded, looped streams: Atari): m runs of one random game with the pass
    started at random stored steps (``evaluate(stream_offset=)``), checked with the rule of (b).

The outcome goes to ``<root>/verification/<task>/<preset>/<entry file>`` (:func:`write_verification`)
with the date, the checks and the machine; the status is ``verified`` when every check passed, else
``failed``. It is bound to the entry file's sha256, so an edited entry is unverified again. Entries
without stored code cannot be re-run and stay ``unverified`` -- except the reference baselines, whose
code is this installation's (their records' digest must equal it).

:func:`prefix_problems` is the cheap check ``submit`` applies to records claiming the reference code,
and ``verify --prefix`` to committed entries in CI: it re-runs the first :data:`PREFIX_BINS` curve bins
of *every* seed (100,000 steps a seed at the ``short`` preset) with the evaluator's chunking and
scoring and compares them bitwise on the same compiled target, within a relative
:data:`PREFIX_RTOL` elsewhere. It writes no status: a forger who rewrites only later bins passes it,
and only a full re-run (a) catches that.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import math
import re
import secrets
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oscbench._atomic import write_text_atomic
from oscbench.errors import ConfigError, DataError, OscbenchError
from oscbench.leaderboard import entries as E
from oscbench.leaderboard.ownership import REFERENCE_LEARNERS

K_SPREAD = 4.0
ALPHA = 0.01
SPREAD_FLOOR_ABS = 0.01
SPREAD_FLOOR_REL = 0.1
STREAM_SEED_SPACE = 2 ** 63
PREFIX_BINS = 2
PREFIX_RTOL = 1e-6
DEFAULT_SEEDS = 1
MAX_EXACT_SPLITS = 200_000   # beyond: the permutation p-value is estimated from random splits


@dataclass
class Check:
    """One re-run and its outcome."""

    kind: str                  # "reproduce" | "held-out" | "shifted-stream" | "code"
    passed: bool
    detail: str
    runs: list[dict[str, Any]] = field(default_factory=list)   # {learner_seed, stream_seed|offset, game, nmse}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "passed": self.passed, "detail": self.detail, "runs": self.runs}


@dataclass
class Verification:
    """The outcome of :func:`verify_entry` for one entry file."""

    path: Path
    checks: list[Check]
    entry_sha256: str
    date: str
    machine: dict[str, Any]
    reason: str = ""          # why nothing was re-run (status "unverified")
    rerun: dict[str, Any] = field(default_factory=dict)   # {task, preset, steps}: what the runs were

    @property
    def status(self) -> str:
        if not self.checks:
            return "unverified"
        return "verified" if all(c.passed for c in self.checks) else "failed"

    def to_dict(self) -> dict[str, Any]:
        from oscbench import __version__

        return {"entry": self.path.name, "entry_sha256": self.entry_sha256, "status": self.status, "date": self.date,
                "rerun": self.rerun, "checks": [c.to_dict() for c in self.checks], "machine": self.machine,
                "oscbench_version": __version__,
                "rules": {"alpha": ALPHA, "k_spread": K_SPREAD, "spread_floor_abs": SPREAD_FLOOR_ABS,
                          "spread_floor_rel": SPREAD_FLOOR_REL, "stream_seed_space": STREAM_SEED_SPACE}}


def machine() -> dict[str, Any]:
    """This machine's processor, compiled target and library versions (what 'same machine' compares)."""
    import platform

    from oscbench.benchmark.records import provenance

    p = provenance(None)
    return {k: p.get(k) for k in ("cpu", "compiled_target", "cpu_features", "numba", "numpy", "python")} | \
        {"platform": platform.platform()}


_SAME_KEYS = ("cpu_features", "compiled_target", "numba", "numpy")


def same_target(record: Mapping[str, Any]) -> bool:
    """True when ``record`` was computed by the same compiled instructions this machine runs."""
    here, prov = machine(), record.get("provenance") or {}
    return all(prov.get(k) is not None and prov.get(k) == here[k] for k in _SAME_KEYS)


def _score(record: Mapping[str, Any]) -> float:
    m = record["metrics"]
    return float(m["nmse"] if m.get("nmse") is not None else m["final_error"])


def spread(values: Sequence[float]) -> float:
    """s of the module docs: the entry's per-seed SD, floored."""
    v = np.asarray(values, dtype=np.float64)
    sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return max(sd, SPREAD_FLOOR_ABS, SPREAD_FLOOR_REL * abs(float(v.mean())))


def default_heldout(n: int) -> int:
    """The smallest m ≥ 2 for which the permutation test of (b) can reach :data:`ALPHA` with n entry seeds."""
    m = 2
    while math.comb(n + m, m) * ALPHA < 1:
        m += 1
    return m


def permutation_p(entry_scores: Sequence[float], heldout: Sequence[float]) -> float:
    """One-sided permutation p-value of mean(heldout) − mean(entry) (exact up to :data:`MAX_EXACT_SPLITS`
    splits; above, 100,000 random splits from a generator seeded by the data)."""
    import itertools

    allv = np.asarray(list(entry_scores) + list(heldout), dtype=np.float64)
    m = len(heldout)
    observed = float(np.sum(heldout))
    eps = 1e-12 * max(1.0, abs(observed))
    if math.comb(len(allv), m) <= MAX_EXACT_SPLITS:
        sums = np.fromiter((allv[list(c)].sum() for c in itertools.combinations(range(len(allv)), m)), float)
    else:
        rng = np.random.default_rng(int.from_bytes(allv.tobytes()[:8], "little"))
        sums = np.array([allv[rng.choice(len(allv), m, replace=False)].sum() for _ in range(100_000)])
    return float(np.mean(sums >= observed - eps))


def heldout_bound(entry_scores: Sequence[float], m: int) -> float:
    """The largest mean held-out NMSE of ``m`` runs the rule of (b) accepts."""
    n = len(entry_scores)
    return float(np.mean(entry_scores)) + K_SPREAD * spread(entry_scores) * math.sqrt(1.0 / n + 1.0 / m)


# -- the learner from the stored code ------------------------------------------------------------
def code_spec(code: Mapping[str, Any], spec: str, where: Path) -> str:
    """The learner spec that loads the stored code unpacked at ``where`` (file: ``where/file.py[:f]``;
    package: ``pkg.module[:f]`` with ``where`` on the import path); ConfigError when the records' spec
    does not name the stored code."""
    if code["kind"] == "file":
        m = re.match(r"^(?:.*[/\\])?([^/\\]+\.py)(?::([A-Za-z_]\w*))?$", spec)
        if not m or m.group(1) != code["root"]:
            raise ConfigError(f"the records' learner {spec!r} is not the stored file {code['root']!r}; "
                              "submit the file the records were produced with.")
        return str(where / code["root"]) + (f":{m.group(2)}" if m.group(2) else "")
    module = spec.partition(":")[0]
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module) or module.split(".")[0] != code["root"]:
        raise ConfigError(f"the records' learner {spec!r} is not a module of the stored package {code['root']!r}; "
                          f"evaluate it as {code['root']}.<module>:<factory> and submit that package.")
    return spec


@contextlib.contextmanager
def _on_path(directory: Path, package: str | None) -> Iterator[None]:
    """``directory`` first on ``sys.path``, and ``package`` imported afresh from there."""
    def purge() -> None:
        for name in [n for n in sys.modules if package and (n == package or n.startswith(package + "."))]:
            del sys.modules[name]

    purge()
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(directory))
        purge()


@contextlib.contextmanager
def stored_learner(entry: Mapping[str, Any], folder: Path) -> Iterator[str]:
    """The spec to evaluate for ``entry``: its stored code unpacked in a temporary directory, or the
    reference baseline of this installation (whose digest the records must carry)."""
    from oscbench.benchmark.loading import reference_sha256
    from oscbench.leaderboard.code import extract, read_archive

    spec, code = entry["learner"]["spec"], entry.get("code")
    digest = entry["learner"]["source_sha256"]
    if spec in REFERENCE_LEARNERS:
        if digest != reference_sha256():
            raise DataError(f"the records were produced by other code than this installation's {spec} "
                            "(source digest differs); regenerate the reference entries "
                            "(tools/regenerate_references.py) or verify with the oscbench that made them.")
        if code is not None and code["source_sha256"] != digest:
            raise DataError("the stored code is not the reference code the records name.")
        yield spec
        return
    if code is None:
        raise DataError("the entry stores no code (submitted without --code); it cannot be re-run.")
    data = read_archive(folder, code)
    with tempfile.TemporaryDirectory(prefix="oscbench-verify-") as tmp:
        extract(data, Path(tmp), code)
        run_spec = code_spec(code, spec, Path(tmp))
        with _on_path(Path(tmp), code["root"] if code["kind"] == "package" else None):
            yield run_spec


# -- re-runs ---------------------------------------------------------------------------------------
def _run(spec: str, entry: Mapping[str, Any], game: str | None, seed: int, *, progress: bool,
         stream_seed: int | None = None, offset: int = 0, n_steps: int | None = None) -> dict[str, Any]:
    from oscbench.benchmark.evaluator import evaluate

    task = entry["task"]["id"] + (f"/{game}" if game else "")
    res = evaluate(spec, task=task, preset=entry["task"]["preset"], seeds=[seed],
                   hyperparameters=entry["learner"]["hyperparameters"], progress=progress, n_steps=n_steps,
                   stream_seeds={seed: stream_seed} if stream_seed is not None else None, stream_offset=offset)
    rec = res.records[0]
    if rec["status"] != "ok":
        f = rec.get("failure") or {}
        raise DataError(f"the re-run failed ({f.get('stage')} at step {f.get('step')}: {str(f.get('message'))[:200]})")
    return rec


def _reproduce(spec: str, entry: Mapping[str, Any], records: Sequence[Mapping[str, Any]], n_seeds: int,
               rng: secrets.SystemRandom, progress: bool) -> Check:
    chosen = rng.sample(list(records), min(n_seeds, len(records)))
    scores = [_score(r) for r in records]
    s = spread(scores)
    runs, bad = [], []
    for rec in chosen:
        game = rec["task"].get("game")
        new = _run(spec, entry, game, rec["seed"], progress=progress)
        exact = same_target(rec)
        if exact:
            ok = (new["curve"]["mse"] == rec["curve"]["mse"] and all(
                new["metrics"][k] == rec["metrics"][k] for k in ("final_error", "lifetime_error", "nmse")))
            rule = "bitwise (same compiled target)"
        else:
            ok = abs(_score(new) - _score(rec)) <= K_SPREAD * s
            rule = f"|ΔNMSE| ≤ {K_SPREAD:g}·{s:.3g} (other machine)"
        runs.append({"game": game, "learner_seed": rec["seed"], "nmse": _score(new), "recorded_nmse": _score(rec),
                     "rule": rule, "passed": ok})
        if not ok:
            bad.append(f"{game + ' ' if game else ''}seed {rec['seed']}: re-run NMSE {_score(new):.6g}, "
                       f"recorded {_score(rec):.6g} ({rule})")
    detail = ("; ".join(bad) + " -- the records do not reproduce") if bad else \
        f"{len(runs)} seed(s) reproduced ({runs[0]['rule'] if runs else ''})"
    return Check("reproduce", not bad, detail, runs)


def _heldout(spec: str, entry: Mapping[str, Any], records: Sequence[Mapping[str, Any]], m: int,
             rng: secrets.SystemRandom, progress: bool, *, kind: str) -> Check:
    scores = [_score(r) for r in records]
    bound = heldout_bound(scores, m)
    game = records[0]["task"].get("game")
    seeds = [r["seed"] for r in records]
    runs = []
    for _ in range(m):
        learner_seed = rng.choice(seeds)
        if kind == "held-out":
            stream_seed = secrets.randbelow(STREAM_SEED_SPACE)
            new = _run(spec, entry, game, learner_seed, progress=progress, stream_seed=stream_seed)
            runs.append({"game": game, "learner_seed": learner_seed, "stream_seed": stream_seed, "nmse": _score(new)})
        else:
            offset = secrets.randbelow(_pass_length(entry, game))
            new = _run(spec, entry, game, learner_seed, progress=progress, offset=offset)
            runs.append({"game": game, "learner_seed": learner_seed, "offset": offset, "nmse": _score(new)})
    mean = float(np.mean([r["nmse"] for r in runs]))
    p = permutation_p(scores, [r["nmse"] for r in runs])
    ok = not (p <= ALPHA and mean > bound)
    what = "fresh streams" if kind == "held-out" else "the pass started at random steps"
    detail = (f"mean NMSE {mean:.4g} on {m} run(s) on {what}: permutation p {p:.3g} "
              f"({'>' if p > ALPHA else '≤'} α {ALPHA:g}), bound {bound:.4g} ({'≥' if mean <= bound else '<'} mean; "
              f"entry mean {np.mean(scores):.4g}, s {spread(scores):.3g}, n {len(scores)})")
    if not ok:
        detail += " -- the learner does much worse on streams it was not submitted on"
    return Check(kind, ok, detail, runs)


def _pass_length(entry: Mapping[str, Any], game: str | None) -> int:
    """Stored steps of the recorded pass a looped stream of ``game`` reads."""
    from oscbench.benchmark import streams, tasks
    from oscbench.datasets.format import DatasetFile

    src = streams.open_stream(tasks.get_task(entry["task"]["id"]), game=game, seed=0, n_steps=1)
    with DatasetFile(src.dataset["path"], verify=False) as f:
        return f.n_steps


def require_data(entry: Mapping[str, Any], path: Path) -> None:
    """Raise DataError when a dataset the entry's re-runs may read is not on this machine.

    Which game of an Atari entry is re-run is drawn at random (so that a submitter cannot know it), so
    every game the entry covers must be local. A missing dataset is the verifier's problem, not the
    entry's: it must never become a "failed" status (nothing is written; the CLI says what to download).
    Trace-patterning streams are generated, and need nothing.
    """
    from oscbench.benchmark import tasks
    from oscbench.datasets.atari import resolve

    task = tasks.get_task(entry["task"]["id"])
    if task.kind != "atari":
        return
    games = sorted({r["task"].get("game") for r in entry.get("records") or [] if r.get("status") == "ok"} - {None})
    missing = []
    for did in (task.dataset_id.format(game=g) for g in games):
        try:
            resolve(did)
        except DataError:
            missing.append(did)
    if missing:
        fix = (f"oscbench datasets download {missing[0]}" if len(missing) == 1 else
               f"oscbench datasets download {task.id} --jobs 2")
        raise DataError(f"cannot verify {path.name}: {len(missing)} of its {len(games)} games' datasets are not on "
                        f"this machine ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); run `{fix}` "
                        "first (a game is chosen at random); nothing was written.")


def verify_entry(path: str | Path, *, n_seeds: int = DEFAULT_SEEDS, n_heldout: int | None = None,
                 progress: bool = False) -> Verification:
    """Re-run the entry at ``path`` as the module docs describe; the outcome (not yet written).

    ``n_heldout``: runs of check (b)/(c); None = :func:`default_heldout` of the entry's seeds; 0 = skip.
    """
    from oscbench.benchmark import tasks

    path = Path(path)
    entry = E.read_entry(path)
    rng = secrets.SystemRandom()
    result = Verification(path, [], E.file_sha256(path), _dt.datetime.now(_dt.timezone.utc).date().isoformat(),
                          machine())
    if not rerunnable(entry):
        result.reason = "the entry stores no code (submitted without --code): it stays unverified"
        return result
    records = [r for r in entry.get("records") or [] if r.get("status") == "ok"]
    if not records:
        result.checks.append(Check("code", False, "the entry holds no successful records to re-run"))
        return result
    require_data(entry, path)
    result.rerun = {"task": entry["task"]["id"], "preset": entry["task"]["preset"], "steps": records[0]["steps"]}
    by_game: dict[str | None, list[dict[str, Any]]] = {}
    for r in records:
        by_game.setdefault(r["task"].get("game"), []).append(r)
    game = rng.choice(sorted(by_game, key=lambda g: g or ""))
    task = tasks.get_task(entry["task"]["id"])
    try:
        with stored_learner(entry, path.parent) as spec:
            result.checks.append(_reproduce(spec, entry, by_game[game], n_seeds, rng, progress))
            m = default_heldout(len(by_game[game])) if n_heldout is None else n_heldout
            if task.seed_policy == "shared" and m > 0:
                result.checks.append(_heldout(spec, entry, by_game[game], m, rng, progress, kind="held-out"))
            elif task.kind == "atari" and m > 0:
                result.checks.append(_heldout(spec, entry, by_game[game], m, rng, progress, kind="shifted-stream"))
    except OscbenchError as err:
        result.checks.append(Check("code", False, str(err)))
    return result


def write_verification(result: Verification) -> Path:
    """Write ``result`` where :func:`oscbench.leaderboard.entries.verification_status` reads it."""
    return write_text_atomic(E.verification_path(result.path), E.dumps(result.to_dict()), overwrite=True)


# -- prefix re-runs --------------------------------------------------------------------------------
def prefix_curve(spec: str, record: Mapping[str, Any], n_bins: int = PREFIX_BINS) -> list[float]:
    """The first ``n_bins`` learning-curve bins of ``record``'s run, re-run with ``spec``: the same
    stream, fresh learner, chunk size (:func:`oscbench.benchmark.evaluator.default_chunk_steps` of the
    run's length: the per-bin sums are added chunk by chunk, so their last bits depend on it) and scoring
    arithmetic (:class:`oscbench.benchmark.metrics.RunScorer`) as the evaluator."""
    from oscbench.benchmark import loading, metrics, protocol, streams, tasks
    from oscbench.benchmark.evaluator import default_chunk_steps

    t = tasks.get_task(record["task"]["id"])
    bin_steps = record["curve"]["bin_steps"]
    total = int(record["steps"])
    n_bins = min(n_bins, metrics.n_bins(total, bin_steps))
    steps = int(metrics.bin_lengths(total, bin_steps)[:n_bins].sum())   # the run's layout: a remainder comes first
    seed = record["seed"]
    stream_seed = record["dataset"].get("seed") if t.seed_policy == "shared" else 0
    source = streams.open_stream(t, game=record["task"].get("game"), seed=stream_seed if stream_seed is not None else seed,
                               n_steps=record["steps"])
    learner = loading.load_learner(spec).build(source.n_features, seed, record["learner"]["hyperparameters"])
    scorer = metrics.RunScorer(total, t.window(total), bin_steps, t.running_window, t.running_every,
                               t.running_offset)
    for chunk in source.chunks(steps, default_chunk_steps(int(record["steps"]))):
        target = chunk.returns_truncated if t.target == "returns_truncated" else chunk.returns
        if target is None:
            raise DataError(f"the stream has no {t.target} array, which {t.id} scores; regenerate the dataset.")
        preds = protocol.run_steps(learner, chunk.observations, chunk.cumulants, chunk.continuations)
        scorer.update(chunk.start, preds, target, chunk.returns)
    return scorer.first_bins(n_bins)


def prefix_problems(spec: str, records: Sequence[Mapping[str, Any]], n_bins: int = PREFIX_BINS) -> list[str]:
    """One line per record whose first curve bins do not reproduce (see module docs)."""
    problems = []
    for r in records:
        want = r["curve"]["mse"][:n_bins]
        got = prefix_curve(spec, r, n_bins)[: len(want)]
        exact = same_target(r)
        ok = got == want if exact else all(math.isclose(a, b, rel_tol=PREFIX_RTOL) for a, b in zip(got, want))
        if not ok:
            game = r["task"].get("game")
            problems.append(f"{game + ' ' if game else ''}seed {r['seed']}: the first {len(want)} curve bins re-run "
                            f"as {[f'{v:.6g}' for v in got]} but the record says {[f'{v:.6g}' for v in want]} "
                            f"({'bitwise, same compiled target' if exact else f'rel. tol. {PREFIX_RTOL:g}'}); "
                            "the records were not produced by this code")
    return problems


def rerunnable(entry: Mapping[str, Any]) -> bool:
    """True when the entry can be re-run: it stores its code, or it names a reference baseline."""
    return entry.get("code") is not None or (entry.get("learner") or {}).get("spec") in REFERENCE_LEARNERS


def verify_prefix(path: str | Path, n_bins: int = PREFIX_BINS) -> list[str] | None:
    """Prefix problems of every seed of the entry at ``path`` (re-run from its stored code); None when
    the entry cannot be re-run (no stored code)."""
    path = Path(path)
    entry = E.read_entry(path)
    if not rerunnable(entry):
        return None
    require_data(entry, path)
    try:
        with stored_learner(entry, path.parent) as spec:
            return prefix_problems(spec, [r for r in entry["records"] if r.get("status") == "ok"], n_bins)
    except OscbenchError as err:
        return [str(err)]


# -- naming entries --------------------------------------------------------------------------------
def resolve_entries(root: str | Path, names: Sequence[str]) -> list[Path]:
    """Entry files for ``names`` (paths, or slugs of active entries); every active entry when empty."""
    root = Path(root)
    if not names:
        return [p for p in E.entry_paths(root) if (E.parse_file_name(p.name) or ("", 0))[1] is None]
    out = []
    for name in names:
        p = Path(name)
        if p.suffix == ".json" and p.is_file():
            out.append(p)
            continue
        hits = [q for q in E.entry_paths(root) if q.name == f"{name}.json"]
        if not hits:
            raise ConfigError(f"no entry {name!r} under {root / E.SUBMISSIONS_DIR}; give an entry file or the slug of "
                              "an active entry (see `oscbench leaderboard show`).")
        if len(hits) > 1:
            raise ConfigError(f"{name!r} names {len(hits)} entries ({', '.join(str(h) for h in hits)}); give the path.")
        out.extend(hits)
    return out
