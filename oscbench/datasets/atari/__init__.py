"""The Atari prediction datasets (SPEC §2): 58 recorded Rainbow-DQN action logs replayed through ale-py.

* :mod:`.games` -- the 58 games, ids ``atari/<Game>-v1``, the ``atari-v1`` suite (53), upstream URLs.
* :mod:`.emulator` -- ALE settings and the 16×16 preprocessing.
* :mod:`.replay` -- log format, step semantics, replay with divergence checks.
* :mod:`.dataset` -- the HDF5 file of one pass (275-feature observation layout).
* :mod:`.generate` / :mod:`.fetch` -- build datasets from local or downloaded logs (``--jobs``).
* :mod:`.locate` -- what of an id is on this machine (its file, its status).
* :mod:`.fingerprint` / :mod:`.verify` -- registry fingerprints and verification.
* :mod:`.stream` -- :class:`AtariStream`, the looping stream for learners and the evaluator.
* :mod:`.record` -- record a new dataset from a live agent.
"""
from oscbench.datasets.atari.dataset import N_FEATURES
from oscbench.datasets.atari.fetch import download
from oscbench.datasets.atari.games import EXCLUDED, GAMES, SUITE, SUITE_ID, dataset_id
from oscbench.datasets.atari.generate import generate, generate_many
from oscbench.datasets.atari.locate import resolve
from oscbench.datasets.atari.record import Recording, record
from oscbench.datasets.atari.replay import GAMMA, Replay, replay_log
from oscbench.datasets.atari.stream import AtariStream
from oscbench.datasets.atari.verify import verify

__all__ = ["AtariStream", "EXCLUDED", "GAMES", "GAMMA", "N_FEATURES", "Recording", "Replay", "SUITE", "SUITE_ID",
           "dataset_id", "download", "generate", "generate_many", "record", "replay_log", "resolve", "verify"]
