"""Every dataset id the suite knows (Minari-style ``namespace/name-vN``), and where each lives locally.

* ``trace-patterning/<preset>-v1`` -- generated on the fly (any length, any seed); files written by
  ``oscbench datasets generate`` live under ``<data dir>/trace-patterning/<preset>-v1/``.
* ``atari/<Game>-v1`` -- 58 games, 250,000 steps each, from verified upstream action logs; the dataset
  file is ``<data dir>/atari/<Game>-v1.h5``. Five are flagged ``excluded`` from the ``atari-v1`` suite.

``list`` / ``show`` / ``download`` / ``verify`` below are what the CLI verbs call.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oscbench.datasets import paths
from oscbench.errors import ConfigError


@dataclass(frozen=True)
class DatasetEntry:
    """One registered dataset id.

    Attributes:
        id: ``namespace/name-vN``.
        kind: ``"trace-patterning"`` or ``"atari"``.
        steps: steps per pass (None: generated on the fly, any length).
        n_features: length of a learner observation.
        gamma: discount inside an episode.
        download_bytes: size of what ``download`` fetches (None: nothing to fetch).
        dataset_bytes: approximate size of the generated file (None: depends on the length asked for).
        source: upstream URL (None for generated streams).
        sha256: digest of the downloaded file.
        suites: suites the id belongs to (e.g. ``("atari-v1",)``).
        excluded: left out of its standard suite; ``excluded_reason`` says why.
    """

    id: str
    kind: str
    steps: int | None
    n_features: int
    gamma: float
    download_bytes: int | None = None
    dataset_bytes: int | None = None
    source: str | None = None
    sha256: str | None = None
    suites: tuple[str, ...] = ()
    excluded: bool = False
    excluded_reason: str | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def local_path(self) -> Path:
        """The file (atari) or directory of generated variants (trace patterning) under the data dir."""
        if self.kind == "atari":
            return paths.dataset_path(self.id)
        ns, _, name = self.id.partition("/")
        return paths.data_dir() / ns / name

    def local_status(self) -> str:
        """Atari: ``ready`` / ``log only`` / ``differs`` / ``corrupt`` / ``absent``; trace patterning:
        ``on the fly`` plus the number of generated files."""
        if self.kind == "atari":
            from oscbench.datasets.atari.locate import local_status

            return local_status(self.extra["game"])
        d = self.local_path()
        n = len(list(d.glob("*.h5"))) if d.is_dir() else 0
        return "on the fly" + (f" ({n} file{'s' * (n != 1)})" if n else "")

    def to_dict(self, *, status: bool = True) -> dict[str, Any]:
        d = asdict(self)
        d["suites"] = list(self.suites)
        d["local_path"] = str(self.local_path())
        if status:
            d["local_status"] = self.local_status()
        return d


def _trace_entries() -> list[DatasetEntry]:
    from oscbench.datasets import trace_patterning as tp

    return [DatasetEntry(id=tp.dataset_id(cfg), kind=tp.KIND, steps=None, n_features=cfg.n_features,
                         gamma=cfg.gamma, suites=("trace-patterning-v1",) if name == "default" else (),
                         description=f"trace patterning, preset {name!r} (SPEC §1)", extra={"preset": name})
            for name, cfg in tp.PRESETS.items()]


def _atari_entries() -> list[DatasetEntry]:
    from oscbench.datasets.atari import games as G
    from oscbench.datasets.atari.dataset import N_FEATURES
    from oscbench.datasets.atari.replay import GAMMA

    out = []
    for game in G.GAMES:
        f = G.game_facts(game)
        fp = f.get("fingerprint") or {}
        out.append(DatasetEntry(
            id=G.dataset_id(game), kind=G.NAMESPACE, steps=fp.get("n_steps", f["policy_size"]), n_features=N_FEATURES,
            gamma=GAMMA, download_bytes=f["policy_size"], dataset_bytes=f.get("dataset_bytes"),
            source=G.upstream_url(game), sha256=f["policy_sha256"],
            suites=() if game in G.EXCLUDED else (G.SUITE_ID,), excluded=game in G.EXCLUDED,
            excluded_reason=G.EXCLUDED.get(game), description=f"{game}: Rainbow-DQN action log replayed in ale-py",
            extra={"game": game, "episodes": len(fp.get("episode_starts", [])) or None,
                   **({"excluded_short": G.EXCLUDED_SHORT[game]} if game in G.EXCLUDED else {})}))
    return out


def entries(kind: str | None = None) -> list[DatasetEntry]:
    """All registered datasets (optionally of one kind), in a stable order."""
    es = _trace_entries() + _atari_entries()
    return [e for e in es if kind is None or e.kind == kind]


def suite(name: str) -> list[DatasetEntry]:
    """The entries of a suite (``atari-v1``: 53 games; ``trace-patterning-v1``: the default preset)."""
    es = [e for e in entries() if name in e.suites]
    if not es:
        known = sorted({s for e in entries() for s in e.suites})
        raise ConfigError(f"unknown suite {name!r}; choose from {known}.")
    return es


def get(dataset_id: str) -> DatasetEntry:
    """The entry of ``dataset_id`` (a bare Atari game name is accepted too)."""
    es = {e.id: e for e in entries()}
    if dataset_id in es:
        return es[dataset_id]
    from oscbench.datasets.atari import games as G

    if "/" not in dataset_id and dataset_id in G.GAMES:
        return es[G.dataset_id(dataset_id)]
    low = {k.lower(): k for k in es}
    hint = low.get(dataset_id.lower()) or low.get(f"atari/{dataset_id.lower()}-v1")
    raise ConfigError(f"unknown dataset {dataset_id!r}; " + (f"did you mean {hint!r}?" if hint else
                                                             "see `oscbench datasets list`."))


def local_path(dataset_id: str) -> Path:
    """Where ``dataset_id`` lives (or would live) under the data dir."""
    return get(dataset_id).local_path()


def format_table(es: list[DatasetEntry]) -> str:
    """The text of ``oscbench datasets list``."""
    rows = [f"{'id':<36}{'kind':<18}{'steps':>9}{'F':>5}{'size':>10}  {'local':<12}excluded"]
    for e in es:
        steps = f"{e.steps:,}" if e.steps else "any"
        size = f"{e.dataset_bytes / 1e6:.1f} MB" if e.dataset_bytes else "-"
        excl = f"yes ({e.extra.get('excluded_short', e.excluded_reason)})" if e.excluded else ""
        rows.append(f"{e.id:<36}{e.kind:<18}{steps:>9}{e.n_features:>5}{size:>10}  {e.local_status():<12}{excl}")
    return "\n".join(rows)


def show(dataset_id: str) -> dict[str, Any]:
    """Registry facts of an id plus, when its file is present, the file's summary (``datasets show``)."""
    e = get(dataset_id)
    d = e.to_dict()
    if e.kind == "atari":
        from oscbench.datasets.atari import games as G

        facts = G.game_facts(e.extra["game"])
        d["registry"] = {k: v for k, v in facts.items() if k not in ("fingerprint", "prefix")}
        fp = facts.get("fingerprint")
        if fp:
            ends = fp["episode_ends"]
            done = [s for s, x in zip(fp["episode_scores"], ends) if x != "x"]
            d["fingerprint"] = {"frames_sha256": fp["frames_sha256"], "episodes_complete": len(done),
                                "time_limited": ends.count("t"),
                                "mean_score_complete": (sum(done) / len(done)) if done else None}
            d["generated_with"] = G.registry_data().get("generated_with")
        if e.local_path().is_file():
            from oscbench.datasets.info import dataset_info

            d["file"] = dataset_info(e.local_path(), verify=False)
    return d


