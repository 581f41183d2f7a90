"""Every dataset id the suite knows (Minari-style ``namespace/name-vN``), and where each lives locally.

* ``trace-patterning/<preset>-v1`` -- generated on the fly (any length, any seed); files written by
  ``oscbench datasets generate`` live under ``<data dir>/trace-patterning/<preset>-v1/``.
* ``atari/<Game>-v1`` -- 58 games, 250,000 steps each, from verified upstream action logs; the dataset
  file is ``<data dir>/atari/<Game>-v1.h5``. Five are flagged ``excluded`` from the ``atari-v1`` suite.

This module answers "which ids exist and what are they"; the text of ``datasets list`` / ``show`` is
:mod:`.listing`, getting, checking, deleting and opening local copies is :mod:`.local`.
"""
from __future__ import annotations

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
    """The entry of ``dataset_id`` (a bare Atari game name is accepted too).

    An unknown id is a ConfigError suggesting the closest ids (``atari/pong-v1``, ``atari/Pongg-v1``,
    ``Pong`` without a namespace or version all find ``atari/Pong-v1``).
    """
    es = {e.id: e for e in entries()}
    if dataset_id in es:
        return es[dataset_id]
    from oscbench._suggest import close_matches, did_you_mean
    from oscbench.datasets.atari import games as G

    if "/" not in dataset_id and dataset_id in G.GAMES:
        return es[G.dataset_id(dataset_id)]
    ns, _, rest = dataset_id.rpartition("/")
    names = {e.id.split("/", 1)[1].rsplit("-v", 1)[0]: e.id for e in es.values()    # "Pong", "default"
             if not ns or e.id.startswith(ns.lower()) or e.id.startswith(ns)}
    near = [names[m] for m in close_matches(rest.rsplit("-v", 1)[0], names)]
    raise ConfigError(f"unknown dataset {dataset_id!r}; {did_you_mean(near, 'see `oscbench datasets list`.')}")


def local_path(dataset_id: str) -> Path:
    """Where ``dataset_id`` lives (or would live) under the data dir."""
    return get(dataset_id).local_path()
