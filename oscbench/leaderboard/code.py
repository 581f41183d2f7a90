"""A leaderboard entry's learner code: a deterministic archive stored next to the entry.

``oscbench submit --code PATH`` stores the learner's Python sources as ``<entry stem>.code.tar.gz``
beside ``<entry stem>.json`` and describes them in the entry's ``code`` field::

    archive         file name of the archive (in the entry's folder)
    sha256          sha256 of the archive's bytes
    source_sha256   the learner's source digest, as records carry it (learner.source_sha256):
                    a file's sha256, or a package's digest (oscbench.benchmark.loading.package_sha256)
    kind            "file" (one module) or "package" (a directory with __init__.py)
    root            the archive's top-level member: the file name, or the package directory's name
    requirements    Python dependencies the learner declares (PEP 508 strings), installed by the
                    leaderboard workflow before verification; [] for none

The archive holds exactly the files the source digest covers (``*.py``; no ``__pycache__``, no
hidden directories; the reference baselines without their speed and sweep modules), under ``root``,
as a gzip-compressed POSIX tar with sorted names, mtime 0, uid/gid 0, no user/group names and mode
0644: the same code always gives the same bytes. Symbolic links are refused (they could point
anywhere on the submitter's disk). Extraction refuses absolute names, ``..``, links and anything
but regular files, and recomputes the source digest.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from oscbench.benchmark.loading import code_sha256, package_files
from oscbench.errors import ConfigError, DataError

ARCHIVE_SUFFIX = ".code.tar.gz"
MAX_CODE_BYTES = 5 * 1024 * 1024   # uncompressed: learner sources, not data
MAX_FILES = 500
MAX_REQUIREMENTS = 20
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?\s*([<>=!~]=?\s*[A-Za-z0-9.*+!-]+"
                          r"(\s*,\s*[<>=!~]=?\s*[A-Za-z0-9.*+!-]+)*)?$")
CODE_KEYS = {"archive", "sha256", "source_sha256", "kind", "root", "requirements"}


@dataclass(frozen=True)
class CodeArchive:
    """An archive built from learner code (:func:`build_archive`)."""

    data: bytes
    sha256: str
    source_sha256: str
    kind: str        # "file" | "package"
    root: str

    def field(self, archive_name: str, requirements: Sequence[str] = ()) -> dict[str, Any]:
        """The entry's ``code`` field for this archive stored as ``archive_name``."""
        return {"archive": archive_name, "sha256": self.sha256, "source_sha256": self.source_sha256,
                "kind": self.kind, "root": self.root, "requirements": list(requirements)}


def archive_name(entry_file_name: str) -> str:
    """``t-bptt-reference.json`` -> ``t-bptt-reference.code.tar.gz``."""
    return entry_file_name.removesuffix(".json") + ARCHIVE_SUFFIX


def _members(path: Path) -> tuple[str, str, list[tuple[str, Path]]]:
    """(kind, root, [(archive name, file)]) of the code at ``path``."""
    if path.is_symlink():
        raise ConfigError(f"--code {path} is a symbolic link; give the file or directory itself.")
    if path.is_file():
        if path.suffix != ".py":
            raise ConfigError(f"--code {path} is not a Python file; give the learner's .py file or its package directory.")
        return "file", path.name, [(path.name, path)]
    if path.is_dir():
        if not (path / "__init__.py").is_file():
            raise ConfigError(f"--code {path} is a directory without __init__.py; give a package directory "
                              "(evaluated as package.module:factory) or the learner's .py file.")
        root = path.resolve().name
        files = package_files(path)
        for f in files:
            if f.is_symlink():
                raise ConfigError(f"--code {path}: {f} is a symbolic link; replace it with the file itself.")
        return "package", root, [(f"{root}/{f.relative_to(path).as_posix()}", f) for f in files]
    raise ConfigError(f"--code {path} does not exist; give the learner's .py file or its package directory.")


