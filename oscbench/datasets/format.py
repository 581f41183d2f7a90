"""The oscbench dataset file: one HDF5 layout, written and read here, for every stream.

Layout (format version 1)::

    /                          attributes:
        oscbench_format        int, 1
        dataset_id             "namespace/name-vN", e.g. "trace-patterning/default-v1"
        kind                   stream kind, e.g. "trace-patterning", "atari"
        generator              the generator's name, e.g. "oscbench.datasets.trace_patterning"
        params                 JSON object: the generator's full parameters
        seed                   int (-1 where the stream has none)
        n_steps                T, the number of steps
        n_features             F, the length of a learner observation
        gamma                  the task's γ inside an episode
        observation_layout     JSON list of segments that build float32 observations (below)
        versions               JSON object: oscbench, numpy, h5py (and e.g. ale-py) versions
        content_sha256         hex digest over every array (below)
        + generator-specific attributes (JSON strings or scalars)
    /<step array>              one row per step, shape [T, ...], chunked along time, gzip:
        cumulants      float32 [T]   c_t
        continuations  float32 [T]   γ_t (0 where step t starts an episode; γ_0 = 0)
        returns        float64 [T]   G_t = c_{t+1} + γ_{t+1} G_{t+1}
        returns_truncated float64 [T]  optional task target (trace patterning, SPEC §1.4)
        observations   uint8 [T, F]  (trace patterning) -- or kind-specific arrays such as
                       frames uint8 [T, 16, 16], actions int8 [T], rewards float32 [T] (Atari)
    /meta/<array>              arrays that are not per step (e.g. per-episode scores)

Every dataset carries an attribute ``sha256``: the digest of its raw little-endian C-order bytes.
``content_sha256`` is the sha256 of the lines ``<path>|<dtype>|<shape>|<sha256>\\n`` over all arrays in
sorted path order. Readers recompute and compare them (``verify``).

``observation_layout`` makes the learner's float32 observation from stored arrays, segment by segment:
``{"array": A, "op": "scale", "scale": s}`` -- ``A[t].ravel() * s``; ``{"array": A, "op": "onehot",
"width": w}`` -- a one-hot of the integer ``A[t]`` in ``w`` slots (all zeros where ``A[t] < 0``).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from oscbench import __version__
from oscbench._atomic import atomic_path
from oscbench.datasets.stream import StepChunk
from oscbench.errors import DataError

FORMAT_VERSION = 1
REQUIRED_STEP_ARRAYS = ("cumulants", "continuations", "returns")
_CHUNK_STEPS = 65536
_HASH_BLOCK = 1 << 20  # steps hashed per read when verifying


def library_versions(**extra: str) -> dict[str, str]:
    """Versions recorded in every file."""
    return {"oscbench": __version__, "numpy": np.__version__, "h5py": h5py.__version__, **extra}


def _le(a: np.ndarray) -> np.ndarray:
    """C-contiguous, little-endian view/copy for hashing."""
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return a


def digest_line(path: str, dtype: str, shape: tuple[int, ...], sha256: str) -> str:
    """One ``<path>|<dtype>|<shape>|<sha256>`` line of a combined digest."""
    return f"{path}|{dtype}|{list(shape)}|{sha256}\n"


def array_digest_line(path: str, a: np.ndarray) -> str:
    """:func:`digest_line` of an in-memory array (hashed as little-endian C-order bytes)."""
    a = _le(a)
    return digest_line(path, a.dtype.str, a.shape, hashlib.sha256(a.tobytes()).hexdigest())


def _combine(entries: Mapping[str, tuple[str, tuple[int, ...], str]]) -> str:
    h = hashlib.sha256()
    for path in sorted(entries):
        h.update(digest_line(path, *entries[path]).encode())
    return h.hexdigest()


def layout_n_features(layout: list[dict[str, Any]], tail_shapes: Mapping[str, tuple[int, ...]]) -> int:
    """F implied by an observation layout and the arrays' per-step shapes."""
    n = 0
    for seg in layout:
        if seg["op"] == "onehot":
            n += int(seg["width"])
        elif seg["op"] == "scale":
            n += int(np.prod(tail_shapes[seg["array"]], dtype=np.int64)) if tail_shapes[seg["array"]] else 1
        else:
            raise DataError(f"unknown observation layout op {seg['op']!r}; upgrade oscbench or regenerate the file.")
    return n


