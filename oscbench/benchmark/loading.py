"""Learner specs and hyper-parameters: turn what a user names into a factory.

A learner is named as

* a reference baseline: ``hybrid``, ``columnar``, ``constructive`` or ``tbptt``
  (:data:`oscbench.baselines.BASELINES`; their default hyper-parameters for a task come from
  :func:`oscbench.baselines.reference_config`, and the user's override them; their source digest
  covers the modules of :mod:`oscbench.baselines` that compute predictions -- every ``.py`` file but
  :data:`BASELINE_NON_PREDICTION` (speed cases, sweeps) -- see :func:`reference_sha256`);
* a Python file: ``path/to/file.py`` or ``path/to/file.py:factory`` (default factory ``make_learner``);
* an importable module: ``package.module:factory`` (or ``package.module`` for ``make_learner``);
  its source digest covers every ``.py`` file of its top-level package (:func:`package_sha256`), or
  the module file alone when it is not in a package;
* or, from Python, the factory callable itself.

Hyper-parameters come from ``--hp name=value`` (the value is read as a TOML scalar or array:
``0.01``, ``1e-4``, ``true``, ``"text"``, ``[4, 4]``; anything else is taken as a plain string) and
from a TOML file (its top level, or its ``[hyperparameters]`` table); ``--hp`` wins over the file.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oscbench._hashing import sha256_file
from oscbench.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: the reference learners' names, known here without importing their compiled kernels
#: (the same tuple as ``oscbench.baselines.NAMES``; a test holds them equal)
BASELINE_NAMES = ("hybrid", "columnar", "constructive", "tbptt")
#: modules of oscbench.baselines that compute no prediction: left out of the reference learners' code
#: digest and code archive, so changing them keeps reference entries valid (none today: the speed cases
#: live in oscbench.benchmark.learner_speed, the sweeps in oscbench.benchmark.sweep)
BASELINE_NON_PREDICTION: frozenset[str] = frozenset()
DEFAULT_FACTORY = "make_learner"
_MODULE_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass
class LoadedLearner:
    """A resolved learner: its factory and what the result record says about it.

    ``defaults`` maps a task kind (``trace-patterning``, ``atari``) and run length to default
    hyper-parameters (baselines only); see :meth:`hyperparameters`.
    """

    spec: str
    name: str
    factory: Callable[..., Any]
    source_path: Path | None
    source_sha256: str | None
    defaults: Callable[[str, int], dict[str, Any]] | None = field(default=None, repr=False)

    def hyperparameters(self, task_kind: str, n_steps: int, user: Mapping[str, Any]) -> dict[str, Any]:
        """The full hyper-parameter set of a run: the baseline's reference config, then ``user``."""
        hp = dict(self.defaults(task_kind, n_steps)) if self.defaults else {}
        hp.update(user)
        return _jsonable(hp)

    def build(self, n_features: int, seed: int, hp: Mapping[str, Any]) -> Any:
        """Call the factory; hyper-parameters its signature rejects become a one-line ConfigError."""
        try:
            sig = inspect.signature(self.factory)
        except (TypeError, ValueError):  # no signature to check (some builtins)
            sig = None
        if sig is not None:
            try:
                sig.bind(n_features, seed=seed, **hp)
            except TypeError as err:
                raise ConfigError(f"learner {self.name} rejects its arguments ({err}); check the --hp names "
                                  f"against make_learner(n_features, *, seed, **hyperparameters).") from None
        return self.factory(n_features, seed=seed, **hp)


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return v.item()
    return v


def package_files(directory: Path) -> list[Path]:
    """The Python sources a package digest covers: every ``*.py`` under ``directory`` (sorted by relative
    path; ``__pycache__`` and hidden directories left out); for the reference baselines package, only the
    modules that compute predictions (see :data:`BASELINE_NON_PREDICTION`)."""
    directory = Path(directory)
    skip = BASELINE_NON_PREDICTION if _is_baselines_dir(directory) else frozenset()
    out = []
    for f in directory.rglob("*.py"):
        rel = f.relative_to(directory)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts[:-1]):
            continue
        if rel.as_posix() in skip or not f.is_file():
            continue
        out.append(f)
    return sorted(out, key=lambda f: f.relative_to(directory).as_posix())


def package_sha256(directory: Path) -> str:
    """Digest of a package's Python sources (:func:`package_files`): sha256 of ``<relative path>|<sha256>``
    lines, sorted by path."""
    h = hashlib.sha256()
    for f in package_files(directory):
        h.update(f"{f.relative_to(directory).as_posix()}|{sha256_file(f)}\n".encode())
    return h.hexdigest()


def code_sha256(path: str | Path) -> str:
    """The source digest of learner code at ``path``, as records carry it: a file's sha256, or a package
    directory's :func:`package_sha256`."""
    path = Path(path)
    return package_sha256(path) if path.is_dir() else sha256_file(path)


