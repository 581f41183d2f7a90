"""Local copies of datasets, by id or path: get (:func:`download`), check (:func:`verify`), remove
(:func:`delete`) and open (:func:`load`, :func:`open_dataset`).

``load("atari/Pong-v1", download=True)`` is the one entry point from an id to a stream: it fetches
what is missing and returns an object with ``chunks(n_steps, chunk_size)``. Ids are the registry's
(:mod:`.registry`); Atari ids with a tag (``atari/Pong-mine-v1``, from :func:`oscbench.datasets.atari.record`
or ``datasets generate --policy-file``) and dataset file paths are accepted too.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

from oscbench.datasets import paths
from oscbench.datasets.format import DatasetFile
from oscbench.datasets.paths import is_file_argument
from oscbench.datasets.registry import entries, get, suite
from oscbench.errors import ConfigError, DataError

PathLike = Union[str, "os.PathLike[str]"]


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

    p = Path(dataset_id).expanduser()
    if is_file_argument(p):
        with DatasetFile(p, verify=False) as ds:
            kind = ds.kind
        if kind == "atari":
            return atari_verify(str(p), replay=replay, policy_file=policy_file, progress=progress)
        with DatasetFile(p, verify=True) as ds:
            return {"id": ds.dataset_id, "path": str(p), "n_steps": ds.n_steps, "checks": ["array digests ok"],
                    "ok": True}
    if _is_atari_id(dataset_id):
        return atari_verify(dataset_id, replay=replay, policy_file=policy_file, progress=progress)
    e = get(dataset_id)
    if e.kind == "atari":
        return atari_verify(e.id, replay=replay, policy_file=policy_file, progress=progress)
    files = sorted(e.local_path().glob("*.h5")) if e.local_path().is_dir() else []
    if not files:
        raise DataError(f"no generated files of {e.id} under {e.local_path()}; it streams on the fly, or write one "
                        f"with `oscbench datasets generate {e.id}`.")
    for f in files:
        DatasetFile(f, verify=True).close()
    return {"id": e.id, "path": str(e.local_path()), "checks": [f"{f.name}: array digests ok" for f in files],
            "ok": True}


def _is_atari_id(name: str) -> bool:
    return name.startswith("atari/")


def _canonical(name: str) -> tuple[str, str]:
    """(kind, id) of a registry id, a bare game name or a tagged Atari id; unknown ids suggest the closest."""
    try:
        e = get(name)
        return e.kind, e.id
    except ConfigError:
        if not _is_atari_id(name):
            raise
        from oscbench.datasets.atari import games as G

        try:
            tag = G.parse_id(name)[1]
        except ConfigError:
            tag = None
        if tag is None:       # not a tagged id either: the registry's message (with its suggestion)
            raise
        return "atari", name


def open_dataset(source: PathLike, *, verify: bool = True) -> DatasetFile:
    """Open (and by default verify) a dataset file given by path or id.

    An Atari id (``atari/Pong-v1``, or a tagged one) opens its file in the data dir; a missing file is a
    DataError naming the command that makes it. Trace-patterning ids stream on the fly (use :func:`load`)
    and have no single file; pass the path of a generated one.
    """
    if is_file_argument(source):
        return DatasetFile(Path(source).expanduser(), verify=verify)
    kind, name = _canonical(str(source))
    if kind != "atari":
        raise ConfigError(f"{name} is generated on the fly and has no single file; use "
                          f"oscbench.datasets.load({name!r}) or give the path of a file written by "
                          f"`oscbench datasets generate {name}`.")
    from oscbench.datasets.atari.locate import resolve

    return DatasetFile(resolve(name), verify=verify)


def load(source: PathLike, download: bool = False, *, seed: int = 0, verify: bool = True,
         mirror: PathLike | None = None, progress: bool = True) -> Any:
    """A stream for a dataset id or file: an object with ``dataset_id``, ``n_features``, ``gamma`` and
    ``chunks(n_steps, chunk_size)`` (see :class:`oscbench.datasets.Stream`).

    * ``trace-patterning/<preset>-v1``: the stream of ``seed``, generated on the fly
      (:class:`~oscbench.datasets.TracePatterningStream`);
    * ``atari/<Game>-v1`` (or a game name): the recorded pass, looped
      (:class:`~oscbench.datasets.atari.AtariStream`); with ``download=True`` a missing dataset is
      downloaded (from ``mirror`` / ``$OSCBENCH_MIRROR`` / upstream) and generated first;
    * a file path: an Atari file as above, any other file as a :class:`DatasetFile`
      (``chunks(n_steps)`` within its length).

    Close the returned stream when done (``with load(...) as s:`` works for files).
    """
    if is_file_argument(source):
        p = Path(source).expanduser()
        with DatasetFile(p, verify=False) as f:
            kind = f.kind
        if kind == "atari":
            from oscbench.datasets.atari.stream import AtariStream

            return AtariStream(p, verify=verify)
        return DatasetFile(p, verify=verify)
    kind, name = _canonical(str(source))
    if kind == "trace-patterning":
        from oscbench.datasets import trace_patterning as tp

        return tp.TracePatterningStream(tp.PRESETS[get(name).extra["preset"]], seed)
    from oscbench.datasets.atari.stream import AtariStream

    if download and not paths.dataset_path(name).is_file():
        from oscbench.datasets.atari.fetch import download as atari_download

        atari_download([name], mirror=mirror, progress=progress)
    return AtariStream(name, verify=verify)


def local_files(dataset_id: str) -> list[Path]:
    """The files under the data dir that belong to ``dataset_id`` (what :func:`delete` would remove).

    Atari: the dataset file and the downloaded (or recorded) action log; trace patterning: the files
    ``oscbench datasets generate`` wrote into ``<data dir>/trace-patterning/<preset>-v1/``.
    """
    if is_file_argument(dataset_id) and not _is_atari_id(str(dataset_id)):
        raise ConfigError(f"{dataset_id} is a path; `datasets delete` takes a dataset id (e.g. atari/Pong-v1) "
                          "and deletes only inside the data dir -- remove other files yourself.")
    kind, name = _canonical(str(dataset_id))
    if kind == "atari":
        from oscbench.datasets.atari import games as G
        from oscbench.datasets.atari.generate import policy_path

        game, tag = G.parse_id(name)
        log = policy_path(game) if tag is None else paths.data_dir() / G.NAMESPACE / "policies" / f"{game}-{tag}.txt"
        found = [paths.dataset_path(name), log, log.with_name(log.name + ".sha256")]
    else:
        d = get(name).local_path()
        found = sorted(d.glob("*.h5")) if d.is_dir() else []
    return [p for p in found if p.is_file() or p.is_symlink()]


def _inside(p: Path, root: Path) -> bool:
    try:
        p.parent.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def delete(dataset_id: str) -> list[Path]:
    """Remove ``dataset_id``'s local files (:func:`local_files`) and return them.

    Only files inside the data dir are ever removed (a symbolic link is removed, never its target); a
    path outside it is refused before anything is deleted. Nothing there is a DataError.
    """
    files = local_files(dataset_id)
    if not files:
        raise DataError(f"nothing of {dataset_id} is in the data dir {paths.data_dir()}; nothing was deleted "
                        "(see `oscbench datasets list` for what is here).")
    root = paths.data_dir().resolve()
    outside = [p for p in files if not _inside(p, root)]
    if outside:
        raise DataError(f"{outside[0]} is outside the data dir {root} (a linked directory?); nothing was deleted.")
    for p in files:
        p.unlink()
    for d in {p.parent for p in files}:
        if d != root and not any(d.iterdir()):
            d.rmdir()
    return files
