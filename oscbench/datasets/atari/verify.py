"""``oscbench datasets verify atari/<Game>-v1``: is this machine's dataset the benchmark's dataset?

Two checks, each naming the first divergence it finds:

* **file** (default, seconds): the file's array digests (:meth:`DatasetFile.verify`), then its
  fingerprint against the registry (frames digest and 1,000-step block digests, episode starts,
  scores, ends and post-game-over actions).
* **replay** (``replay=True``, about half a minute per game): replay the log again with this ale-py,
  check ``game_over()`` before every reset, compare with the registry, and, if the file exists,
  with the file step by step (naming the exact first differing step).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.fingerprint import first_difference, first_differing_step, fingerprint
from oscbench.datasets.atari.generate import canonical_id, policy_path, replay_policy
from oscbench.datasets.atari.locate import resolve
from oscbench.datasets.format import DatasetFile
from oscbench.datasets.paths import is_file_argument
from oscbench.errors import DataError

_EPISODE_ARRAYS = ("episode_starts", "episode_scores", "episode_ends", "episode_extra_actions")


def file_fingerprint(ds: DatasetFile) -> dict[str, Any]:
    """Fingerprint of an open Atari dataset file."""
    eps = {k: ds.array(f"meta/{k}") for k in _EPISODE_ARRAYS}
    return fingerprint(ds.array("frames"), ds.array("rewards"), eps)


def _registry_fp(did: str) -> dict[str, Any] | None:
    game, tag = G.parse_id(did)
    return G.game_facts(game).get("fingerprint") if tag is None else None


def verify_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Digests of an Atari file, and its fingerprint against the registry (for registry ids)."""
    with DatasetFile(path, verify=True) as ds:
        if ds.kind != "atari":
            raise DataError(f"{path} holds a {ds.kind!r} dataset, not an Atari one; use `oscbench datasets info`.")
        fp = file_fingerprint(ds)
        did = ds.dataset_id
        want = _registry_fp(did)
        checks = ["array digests ok"]
        if want:
            diff = first_difference(want, fp)
            if diff:
                raise DataError(f"{path} ({did}) differs from the registry: {diff}; made with ale-py "
                                f"{ds.attrs.get('ale_py_version')} (ROM md5 {ds.attrs.get('rom_md5')}) -- regenerate "
                                "it with the registry's ale-py version.")
            checks.append("matches the registry fingerprint")
            want_digest = G.game_facts(G.parse_id(did)[0]).get("content_sha256")
            if want_digest and ds.content_sha256 != want_digest:
                raise DataError(f"{path} ({did}) has the registry's frames and episodes but another content digest "
                                f"({ds.content_sha256[:12]}…, registry {want_digest[:12]}…): its returns or other "
                                "arrays were computed differently; regenerate it with this oscbench.")
            if want_digest:
                checks.append("content digest equals the registry's")
        else:
            checks.append("no registry fingerprint for this id (not compared)")
        return {"id": did, "path": str(path), "n_steps": fp["n_steps"], "episodes": len(fp["episode_starts"]),
                "checks": checks}


def verify(name: str, *, replay: bool = False, policy_file: str | os.PathLike[str] | None = None,
           progress: bool = True) -> dict[str, Any]:
    """Verify an Atari id (or a dataset path); return a report, raise DataError on any divergence."""
    if is_file_argument(name):
        path: Path | None = resolve(name)
        assert path is not None    # a file argument always resolves to a path
        with DatasetFile(path, verify=False) as ds:
            did = ds.dataset_id
    else:
        did = canonical_id(name)
        try:
            path = resolve(did)
        except DataError:
            path = None
    report: dict[str, Any] = {"id": did, "path": str(path) if path else None, "checks": []}
    if path is not None:
        r = verify_file(path)
        report.update(n_steps=r["n_steps"], episodes=r["episodes"])
        report["checks"] += [f"file: {c}" for c in r["checks"]]
    if replay or path is None:
        game, tag = G.parse_id(did)
        if tag is None and policy_file is None and not policy_path(game).is_file():
            raise DataError(f"nothing to verify for {did}: neither its dataset nor its log is here; run "
                            f"`oscbench datasets download {did}`.")
        if tag is not None and policy_file is None:
            raise DataError(f"{did} is not in the registry; to replay-verify it pass its log with --policy-file.")
        rep, _, _ = replay_policy(did, policy_file, progress=progress)
        report["checks"].append(f"replay: game_over() before all {len(rep.episode_starts) - 1} resets")
        fp = fingerprint(rep.frames, rep.rewards, rep.episode_arrays())
        want = _registry_fp(did)
        if want:
            diff = first_difference(want, fp)
            if diff:
                raise DataError(f"replay of {did} with ale-py {rep.facts['ale_py_version']} (ROM md5 "
                                f"{rep.facts['rom_md5']}) differs from the registry: {diff}.")
            report["checks"].append("replay: matches the registry fingerprint")
        if path is not None:
            with DatasetFile(path, verify=False) as ds:
                step = first_differing_step(
                    {"frames": rep.frames, "actions": rep.actions, "rewards": rep.rewards},
                    {"frames": ds.array("frames"), "actions": ds.array("actions"), "rewards": ds.array("rewards")})
            if step is not None:
                raise DataError(f"{path} differs from a fresh replay of {did} first at step {step:,}; regenerate it "
                                f"(`oscbench datasets generate {did} --overwrite`).")
            report["checks"].append("replay: identical to the file, step by step")
        report.setdefault("n_steps", rep.n_steps)
        report.setdefault("episodes", int(len(rep.episode_starts)))
        report["episode_scores"] = [float(s) for s in rep.episode_scores]
    report["ok"] = True
    return report


def format_report(report: dict[str, Any]) -> str:
    head = f"{report['id']}: ok"
    if "n_steps" in report:
        eps = f", {report['episodes']} episodes, the last cut by the log's end" if "episodes" in report else ""
        head += f"  ({report['n_steps']:,} steps{eps})"
    lines = [head]
    if report.get("path"):
        lines.append(f"  file  {report['path']}")
    lines += [f"  - {c}" for c in report["checks"]]
    return "\n".join(lines)


__all__ = ["verify", "verify_file", "file_fingerprint", "format_report"]
