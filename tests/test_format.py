"""The HDF5 dataset format: round trip, looping, and every refusal."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from oscbench.datasets import kinds
from oscbench.datasets.format import DatasetFile, DatasetWriter, assemble_observations
from oscbench.datasets.generate import generate_trace_patterning
from oscbench.datasets.stream import concat_chunks
from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream
from oscbench.errors import DataError, OscbenchError

N = 150_000


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory) -> Path:
    return generate_trace_patterning(tmp_path_factory.mktemp("fmt") / "tp.h5", seed=3, n_steps=N, progress=False)


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def test_round_trip_equals_the_stream(trace_file):
    with DatasetFile(trace_file) as ds:
        assert ds.dataset_id == "trace-patterning/default-v1" and ds.kind == "trace-patterning"
        assert ds.n_steps == N and ds.n_features == 12 and ds.seed == 3 and ds.gamma == pytest.approx(0.9)
        assert ds.params == TracePatterningConfig().to_dict()
        assert set(ds.versions) >= {"oscbench", "numpy", "h5py"}
        assert ds.array("observations", 0, 10).dtype == np.uint8
        got = concat_chunks(list(ds.chunks(chunk_size=9999)))
    want = concat_chunks(list(TracePatterningStream(seed=3).chunks(N, N)))
    assert got.observations.dtype == np.float32
    for name in ("observations", "cumulants", "continuations", "returns", "returns_truncated"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_storage_is_chunked_along_time_and_compressed(trace_file):
    with h5py.File(trace_file) as f:
        obs = f["observations"]
        assert obs.chunks[0] > 1 and obs.chunks[1:] == (12,) and obs.compression == "gzip"
    raw = N * (12 + 4 + 4 + 8 + 8)  # observations, cumulants, continuations, both returns
    assert trace_file.stat().st_size < raw / 5


def test_looping_wraps_and_counts_globally(trace_file):
    with DatasetFile(trace_file, verify=False) as ds:
        chunks = list(ds.chunks(2 * N + 10, 50_000, loop=True))
        assert sum(len(c) for c in chunks) == 2 * N + 10
        assert [c.start for c in chunks][:4] == [0, 50_000, 100_000, 150_000]
        allc = concat_chunks(chunks)
        np.testing.assert_array_equal(allc.observations[N:2 * N], allc.observations[:N])
        assert allc.continuations[N] == 0  # step 0 (γ_0 = 0) starts a new episode at the wrap
        with pytest.raises(DataError, match="holds 150000 steps"):
            list(ds.chunks(N + 1))


def test_observation_layout_segments():
    arrays = {"frames": np.array([[[0, 128], [255, 64]]], np.uint8), "actions": np.array([2], np.int8),
              "rewards": np.array([-1.0], np.float32)}
    layout = [{"array": "frames", "op": "scale", "scale": 1 / 256}, {"array": "actions", "op": "onehot", "width": 4},
              {"array": "rewards", "op": "scale", "scale": 1.0}]
    x = assemble_observations(layout, arrays)
    np.testing.assert_array_equal(x, [[0, 0.5, 255 / 256, 0.25, 0, 0, 1, 0, -1]])
    arrays["actions"] = np.array([-1], np.int8)  # reset step: no action
    assert assemble_observations(layout, arrays)[0, 4:8].sum() == 0


def test_unknown_format_version_refused(trace_file, tmp_path):
    p = _copy(trace_file, tmp_path / "v.h5")
    with h5py.File(p, "r+") as f:
        f.attrs["oscbench_format"] = 99
    with pytest.raises(DataError, match="format version 99"):
        DatasetFile(p)


def test_missing_array_refused(trace_file, tmp_path):
    p = _copy(trace_file, tmp_path / "m.h5")
    with h5py.File(p, "r+") as f:
        del f["returns"]
    with pytest.raises(DataError, match="lacks the arrays"):
        DatasetFile(p)


def test_mismatched_lengths_refused(trace_file, tmp_path):
    p = _copy(trace_file, tmp_path / "l.h5")
    with h5py.File(p, "r+") as f:
        f["cumulants"].resize(N - 5, axis=0)
    with pytest.raises(DataError, match="do not have n_steps"):
        DatasetFile(p)


def test_modified_value_fails_checksum(trace_file, tmp_path):
    p = _copy(trace_file, tmp_path / "c.h5")
    with h5py.File(p, "r+") as f:
        f["observations"][1234, 8] ^= 1
    with pytest.raises(DataError, match="fails its checksum"):
        DatasetFile(p)
    DatasetFile(p, verify=False).close()  # opening without verification still works


def test_flipped_byte_anywhere_in_data_is_caught(trace_file, tmp_path):
    raw = bytearray(trace_file.read_bytes())
    caught = 0
    for frac in (0.3, 0.5, 0.7, 0.9):
        b = bytearray(raw)
        b[int(len(b) * frac)] ^= 0xFF
        p = tmp_path / f"flip{frac}.h5"
        p.write_bytes(bytes(b))
        with pytest.raises(DataError):
            DatasetFile(p)
        caught += 1
    assert caught == 4


def test_truncated_file_refused(trace_file, tmp_path):
    p = tmp_path / "t.h5"
    p.write_bytes(trace_file.read_bytes()[: trace_file.stat().st_size // 2])
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        DatasetFile(p)


def test_not_a_dataset_and_missing_file(tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataError, match="not an oscbench dataset"):
        DatasetFile(p)
    with pytest.raises(DataError, match="no dataset file"):
        DatasetFile(tmp_path / "nope.h5")


_TEST_KIND = kinds.register(kinds.KindSpec(
    "test", "tests", layout=lambda params: [{"array": "observations", "op": "scale", "scale": 1.0}],
    sources=frozenset({"observations"}), canonical=lambda attrs: {"dataset_id": "test/x-v1"}))


def _writer(path, **kw):
    return DatasetWriter(path, dataset_id="test/x-v1", kind="test", generator="tests", params={}, seed=0, gamma=0.5,
                         step_arrays={"observations": ("u1", (2,)), "cumulants": ("<f4", ()),
                                      "continuations": ("<f4", ()), "returns": ("<f8", ())},
                         observation_layout=[{"array": "observations", "op": "scale", "scale": 1.0}], **kw)


def test_exception_inside_writer_leaves_no_file(tmp_path):
    p = tmp_path / "x.h5"
    with pytest.raises(RuntimeError):
        with _writer(p) as w:
            w.append(observations=np.zeros((5, 2)), cumulants=np.zeros(5), continuations=np.zeros(5), returns=np.zeros(5))
            raise RuntimeError("boom")
    assert not p.exists() and not list(tmp_path.iterdir())


def test_writer_meta_arrays_are_covered_by_the_digest(tmp_path):
    p = tmp_path / "meta.h5"
    with _writer(p) as w:
        w.append(observations=np.ones((4, 2)), cumulants=np.zeros(4), continuations=np.zeros(4), returns=np.zeros(4))
        w.add_meta("scores", np.array([1.0, 2.0]))
    with DatasetFile(p) as ds:
        np.testing.assert_array_equal(ds.array("meta/scores"), [1.0, 2.0])
    with h5py.File(p, "r+") as f:
        f["meta/scores"][0] = 5.0
    with pytest.raises(DataError, match="meta/scores"):
        DatasetFile(p)


def test_existing_output_refused_without_overwrite(tmp_path, trace_file):
    p = _copy(trace_file, tmp_path / "exists.h5")
    with pytest.raises(OscbenchError, match="--overwrite"):
        generate_trace_patterning(p, n_steps=10, progress=False)
    generate_trace_patterning(p, n_steps=10, overwrite=True, progress=False)
    assert DatasetFile(p).n_steps == 10


def test_killed_writer_leaves_nothing_under_the_final_name(tmp_path):
    """Killed mid-generation: the file is built in memory and only written at the end, so nothing at all
    (no final file, no .partial) is left in the directory."""
    out = tmp_path / "killed.h5"
    code = ("import sys; from oscbench.datasets.generate import generate_trace_patterning as g;"
            "print('started', flush=True);"
            f"g({str(out)!r}, n_steps=200_000_000, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(3.0)  # mid-generation (200M steps take about a minute)
    assert proc.poll() is None, "writer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert not list(tmp_path.iterdir())


def test_chunks_read_in_storage_blocks_equal_direct_reads(tmp_path):
    """chunks() reads whole storage chunks and slices them; any chunk size, across block boundaries and
    the loop's wrap, gives exactly the stored steps."""
    import numpy as np

    from oscbench.datasets.format import DatasetFile, _CHUNK_STEPS
    from oscbench.datasets.generate import generate_trace_patterning

    n = 2 * _CHUNK_STEPS + 8_000
    path = generate_trace_patterning(tmp_path / "tp.h5", seed=1, n_steps=n, progress=False)
    with DatasetFile(path) as f:
        whole = f.read(0, n)
        idx = np.arange(3 * n + 123) % n
        for size in (9_999, _CHUNK_STEPS, _CHUNK_STEPS + 1, 100_000):
            got = list(f.chunks(len(idx), size, loop=True))
            assert [c.start for c in got] == list(np.cumsum([0] + [len(c.cumulants) for c in got[:-1]]))
            assert all(len(c.cumulants) <= size for c in got)
            for name in ("observations", "cumulants", "continuations", "returns", "returns_truncated"):
                assert np.array_equal(np.concatenate([getattr(c, name) for c in got]), getattr(whole, name)[idx]), (size, name)


