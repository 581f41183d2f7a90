"""The oscbench dataset file: one HDF5 layout, written and read here, for every stream.

Layout (format version 2; version-1 files, written before the content digest bound the attributes,
still open)::

    /                          attributes:
        oscbench_format        int, 2
        dataset_id             "namespace/name-vN", e.g. "trace-patterning/default-v1"
        kind                   stream kind, e.g. "trace-patterning", "atari"
        generator              the generator's name, e.g. "oscbench.datasets.trace_patterning"
        params                 JSON object: the generator's full parameters
        seed                   int (-1 where the stream has none)
        n_steps                T, the number of steps
        n_features             F, the length of a learner observation
        gamma                  the task's γ inside an episode
        observation_layout     JSON list of segments that build float32 observations (below); the
                               reader uses the kind's layout from code and refuses a file whose copy differs
        versions               JSON object: oscbench, numpy, h5py (and e.g. ale-py) versions (not bound)
        arrays_sha256          hex digest over every array (below)
        content_sha256         the content digest: every array *and* every root attribute (below)
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
``arrays_sha256`` is the sha256 of the lines ``<path>|<dtype>|<shape>|<sha256>\\n`` over all arrays in
sorted path order (version 1 stored it as ``content_sha256``). The content digest ``content_sha256`` is
the sha256 of ``oscbench-content-v2\\n<arrays_sha256>\\n<attributes>\\n`` where ``<attributes>`` is the
compact sorted-key JSON of every root attribute except ``oscbench_format``, the two digests,
``versions`` and the kind's provenance attributes (JSON-text attributes decoded first): see
:func:`bound_digest`. Because the attributes the code derives are fixed (:mod:`oscbench.datasets.kinds`),
the content digest of a recorded dataset can be computed from its array digest without the file.

On open (:class:`DatasetFile`) every attribute the kind's code derives is compared with the stored one
(a difference is refused naming the attribute), and the stored content digest with the recomputed
one; ``verify`` also recomputes every array digest and runs the kind's data check.

``observation_layout`` makes the learner's float32 observation from stored arrays, segment by segment:
``{"array": A, "op": "scale", "scale": s}`` -- ``A[t].ravel() * s``; ``{"array": A, "op": "onehot",
"width": w}`` -- a one-hot of the integer ``A[t]`` in ``w`` slots (all zeros where ``A[t] < 0``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from oscbench._version import __version__
from oscbench._atomic import check_writable, write_bytes_atomic
from oscbench.datasets import kinds
from oscbench.datasets.stream import StepChunk
from oscbench.errors import DataError

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
CONTENT_DIGEST_TAG = "oscbench-content-v2"
#: root attributes the content digest does not bind (itself, the array digest, library versions)
UNBOUND_ATTRS = frozenset({"oscbench_format", "content_sha256", "arrays_sha256", "versions"})
REQUIRED_STEP_ARRAYS = ("cumulants", "continuations", "returns")
_CHUNK_STEPS = 65536
LOOP_CACHE_BYTES = 1 << 29  # a looped stream keeps its decoded pass in memory up to this size (see chunks)
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


def _plain(value: Any) -> Any:
    """An HDF5 attribute value as plain Python (str, int, float, bool, list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_attrs(raw: Mapping[str, Any], json_attrs: frozenset[str], where: object = "") -> dict[str, Any]:
    """Root attributes as plain Python values, JSON-text attributes decoded."""
    out: dict[str, Any] = {}
    for key in raw:
        v = _plain(raw[key])
        if key in json_attrs and isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError:
                raise DataError(f"{where}: attribute '{key}' is not valid JSON; the file was edited or is corrupt, "
                                "generate or download it again.") from None
        out[key] = v
    return out


def bound_attrs(attrs: Mapping[str, Any], provenance: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The decoded attributes the content digest binds (all but :data:`UNBOUND_ATTRS` and provenance)."""
    return {k: v for k, v in attrs.items() if k not in UNBOUND_ATTRS and k not in provenance}


def bound_digest(arrays_sha256: str, attrs: Mapping[str, Any]) -> str:
    """The content digest: sha256 over the array digest and the bound attributes (see module docs)."""
    text = json.dumps(dict(attrs), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(f"{CONTENT_DIGEST_TAG}\n{arrays_sha256}\n{text}\n".encode()).hexdigest()


def expected_attrs(spec: kinds.KindSpec, attrs: Mapping[str, Any],
                   tail_shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
    """The attribute values the code derives for a file of ``spec.kind`` (from its other attributes)."""
    layout = kinds.checked_layout(spec, attrs.get("params") or {})
    missing = [seg["array"] for seg in layout if seg["array"] not in tail_shapes]
    if missing:
        raise DataError(f"a {spec.kind} dataset needs the arrays {missing}; the file is incomplete, regenerate it.")
    return {"kind": spec.kind, "generator": spec.generator, "observation_layout": layout,
            "n_features": layout_n_features(layout, tail_shapes), **spec.canonical(attrs)}


def _short(v: Any) -> str:
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def check_attrs(attrs: Mapping[str, Any], expected: Mapping[str, Any], where: object) -> None:
    """Refuse (DataError naming the attribute) a stored attribute that differs from the code's value."""
    for key, want in expected.items():
        if key not in attrs:
            raise DataError(f"{where} lacks the attribute '{key}'; the file is incomplete, generate or download it "
                            "again.")
        have, label = attrs[key], f"attribute '{key}'"
        if have != want or type(have) is bool and type(want) is not bool:
            if isinstance(have, list) and isinstance(want, list):   # name the first differing entry
                i = next((i for i, (x, y) in enumerate(zip(have, want)) if x != y), min(len(have), len(want)))
                have, want = (have[i] if i < len(have) else "nothing"), (want[i] if i < len(want) else "nothing")
                label += f" entry {i}"
            raise DataError(f"{where}: {label} is {_short(have)} but kind {attrs.get('kind')!r} defines "
                            f"{_short(want)}; the file was edited, generate or download it again.")


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
    """Build float32 ``[N, F]`` learner observations from stored step arrays (see module docs).

    Each segment is written into its columns of one output array in a single pass (an Atari pass:
    no float32 copy of the frames before the scaling and none for the concatenation)."""
    n = len(arrays[layout[0]["array"]])
    widths = [int(seg["width"]) if seg["op"] == "onehot" else int(np.prod(arrays[seg["array"]].shape[1:], dtype=np.int64))
              for seg in layout]
    out = np.zeros((n, sum(widths)), dtype=np.float32)
    col = 0
    for seg, w in zip(layout, widths):
        a = arrays[seg["array"]]
        part = out[:, col:col + w]
        if seg["op"] == "scale":
            np.multiply(a.reshape(n, w), np.float32(seg["scale"]), out=part, dtype=np.float32)
        elif seg["op"] == "onehot":
            idx = a.astype(np.int64).reshape(n)
            ok = (idx >= 0) & (idx < w)
            part[np.nonzero(ok)[0], idx[ok]] = 1.0
        col += w
    return out


class DatasetWriter:
    """Stream steps into a new dataset file, atomically.

    Usage::

        with DatasetWriter(path, dataset_id=..., kind=..., generator=..., params=..., seed=...,
                           gamma=..., step_arrays={"observations": (np.uint8, (12,)), ...},
                           observation_layout=[...]) as w:
            for block in ...:
                w.append(observations=..., cumulants=..., continuations=..., returns=...)
            w.add_meta("episode_scores", scores)

    Nothing appears under ``path`` unless the block finishes without an exception. The file is built in
    memory (about 3.4 bytes per trace-patterning step, 3.5 MB per Atari game) and written at the end
    through :func:`~oscbench._atomic.write_bytes_atomic`, so a full disk gives a one-line error and no
    file, never an HDF5 crash.
    """

    def __init__(self, path: str | os.PathLike[str], *, dataset_id: str, kind: str, generator: str,
                 params: Mapping[str, Any], seed: int, gamma: float,
                 step_arrays: Mapping[str, tuple[Any, tuple[int, ...]]],
                 observation_layout: list[dict[str, Any]] | None = None, overwrite: bool = False,
                 extra_attrs: Mapping[str, Any] | None = None, versions: Mapping[str, str] | None = None,
                 chunk_steps: int = _CHUNK_STEPS) -> None:
        missing = [a for a in REQUIRED_STEP_ARRAYS if a not in step_arrays]
        if missing:
            raise ValueError(f"step arrays {missing} are required")
        self.path = Path(path)
        self._overwrite = overwrite
        self._specs = {k: (np.dtype(dt), tuple(shape)) for k, (dt, shape) in step_arrays.items()}
        self._kind = kinds.get(kind)
        self._layout = kinds.checked_layout(self._kind, params)   # the kind's layout, from code
        if observation_layout is not None and list(observation_layout) != self._layout:
            raise ValueError(f"observation_layout {observation_layout} differs from kind {kind}'s {self._layout}; "
                             "the layout comes from the kind (oscbench.datasets.kinds)")
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
        self._image = io.BytesIO()
        self._file: h5py.File | None = None

    def __enter__(self) -> "DatasetWriter":
        # HDF5 is written to memory and the finished image to disk by write_bytes_atomic: HDF5 itself never
        # meets a full disk (where it can crash), and a failed write leaves no file at all.
        check_writable(self.path, overwrite=self._overwrite)
        self._image = io.BytesIO()
        self._file = h5py.File(self._image, "w", track_order=True)
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
        assert self._file is not None, "use DatasetWriter as a context manager"
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
                arrays = _combine(entries)
                spec = self._kind
                decoded = decode_attrs(self._attrs, kinds.COMMON_JSON_ATTRS | spec.json_attrs, self.path)
                check_attrs(decoded, expected_attrs(spec, decoded, {k: s for k, (_, s) in self._specs.items()}),
                            self.path)
                self._attrs["arrays_sha256"] = arrays
                self._attrs["content_sha256"] = bound_digest(arrays, bound_attrs(decoded, spec.provenance))
                for k, v in self._attrs.items():
                    self._file.attrs[k] = v
        finally:
            self._file.close()
        if exc_type is None:
            write_bytes_atomic(self.path, self._image.getbuffer(), overwrite=self._overwrite)
        self._image = io.BytesIO()


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
        if int(version) not in READABLE_VERSIONS:
            raise DataError(f"{self.path} has dataset format version {int(version)}, but this oscbench reads "
                            f"versions {', '.join(map(str, READABLE_VERSIONS))}; upgrade oscbench or regenerate the file.")
        self.format_version = int(version)
        try:
            self.kind: str = str(_plain(a["kind"]))
            spec = kinds.get(self.kind)
            attrs = decode_attrs(a, kinds.COMMON_JSON_ATTRS | spec.json_attrs, self.path)
            self.dataset_id: str = str(attrs["dataset_id"])
            self.generator: str = str(attrs["generator"])
            self.params: dict[str, Any] = attrs["params"]
            self.seed: int = int(attrs["seed"])
            self.gamma: float = float(attrs["gamma"])
            self.n_steps: int = int(attrs["n_steps"])
            self.n_features: int = int(attrs["n_features"])
            self.versions: dict[str, str] = attrs["versions"]
            # version 1 stored the array digest as content_sha256 (and no bound digest)
            self.arrays_sha256: str = str(attrs["arrays_sha256" if self.format_version >= 2 else "content_sha256"])
        except KeyError as err:
            raise DataError(f"{self.path} lacks the attribute {err}; the file is incomplete, regenerate it.") from None
        except (TypeError, ValueError) as err:
            raise DataError(f"{self.path} has a malformed attribute ({err}); regenerate it.") from None
        if not isinstance(self.params, dict):
            raise DataError(f"{self.path}: attribute 'params' is not a JSON object; regenerate the file.")
        self.step_arrays = [k for k in self._f.keys() if k != "meta"]
        tails = {k: tuple(self._f[k].shape[1:]) for k in self.step_arrays}
        check_attrs(attrs, expected_attrs(spec, attrs, tails), self.path)
        self.spec = spec
        self.layout: list[dict[str, Any]] = kinds.checked_layout(spec, self.params)   # from code, never the file
        missing = sorted(n for n in REQUIRED_STEP_ARRAYS if n not in self._f)
        if missing:
            raise DataError(f"{self.path} lacks the arrays {missing}; the file is incomplete, regenerate it.")
        bad = {k: self._f[k].shape[0] for k in self.step_arrays if self._f[k].shape[0] != self.n_steps}
        if bad:
            raise DataError(f"{self.path}: arrays {bad} do not have n_steps={self.n_steps} rows; "
                            "the file is corrupt, regenerate it.")
        if self.n_steps <= 0:
            raise DataError(f"{self.path} holds no steps; regenerate it.")
        self.content_sha256: str = bound_digest(self.arrays_sha256, bound_attrs(attrs, spec.provenance))
        if self.format_version >= 2 and str(attrs.get("content_sha256")) != self.content_sha256:
            raise DataError(f"{self.path}: the root attributes do not match the content digest (an attribute such as "
                            f"'seed' was edited after writing); generate or download the file again.")
        self.attrs = {k: self._f.attrs[k] for k in self._f.attrs}

    # -- integrity ------------------------------------------------------------------------------
    def _array_paths(self) -> list[str]:
        paths = list(self.step_arrays)
        if "meta" in self._f:
            paths += [f"meta/{k}" for k in self._f["meta"].keys()]
        return paths

    def verify(self) -> None:
        """Recompute every array's sha256 and the array digest, then run the kind's data check
        (:attr:`KindSpec.check_data`); raise DataError on any mismatch."""
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
        if total != self.arrays_sha256:
            raise DataError(f"{self.path}: content digest mismatch (stored {self.arrays_sha256[:12]}…, actual "
                            f"{total[:12]}…); the file was modified, generate it again.")
        if self.spec.check_data is not None:
            self.spec.check_data(self)

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
        # A looped run reads the same pass again and again: keep its decoded blocks (read-only) when the
        # pass fits in LOOP_CACHE_BYTES. An Atari pass is 275 MB decoded; a 2M-step run then decompresses
        # and assembles it once instead of eight times (4.4 of an evaluator's 6 CPU-s per run).
        cache: dict[tuple[int, int], StepChunk] | None = None
        if total > self.n_steps and self.n_steps * (4 * self.n_features + 32) <= LOOP_CACHE_BYTES:
            cache = {}
        t = 0
        block, b0 = None, 0
        while t < total:
            pos = t % self.n_steps
            take = min(chunk_size, total - t, self.n_steps - pos)
            if block is None or not b0 <= pos or pos + take > b0 + len(block.cumulants):
                # read whole storage chunks (gzip, _CHUNK_STEPS steps when oscbench wrote the file):
                # slicing a compressed chunk 2,500 steps at a time cost 16x the CPU of reading it once
                # (Atari frames: 1.40 against 0.085 CPU-s a pass)
                b0 = pos - pos % _CHUNK_STEPS
                key = (b0, min(self.n_steps, max(pos + take, b0 + _CHUNK_STEPS)))
                block = cache.get(key) if cache is not None else None
                if block is None:
                    block = self.read(*key)
                    if cache is not None:
                        for arr in (block.observations, block.cumulants, block.continuations, block.returns,
                                    block.returns_truncated):
                            if arr is not None:
                                arr.flags.writeable = False
                        cache[key] = block
            yield dataclasses.replace(block.slice(pos - b0, pos - b0 + take), start=t)
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
