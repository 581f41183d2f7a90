"""Build Atari datasets from action logs: locate and check the log, replay it, write the file.

Where things live (under :func:`oscbench.datasets.paths.data_dir`)::

    atari/policies/<Game>NoFrameskip-v4.txt     downloaded action logs
    atari/<Game>-v1.h5                          generated datasets
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Union

from tqdm.auto import tqdm

from oscbench._atomic import check_writable
from oscbench.datasets import paths
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.dataset import write_replay
from oscbench.datasets.atari.fingerprint import first_difference, fingerprint
from oscbench.datasets.atari.replay import Replay, replay_log
from oscbench.errors import ConfigError, DataError, OscbenchError


def policy_path(game: str) -> Path:
    """Where the downloaded log of ``game`` lives: ``<data dir>/atari/policies/<Game>NoFrameskip-v4.txt``."""
    return paths.data_dir() / G.NAMESPACE / "policies" / G.policy_filename(G.check_game(game))


def dataset_path(name: str) -> Path:
    """Default dataset file of an Atari id (``atari/Pong-v1`` -> ``<data dir>/atari/Pong-v1.h5``)."""
    return paths.dataset_path(canonical_id(name))


def canonical_id(name: str) -> str:
    """``Pong`` or ``atari/Pong-v1`` -> ``atari/Pong-v1``; tagged ids are kept as given."""
    game, tag = G.parse_id(name)
    return G.dataset_id(game) if tag is None else name


def read_policy(name: str, policy_file: str | os.PathLike[str] | None = None) -> tuple[bytes, str, str]:
    """The action log for an Atari id: ``(bytes, sha256, file name)``, checked.

    Registry ids (``atari/<Game>-v1``) must match the registry's sha256. Tagged ids
    (``atari/<Game>-<tag>-v1``, e.g. from :func:`~oscbench.datasets.atari.record.record`) need
    ``policy_file``; a ``<file>.sha256`` beside it, if present, is checked.
    """
    game, tag = G.parse_id(name)
    if policy_file is None:
        if tag is not None:
            raise ConfigError(f"{name} is not in the registry; pass its action log with --policy-file.")
        path = policy_path(game)
        if not path.is_file():
            raise DataError(f"no action log for {game} at {path}; run `oscbench datasets download "
                            f"{G.dataset_id(game)}` (or pass --policy-file).")
    else:
        path = Path(policy_file).expanduser()
        if not path.is_file():
            raise DataError(f"policy file {path} does not exist; give the path of a <Game>NoFrameskip-v4.txt log.")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if tag is None:
        want = G.game_facts(game)["policy_sha256"]
        if digest != want:
            raise DataError(f"{path} has sha256 {digest}, but {G.dataset_id(game)} expects {want}; "
                            f"download it again (`oscbench datasets download {G.dataset_id(game)}`), or give "
                            f"a custom log a tagged id such as atari/{game}-mine-v1.")
    else:
        side = path.with_name(path.name + ".sha256")
        if side.is_file():
            want = side.read_text().split()[0] if side.read_text().split() else ""
            if digest != want:
                raise DataError(f"{path} has sha256 {digest}, but {side.name} says {want}; the log was changed "
                                "after recording, record it again or fix the .sha256 file.")
    return data, digest, path.name


Progress = Union[bool, Callable[[int], None]]  # noqa: UP007 (a runtime alias; 3.10 needs Union)


def replay_policy(name: str, policy_file: str | os.PathLike[str] | None = None, *, n_steps: int | None = None,
                  progress: Progress = False) -> tuple[Replay, str, str]:
    """Replay the (checked) log of an Atari id; returns ``(replay, policy_sha256, policy file name)``.

    ``progress``: True shows a per-frame bar (frames/s, ETA); a callable receives the number of frames
    done since its last call (e.g. a bar shared by several games).
    """
    game, _ = G.parse_id(name)
    data, digest, fname = read_policy(name, policy_file)
    total = len(data) if n_steps is None else min(len(data), n_steps)
    if callable(progress):
        return replay_log(game, data, n_steps=n_steps, progress=progress), digest, fname
    with tqdm(total=total, unit="frame", unit_scale=True, desc=f"replay {game}", disable=not progress,
              leave=False, dynamic_ncols=True) as bar:
        rep = replay_log(game, data, n_steps=n_steps, progress=bar.update)
    return rep, digest, fname


def check_against_registry(rep: Replay) -> None:
    """Raise DataError if a full replay of a registry log differs from the registry's fingerprint."""
    facts = G.game_facts(rep.game)
    want = facts.get("fingerprint")
    if not want:
        return
    diff = first_difference(want, fingerprint(rep.frames, rep.rewards, rep.episode_arrays()))
    if diff:
        raise DataError(f"replay of {G.dataset_id(rep.game)} differs from the registry: {diff} (here ale-py "
                        f"{rep.facts['ale_py_version']}, ROM md5 {rep.facts['rom_md5']}; registry ale-py "
                        f"{G.registry_data().get('generated_with', {}).get('ale_py', '?')}, ROM md5 "
                        f"{facts.get('rom_md5', '?')}); install that ale-py version.")