def format_show(d: dict[str, Any]) -> str:
    lines = [f"id          {d['id']}   (kind {d['kind']})", f"about       {d['description']}"]
    lines.append(f"steps       {d['steps']:,}" if d["steps"] else "steps       any (generated on the fly)")
    lines.append(f"features    {d['n_features']}   gamma {d['gamma']}")
    if d.get("source"):
        lines.append(f"source      {d['source']}")
        lines.append(f"sha256      {d['sha256']}   ({d['download_bytes']:,} bytes)")
    if d.get("suites"):
        lines.append(f"suites      {', '.join(d['suites'])}")
    if d.get("excluded"):
        lines.append(f"excluded    yes: {d['excluded_reason']}")
    if d.get("fingerprint"):
        fp = d["fingerprint"]
        ms = fp["mean_score_complete"]
        lines.append(f"replay      {fp['episodes_complete']} complete episodes ({fp['time_limited']} at the 108k-frame "
                     f"cap), mean raw score {ms:.1f}" if ms is not None else
                     f"replay      {fp['episodes_complete']} complete episodes")
        lines.append(f"frames      sha256 {fp['frames_sha256']}")
        gw = d.get("generated_with") or {}
        if gw:
            lines.append("made with   " + ", ".join(f"{k} {v}" for k, v in gw.items()))
    lines.append(f"local       {d['local_status']}   {d['local_path']}")
    if d.get("file"):
        from oscbench.datasets.info import format_info

        lines += ["", "local file:", format_info(d["file"])]
    return "\n".join(lines)


