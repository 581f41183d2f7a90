"""Build Atari datasets from action logs: locate and check the log, replay it, write the file.

Where things live (under :func:`oscbench.datasets.paths.data_dir`)::

    atari/policies/<Game>NoFrameskip-v4.txt     downloaded action logs
    atari/<Game>-v1.h5                          generated datasets
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

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


def replay_policy(name: str, policy_file: str | os.PathLike[str] | None = None, *, n_steps: int | None = None,
                  progress: bool = False) -> tuple[Replay, str, str]:
    """Replay the (checked) log of an Atari id; returns ``(replay, policy_sha256, policy file name)``."""
    game, _ = G.parse_id(name)
    data, digest, fname = read_policy(name, policy_file)
    total = len(data) if n_steps is None else min(len(data), n_steps)
    with tqdm(total=total, unit="step", unit_scale=True, desc=game, disable=not progress, leave=False) as bar:
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
             output: str | os.PathLike[str] | None = None, overwrite: bool = False, progress: bool = True,
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
    name, kwargs = args
    try:
        return name, str(generate(name, progress=False, **kwargs))
    except OscbenchError as err:
        return name, f"error: {err}"


def generate_many(names: list[str], *, jobs: int = 1, overwrite: bool = False, skip_existing: bool = True,
                  progress: bool = True, check_registry: bool = True) -> dict[str, Path]:
    """Generate several Atari datasets into the data dir, ``jobs`` processes at a time.

    Existing files are kept (``skip_existing``) unless ``overwrite``. Returns id -> path; if any game
    fails, the others still finish and one DataError lists the failures.
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
    with tqdm(total=len(todo), unit="game", desc="atari", disable=not progress or not todo) as bar:
        if jobs == 1 or len(todo) <= 1:
            results = (_generate_one((did, kwargs)) for did in todo)
        else:
            import multiprocessing as mp

            pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=mp.get_context("spawn"))
            futures = [pool.submit(_generate_one, (did, kwargs)) for did in todo]
            results = (f.result() for f in as_completed(futures))
        try:
            for did, res in results:
                if res.startswith("error: "):
                    failures.append(f"{did}: {res[7:]}")
                else:
                    done[did] = Path(res)
                bar.update(1)
        finally:
            if jobs > 1 and len(todo) > 1:
                pool.shutdown(cancel_futures=True)
    if failures:
        raise DataError(f"{len(failures)} of {len(ids)} datasets failed -- " + " | ".join(failures))
    return done


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
