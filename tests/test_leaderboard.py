"""Leaderboard submissions: validation catches each problem (one line each), entries keep their date and
are never silently replaced, committed entries re-validate, and the CLI reports problems line by line."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from leaderboard_fixtures import make_record, make_records, write_records
from oscbench.cli import cli
from oscbench.leaderboard import entries as E
from oscbench.leaderboard.submissions import submit, validate_all
from oscbench.leaderboard.validation import ValidationFailed, check_entry, check_records

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def good() -> list[dict]:
    return make_records(3, 0.4, name="good")


def _problems(records: list[dict]) -> list[str]:
    return check_records(records)


def test_valid_records_have_no_problems(good: list[dict]) -> None:
    assert _problems(good) == []


def test_schema_failure_is_one_line(good: list[dict]) -> None:
    recs = copy.deepcopy(good)
    del recs[1]["timing"]
    recs[2]["steps"] = "many"
    probs = _problems(recs)
    assert len(probs) == 2, probs
    assert any(p.startswith("seed 1:") and "timing" in p for p in probs)
    assert any(p.startswith("seed 2:") and "steps" in p for p in probs)


@pytest.mark.parametrize("field, change, expect", [
    ("task", lambda r: r.update(make_record(seed=r["seed"], level=0.4, name="good", preset="short")),
     "the records mix presets"),
    ("hp", lambda r: r["learner"]["hyperparameters"].update(step_size=0.1), "the records mix hyper-parameters"),
    ("code", lambda r: (r["learner"].update(source_sha256="f" * 64),
                        r["provenance"].update(learner_source_sha256="f" * 64)), "the records mix code digests"),
    ("learner", lambda r: r["learner"].update(name="other"), "the records mix learners"),
])
def test_mixed_records_refused(good: list[dict], field: str, change, expect: str) -> None:
    recs = copy.deepcopy(good)
    change(recs[0])
    probs = _problems(recs)
    assert len(probs) == 1 and probs[0].startswith(expect), probs


def test_mixed_tasks_refused(good: list[dict]) -> None:
    atari = make_record(seed=0, level=0.4, name="good", task_id="atari-v1", game="Pong", preset="smoke")
    probs = _problems(copy.deepcopy(good) + [atari])
    assert len(probs) == 1 and probs[0].startswith("the records mix tasks: ") and "atari-v1" in probs[0], probs


def test_too_few_seeds_and_duplicates(good: list[dict]) -> None:
    probs = _problems(copy.deepcopy(good[:2]))
    assert probs == ["2 seeds but trace-patterning-v1 preset smoke needs 3; run more seeds"]
    probs = _problems(copy.deepcopy(good) + [copy.deepcopy(good[1])])
    assert probs == ["duplicate seeds: 1; give each seed's record once"]


def test_declared_flops_over_budget() -> None:
    probs = _problems(make_records(3, 0.4, name="big", flops=4401))
    assert len(probs) == 1, probs
    assert "seed 0, seed 1, seed 2" in probs[0] and "4401" in probs[0] and "4400" in probs[0]


def test_dataset_digest_must_match_recomputed_stream(good: list[dict]) -> None:
    recs = copy.deepcopy(good)
    recs[2]["dataset"]["sha256"] = "0" * 64
    probs = _problems(recs)
    assert len(probs) == 1 and probs[0].startswith("seed 2: dataset") and "000000000000…" in probs[0] \
        and "recomputed stream digest" in probs[0], probs
    # the stream of another seed is not this seed's stream
    recs = copy.deepcopy(good)
    recs[0]["dataset"] = copy.deepcopy(good[1]["dataset"])
    probs = _problems(recs)
    assert len(probs) == 1 and probs[0].startswith("seed 0: dataset.seed 1 is not the stream's 0"), probs


def test_recorded_dataset_digest_checked_against_the_registry() -> None:
    from oscbench.leaderboard.validation import registry_digest

    assert registry_digest("atari/Pong-v1")  # the registry lists each game's content digest
    recs = [make_record(seed=s, level=0.4, task_id="atari-v1", game="Pong", preset="smoke") for s in range(3)]
    assert check_records(recs) == []
    for r in recs:
        r["dataset"]["sha256"] = "f" * 64
    probs = check_records(recs)
    assert len(probs) == 1 and "does not match the registry" in probs[0], probs
    assert check_records(recs, check_data=False) == []


def test_failed_and_unaudited_runs_refused(good: list[dict]) -> None:
    recs = copy.deepcopy(good)
    recs[0].update(status="failed", metrics=None, curve=None,
                   failure={"step": 1234, "stage": "run", "message": "prediction is NaN", "log": None})
    recs[1]["audit"]["causality"] = "failed"
    probs = _problems(recs)
    assert len(probs) == 2, probs
    assert probs[0].startswith("seed 0: the run failed (run at step 1234: prediction is NaN)")
    assert probs[1].startswith("seed 1: the run is unaudited (causality 'failed'")


def test_tampered_record_refused(good: list[dict]) -> None:
    recs = copy.deepcopy(good)
    recs[1]["metrics"]["final_error"] *= 0.5  # a better score than the curve and the variance support
    probs = _problems(recs)
    assert probs and all(p.startswith("seed 1: metrics.") for p in probs), probs
    assert any("nmse" in p for p in probs) and any("curve" in p for p in probs)


def test_several_problems_one_line_each(good: list[dict]) -> None:
    recs = copy.deepcopy(good)
    recs[0]["audit"]["determinism"] = "not run"
    del recs[2]["curve"]
    probs = _problems(recs)
    assert len(probs) == 2 and all("\n" not in p for p in probs)


# -- submit ---------------------------------------------------------------------------------------
def test_submit_writes_entry_and_refuses_silent_replacement(tmp_path: Path, good: list[dict]) -> None:
    paths = write_records(copy.deepcopy(good), tmp_path / "runs")
    root = tmp_path / "lb"
    res = submit(paths, name="My Learner", authors=["Ada"], url="https://example.org", root=root, today="2025-01-02",
                 command="oscbench evaluate x.py --preset smoke")
    assert res.path == root / "submissions/trace-patterning-v1/smoke/my-learner.json"
    entry = E.read_entry(res.path)
    assert entry["submitted"] == "2025-01-02" and entry["superseded"] is None
    assert [r["seed"] for r in entry["records"]] == [0, 1, 2]
    assert check_entry(entry, res.path) == []

    before = res.path.read_bytes()
    with pytest.raises(Exception, match="already exists .*--supersede"):
        submit(paths, name="my learner", root=root, today="2025-02-03")  # same file name: refused
    assert res.path.read_bytes() == before

    better = write_records(make_records(3, 0.3, name="good"), tmp_path / "runs2")
    res2 = submit(better, name="My Learner", root=root, today="2025-03-04", supersede=True)
    old = E.read_entry(res2.superseded)
    assert res2.superseded.name == "my-learner.superseded-1.json"
    assert old["submitted"] == "2025-01-02" and old["superseded"] == {"date": "2025-03-04", "by": "my-learner.json"}
    assert old["records"] == entry["records"]
    assert E.read_entry(res2.path)["submitted"] == "2025-03-04"
    reports = validate_all(root)
    assert [r.path.name for r in reports] == ["my-learner.json", "my-learner.superseded-1.json"]
    assert all(r.ok for r in reports), [r.problems for r in reports]


def test_submit_refuses_bad_metadata_and_writes_nothing(tmp_path: Path, good: list[dict]) -> None:
    paths = write_records(copy.deepcopy(good), tmp_path / "runs")
    with pytest.raises(ValidationFailed) as err:
        submit(paths, name="!!!", url="javascript:alert(1)", root=tmp_path / "lb")
    assert len(err.value.problems) == 2
    assert not (tmp_path / "lb").exists()


def test_tampered_entry_aggregate_detected(tmp_path: Path, good: list[dict]) -> None:
    paths = write_records(copy.deepcopy(good), tmp_path / "runs")
    res = submit(paths, name="tamper", root=tmp_path / "lb", today="2025-01-02")
    entry = json.loads(res.path.read_text())
    entry["aggregate"]["games"][""]["nmse"]["mean"] *= 0.9
    res.path.write_text(E.dumps(entry))
    (report,) = validate_all(tmp_path / "lb")
    assert len(report.problems) == 1
    assert report.problems[0].startswith('aggregate.games..nmse.mean is ') and "tampered" in report.problems[0]
    # a per-seed figure changed in the entry is caught by the record checks
    entry = json.loads(res.path.read_text())
    entry["aggregate"]["games"][""]["nmse"]["mean"] /= 0.9
    entry["records"][0]["metrics"]["nmse"] = 0.01
    res.path.write_text(E.dumps(entry))
    (report,) = validate_all(tmp_path / "lb")
    assert report.problems and report.problems[0].startswith("seed 0: metrics.nmse is 0.01")


def test_entry_moved_or_renamed_is_caught(tmp_path: Path, good: list[dict]) -> None:
    paths = write_records(copy.deepcopy(good), tmp_path / "runs")
    res = submit(paths, name="mover", root=tmp_path / "lb", today="2025-01-02")
    moved = res.path.with_name("someone-else.json")
    res.path.rename(moved)
    (report,) = validate_all(tmp_path / "lb")
    assert report.problems == ["file name someone-else.json does not match slug 'mover'"]


# -- CLI ------------------------------------------------------------------------------------------
def test_cli_submit_prints_one_error_line_per_problem(tmp_path: Path, good: list[dict]) -> None:
    recs = copy.deepcopy(good[:2])
    recs[0]["audit"]["causality"] = "not run"
    paths = write_records(recs, tmp_path / "runs")
    out = CliRunner().invoke(cli, ["submit", str(tmp_path / "runs"), "--name", "x", "--root", str(tmp_path / "lb")])
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines() if hasattr(out, "stderr") else out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "unaudited" in lines[0]
    assert len(paths) == 2 and not (tmp_path / "lb").exists()


def test_cli_submit_show_build_validate(tmp_path: Path, good: list[dict]) -> None:
    write_records(copy.deepcopy(good), tmp_path / "runs")
    root = str(tmp_path / "lb")
    r = CliRunner().invoke(cli, ["submit", str(tmp_path / "runs"), "--name", "Cli Entry", "--authors", "A",
                                 "--authors", "B", "--root", root])
    assert r.exit_code == 0, r.output
    again = CliRunner().invoke(cli, ["submit", str(tmp_path / "runs"), "--name", "Cli Entry", "--root", root])
    assert again.exit_code == 2 and "error: an entry named 'Cli Entry' already exists" in again.output
    show = CliRunner().invoke(cli, ["leaderboard", "show", "--json", "--root", root])
    assert show.exit_code == 0
    (board,) = json.loads(show.output)
    assert board["task"] == "trace-patterning-v1" and board["rows"][0]["authors"] == ["A", "B"]
    text = CliRunner().invoke(cli, ["leaderboard", "show", "--root", root, "--task", "trace-patterning-v1"])
    assert "Cli Entry" in text.output and "leader" in text.output
    assert CliRunner().invoke(cli, ["leaderboard", "build", "--root", root]).exit_code == 0
    assert (tmp_path / "lb/site/index.html").exists() and (tmp_path / "lb/README.md").exists()
    v = CliRunner().invoke(cli, ["leaderboard", "validate", "--root", root])
    assert v.exit_code == 0 and "1 of 1 entries valid" in v.output


def test_committed_entries_validate() -> None:
    """`oscbench leaderboard validate` on the repository's own leaderboard/ (the reference entries)."""
    out = CliRunner().invoke(cli, ["leaderboard", "validate", "--json", "--root", str(REPO / "leaderboard")])
    reports = json.loads(out.stdout)
    assert out.exit_code == 0 and all(r["ok"] for r in reports), [r for r in reports if not r["ok"]]
    for r in reports:  # every committed entry says how its records were produced
        assert E.read_entry(Path(r["file"]))["command"], r["file"]