def _baselines_dir() -> Path | None:
    spec = importlib.util.find_spec("oscbench.baselines")
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def _is_baselines_dir(directory: Path) -> bool:
    here = _baselines_dir()
    try:
        return here is not None and directory.resolve() == here.resolve()
    except OSError:
        return False


def reference_sha256() -> str | None:
    """The code digest of this installation's reference learners (None when oscbench.baselines is absent)."""
    here = _baselines_dir()
    return package_sha256(here) if here is not None else None


def _package_root(module: Any) -> Path | None:
    """The directory of the top-level package ``module`` belongs to (None for a lone module)."""
    top = sys.modules.get(getattr(module, "__name__", "").partition(".")[0])
    init = getattr(top, "__file__", None) if top is not None else None
    if not init or Path(init).name != "__init__.py":
        return None
    return Path(init).parent


def _source_of(obj: Any) -> Path | None:
    try:
        src = inspect.getsourcefile(obj)
    except TypeError:
        src = None
    if src is None:
        mod = inspect.getmodule(obj)
        src = getattr(mod, "__file__", None) if mod else None
    return Path(src) if src and Path(src).is_file() else None


def _from_callable(factory: Callable[..., Any], spec: str | None = None, name: str | None = None) -> LoadedLearner:
    if not callable(factory):
        raise ConfigError(f"{factory!r} is not callable; pass a factory make_learner(n_features, *, seed, **hp).")
    src = _source_of(factory)
    qual = getattr(factory, "__qualname__", type(factory).__name__)
    mod = getattr(factory, "__module__", None) or "?"
    return LoadedLearner(spec or f"{mod}:{qual}", name or callable_name(factory, src), factory, src,
                         sha256_file(src) if src else None)


def callable_name(factory: Callable[..., Any], source: Path | None = None) -> str:
    """A factory's name on the board: its function name, or for ``make_learner`` its module's (a script
    run as ``__main__`` or a file loaded by path: the file's stem)."""
    qual = getattr(factory, "__qualname__", type(factory).__name__)
    short = qual.replace(".<locals>", "")
    if short.rsplit(".", 1)[-1] != DEFAULT_FACTORY:
        return short
    mod = getattr(factory, "__module__", None) or ""
    if (mod == "__main__" or mod.startswith("oscbench_learner_") or not mod) and source is not None:
        return source.stem
    return mod.rsplit(".", 1)[-1] or short


def _load_baseline(name: str) -> LoadedLearner:
    try:
        import oscbench.baselines as bl
        table = bl.BASELINES
    except (ImportError, AttributeError):
        raise ConfigError(f"the reference baseline {name!r} is not available in this installation "
                          "(oscbench.baselines is missing); name a learner file or module instead.") from None
    if name not in table:
        raise ConfigError(f"unknown baseline {name!r}; choose from {', '.join(sorted(table))}.")
    loaded = _from_callable(table[name], spec=name, name=name)
    pkg = Path(bl.__file__).parent
    loaded.source_path, loaded.source_sha256 = pkg, package_sha256(pkg)
    ref = getattr(bl, "reference_config", None)
    if ref is not None:
        loaded.defaults = lambda kind, n_steps: ref(name, kind, n_steps)
    return loaded


def _load_file(spec: str, path_text: str, factory_name: str) -> LoadedLearner:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ConfigError(f"learner file {path} does not exist; give path/to/file.py[:factory].")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    mod_name = f"oscbench_learner_{path.stem}_{digest}"
    mspec = importlib.util.spec_from_file_location(mod_name, path)
    if mspec is None or mspec.loader is None:
        raise ConfigError(f"cannot import {path} as Python; give a .py file.")
    module = importlib.util.module_from_spec(mspec)
    sys.modules[mod_name] = module
    try:
        mspec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(mod_name, None)
        raise ConfigError(f"{path} line {err.lineno}: syntax error ({err.msg}); fix the learner file.") from None
    except Exception as err:  # noqa: BLE001 - any import-time failure of user code is the user's to fix
        sys.modules.pop(mod_name, None)
        raise ConfigError(f"importing {path} failed: {type(err).__name__}: {err}; fix the learner file.") from None
    factory = getattr(module, factory_name, None)
    if factory is None:
        raise ConfigError(f"{path} defines no {factory_name!r}; add it or name the factory as {path}:NAME.")
    name = path.stem if factory_name == DEFAULT_FACTORY else f"{path.stem}:{factory_name}"
    loaded = _from_callable(factory, spec=spec, name=name)
    loaded.source_path, loaded.source_sha256 = path.resolve(), sha256_file(path)
    return loaded


