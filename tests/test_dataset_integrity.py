"""Tamper-evident datasets (issue 9 item 1): the content digest binds the root attributes, the
observation layout comes from the dataset kind in code, and a relabelled seed is refused.

Each attack edits a real file the way a dishonest user would (h5py ``r+``), including recomputing the
stored digests, and must be refused with one line naming the attribute by ``datasets info``,
``datasets verify``, ``evaluate --dataset`` and the Python API.
"""
from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from atari_fixtures import policy_file
from oscbench.cli import cli
from oscbench.datasets import kinds
from oscbench.datasets.format import DatasetFile, bound_attrs, bound_digest, decode_attrs
from oscbench.datasets.generate import generate_trace_patterning
from oscbench.errors import DataError



@pytest.fixture(scope="module")
def trace5(tmp_path_factory):
    return generate_trace_patterning(tmp_path_factory.mktemp("tp") / "seed5.h5", seed=5, n_steps=70_000,
                                     progress=False)


@pytest.fixture(scope="module")
def pong(tmp_path_factory):
    """A short replay of the real Pong log under its registry id (registry facts apply to it)."""
    from oscbench.datasets.atari.dataset import write_replay
    from oscbench.datasets.atari.generate import replay_policy

    rep, digest, name = replay_policy("atari/Pong-v1", policy_file("Pong"), n_steps=3000)
    return write_replay(rep, tmp_path_factory.mktemp("atari") / "Pong-v1.h5", dataset_id="atari/Pong-v1",
                        policy_file=name, policy_sha256=digest)


