"""What of an Atari dataset id is on this machine: its file (:func:`resolve`) and its status (:func:`local_status`).

Reads only; fetching is :mod:`.fetch`, checking is :mod:`.verify` (both build on this module).
"""
from __future__ import annotations

import os
from pathlib import Path

import h5py

from oscbench._hashing import sha256_file
from oscbench.datasets import paths
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.generate import canonical_id, policy_path
from oscbench.datasets.format import DatasetFile
from oscbench.datasets.paths import is_file_argument
from oscbench.errors import DataError


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
