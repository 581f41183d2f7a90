"""User-facing errors.

Every problem a user can fix (bad arguments, unknown ids, corrupt files, checksum mismatches, budgets
exceeded, ...) is raised as an :class:`OscbenchError` whose message is one line that names the problem
and the fix. The CLI prints it without a traceback and exits with :attr:`OscbenchError.exit_code`.
"""
from __future__ import annotations


class OscbenchError(Exception):
    """A problem the user can fix; ``str(err)`` is a one-line message naming problem and fix."""

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line
        if exit_code is not None:
            self.exit_code = exit_code


class DataError(OscbenchError):
    """A dataset file is missing, corrupt, truncated, of an unknown version, or fails its digest."""


class ConfigError(OscbenchError):
    """Invalid parameters, hyper-parameters, ids or names."""
