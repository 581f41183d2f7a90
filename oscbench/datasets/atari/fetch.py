"""Getting Atari datasets onto this machine: download the verified log, then generate the dataset.

``download("atari/Pong-v1")`` fetches ``PongNoFrameskip-v4.txt`` from the pinned upstream commit (or a
mirror), checks its sha256 and size against the registry, and replays it into
``<data dir>/atari/Pong-v1.h5``. Logs and datasets already present and verified are kept as they are.
"""
from __future__ import annotations

import os
from pathlib import Path

import h5py

from oscbench.datasets import paths
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.generate import canonical_id, generate_many, policy_path
from oscbench._hashing import sha256_file
from oscbench.datasets.download import Fetched, fetch, resolve_source
from oscbench.datasets.format import DatasetFile
from oscbench.errors import DataError


def download_policy(game: str, *, mirror: str | os.PathLike[str] | None = None, retries: int = 3,
                    progress: bool = True) -> Fetched:
    """Fetch ``game``'s log into :func:`~oscbench.datasets.atari.generate.policy_path` (verified)."""
    facts = G.game_facts(game)
    src = resolve_source(G.policy_filename(game), G.UPSTREAM_BASE, mirror)
    return fetch(src, policy_path(game), sha256=facts["policy_sha256"], size=facts["policy_size"],
                 retries=retries, progress=progress)


def dataset_ok(name: str) -> bool:
    """True if the dataset file of a registry id exists, passes its digests and matches the registry."""
    from oscbench.datasets.atari.verify import verify_file

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


def stored_frames_sha256(path: str | os.PathLike[str]) -> str:
    """The frames digest stored in an Atari file (checked by ``DatasetFile.verify``, not here)."""
    with h5py.File(path, "r") as f:
        return str(f["frames"].attrs["sha256"])


def local_status(game: str) -> str:
    """``"ready"`` (dataset file present), ``"log only"`` (verified log, no dataset) or ``"absent"``.

    Cheap: the dataset's digests are not recomputed here (``oscbench datasets verify`` does that).
    """
    did = G.dataset_id(game)
    ds = paths.dataset_path(did)
    if ds.is_file():
        try:
            with DatasetFile(ds, verify=False):
                pass
            stored = stored_frames_sha256(ds)
        except (DataError, OSError, KeyError):
            return "corrupt"
        want = G.game_facts(game).get("fingerprint", {}).get("frames_sha256")
        return "differs" if want and stored != want else "ready"
    pol = policy_path(game)
    if pol.is_file() and sha256_file(pol) == G.game_facts(game)["policy_sha256"]:
        return "log only"
    return "absent"


def is_file_argument(source: str | os.PathLike[str]) -> bool:
    """True if a CLI/API argument names a dataset file (``*.h5`` or an existing file), not an id."""
    p = Path(source).expanduser()
    return p.suffix in (".h5", ".hdf5") or p.is_file()


def resolve(source: str | os.PathLike[str]) -> Path:
    """Local dataset file of an Atari id or game name (or an existing path), for readers.

    Raises DataError naming the command to run when it is not there yet.
    """
    p = Path(source).expanduser()
    if is_file_argument(p):
        if not p.is_file():
            raise DataError(f"no dataset file at {p}; check the path or give a dataset id such as atari/Pong-v1.")
        return p
    did = canonical_id(str(source))
    path = paths.dataset_path(did)
    if not path.is_file():
        cmd = f"oscbench datasets download {did}" if G.parse_id(did)[1] is None else \
            f"oscbench datasets generate {did} --policy-file <log>"
        raise DataError(f"{did} is not available locally (no {path}); run `{cmd}` first.")
    return path
