"""Maintainer tool: write the measured facts of generated datasets into ``registry.json``.

    python -m oscbench.datasets.atari.maintain DATA_ROOT [GAME ...]

reads ``DATA_ROOT/atari/<Game>-v1.h5`` (made by ``oscbench datasets generate``), checks each file's
digests, and records per game: ROM md5, minimal action set, screen size, dataset size and content
digests (``arrays_sha256``: every array; ``content_sha256``: the arrays and the bound attributes), the full
fingerprint and the 20,000-step prefix fingerprint (see :mod:`.fingerprint`), plus the versions of
ale-py, OpenCV and numpy that made them. Users never run this.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from oscbench._atomic import write_text_atomic
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.fingerprint import PREFIX_STEPS, prefix_fingerprint
from oscbench.datasets.atari.verify import file_fingerprint
from oscbench.datasets.format import DatasetFile
from oscbench.errors import DataError


def facts_from_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(registry facts of one game, versions that made the file)."""
    with DatasetFile(path, verify=True) as ds:
        fp = file_fingerprint(ds)
        prefix = prefix_fingerprint(ds.array("frames", 0, PREFIX_STEPS), ds.array("rewards", 0, PREFIX_STEPS), fp)
        a = ds.attrs
        facts = {"rom_id": str(a["rom_id"]), "rom_md5": str(a["rom_md5"]),
                 "minimal_action_set": [int(x) for x in ds.array("meta/minimal_action_set")],
                 "screen": json.loads(a["screen"]) if isinstance(a["screen"], str) else list(a["screen"]),
                 "dataset_bytes": path.stat().st_size, "arrays_sha256": ds.arrays_sha256,
                 "content_sha256": ds.content_sha256,
                 "fingerprint": fp, "prefix": prefix}
        versions = {k: ds.versions[k] for k in ("ale_py", "opencv", "numpy") if k in ds.versions}
        return facts, versions


def rebind_registry() -> list[str]:
    """Recompute every game's ``content_sha256`` from its ``arrays_sha256`` (or, in a registry written
    before the content digest bound the attributes, from its old array-only ``content_sha256``) and the
    attributes the code derives (:func:`~oscbench.datasets.atari.dataset.registry_content_digest`):
    run after a change of those attributes; no replay needed. Returns the games updated."""
    from oscbench.datasets.atari.dataset import registry_content_digest

    reg = json.loads(G.REGISTRY_FILE.read_text(encoding="utf-8"))
    done = []
    for game, facts in reg["games"].items():
        arrays = facts.get("arrays_sha256") or facts.get("content_sha256")
        if not arrays or "fingerprint" not in facts:
            continue
        facts["arrays_sha256"] = arrays
        facts["content_sha256"] = registry_content_digest(game, arrays, facts["fingerprint"]["n_steps"])
        done.append(game)
    write_text_atomic(G.REGISTRY_FILE, dump_registry(reg))
    G._registry.cache_clear()
    return done


def dump_registry(reg: dict[str, Any]) -> str:
    """``registry.json`` text: indented, with lists of numbers on one line."""
    text = json.dumps(reg, indent=1)
    return re.sub(r"\[\s*([-0-9.e,\s]*?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]",
                  text) + "\n"


def update_registry(data_root: Path, games: list[str] | None = None) -> list[str]:
    """Refresh the registry entries of ``games`` (default: every game with a file); return the games done."""
    reg = json.loads(G.REGISTRY_FILE.read_text(encoding="utf-8"))
    done, made_with = [], set()
    for game in games or list(G.GAMES):
        path = Path(data_root) / G.NAMESPACE / f"{game}-v{G.VERSION}.h5"
        if not path.is_file():
            if games:
                raise DataError(f"no dataset file {path}; generate it first.")
            continue
        facts, versions = facts_from_file(path)
        reg["games"][game].update(facts)
        made_with.add(json.dumps(versions, sort_keys=True))
        done.append(game)
    if len(made_with) > 1:
        raise DataError(f"the files were made with different library versions {sorted(made_with)}; regenerate them.")
    if made_with:
        reg["generated_with"] = json.loads(made_with.pop())
        reg["prefix_steps"] = PREFIX_STEPS
    write_text_atomic(G.REGISTRY_FILE, dump_registry(reg))
    G._registry.cache_clear()
    return done


if __name__ == "__main__":  # pragma: no cover
    print("updated:", " ".join(update_registry(Path(sys.argv[1]), sys.argv[2:] or None)))
