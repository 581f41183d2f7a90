"""Shared test fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


# The user's mirror of the upstream Atari logs, read before the fixture below hides it from each test.
USER_MIRROR = os.environ.get("OSCBENCH_MIRROR") or None


def shared_dir() -> Path:
    """``../shared`` beside the checkout, or ``$OSCBENCH_SHARED`` (e.g. ``/nonexistent`` to test a lone clone).

    Tests may use it only as a mirror of what users download (see ``atari_fixtures.policy_file``).
    """
    env = os.environ.get("OSCBENCH_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own empty $OSCBENCH_DATA (never the user's data dir)."""
    monkeypatch.setenv("OSCBENCH_DATA", str(tmp_path_factory.mktemp("oscbench-data")))
    monkeypatch.delenv("OSCBENCH_MIRROR", raising=False)