def test_aggregate_comparison_tolerates_only_bootstrap_noise(good: list[dict]) -> None:
    from oscbench.leaderboard.aggregate import aggregate, compare

    fresh = aggregate(good)
    nmse = fresh["games"][""]["nmse"]
    width = nmse["ci_high"] - nmse["ci_low"]
    stored = copy.deepcopy(fresh)
    stored["games"][""]["nmse"]["ci_low"] -= 0.05 * width  # another scipy's resampling: accepted
    stored["games"][""]["curve"]["ci_high"][3] += 0.05 * (fresh["games"][""]["curve"]["ci_high"][3]
                                                          - fresh["games"][""]["curve"]["ci_low"][3])
    assert compare(stored, fresh) == []
    stored["games"][""]["nmse"]["ci_high"] -= 0.3 * width  # a narrowed interval: caught
    stored["games"][""]["nmse"]["mean"] *= 1 + 1e-6  # a nudged mean: caught
    assert [p.split(" is ")[0] for p in compare(stored, fresh)] == ["aggregate.games..nmse.ci_high",
                                                                    "aggregate.games..nmse.mean"]


def test_committed_site_is_up_to_date(tmp_path: Path) -> None:
    """leaderboard/README.md and leaderboard/site/ are what `oscbench leaderboard build` makes of the
    committed entries (plots compared by name: their bytes depend on the matplotlib version)."""
    import shutil

    from oscbench.leaderboard.site import build

    lb, fresh = REPO / "leaderboard", tmp_path / "lb"
    shutil.copytree(lb / "submissions", fresh / "submissions")
    shutil.copy(lb / "README.md", fresh / "README.md")
    build(fresh)
    for rel in ("README.md", "site/index.html", "site/boards.json", "site/assets/leaderboard.js",
                "site/assets/leaderboard.css"):
        assert (fresh / rel).read_bytes() == (lb / rel).read_bytes(), \
            f"leaderboard/{rel} is stale; run `oscbench leaderboard build` and commit the result"
    names = lambda d: sorted(p.name for p in (d / "site/plots").glob("*.svg"))  # noqa: E731
    assert names(fresh) == names(lb)


def test_show_refuses_an_unknown_task_but_not_an_empty_one(tmp_path) -> None:
    from click.testing import CliRunner

    from oscbench.cli import cli

    r = CliRunner().invoke(cli, ["leaderboard", "show", "--task", "nope-v1", "--root", str(tmp_path)])
    assert r.exit_code == 2 and "unknown task 'nope-v1'" in r.output
    r = CliRunner().invoke(cli, ["leaderboard", "show", "--task", "atari-v1/Pong", "--root", str(tmp_path)])
    assert r.exit_code == 0 and "no entries for atari-v1/Pong" in r.output
