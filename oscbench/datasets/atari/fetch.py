"""Getting Atari datasets onto this machine: download the verified log, then generate the dataset.

``download("atari/Pong-v1")`` fetches ``PongNoFrameskip-v4.txt`` from the pinned upstream commit (or a
mirror), checks its sha256 and size against the registry, and replays it into
``<data dir>/atari/Pong-v1.h5``. Logs and datasets already present and verified are kept as they are.
What is already here (and where) is :mod:`.locate`'s business.
"""
from __future__ import annotations

import os
from pathlib import Path

from oscbench.datasets import paths
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.generate import canonical_id, generate_many, policy_path
from oscbench.datasets.atari.verify import verify_file
from oscbench.datasets.download import Fetched, fetch, resolve_source
from oscbench.errors import DataError


def download_policy(game: str, *, mirror: str | os.PathLike[str] | None = None, retries: int = 3,
                    timeout: float = 30.0, progress: bool = True) -> Fetched:
    """Fetch ``game``'s log into :func:`~oscbench.datasets.atari.generate.policy_path` (verified)."""
    facts = G.game_facts(game)
    src = resolve_source(G.policy_filename(game), G.UPSTREAM_BASE, mirror)
    return fetch(src, policy_path(game), sha256=facts["policy_sha256"], size=facts["policy_size"],
                 retries=retries, timeout=timeout, progress=progress)


def dataset_ok(name: str) -> bool:
    """True if the dataset file of a registry id exists, passes its digests and matches the registry."""
    path = paths.dataset_path(canonical_id(name))
    if not path.is_file():
        return False
    try:
        verify_file(path)
    except DataError:
        return False
    return True


def download(names: list[str], *, mirror: str | os.PathLike[str] | None = None, jobs: int = 1,
             retries: int = 3, generate: bool = True, progress: bool = True) -> dict[str, Path]:
    """Fetch the logs of registry ids and generate their datasets (``jobs`` processes); id -> dataset path.

    Present and verified datasets are kept; a present file that fails verification is regenerated.
    With ``generate=False`` only the logs are fetched (id -> log path), e.g. on a login node.
    """
    ids = [canonical_id(n) for n in names]
    for did in ids:
        game, tag = G.parse_id(did)
        if tag is not None:
            raise DataError(f"{did} is not in the registry, so there is nothing to download; generate it from its "
                            "log with `oscbench datasets generate ... --policy-file`.")
    if not generate:
        return {did: download_policy(G.parse_id(did)[0], mirror=mirror, retries=retries, progress=progress).path
                for did in ids}
    keep = [did for did in ids if dataset_ok(did)]
    todo = [did for did in ids if did not in keep]
    for did in todo:
        download_policy(G.parse_id(did)[0], mirror=mirror, retries=retries, progress=progress)
    out = {did: paths.dataset_path(did) for did in keep}
    if todo:
        out.update(generate_many(todo, jobs=jobs, overwrite=True, skip_existing=False, progress=progress))
    return out
