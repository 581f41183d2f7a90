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


# -- Ctrl-C tests ------------------------------------------------------------------------------------
def faulthandler_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a subprocess a test may have to diagnose: Python's fault handler on, so
    :func:`communicate_or_dump` can make a hung process print every thread's stack (SIGABRT)."""
    return dict(os.environ if env is None else env, PYTHONFAULTHANDLER="1")


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn`` for a process a test sends SIGINT (Ctrl-C) to: SIGINT at its default disposition.
    A shell starts background jobs (``make test &``, a CI script run with ``&``) with SIGINT ignored, the
    ignoring is inherited, and a Python started so installs no KeyboardInterrupt handler: the process
    would never see the test's Ctrl-C."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def communicate_or_dump(proc, timeout: float, *, group: bool = False):
    """``proc.communicate(timeout=)``; when it times out, SIGABRT the process (``group``: its process
    group) so the fault handler prints where each thread waits, and fail with that in the message."""
    import signal
    import subprocess

    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            if group:
                os.killpg(proc.pid, signal.SIGABRT)
            else:
                proc.send_signal(signal.SIGABRT)
            out, err = proc.communicate(timeout=30)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            proc.kill()
            out, err = proc.communicate()
        err = err.decode(errors="replace") if isinstance(err, bytes) else (err or "")
        pytest.fail(f"the process did not exit within {timeout:g} s; its threads' stacks:\n{err[-20_000:]}")