def _load_module(spec: str, module_name: str, factory_name: str) -> LoadedLearner:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ConfigError(f"cannot import module {module_name!r} ({err}); install it, or give "
                          "path/to/file.py[:factory] or a baseline name.") from None
    except Exception as err:  # noqa: BLE001
        raise ConfigError(f"importing {module_name} failed: {type(err).__name__}: {err}; fix the module.") from None
    factory = getattr(module, factory_name, None)
    if factory is None:
        raise ConfigError(f"module {module_name} has no {factory_name!r}; name the factory as {module_name}:NAME.")
    name = module_name.rsplit(".", 1)[-1] + ("" if factory_name == DEFAULT_FACTORY else f":{factory_name}")
    loaded = _from_callable(factory, spec=spec, name=name)
    root = _package_root(module)
    if root is not None:  # the learner's code is its whole package (helpers included)
        loaded.source_path, loaded.source_sha256 = root, package_sha256(root)
    return loaded


def _valid_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable() \
            or any(c in name for c in "/\\"):
        raise ConfigError(f"learner name {name!r} must be 1-100 printable characters without slashes; "
                          "choose another --name.")
    return name.strip()


def load_learner(spec: str | Callable[..., Any], *, name: str | None = None) -> LoadedLearner:
    """Resolve a learner spec (or a factory callable) into a :class:`LoadedLearner`; ``name``, if given,
    replaces the derived name (records and the board show it)."""
    if name is not None:
        loaded = load_learner(spec)
        loaded.name = _valid_name(name)
        return loaded
    if callable(spec) and not isinstance(spec, str):
        return _from_callable(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError("no learner given; name a baseline (hybrid, columnar, constructive, tbptt), "
                          "path/to/file.py[:factory] or package.module:factory.")
    spec = spec.strip()
    if spec in BASELINE_NAMES:
        return _load_baseline(spec)
    m = re.match(r"^(.*\.py)(?::([A-Za-z_]\w*))?$", spec)
    if m:
        return _load_file(spec, m.group(1), m.group(2) or DEFAULT_FACTORY)
    module_name, _, factory_name = spec.partition(":")
    if _MODULE_RE.match(module_name) and (not factory_name or re.match(r"^[A-Za-z_]\w*$", factory_name)):
        if "." not in module_name and not factory_name:
            raise ConfigError(f"unknown learner {spec!r}; name a baseline ({', '.join(BASELINE_NAMES)}), "
                              "path/to/file.py[:factory] or package.module:factory.")
        return _load_module(spec, module_name, factory_name or DEFAULT_FACTORY)
    raise ConfigError(f"cannot read learner spec {spec!r}; use a baseline name, path/to/file.py[:factory] "
                      "or package.module:factory.")


def _not_loaded(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("this learner is located, not loaded, in this process; it runs in a learner process")


def locate(spec: str | Callable[..., Any], *, name: str | None = None) -> LoadedLearner:
    """Like :func:`load_learner`, but a learner *file* is not imported here: its name and source digest
    come from the file itself, and its code runs only in the learner's own process (isolation).
    Baselines, modules and callables resolve as in :func:`load_learner`."""
    if name is not None:
        located = locate(spec)
        located.name = _valid_name(name)
        return located
    if isinstance(spec, str):
        m = re.match(r"^(.*\.py)(?::([A-Za-z_]\w*))?$", spec.strip())
        if m:
            path = Path(m.group(1)).expanduser()
            if not path.is_file():
                raise ConfigError(f"learner file {path} does not exist; give path/to/file.py[:factory].")
            factory_name = m.group(2) or DEFAULT_FACTORY
            name = path.stem if factory_name == DEFAULT_FACTORY else f"{path.stem}:{factory_name}"
            return LoadedLearner(spec.strip(), name, _not_loaded, path.resolve(), sha256_file(path))
    return load_learner(spec)


# -- hyper-parameters --------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A ``--hp`` value: a TOML scalar or array if it parses as one, else the plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_hp_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """``["step_size=1e-3", "hidden=4"]`` -> ``{"step_size": 0.001, "hidden": 4}``."""
    out: dict[str, Any] = {}
    for item in pairs:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not re.match(r"^[A-Za-z_]\w*$", name):
            raise ConfigError(f"--hp {item!r} is not NAME=VALUE; write e.g. --hp step_size=1e-3.")
        out[name] = parse_value(value.strip())
    return out


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """A TOML file's contents; a one-line ConfigError naming ``what`` (e.g. "sweep file") when it cannot."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist; give a TOML file.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {what} {path} ({err}).") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{what} {path} is not valid TOML ({err}); fix it.") from None


def read_hp_file(path: str | Path) -> dict[str, Any]:
    """Hyper-parameters from a TOML file: its ``[hyperparameters]`` table if present, else its top level."""
    path = Path(path)
    data = read_toml(path, "hyper-parameter file")
    hp = data.get("hyperparameters", data)
    if not isinstance(hp, dict):
        raise ConfigError(f"{path}: [hyperparameters] must be a table of name = value.")
    return hp


def collect_hyperparameters(pairs: Iterable[str] = (), hp_file: str | Path | None = None,
                            extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """File first, then ``extra`` (Python), then ``--hp`` pairs."""
    hp = read_hp_file(hp_file) if hp_file else {}
    hp.update(extra or {})
    hp.update(parse_hp_pairs(pairs))
    return hp
