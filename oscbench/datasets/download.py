"""Verified downloads: HTTP(S) with retries, a progress bar, a temporary file and a sha256 check.

:func:`fetch` puts ``source`` at ``dest`` only if its sha256 is the expected one; otherwise nothing is
left behind (the bytes go to a temporary name in the same directory first). A file already at ``dest``
with the right digest is not fetched again.

Sources: ``http://``/``https://`` URLs, ``file://`` URLs and local paths. A *mirror* replaces the
upstream base (the directory part of the upstream URL): ``--mirror URL_OR_DIR`` or ``$OSCBENCH_MIRROR``,
e.g. an internal web server or a shared directory on an offline cluster holding the same file names.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from oscbench._hashing import sha256_file
from oscbench._version import __version__
from oscbench._atomic import atomic_path
from oscbench.errors import ConfigError, DataError

ENV_MIRROR = "OSCBENCH_MIRROR"
_BLOCK = 1 << 16
_RETRY_HTTP = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Fetched:
    """Result of :func:`fetch`: where the file is, whether it was transferred now, and from where."""

    path: Path
    fetched: bool
    source: str


def _is_url(s: str) -> bool:
    return urllib.parse.urlparse(s).scheme in ("http", "https", "file")


def resolve_source(filename: str, upstream_base: str, mirror: str | os.PathLike[str] | None = None) -> str:
    """URL or path of ``filename``: under ``mirror`` (or ``$OSCBENCH_MIRROR``) if set, else ``upstream_base``."""
    base = str(mirror) if mirror not in (None, "") else (os.environ.get(ENV_MIRROR) or upstream_base)
    if _is_url(base):
        return base.rstrip("/") + "/" + urllib.parse.quote(filename)
    root = Path(base).expanduser()
    if not root.is_dir():
        raise ConfigError(f"mirror {base!r} is neither an http(s)/file URL nor an existing directory; "
                          f"fix --mirror or ${ENV_MIRROR}.")
    return str(root / filename)


class _Truncated(Exception):
    pass


def _copy_stream(src, fh, bar, length: int | None) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    while True:
        block = src.read(_BLOCK)
        if not block:
            break
        fh.write(block)
        h.update(block)
        n += len(block)
        bar.update(len(block))
    if length is not None and n < length:
        raise _Truncated(f"connection closed after {n:,} of {length:,} bytes")
    return h.hexdigest(), n


def _transfer(source: str, tmp: Path, *, size: int | None, timeout: float, progress: bool) -> tuple[str, int]:
    """One attempt: copy ``source`` into ``tmp``; return (sha256, bytes)."""
    name = source.rsplit("/", 1)[-1]
    with open(tmp, "wb") as fh:
        if not _is_url(source) or source.startswith("file:"):
            path = Path(urllib.request.url2pathname(urllib.parse.urlparse(source).path)) if source.startswith("file:") \
                else Path(source)
            if not path.is_file():
                raise DataError(f"{path} does not exist; check the mirror directory (--mirror / ${ENV_MIRROR}).")
            with open(path, "rb") as src, tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=name,
                                               disable=not progress, leave=False) as bar:
                return _copy_stream(src, fh, bar, None)
        req = urllib.request.Request(source, headers={"User-Agent": f"oscbench/{__version__}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http/https only here)
            length = resp.length
            with tqdm(total=length or size, unit="B", unit_scale=True, desc=name, disable=not progress,
                      leave=False) as bar:
                return _copy_stream(resp, fh, bar, length)


def fetch(source: str, dest: str | os.PathLike[str], *, sha256: str, size: int | None = None,
          retries: int = 3, timeout: float = 30.0, backoff: float = 1.0, progress: bool = True) -> Fetched:
    """Download (or copy) ``source`` to ``dest`` and check its sha256.

    ``size`` (the expected byte count), if given, tells a truncated transfer (retried) from a corrupt
    file (refused) when the server sends no Content-Length.

    Transient failures (connection errors, timeouts, truncated transfers, HTTP 408/429/5xx) are retried
    ``retries`` times with exponential backoff (``backoff`` · 2^k seconds). A wrong digest, a 404 and
    other client errors are not. Raises :class:`~oscbench.errors.DataError` (one line, naming the expected
    and actual digest on a mismatch); ``dest`` is then left as it was.
    """
    dest = Path(dest).expanduser()
    sha256 = sha256.lower()
    if dest.is_file() and sha256_file(dest) == sha256:
        return Fetched(dest, False, source)
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with atomic_path(dest, overwrite=True) as tmp:
                digest, n = _transfer(source, tmp, size=size, timeout=timeout, progress=progress)
                if digest != sha256:
                    if size is not None and n < size and _is_url(source) and not source.startswith("file:"):
                        raise _Truncated(f"got {n:,} of {size:,} bytes")
                    raise DataError(f"{source} has sha256 {digest} but {sha256} was expected ({n:,} bytes); "
                                    "the file is corrupt or changed upstream and was not kept -- try another "
                                    f"mirror (--mirror / ${ENV_MIRROR}).")
            return Fetched(dest, True, source)
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code} {err.reason}"
            if err.code not in _RETRY_HTTP:
                raise DataError(f"{source} returned {last}; check the dataset id, or the mirror "
                                f"(--mirror / ${ENV_MIRROR}) holds no such file.") from None
        except urllib.error.URLError as err:
            last = str(err.reason)
        except (_Truncated, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as err:
            last = f"{type(err).__name__}: {err}" if not isinstance(err, _Truncated) else str(err)
        except OSError as err:
            raise DataError(f"cannot write {dest}: {err.strerror or err}; choose a writable data dir "
                            "($OSCBENCH_DATA).") from None
    raise DataError(f"download of {source} failed after {retries + 1} attempts ({' '.join(last.split())}); check "
                    f"the network or use a mirror (--mirror / ${ENV_MIRROR}).")