def download(dataset_id: str | None = None, *, all_: bool = False, mirror: str | os.PathLike[str] | None = None,
             jobs: int = 1, generate: bool = True, progress: bool = True) -> dict[str, Path]:
    """Get datasets onto this machine: one id (or ``atari-v1``), or every Atari id with ``all_``.

    Returns id -> dataset file (id -> log file with ``generate=False``).
    """
    if all_:
        ids = [e.id for e in entries("atari")]
    else:
        if not dataset_id:
            raise ConfigError("give a dataset id (e.g. atari/Pong-v1) or --all.")
        if dataset_id in ("atari-v1",):
            ids = [e.id for e in suite(dataset_id)]
        else:
            e = get(dataset_id)
            if e.kind != "atari":
                raise ConfigError(f"{e.id} is generated on the fly, there is nothing to download; to write a file run "
                                  f"`oscbench datasets generate {e.id}`.")
            ids = [e.id]
    from oscbench.datasets.atari.fetch import download as atari_download

    return atari_download(ids, mirror=mirror, jobs=jobs, generate=generate, progress=progress)


def verify(dataset_id: str, *, replay: bool = False, policy_file: str | os.PathLike[str] | None = None,
           progress: bool = True) -> dict[str, Any]:
    """Verify a dataset id or file; a report dict, or DataError naming the first divergence."""
    from oscbench.datasets.atari.verify import verify as atari_verify
    from oscbench.datasets.format import DatasetFile

    from oscbench.datasets.paths import is_file_argument

    p = Path(dataset_id).expanduser()
    if is_file_argument(p):
        with DatasetFile(p, verify=False) as ds:
            kind = ds.kind
        if kind == "atari":
            return atari_verify(str(p), replay=replay, policy_file=policy_file, progress=progress)
        with DatasetFile(p, verify=True) as ds:
            return {"id": ds.dataset_id, "path": str(p), "n_steps": ds.n_steps, "checks": ["array digests ok"],
                    "ok": True}
    if dataset_id.startswith("atari/") and "/" in dataset_id:
        return atari_verify(dataset_id, replay=replay, policy_file=policy_file, progress=progress)
    e = get(dataset_id)
    if e.kind == "atari":
        return atari_verify(e.id, replay=replay, policy_file=policy_file, progress=progress)
    files = sorted(e.local_path().glob("*.h5")) if e.local_path().is_dir() else []
    if not files:
        from oscbench.errors import DataError

        raise DataError(f"no generated files of {e.id} under {e.local_path()}; it streams on the fly, or write one "
                        f"with `oscbench datasets generate {e.id}`.")
    for f in files:
        DatasetFile(f, verify=True).close()
    return {"id": e.id, "path": str(e.local_path()), "checks": [f"{f.name}: array digests ok" for f in files],
            "ok": True}
