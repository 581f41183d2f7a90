"""The 58 Atari games of the prediction benchmark, their ids, upstream logs and registry facts.

A game is named as in the upstream log files (``Pong``, ``MsPacman``, ...). Its dataset id is
``atari/<Game>-v1``; its recorded action log is ``<Game>NoFrameskip-v4.txt`` in the public repository
``khurramjaved96/swiftd-atari-prediction-benchmark`` at a pinned commit (SPEC §2.1).

Per-game facts that were measured (log sha256 and size, ROM md5, minimal action-set size, screen size,
and the replay fingerprint: digests of the 16×16 frames and the per-episode scores) live in
``registry.json`` beside this module; :func:`game_facts` reads them.
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from oscbench.errors import ConfigError

NAMESPACE = "atari"
VERSION = 1
UPSTREAM_REPO = "khurramjaved96/swiftd-atari-prediction-benchmark"
UPSTREAM_COMMIT = "25395d07e821fd55d09e557f30ddfe3938dcdc5b"
UPSTREAM_BASE = f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/policies"
REGISTRY_FILE = Path(__file__).with_name("registry.json")

GAMES: tuple[str, ...] = (
    "AirRaid", "Alien", "Amidar", "Assault", "Asterix", "Asteroids", "Atlantis", "BankHeist", "BattleZone",
    "BeamRider", "Berzerk", "Bowling", "Boxing", "Breakout", "Carnival", "Centipede", "ChopperCommand",
    "CrazyClimber", "DemonAttack", "DoubleDunk", "Enduro", "FishingDerby", "Freeway", "Frostbite", "Gopher",
    "Gravitar", "Hero", "IceHockey", "Jamesbond", "JourneyEscape", "Kangaroo", "Krull", "KungFuMaster",
    "MontezumaRevenge", "MsPacman", "Phoenix", "Pitfall", "Pong", "Pooyan", "PrivateEye", "Qbert", "Riverraid",
    "RoadRunner", "Robotank", "Seaquest", "Skiing", "Solaris", "SpaceInvaders", "StarGunner", "Tennis",
    "TimePilot", "Tutankham", "UpNDown", "Venture", "VideoPinball", "WizardOfWor", "YarsRevenge", "Zaxxon",
)

_NO_REWARD = "no non-zero reward anywhere in the recorded log, so every return is 0 (SPEC §9.3)"
EXCLUDED: dict[str, str] = {
    "Assault": _NO_REWARD,
    "MontezumaRevenge": _NO_REWARD,
    "Tennis": _NO_REWARD,
    "Venture": _NO_REWARD,
    "Skiing": "the clipped reward is -1 on every frame (raw episode return -30000), a trivial target (SPEC §9.3)",
}

#: The same reasons in a few words (for tables).
EXCLUDED_SHORT: dict[str, str] = {g: ("reward -1 on every frame" if g == "Skiing" else "no reward in the log")
                                  for g in EXCLUDED}

SUITE_ID = "atari-v1"
#: The standard suite: the 53 games the reference used (all 58 minus the excluded five).
SUITE: tuple[str, ...] = tuple(g for g in GAMES if g not in EXCLUDED)

_ID_RE = re.compile(r"^atari/([A-Za-z]+)((?:-[A-Za-z0-9_.]+)*)-v(\d+)$")


def snake_case(game: str) -> str:
    """ale-py's ROM id of a game: ``MsPacman`` -> ``ms_pacman``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()


def dataset_id(game: str) -> str:
    """``atari/<Game>-v1``."""
    return f"{NAMESPACE}/{game}-v{VERSION}"


def policy_filename(game: str) -> str:
    """``<Game>NoFrameskip-v4.txt``, the upstream log's file name."""
    return f"{game}NoFrameskip-v4.txt"


def upstream_url(game: str) -> str:
    """Raw GitHub URL of the game's log at the pinned commit."""
    return f"{UPSTREAM_BASE}/{policy_filename(game)}"


def check_game(game: str) -> str:
    """Return ``game`` if it is one of the 58, else raise ConfigError (suggesting a near match)."""
    if game in GAMES:
        return game
    from oscbench._suggest import close_matches, did_you_mean

    more = did_you_mean(close_matches(game.replace("_", "").replace("-", ""), GAMES), "see `oscbench datasets list`.")
    raise ConfigError(f"unknown Atari game {game!r}; {more}")


def parse_id(name: str) -> tuple[str, str | None]:
    """Split an Atari id into (game, tag): ``atari/Pong-v1`` -> ("Pong", None),
    ``atari/Pong-myagent-v1`` -> ("Pong", "myagent"). A bare game name is accepted too."""
    if "/" not in name:
        return check_game(name), None
    m = _ID_RE.match(name)
    if not m:
        raise ConfigError(f"{name!r} is not an Atari dataset id; use atari/<Game>-v1 (e.g. atari/Pong-v1).")
    game, tag, version = m.group(1), m.group(2).lstrip("-") or None, int(m.group(3))
    check_game(game)
    if tag is None and version != VERSION:
        raise ConfigError(f"{name!r}: only version v{VERSION} of the Atari datasets exists; use {dataset_id(game)}.")
    return game, tag


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, Any]:
    with open(REGISTRY_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def registry_data() -> dict[str, Any]:
    """The whole ``registry.json`` (upstream, generation facts and one entry per game)."""
    return _registry()


def game_facts(game: str) -> dict[str, Any]:
    """The registry entry of one game: ``policy_sha256``, ``policy_size``, and (once measured)
    ``rom_md5``, ``n_actions``, ``screen``, ``fingerprint`` and ``prefix``."""
    return _registry()["games"][check_game(game)]