def test_looped_pass_is_decoded_once_and_kept_read_only(tmp_path, monkeypatch):
    """A looped run keeps its decoded pass (when it fits LOOP_CACHE_BYTES): each storage block is read
    from the file once however many passes the run makes, the kept arrays cannot be written, and the
    steps equal those of a run without the cache."""
    from oscbench.datasets import format as fmt

    n = fmt._CHUNK_STEPS + 5_000
    path = generate_trace_patterning(tmp_path / "tp.h5", seed=2, n_steps=n, progress=False)
    reads: list[tuple[int, int]] = []
    real_read = fmt.DatasetFile.read

    def counting_read(self, start, stop):
        reads.append((start, stop))
        return real_read(self, start, stop)

    monkeypatch.setattr(fmt.DatasetFile, "read", counting_read)
    with DatasetFile(path, verify=False) as f:
        cached = list(f.chunks(4 * n, 7_000, loop=True))
        first = list(reads)
        assert len(set(first)) == len(first) and max(b for _, b in first) == n   # no block read twice in 4 passes
        assert not cached[-1].observations.flags.writeable
        with pytest.raises(ValueError):
            cached[0].returns[0] = 1.0
        reads.clear()
        monkeypatch.setattr(fmt, "LOOP_CACHE_BYTES", 0)
        plain = list(f.chunks(4 * n, 7_000, loop=True))
        assert sorted(reads) == sorted(4 * first) and plain[0].returns.flags.writeable   # every pass read again
    for name in ("observations", "cumulants", "continuations", "returns", "returns_truncated"):
        assert np.array_equal(np.concatenate([getattr(c, name) for c in cached]),
                              np.concatenate([getattr(c, name) for c in plain])), name


def test_assembled_observations_equal_a_direct_construction():
    """The single-pass assembly equals converting, scaling and concatenating each segment separately."""
    rng = np.random.default_rng(0)
    arrays = {"frames": rng.integers(0, 256, (500, 16, 16), dtype=np.uint8),
              "actions": rng.integers(-1, 18, 500).astype(np.int8),
              "rewards": rng.choice(np.array([-1, 0, 1], np.float32), 500)}
    layout = [{"array": "frames", "op": "scale", "scale": 1 / 255}, {"array": "actions", "op": "onehot", "width": 18},
              {"array": "rewards", "op": "scale", "scale": 1.0}]
    onehot = np.zeros((500, 18), np.float32)
    for i, a in enumerate(arrays["actions"]):
        if a >= 0:
            onehot[i, a] = 1
    direct = np.concatenate([arrays["frames"].reshape(500, -1).astype(np.float32) * np.float32(1 / 255), onehot,
                             arrays["rewards"].reshape(500, 1).astype(np.float32)], axis=1)
    got = assemble_observations(layout, arrays)
    assert got.dtype == np.float32 and got.shape == (500, 275)
    assert np.array_equal(got, direct)