def build_archive(path: str | Path) -> CodeArchive:
    """The deterministic archive of the learner code at ``path`` (a ``.py`` file or a package directory)."""
    path = Path(path).expanduser()
    kind, root, members = _members(path)
    if len(members) > MAX_FILES:
        raise ConfigError(f"--code {path} holds {len(members)} Python files (at most {MAX_FILES}); submit the learner only.")
    buf = io.BytesIO()
    total = 0
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, f in sorted(members):
            try:
                content = f.read_bytes()
            except OSError as err:
                raise ConfigError(f"cannot read {f} ({err.strerror}).") from None
            total += len(content)
            if total > MAX_CODE_BYTES:
                raise ConfigError(f"--code {path} is over {MAX_CODE_BYTES // 2**20} MiB of sources; submit the learner "
                                  "only (no data or weights).")
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = \
                len(content), 0, 0o644, 0, 0, "", ""
            tar.addfile(info, io.BytesIO(content))
    data = buf.getvalue()
    return CodeArchive(data, hashlib.sha256(data).hexdigest(), code_sha256(path), kind, root)


def check_requirements(requirements: Sequence[str]) -> list[str]:
    """Problems with declared dependencies (PEP 508 names with optional extras and version specifiers)."""
    if len(requirements) > MAX_REQUIREMENTS:
        return [f"at most {MAX_REQUIREMENTS} --requires"]
    return [f"--requires {r!r} is not a requirement such as 'torch>=2.2' (name, extras, versions; no URLs)"
            for r in requirements if not isinstance(r, str) or len(r) > 200 or not _REQUIREMENT.match(r.strip())]


def check_code_field(code: Any, entry_file_name: str | None) -> list[str]:
    """Problems with an entry's ``code`` field (null = unverified entry without code)."""
    if code is None:
        return []
    if not isinstance(code, Mapping) or set(code) != CODE_KEYS:
        return [f"code must be null or an object with {sorted(CODE_KEYS)}"]
    problems = []
    if entry_file_name is not None and code["archive"] != archive_name(entry_file_name):
        problems.append(f"code.archive {code['archive']!r} is not {archive_name(entry_file_name)!r}")
    for key in ("sha256", "source_sha256"):
        if not (isinstance(code[key], str) and re.fullmatch(r"[0-9a-f]{64}", code[key])):
            problems.append(f"code.{key} must be a sha256 hex digest")
    if code["kind"] not in ("file", "package"):
        problems.append("code.kind must be 'file' or 'package'")
    if not (isinstance(code["root"], str) and re.fullmatch(r"[A-Za-z_][\w.-]{0,99}", code["root"])):
        problems.append("code.root must be a file or package name")
    reqs = code["requirements"]
    if not isinstance(reqs, list):
        problems.append("code.requirements must be a list of strings")
    else:
        problems += [p.replace("--requires", "code.requirements") for p in check_requirements(reqs)]
    return problems


def read_archive(folder: Path, code: Mapping[str, Any]) -> bytes:
    """The archive bytes of an entry's ``code`` field; DataError when missing or not the recorded bytes."""
    path = Path(folder) / code["archive"]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"the entry's code archive {path} is missing; commit it with the entry.") from None
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror}).") from None
    if hashlib.sha256(data).hexdigest() != code["sha256"]:
        raise DataError(f"{path} is not the archive the entry names (sha256 differs); restore it or resubmit.")
    return data


def extract(data: bytes, dest: Path, code: Mapping[str, Any]) -> Path:
    """Unpack an archive into ``dest`` (safely) and check its source digest; return the learner's path
    (the ``.py`` file, or the package directory)."""
    dest = Path(dest)
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                name = PurePosixPath(m.name)
                if (not m.isfile() or name.is_absolute() or ".." in name.parts or not name.parts
                        or name.parts[0] != code["root"]):
                    raise DataError(f"the code archive holds {m.name!r}: only regular files under "
                                    f"{code['root']!r} are allowed.")
                total += m.size
            if total > MAX_CODE_BYTES or len(members) > MAX_FILES:
                raise DataError("the code archive is larger than a learner's sources may be.")
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"the code archive cannot be unpacked ({err}).") from None
    path = dest / code["root"]
    kind_ok = path.is_dir() if code["kind"] == "package" else path.is_file()
    if not kind_ok or code_sha256(path) != code["source_sha256"]:
        raise DataError("the code archive's sources do not give the entry's source digest; resubmit the entry.")
    return path
