"""Dataset kinds: what the code, never the file, decides about a dataset of each kind.

A dataset file's root attributes (its id, parameters, seed, γ, feature count, observation layout, ...)
change what a learner is given or what is scored, so a file must not be able to choose them. Each
kind registers a :class:`KindSpec` here:

* ``layout(params)`` -- the observation layout the reader uses (the file's own ``observation_layout``
  attribute is only compared with it, never used);
* ``sources`` -- the only arrays a layout may read (never a scoring array such as ``returns``);
* ``canonical(attrs)`` -- the attribute values the code derives from the file's other attributes
  (e.g. the dataset id and feature count from the parameters, or a registry game's facts);
  :class:`~oscbench.datasets.format.DatasetFile` refuses a file whose stored value differs, naming
  the attribute;
* ``check_data(file)`` (optional) -- a check of the arrays against what the attributes imply that no
  digest can give (trace patterning regenerates the whole stream from the parameters and seed, so a
  seed-5 file relabelled seed 0, or arrays rewritten with recomputed digests, are refused);
* ``json_attrs`` / ``provenance`` -- attributes stored as JSON text, and attributes that are
  informational only (library versions) and so not bound by the content digest.

The two shipped kinds register lazily (:data:`_LAZY`): ``trace-patterning`` in
:mod:`oscbench.datasets.trace_patterning`, ``atari`` in :mod:`oscbench.datasets.atari.dataset`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from oscbench.errors import DataError

#: arrays that hold what is scored (or the best prediction of it); no observation layout may read them
SCORING_ARRAYS = frozenset({"returns", "returns_truncated", "bayes_floor"})
#: root attributes stored as JSON text in every file
COMMON_JSON_ATTRS = frozenset({"params", "observation_layout", "versions"})


@dataclass(frozen=True)
class KindSpec:
    """What the code fixes for one dataset kind (see the module docs)."""

    kind: str
    generator: str
    layout: Callable[[Mapping[str, Any]], list[dict[str, Any]]]
    sources: frozenset[str]
    canonical: Callable[[Mapping[str, Any]], dict[str, Any]]
    check_data: Callable[[Any], None] | None = None
    json_attrs: frozenset[str] = field(default_factory=frozenset)
    provenance: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        bad = self.sources & SCORING_ARRAYS
        if bad:
            raise ValueError(f"kind {self.kind}: observation sources {sorted(bad)} are scoring arrays")


_KINDS: dict[str, KindSpec] = {}
_LAZY = {"trace-patterning": "oscbench.datasets.trace_patterning", "atari": "oscbench.datasets.atari.dataset"}


def register(spec: KindSpec) -> KindSpec:
    """Register a kind (a module registers its kind at import)."""
    _KINDS[spec.kind] = spec
    return spec


def get(kind: str) -> KindSpec:
    """The spec of ``kind``; DataError for a kind this oscbench does not know."""
    if kind not in _KINDS and kind in _LAZY:
        importlib.import_module(_LAZY[kind])
    try:
        return _KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(set(_KINDS) | set(_LAZY)))
        raise DataError(f"dataset kind {kind!r} is not one this oscbench knows ({known}); "
                        "upgrade oscbench or regenerate the file.") from None


def checked_layout(spec: KindSpec, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``spec.layout(params)``, refused if it reads anything but the kind's observation sources."""
    layout = spec.layout(params)
    for seg in layout:
        if seg.get("array") not in spec.sources or seg["array"] in SCORING_ARRAYS:
            raise DataError(f"kind {spec.kind}: the observation layout reads {seg.get('array')!r}, which is not "
                            f"one of its observation sources {sorted(spec.sources)}; upgrade oscbench.")
    return layout
