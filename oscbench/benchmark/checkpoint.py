"""Checkpoints of a run, and which earlier outputs of an evaluation may be reused.

Every ``checkpoint_every`` steps (rounded up to a whole number of chunks; default
:data:`DEFAULT_EVERY`) a run writes ``<record stem>.ckpt`` next to its record under ``--out``,
atomically: the learner's snapshot (the protocol's ``snapshot()``, pickle by default), the scorer's
state (:meth:`oscbench.benchmark.metrics.RunScorer.state`), the stream position, the prefix audit's
result, the CPU and wall time so far and the whole-run causality checks done so far. The file is an
``.npz`` archive read with ``allow_pickle=False``; the learner bytes are only ever unpickled inside
the learner's own process. A finished run deletes its checkpoint.

Running the same evaluation again with the same ``--out`` keeps a finished run (status ``ok``) and
continues a checkpointed one only when its :func:`run_key` -- learner code digest, hyper-parameters,
task, game, preset, run length, seed, dataset digest and oscbench version -- equals the new run's: a
run from edited code (or from a learner whose code has no digest) is never reused. ``--fresh``
ignores both.
"""
from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oscbench._atomic import write_bytes_atomic

DEFAULT_EVERY = 2_000_000   # steps between checkpoints (rounded up to whole chunks)
FORMAT = "oscbench-checkpoint-v1"
SUFFIX = ".ckpt"


def interval(every: int | None, chunk_steps: int) -> int | None:
    """``every`` rounded up to a multiple of ``chunk_steps``; None (or 0) disables checkpoints."""
    if not every:
        return None
    return -(-int(every) // chunk_steps) * chunk_steps


def run_key(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What must be equal for an earlier output to stand for this run (None: never reusable)."""
    lr, t = record["learner"], record["task"]
    if not lr.get("source_sha256"):
        return None
    return {"learner": lr["name"], "source_sha256": lr["source_sha256"], "hyperparameters": lr["hyperparameters"],
            "task": t["id"], "game": t.get("game"), "preset": t["preset"], "steps": record["steps"],
            "seed": record["seed"], "dataset_sha256": (record.get("dataset") or {}).get("sha256"),
            "oscbench_version": record["provenance"]["oscbench_version"]}


def finished_record(path: Path, key: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ok record at ``path`` if it is one of this very run (same :func:`run_key`), else None."""
    if key is None or not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        same = rec.get("status") == "ok" and run_key(rec) == key
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return rec if same else None


@dataclass
class Checkpoint:
    """A run's state after ``position`` steps."""

    key: dict[str, Any]
    chunk_steps: int
    position: int
    learner: bytes
    scorer: dict[str, np.ndarray]
    audit: dict[str, Any]
    progress: dict[str, Any] = field(default_factory=dict)   # cpu/wall seconds so far, checks done so far


def path_for(out: Path, stem: str) -> Path:
    return out / f"{stem}{SUFFIX}"


def save(path: Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` atomically (a reader sees the previous checkpoint or this one, never a torn file)."""
    meta = {"format": FORMAT, "key": ckpt.key, "chunk_steps": ckpt.chunk_steps, "position": ckpt.position,
            "audit": ckpt.audit, "progress": ckpt.progress}
    arrays = {f"scorer.{k}": v for k, v in ckpt.scorer.items()}
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             learner=np.frombuffer(ckpt.learner, dtype=np.uint8), **arrays)  # type: ignore[arg-type]
    write_bytes_atomic(path, buf.getvalue(), overwrite=True)


def load(path: Path, key: Mapping[str, Any] | None, chunk_steps: int) -> Checkpoint | None:
    """The checkpoint at ``path`` if it belongs to this run (same key and chunking), else None."""
    if key is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes())
            if meta.get("format") != FORMAT or meta.get("key") != key or meta.get("chunk_steps") != chunk_steps:
                return None
            scorer = {k[len("scorer."):]: z[k] for k in z.files if k.startswith("scorer.")}
            return Checkpoint(dict(key), chunk_steps, int(meta["position"]), z["learner"].tobytes(), scorer,
                              meta["audit"], meta.get("progress") or {})
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None