def generate(name: str, *, policy_file: str | os.PathLike[str] | None = None,
             output: str | os.PathLike[str] | None = None, overwrite: bool = False, progress: Progress = True,
             check_registry: bool = True) -> Path:
    """Replay the log of ``name`` (``atari/<Game>-v1`` or a tagged id) into a dataset file; return its path.

    The log comes from ``policy_file`` or the data dir (see :func:`policy_path`). For registry ids the
    replay is compared with the registry's fingerprint before anything is written
    (``check_registry``); an interrupted or refused run leaves nothing under the output name.
    """
    did = canonical_id(name)
    out = check_writable(Path(output) if output is not None else paths.dataset_path(did), overwrite=overwrite)
    rep, digest, fname = replay_policy(did, policy_file, progress=progress)
    if check_registry and G.parse_id(did)[1] is None:
        check_against_registry(rep)
    return write_replay(rep, out, dataset_id=did, policy_file=fname, policy_sha256=digest, overwrite=overwrite)


def _generate_one(args: tuple) -> tuple[str, str]:
    name, kwargs, frames = args      # frames: None, a callable, or a queue receiving frame counts
    report = frames.put if hasattr(frames, "put") else frames
    try:
        return name, str(generate(name, progress=report or False, **kwargs))
    except OscbenchError as err:
        return name, f"error: {err}"


def _frames_of(did: str) -> int:
    game, tag = G.parse_id(did)
    size = G.game_facts(game).get("policy_size") if tag is None else None
    if size is None:
        p = policy_path(game)
        size = p.stat().st_size if p.is_file() else 0
    return int(size)


def generate_many(names: list[str], *, jobs: int = 1, overwrite: bool = False, skip_existing: bool = True,
                  progress: bool = True, check_registry: bool = True) -> dict[str, Path]:
    """Generate several Atari datasets into the data dir, ``jobs`` processes at a time.

    Existing files are kept (``skip_existing``) unless ``overwrite``. Returns id -> path; if any game
    fails, the others still finish and one DataError lists the failures. ``progress`` shows one bar over
    the frames of every game (frames/s and ETA), with the games done in its label.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs {jobs} must be at least 1.")
    ids = [canonical_id(n) for n in names]
    done: dict[str, Path] = {}
    todo = []
    for did in ids:
        p = paths.dataset_path(did)
        if p.exists() and skip_existing and not overwrite:
            done[did] = p
        else:
            todo.append(did)
    kwargs = {"overwrite": overwrite, "check_registry": check_registry}
    failures: list[str] = []
    n_done = 0
    with tqdm(total=sum(_frames_of(d) for d in todo), unit="frame", unit_scale=True, dynamic_ncols=True,
              desc=f"atari 0/{len(todo)} games", disable=not progress or not todo) as bar:

        def finished(did: str, res: str) -> None:
            nonlocal n_done
            n_done += 1
            if res.startswith("error: "):
                failures.append(f"{did}: {res[7:]}")
            else:
                done[did] = Path(res)
            bar.set_description(f"atari {n_done}/{len(todo)} games", refresh=True)

        if jobs == 1 or len(todo) <= 1:
            for did in todo:
                finished(*_generate_one((did, kwargs, bar.update if progress else None)))
        else:
            _generate_parallel(todo, kwargs, jobs, bar if progress else None, finished)
    if failures:
        raise DataError(f"{len(failures)} of {len(ids)} datasets failed -- " + " | ".join(failures))
    return done


def _generate_parallel(todo: list[str], kwargs: dict, jobs: int, bar: Any, finished: Callable[[str, str], None]) -> None:
    """Run ``_generate_one`` in ``jobs`` spawned processes; their frame counts come back through a queue."""
    import multiprocessing as mp
    import queue as _queue
    from concurrent.futures import FIRST_COMPLETED, wait

    ctx = mp.get_context("spawn")
    manager = ctx.Manager() if bar is not None else None
    frames = manager.Queue() if manager is not None else None
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx)
    try:
        pending = {pool.submit(_generate_one, (did, kwargs, frames)) for did in todo}
        while pending:
            ready, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            if frames is not None:
                try:
                    while True:
                        bar.update(frames.get_nowait())
                except _queue.Empty:
                    pass
            for f in ready:
                finished(*f.result())
    finally:
        pool.shutdown(cancel_futures=True)
        if manager is not None:
            manager.shutdown()


def generate_named(name: str, *, policy_file: str | os.PathLike[str] | None = None, jobs: int = 1,
                   output: str | os.PathLike[str] | None = None, overwrite: bool = False,
                   progress: bool = True) -> dict[str, Path]:
    """``oscbench datasets generate`` for Atari: one id, the ``atari-v1`` suite (53 games) or ``atari`` (all 58).

    Suites write into the data dir (existing files are kept unless ``overwrite``); ``policy_file`` and
    ``output`` apply to a single id only.
    """
    if name in ("atari", G.SUITE_ID):
        if policy_file is not None or output is not None:
            raise ConfigError("--policy-file and -o/--output apply to one game; give an id such as atari/Pong-v1.")
        games = G.GAMES if name == "atari" else G.SUITE
        return generate_many([G.dataset_id(g) for g in games], jobs=jobs, overwrite=overwrite, progress=progress)
    did = canonical_id(name)
    return {did: generate(did, policy_file=policy_file, output=output, overwrite=overwrite, progress=progress)}
