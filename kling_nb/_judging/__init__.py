"""Judging videos: votes, a Bradley–Terry fit with intervals, match-ups and rankings (pure).

- `Vote`: who saw which items (display order) and what they chose (or a tie).
- `votes_to_pairs`, `fit`, `fit_posterior`: the regularised Bradley–Terry fit (`choix`).
- `next_matchup`: the next informative match-up, never a repeat while a fresh pair exists.
- `rankings_frame`: jobs grouped into variants, best first, with stars, time and cost means.
"""

from __future__ import annotations

from ._matchup import next_matchup, pair_counts, pair_utility
from ._model import (
    DEFAULT_ALPHA,
    Pair,
    Posterior,
    Strength,
    Vote,
    fit,
    fit_matrix,
    fit_posterior,
    votes_to_pairs,
    weight_matrix,
)
from ._rankings import RANKING_COLUMNS, position_bias, rankings_frame, variant_votes

__all__ = [
    "DEFAULT_ALPHA",
    "RANKING_COLUMNS",
    "Pair",
    "Posterior",
    "Strength",
    "Vote",
    "fit",
    "fit_matrix",
    "fit_posterior",
    "next_matchup",
    "pair_counts",
    "pair_utility",
    "position_bias",
    "rankings_frame",
    "variant_votes",
    "votes_to_pairs",
    "weight_matrix",
]
