"""Where datasets live: ``$OSCBENCH_DATA``, else the user's data directory."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_DATA = "OSCBENCH_DATA"


def data_dir() -> Path:
    """The root data directory (not created here).

    ``$OSCBENCH_DATA`` if set; else ``$XDG_DATA_HOME/oscbench`` or ``~/.local/share/oscbench`` on
    Linux, ``~/Library/Application Support/oscbench`` on macOS and ``%LOCALAPPDATA%\\oscbench`` on
    Windows.
    """
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "oscbench"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "oscbench"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "oscbench"


def dataset_path(dataset_id: str, variant: str | None = None) -> Path:
    """Default file for ``namespace/name-vN`` (optionally a variant such as ``seed-0_steps-1000000``)."""
    ns, _, name = dataset_id.partition("/")
    if variant:
        return data_dir() / ns / name / f"{variant}.h5"
    return data_dir() / ns / f"{name}.h5"


def is_file_argument(source: str | os.PathLike[str]) -> bool:
    """True if a CLI/API argument names a dataset file (``*.h5`` or an existing file), not an id."""
    p = Path(source).expanduser()
    return p.suffix in (".h5", ".hdf5") or p.is_file()
