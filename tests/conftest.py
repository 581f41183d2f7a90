"""Shared test fixtures."""
from __future__ import annotations

import os
import signal
import subprocess
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


def _sigint_at_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_to_interrupt(args, *, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """Start a process a test will send SIGINT (Ctrl-C) to, as from a terminal and diagnosable.

    SIGINT is at its default disposition: a shell starts background jobs (``make test &``, a CI script
    run with ``&``) with SIGINT ignored, the ignoring is inherited, and a Python started so installs no
    KeyboardInterrupt handler -- the process would never see the test's Ctrl-C. The fault handler is on
    (:func:`faulthandler_env`) so :func:`communicate_or_dump` can show where a hung process waits.
    stdout and stderr are pipes unless ``kwargs`` say otherwise.
    """
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(args, env=faulthandler_env(env), preexec_fn=_sigint_at_default, **kwargs)


def communicate_or_dump(proc, timeout: float, *, group: bool = False):
    """``proc.communicate(timeout=)``; when it times out, SIGABRT the process (``group``: its process
    group) so the fault handler prints where each thread waits, and fail with that in the message."""
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
