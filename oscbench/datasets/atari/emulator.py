"""The Arcade Learning Environment, set up exactly as the benchmark's recording (SPEC §2.2, §2.4, §12).

* ``random_seed`` 1731038949 (what Gymnasium's ALE wrapper derives from env seed 1), sticky actions off
  (``repeat_action_probability`` 0.0), ``frame_skip`` 1, every other setting at ale-py's default.
* The ROM bundled with ale-py, ``ale_py.roms.get_rom_path(snake_case(Game))``. Its md5 is checked
  *before* ``loadROM``, because ale-py ends the whole process on an unrecognised ROM (SPEC §12).
* Frames: ``getScreenGrayscale`` of the full screen (sized with ``getScreenDims()``: 210×160 for most
  games, up to 250×160) resized to 16×16 with ``cv2.INTER_LINEAR`` (OpenCV's fixed-point uint8 path).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oscbench.datasets.atari.games import check_game, snake_case
from oscbench.errors import DataError

RANDOM_SEED = 1731038949
REPEAT_ACTION_PROBABILITY = 0.0
FRAME_SKIP = 1
MAX_EPISODE_FRAMES = 108_000   # the recording's episode cap (Gym NoFrameskip-v4 TimeLimit)
FRAME_SIZE = 16
N_ACTION_SLOTS = 18            # one-hot width of the action index (ALE's full action set)


@dataclass(frozen=True)
class RomInfo:
    """The ROM a game is played with: ale-py's id, file, md5 and the ale-py version that bundles it."""

    game: str
    rom_id: str
    path: Path
    md5: str
    ale_py_version: str


def rom_info(game: str) -> RomInfo:
    """Locate and check the bundled ROM of ``game`` (raises DataError instead of crashing ale-py)."""
    check_game(game)
    import ale_py
    from ale_py import roms

    rom_id = snake_case(game)
    if rom_id not in roms.get_all_rom_ids():
        raise DataError(f"ale-py {ale_py.__version__} has no ROM {rom_id!r} for {game}; install an ale-py "
                        "that bundles it (pip install -U ale-py).")
    try:
        path = roms.get_rom_path(rom_id)
    except OSError as err:  # md5 of the file differs from ale-py's table
        raise DataError(f"the ROM file for {game} fails ale-py's md5 check ({' '.join(str(err).split())}); "
                        "reinstall ale-py.") from None
    if path is None or not Path(path).is_file():
        raise DataError(f"ale-py {ale_py.__version__} cannot find the ROM {rom_id!r} for {game}; reinstall ale-py.")
    md5 = hashlib.md5(Path(path).read_bytes()).hexdigest()
    return RomInfo(game, rom_id, Path(path), md5, ale_py.__version__)


def open_emulator(game: str) -> tuple[Any, list[Any], RomInfo]:
    """A configured ``ale_py.ALEInterface`` with the game's ROM loaded (no ``reset_game()`` yet).

    Returns ``(ale, minimal_action_set, rom)``.
    """
    rom = rom_info(game)
    from ale_py import ALEInterface, LoggerMode

    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.setInt("random_seed", RANDOM_SEED)
    ale.setFloat("repeat_action_probability", REPEAT_ACTION_PROBABILITY)
    ale.setInt("frame_skip", FRAME_SKIP)
    ale.loadROM(str(rom.path))
    return ale, list(ale.getMinimalActionSet()), rom


def downsample(screen: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 grayscale screen ``[H, W]`` -> uint8 ``[16, 16]`` (cv2 INTER_LINEAR), into ``out`` if given."""
    import cv2

    return cv2.resize(screen, (FRAME_SIZE, FRAME_SIZE), dst=out, interpolation=cv2.INTER_LINEAR)


def emulator_facts(rom: RomInfo, actions: list[Any], screen: tuple[int, int]) -> dict[str, Any]:
    """Facts recorded in every Atari file (attributes) and in the registry."""
    return {"ale_py_version": rom.ale_py_version, "rom_id": rom.rom_id, "rom_md5": rom.md5,
            "minimal_action_set": [int(a.value) for a in actions], "n_actions": len(actions),
            "screen": [int(screen[0]), int(screen[1])]}