def assemble_observations(layout: list[dict[str, Any]], arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Build float32 ``[N, F]`` learner observations from stored step arrays (see module docs)."""
    parts = []
    n = None
    for seg in layout:
        a = arrays[seg["array"]]
        n = len(a)
        if seg["op"] == "scale":
            parts.append(a.reshape(n, -1).astype(np.float32) * np.float32(seg["scale"]))
        elif seg["op"] == "onehot":
            w = int(seg["width"])
            oh = np.zeros((n, w), dtype=np.float32)
            idx = a.astype(np.int64).reshape(n)
            ok = (idx >= 0) & (idx < w)
            oh[np.nonzero(ok)[0], idx[ok]] = 1.0
            parts.append(oh)
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


class DatasetWriter:
    """Stream steps into a new dataset file, atomically.

    Usage::

        with DatasetWriter(path, dataset_id=..., kind=..., generator=..., params=..., seed=...,
                           gamma=..., step_arrays={"observations": (np.uint8, (12,)), ...},
                           observation_layout=[...]) as w:
            for block in ...:
                w.append(observations=..., cumulants=..., continuations=..., returns=...)
            w.add_meta("episode_scores", scores)

    Nothing appears under ``path`` unless the block finishes without an exception.
    """

    def __init__(self, path: str | os.PathLike[str], *, dataset_id: str, kind: str, generator: str,
                 params: Mapping[str, Any], seed: int, gamma: float,
                 step_arrays: Mapping[str, tuple[Any, tuple[int, ...]]],
                 observation_layout: list[dict[str, Any]], overwrite: bool = False,
                 extra_attrs: Mapping[str, Any] | None = None, versions: Mapping[str, str] | None = None,
                 chunk_steps: int = _CHUNK_STEPS) -> None:
        missing = [a for a in REQUIRED_STEP_ARRAYS if a not in step_arrays]
        if missing:
            raise ValueError(f"step arrays {missing} are required")
        self.path = Path(path)
        self._overwrite = overwrite
        self._specs = {k: (np.dtype(dt), tuple(shape)) for k, (dt, shape) in step_arrays.items()}
        self._layout = list(observation_layout)
        self._attrs: dict[str, Any] = {
            "oscbench_format": FORMAT_VERSION, "dataset_id": dataset_id, "kind": kind, "generator": generator,
            "params": json.dumps(dict(params), sort_keys=True), "seed": int(seed), "gamma": float(gamma),
            "observation_layout": json.dumps(self._layout),
            "n_features": layout_n_features(self._layout, {k: s for k, (_, s) in self._specs.items()}),
            "versions": json.dumps(dict(versions or library_versions()), sort_keys=True),
        }
        for k, v in (extra_attrs or {}).items():
            self._attrs[k] = v if isinstance(v, (int, float, str, np.integer, np.floating)) else json.dumps(v)
        self._chunk_steps = chunk_steps
        self._hashers = {k: hashlib.sha256() for k in self._specs}
        self._meta: dict[str, np.ndarray] = {}
        self.n_steps = 0
        self._ctx = None
        self._file: h5py.File | None = None

    def __enter__(self) -> "DatasetWriter":
        self._ctx = atomic_path(self.path, overwrite=self._overwrite)
        tmp = self._ctx.__enter__()
        self._file = h5py.File(tmp, "w", track_order=True)
        for name, (dt, tail) in self._specs.items():
            self._file.create_dataset(name, shape=(0, *tail), maxshape=(None, *tail), dtype=dt,
                                      chunks=(self._chunk_steps, *tail), compression="gzip",
                                      compression_opts=4, shuffle=dt.itemsize > 1, track_times=False)
        return self

    def append(self, **arrays: np.ndarray) -> None:
        """Append N steps; every step array must be given, each with N rows of its declared shape."""
        assert self._file is not None, "use DatasetWriter as a context manager"
        if set(arrays) != set(self._specs):
            raise ValueError(f"append() needs exactly {sorted(self._specs)}, got {sorted(arrays)}")
        lens = {len(a) for a in arrays.values()}
        if len(lens) != 1:
            raise ValueError(f"append() arrays differ in length: { {k: len(a) for k, a in arrays.items()} }")
        n = lens.pop()
        for name, a in arrays.items():
            dt, tail = self._specs[name]
            a = _le(np.asarray(a, dtype=dt))
            if a.shape[1:] != tail:
                raise ValueError(f"{name}: rows have shape {a.shape[1:]}, expected {tail}")
            ds = self._file[name]
            ds.resize(self.n_steps + n, axis=0)
            ds[self.n_steps:] = a
            self._hashers[name].update(a.tobytes())
        self.n_steps += n

    def add_meta(self, name: str, array: np.ndarray) -> None:
        """Store a non-step array under ``/meta/<name>``."""
        self._meta[name] = _le(np.asarray(array))

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._file is not None and self._ctx is not None
        try:
            if exc_type is None:
                entries = {}
                for name, (dt, tail) in self._specs.items():
                    d = self._hashers[name].hexdigest()
                    self._file[name].attrs["sha256"] = d
                    entries[name] = (dt.str, (self.n_steps, *tail), d)
                for name, a in self._meta.items():
                    d = hashlib.sha256(a.tobytes()).hexdigest()
                    ds = self._file.create_dataset(f"meta/{name}", data=a, track_times=False)
                    ds.attrs["sha256"] = d
                    entries[f"meta/{name}"] = (a.dtype.str, a.shape, d)
                self._attrs["n_steps"] = self.n_steps
                self._attrs["content_sha256"] = _combine(entries)
                for k, v in self._attrs.items():
                    self._file.attrs[k] = v
            self._file.close()
        except BaseException as err:
            self._file.close()
            self._ctx.__exit__(type(err), err, err.__traceback__)
            raise
        # commit (rename) on success, delete the temporary file on failure
        self._ctx.__exit__(exc_type, exc, tb)


class DatasetFile:
    """Read a dataset file, verify it and stream its steps.

    Args:
        path: the ``.h5`` file.
        verify: recompute every array's sha256 now and refuse the file on a mismatch
            (cost: one read of the file).

    Raises :class:`~oscbench.errors.DataError` (one-line message) for a missing, unreadable, truncated
    or corrupt file, an unknown format version, missing arrays, mismatched lengths or a digest mismatch.
    """

    def __init__(self, path: str | os.PathLike[str], *, verify: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"no dataset file at {self.path}; generate or download it first "
                            "(see `oscbench datasets --help`).")
        try:
            self._f = h5py.File(self.path, "r")
        except OSError as err:
            raise DataError(f"{self.path} is not a readable HDF5 file (truncated or corrupt: {err}); "
                            "delete it and generate or download it again.") from None
        try:
            self._load_header()
            if verify:
                self.verify()
        except BaseException:
            self._f.close()
            raise

    # -- header ---------------------------------------------------------------------------------
    def _load_header(self) -> None:
        a = self._f.attrs
        version = a.get("oscbench_format")
        if version is None:
            raise DataError(f"{self.path} is not an oscbench dataset (no 'oscbench_format' attribute).")
        if int(version) != FORMAT_VERSION:
            raise DataError(f"{self.path} has dataset format version {int(version)}, but this oscbench reads "
                            f"version {FORMAT_VERSION}; upgrade oscbench or regenerate the file.")
        try:
            self.dataset_id: str = str(a["dataset_id"])
            self.kind: str = str(a["kind"])
            self.generator: str = str(a["generator"])
            self.params: dict[str, Any] = json.loads(a["params"])
            self.seed: int = int(a["seed"])
            self.gamma: float = float(a["gamma"])
            self.n_steps: int = int(a["n_steps"])
            self.n_features: int = int(a["n_features"])
            self.layout: list[dict[str, Any]] = json.loads(a["observation_layout"])
            self.versions: dict[str, str] = json.loads(a["versions"])
            self.content_sha256: str = str(a["content_sha256"])
        except KeyError as err:
            raise DataError(f"{self.path} lacks the attribute {err}; the file is incomplete, regenerate it.") from None
        needed = set(REQUIRED_STEP_ARRAYS) | {seg["array"] for seg in self.layout}
        missing = sorted(n for n in needed if n not in self._f)
        if missing:
            raise DataError(f"{self.path} lacks the arrays {missing}; the file is incomplete, regenerate it.")
        self.step_arrays = [k for k in self._f.keys() if k != "meta"]
        bad = {k: self._f[k].shape[0] for k in self.step_arrays if self._f[k].shape[0] != self.n_steps}
        if bad:
            raise DataError(f"{self.path}: arrays {bad} do not have n_steps={self.n_steps} rows; "
                            "the file is corrupt, regenerate it.")
        if self.n_steps <= 0:
            raise DataError(f"{self.path} holds no steps; regenerate it.")
        self.attrs = {k: self._f.attrs[k] for k in self._f.attrs}

    # -- integrity ------------------------------------------------------------------------------
    def _array_paths(self) -> list[str]:
        paths = list(self.step_arrays)
        if "meta" in self._f:
            paths += [f"meta/{k}" for k in self._f["meta"].keys()]
        return paths

    def verify(self) -> None:
        """Recompute every array's sha256 and the content digest; raise DataError on any mismatch."""
        entries = {}
        for path in self._array_paths():
            ds = self._f[path]
            h = hashlib.sha256()
            try:
                if ds.ndim == 0 or ds.shape[0] == 0:
                    h.update(_le(ds[()]).tobytes())
                else:
                    for a in range(0, ds.shape[0], _HASH_BLOCK):
                        h.update(_le(ds[a:a + _HASH_BLOCK]).tobytes())
            except OSError as err:
                raise DataError(f"{self.path}: array '{path}' cannot be read ({err}); the file is corrupt, "
                                "delete it and generate or download it again.") from None
            d = h.hexdigest()
            stored = ds.attrs.get("sha256")
            if stored is None or str(stored) != d:
                raise DataError(f"{self.path}: array '{path}' fails its checksum (stored {str(stored)[:12]}…, "
                                f"actual {d[:12]}…); the file is corrupt, delete it and generate it again.")
            entries[path] = (ds.dtype.str, ds.shape, d)
        total = _combine(entries)
        if total != self.content_sha256:
            raise DataError(f"{self.path}: content digest mismatch (stored {self.content_sha256[:12]}…, actual "
                            f"{total[:12]}…); the file was modified, generate it again.")

    # -- data -----------------------------------------------------------------------------------
    def array(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Raw stored rows ``start..stop-1`` of a step array (or a whole ``meta/<name>`` array)."""
        try:
            if name.startswith("meta/"):
                return self._f[name][()]
            return self._f[name][start:stop]
        except OSError as err:
            raise DataError(f"{self.path}: array '{name}' cannot be read ({err}); the file is corrupt, "
                            "delete it and generate or download it again.") from None

    def read(self, start: int, stop: int) -> StepChunk:
        """Steps ``start .. stop-1`` (within one pass) as a :class:`StepChunk` with float32 observations."""
        if not 0 <= start <= stop <= self.n_steps:
            raise IndexError(f"steps {start}..{stop} outside 0..{self.n_steps}")
        names = {seg["array"] for seg in self.layout}
        raw = {n: self.array(n, start, stop) for n in names}
        rt = self.array("returns_truncated", start, stop).astype(np.float64) if "returns_truncated" in self._f else None
        return StepChunk(start, assemble_observations(self.layout, raw),
                         self.array("cumulants", start, stop).astype(np.float32),
                         self.array("continuations", start, stop).astype(np.float32),
                         self.array("returns", start, stop).astype(np.float64), rt)

    def chunks(self, n_steps: int | None = None, chunk_size: int = 65536, *, loop: bool = False) -> Iterator[StepChunk]:
        """Yield steps ``0 .. n_steps-1`` in chunks of at most ``chunk_size``.

        With ``loop=True`` the stream wraps around (step t reads stored step t mod T), for runs longer
        than the recording; chunk ``start`` values keep counting globally. Without it, asking for more
        than T steps is an error.
        """
        total = self.n_steps if n_steps is None else int(n_steps)
        if total > self.n_steps and not loop:
            raise DataError(f"{self.path} holds {self.n_steps} steps but {total} were asked for; "
                            "use a looping stream or generate a longer file.")
        t = 0
        while t < total:
            pos = t % self.n_steps
            take = min(chunk_size, total - t, self.n_steps - pos)
            c = self.read(pos, pos + take)
            yield StepChunk(t, c.observations, c.cumulants, c.continuations, c.returns, c.returns_truncated)
            t += take

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "DatasetFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DatasetFile({str(self.path)!r}, id={self.dataset_id!r}, steps={self.n_steps}, F={self.n_features})"



def open_dataset(path: str | os.PathLike[str], *, verify: bool = True) -> DatasetFile:
    """Open and (by default) verify a dataset *file*; :func:`oscbench.datasets.open_dataset` also takes ids."""
    return DatasetFile(path, verify=verify)
