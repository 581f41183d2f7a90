"""Result records: the shipped schema, validation of real records, and tampering caught."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from oscbench.benchmark import records
from oscbench.benchmark.evaluator import evaluate
from oscbench.benchmark.records import validate_record

LEARNERS = Path(__file__).with_name("eval_learners.py")


@pytest.fixture(scope="module")
def real_records(tmp_path_factory):
    out = tmp_path_factory.mktemp("records")
    ok = evaluate(f"{LEARNERS}:linear_td", seeds=[0, 1], n_steps=5000, out_dir=out, progress=False)
    bad = evaluate(f"{LEARNERS}:faulty", seeds=[1], n_steps=5000, hyperparameters={"at": 3500}, out_dir=out,
                   progress=False)
    return out, ok.records, bad.records[0]


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(records.schema())
    assert records.schema()["properties"]["schema_version"]["enum"] == list(records.READABLE_SCHEMA_VERSIONS)
    assert records.SCHEMA_VERSION == max(records.READABLE_SCHEMA_VERSIONS)


def test_real_records_validate(real_records):
    out, ok, bad = real_records
    for r in ok + [bad]:
        rep = validate_record(r)
        assert rep.ok, rep.errors
    assert bad["status"] == "failed" and bad["failure"]["log"].endswith(".log")
    for path in out.glob("*.json"):
        assert validate_record(path).ok
    # contract fields the leaderboard reads
    r = ok[0]
    assert set(r["task"]) >= {"id", "version", "preset", "budget_flops", "gamma", "target"}
    assert set(r["learner"]) >= {"spec", "name", "hyperparameters", "flops_per_step", "source_sha256"}
    assert set(r["provenance"]) >= {"oscbench_version", "git_commit", "python", "numpy", "numba", "platform",
                                    "learner_source_sha256"}


def _tampered(rec, path, value):
    r = copy.deepcopy(rec)
    *head, last = path
    d = r
    for k in head:
        d = d[k]
    if value is KeyError:
        del d[last]
    else:
        d[last] = value
    return r


@pytest.mark.parametrize("path,value,expect", [
    (("metrics", "final_error"), 0.001, "nmse"),
    (("metrics", "nmse"), 0.5, "metrics.nmse"),
    (("metrics", "lifetime_error"), 0.123, "lifetime_error"),
    (("timing", "steps_per_cpu_second"), 1e9, "steps_per_cpu_second"),
    (("learner", "flops_per_step"), 5000, "exceeds task.budget_flops"),
    (("task", "budget_flops"), 10**6, "task.budget_flops"),
    (("task", "gamma"), 0.5, "task.gamma"),
    (("metrics", "relative_error"), 1.0, "relative_error"),
    (("learner", "source_sha256"), "0" * 64, "source_sha256"),
    (("metrics", "window_steps"), 4000, "window_steps"),
    (("status",), "great", "status"),
    (("schema_version",), 3, "schema_version"),
    (("metrics", "final_error"), -1.0, "final_error"),
    (("metrics",), KeyError, "metrics"),
    (("extra_field",), 1, "extra_field"),
    (("failure",), {"step": 3, "message": "x", "log": None}, "failure"),
])
def test_tampered_record_fails(real_records, path, value, expect):
    rec = real_records[1][0]
    rep = validate_record(_tampered(rec, path, value))
    assert not rep.ok
    assert any(expect in e for e in rep.errors), rep.errors


def test_curve_tampering_fails(real_records):
    rec = copy.deepcopy(real_records[1][0])
    rec["curve"]["mse"][3] += 0.01
    assert not validate_record(rec).ok
    rec = copy.deepcopy(real_records[1][0])
    rec["curve"]["mse"].pop()
    assert any("bins" in e for e in validate_record(rec).errors)


def test_failed_record_must_say_why(real_records):
    bad = real_records[2]
    assert not validate_record(_tampered(bad, ("failure",), None)).ok
    ok = real_records[1][0]
    assert not validate_record(_tampered(ok, ("audit", "causality"), "failed")).ok


def test_validate_files_report_unreadable_input(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    rep = validate_record(tmp_path / "x.json")
    assert not rep.ok and "not valid JSON" in rep.errors[0]
    rep = validate_record(tmp_path / "missing.json")
    assert not rep.ok and "no result record" in rep.errors[0]
    (tmp_path / "list.json").write_text("[]")
    assert "not a result record" in validate_record(tmp_path / "list.json").errors[0]


def test_write_is_atomic_and_round_trips(tmp_path, real_records):
    rec = real_records[1][0]
    p = records.write_record(rec, tmp_path)
    assert p.name == records.record_stem(rec) + ".json"
    assert json.loads(p.read_text()) == rec
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".partial")]
    assert records.load_records([tmp_path]) == [rec]
    nan = copy.deepcopy(rec)
    nan["metrics"]["final_error"] = float("nan")
    with pytest.raises(ValueError):
        records.write_record(nan, tmp_path / "sub")
    assert not (tmp_path / "sub").exists() or not list((tmp_path / "sub").iterdir())
