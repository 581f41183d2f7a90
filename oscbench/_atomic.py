"""Atomic file output: write to a temporary name in the same directory, then rename.

An interrupted or failed write (exception, Ctrl-C, killed process) never leaves a file under the
final name; at worst a ``.<name>.<pid>.partial`` file remains, which readers ignore.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from oscbench.errors import OscbenchError

PARTIAL_SUFFIX = ".partial"


def check_writable(path: Path, *, overwrite: bool) -> Path:
    """Resolve ``path`` and refuse early (before any work) if it cannot or must not be written."""
    path = Path(path).expanduser()
    if path.exists() and path.is_dir():
        raise OscbenchError(f"{path} is a directory; give a file name with -o/--output.")
    if path.exists() and not overwrite:
        raise OscbenchError(f"{path} already exists; pass --overwrite to replace it or choose another -o path.")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OscbenchError(f"cannot create directory {parent}: {exc.strerror}; choose a writable -o path.") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OscbenchError(f"directory {parent} is not writable; choose a writable -o path.")
    return path


@contextlib.contextmanager
def atomic_path(path: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = check_writable(Path(path), overwrite=overwrite)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        yield tmp
        if path.exists() and not overwrite:  # appeared while we worked
            raise OscbenchError(f"{path} appeared while writing; pass --overwrite to replace it.")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_failed(path: Path, err: OSError) -> OscbenchError:
    """The one-line error for a write to ``path`` that failed (full disk, file-size limit, I/O error)."""
    return OscbenchError(f"cannot write {err.filename or path}: {err.strerror or err}; nothing was written there "
                         "-- free some space or choose another location.")


def write_bytes_atomic(path: Path, data: bytes | memoryview, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (used for JSON records, pages, dataset files, ...).

    On a full disk (or any failed write) raises :func:`write_failed`'s one-line error; the temporary file
    is removed, so neither a ``.partial`` nor a half-written file remains."""
    try:
        with atomic_path(Path(path), overwrite=overwrite) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as err:
        raise write_failed(Path(path), err) from None
    return Path(path)


def write_text_atomic(path: Path, text: str, *, overwrite: bool = True) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)
