"""The leaderboard: validated submissions, rankings with confidence intervals, a static page.

* :mod:`~oscbench.leaderboard.entries` -- the entry file format and where entries live;
* :mod:`~oscbench.leaderboard.validation` -- what a submission must satisfy (one line per problem);
* :mod:`~oscbench.leaderboard.submissions` -- ``submit`` and ``validate_all``;
* :mod:`~oscbench.leaderboard.aggregate` -- figures recomputed from per-seed records;
* :mod:`~oscbench.leaderboard.ranking` -- boards, ranks and statistical ties, the Atari suite;
* :mod:`~oscbench.leaderboard.render_markdown`, :mod:`~oscbench.leaderboard.plots`,
  :mod:`~oscbench.leaderboard.site` -- README tables, SVG plots, the static site.
"""
from __future__ import annotations

from oscbench.leaderboard.submissions import DEFAULT_ROOT, submit, validate_all

__all__ = ["DEFAULT_ROOT", "submit", "validate_all"]