def _forge(src, dst, edit, *, redigest=True):
    """Copy ``src`` to ``dst``, apply ``edit(attrs)`` and (like a careful forger) recompute the digest."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f.attrs)
        if redigest:
            spec = kinds.get(str(f.attrs["kind"]))
            d = decode_attrs(f.attrs, kinds.COMMON_JSON_ATTRS | spec.json_attrs)
            f.attrs["content_sha256"] = bound_digest(str(f.attrs["arrays_sha256"]), bound_attrs(d, spec.provenance))
    return dst


def _leak(array):
    def edit(attrs):
        layout = json.loads(attrs["observation_layout"])
        layout.append({"array": array, "op": "scale", "scale": 1.0})
        attrs["observation_layout"] = json.dumps(layout)
        attrs["n_features"] = int(attrs["n_features"]) + 1
    return edit


def _refused_everywhere(path, evaluate_args, must_name):
    """One-line refusal naming ``must_name`` from info, verify, evaluate --dataset and the API."""
    with pytest.raises(DataError, match=must_name):
        DatasetFile(path)
    runner = CliRunner()
    for args in (["datasets", "info", str(path)], ["datasets", "verify", str(path)],
                 ["evaluate", "hybrid", *evaluate_args, "--dataset", str(path), "--steps", "3000", "--seeds", "0"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 2, (args, res.output)
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and must_name in lines[0], (args, res.output)
        assert "Traceback" not in res.output


def test_trace_layout_leaking_the_target_is_refused(trace5, tmp_path):
    for array in ("returns_truncated", "returns"):
        bad = _forge(trace5, tmp_path / f"leak-{array}.h5", _leak(array))
        _refused_everywhere(bad, ["--task", "trace-patterning-v1", "--seeds", "5"], "'observation_layout'")


def test_pong_layout_leaking_the_returns_is_refused(pong, tmp_path):
    bad = _forge(pong, tmp_path / "Pong-v1.h5", _leak("returns"))
    _refused_everywhere(bad, ["--task", "atari-v1/Pong"], "'observation_layout'")


def test_the_reader_never_takes_the_layout_from_the_file(trace5):
    """Observations of an honest file are exactly the stored observation bits: no scoring array reaches them."""
    with DatasetFile(trace5) as ds:
        assert ds.layout == [{"array": "observations", "op": "scale", "scale": 1.0}]
        chunk = ds.read(0, 1000)
        np.testing.assert_array_equal(chunk.observations, ds.array("observations", 0, 1000).astype(np.float32))
    with pytest.raises(ValueError, match="scoring arrays"):
        kinds.KindSpec("evil", "x", layout=lambda p: [], sources=frozenset({"returns"}), canonical=lambda a: {})


def test_relabelled_seed_is_refused(trace5, tmp_path):
    forged = _forge(trace5, tmp_path / "relabelled.h5", lambda a: a.__setitem__("seed", 0))
    _refused_everywhere(forged, ["--task", "trace-patterning-v1"], "'seed'")
    # without recomputing the digest the cheap open (verify=False) refuses it too
    naive = _forge(trace5, tmp_path / "naive.h5", lambda a: a.__setitem__("seed", 0), redigest=False)
    with pytest.raises(DataError, match="'seed'"):
        DatasetFile(naive, verify=False)


@pytest.mark.parametrize("attr,value", [("gamma", 0.5), ("n_features", 13), ("dataset_id", "trace-patterning/x-v1"),
                                        ("kind", "atari"), ("params", json.dumps({"isi": [1, 2]}))])
def test_edited_trace_attributes_are_refused_naming_them(trace5, tmp_path, attr, value):
    forged = _forge(trace5, tmp_path / "edited.h5", lambda a: a.__setitem__(attr, value), redigest=False)
    with pytest.raises(DataError) as err:
        DatasetFile(forged)
    msg = str(err.value)
    assert "\n" not in msg
    # an edited kind makes it an Atari file that lacks Atari's attributes/arrays; others name themselves
    assert f"'{attr}'" in msg or attr == "kind", msg


def test_edited_pong_attributes_are_refused_naming_them(pong, tmp_path):
    for attr, value in (("gamma", 0.99), ("game", "Breakout"), ("rom_md5", "0" * 32), ("seed", 3)):
        forged = _forge(pong, tmp_path / f"{attr}.h5", lambda a, attr=attr, value=value: a.__setitem__(attr, value))
        with pytest.raises(DataError, match=f"'{attr}'"):
            DatasetFile(forged)


def test_registry_digest_binds_the_attributes_and_is_computable_without_the_file(pong):
    """The registry's content digest is sha256 over the array digest and the code-derived attributes:
    computing it from this file's array digest gives the file's own content digest."""
    from oscbench.datasets.atari.dataset import registry_content_digest

    with DatasetFile(pong) as ds:
        assert registry_content_digest("Pong", ds.arrays_sha256, ds.n_steps) == ds.content_sha256
        assert ds.content_sha256 != ds.arrays_sha256


def test_version_1_files_still_open_with_the_same_content_digest(trace5, tmp_path):
    """Files written before the attributes were bound (format 1: content_sha256 = array digest) open."""
    old = tmp_path / "v1.h5"
    shutil.copy(trace5, old)
    with h5py.File(old, "r+") as f:
        f.attrs["oscbench_format"] = 1
        f.attrs["content_sha256"] = f.attrs["arrays_sha256"]
        del f.attrs["arrays_sha256"]
    with DatasetFile(trace5) as new, DatasetFile(old) as v1:
        assert v1.content_sha256 == new.content_sha256
    with h5py.File(old, "r+") as f:   # and a version-1 file is still checked against the code
        f.attrs["observation_layout"] = json.dumps([{"array": "returns", "op": "scale", "scale": 1.0}])
    with pytest.raises(DataError, match="'observation_layout'"):
        DatasetFile(old)


def test_registry_content_digests_are_those_the_code_derives():
    """Every game's registry content digest is the one the code's canonical attributes give for its
    array digest (fails when an attribute the code derives changes without `maintain.rebind_registry`)."""
    from oscbench.datasets.atari import games as G
    from oscbench.datasets.atari.dataset import registry_content_digest

    reg = G.registry_data()["games"]
    assert len(reg) == 58
    for game, facts in reg.items():
        want = registry_content_digest(game, facts["arrays_sha256"], facts["fingerprint"]["n_steps"])
        assert facts["content_sha256"] == want, game


def test_arrays_rewritten_late_with_recomputed_digests_are_refused(trace5, tmp_path):
    """Leaking the target through the observation bits after the first block, with every digest
    recomputed, is caught: verification regenerates the whole stream from params and seed."""
    import hashlib

    from oscbench.datasets.format import _combine

    forged = tmp_path / "late.h5"
    shutil.copy(trace5, forged)
    with h5py.File(forged, "r+") as f:
        obs = f["observations"][()]
        obs[66_000:, -1] = (f["returns_truncated"][66_000:] > 0.5).astype(np.uint8)   # a distractor bit = target
        f["observations"][...] = obs
        entries = {}
        for name in f.keys():
            a = np.ascontiguousarray(f[name][()])
            d = hashlib.sha256(a.tobytes()).hexdigest()
            f[name].attrs["sha256"] = d
            entries[name] = (a.dtype.str, a.shape, d)
        f.attrs["arrays_sha256"] = _combine(entries)
        d = decode_attrs(f.attrs, kinds.COMMON_JSON_ATTRS)
        f.attrs["content_sha256"] = bound_digest(str(f.attrs["arrays_sha256"]), bound_attrs(d))
    DatasetFile(forged, verify=False).close()   # every digest is consistent ...
    with pytest.raises(DataError, match=r"'observations' array differs at step 66,0\d\d"):   # ... the stream is not
        DatasetFile(forged)
