"""The next match-up: informative (an uncertain order), never a repeat while a fresh pair exists.

The utility of showing items i and j together is how much one more vote lowers the posterior
probability that their estimated order is wrong (`pair_utility`): high for pairs close in
estimated strength relative to a wide interval (few votes so far), low for pairs already
settled and for pairs so close that one vote cannot tell them apart. Pairs already shown are
candidates only once every pair has been shown at least once (for k > 2: the set with the
most unseen pairs wins first). Ties in utility break at random, and the display order is random.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ._model import FloatArray, Posterior, Strength, Vote, fit_posterior

__all__ = ["next_matchup", "pair_counts", "pair_utility"]


def pair_counts(votes: Iterable[Vote]) -> dict[frozenset[str], int]:
    """How many non-skipped votes showed each unordered pair of items together."""
    counts: dict[frozenset[str], int] = {}
    for vote in votes:
        if vote.skipped:
            continue
        for first, second in itertools.combinations(vote.shown, 2):
            key = frozenset((first, second))
            counts[key] = counts.get(key, 0) + 1
    return counts


def _moments(
    items: Sequence[str], strengths: Posterior | Mapping[str, Strength]
) -> tuple[FloatArray, FloatArray]:
    if isinstance(strengths, Posterior):
        index = {item: i for i, item in enumerate(strengths.items)}
        pick = [index[item] for item in items]
        return strengths.mean[pick], strengths.cov[np.ix_(pick, pick)]
    mean = np.array([strengths[item].score for item in items])
    return mean, np.diag([strengths[item].sd ** 2 for item in items])


_ERFC = np.vectorize(math.erfc, otypes=[float])


def _ndtr(z: FloatArray) -> FloatArray:
    """The standard normal CDF, elementwise."""
    out: FloatArray = 0.5 * _ERFC(-z / math.sqrt(2.0))
    return out


def pair_utility(mean: FloatArray, cov: FloatArray) -> FloatArray:
    """`U[i, j]`: how much one more vote on i and j lowers the chance they are misordered.

    The chance is Φ(−gap / sd) with sd the posterior sd of θᵢ − θⱼ; one vote adds p(1 − p)
    to the precision of that difference. A pair far apart gains nothing (already certain),
    and so does a pair estimated as equal (a coin flip either way): the votes go to pairs
    that one more vote can settle.
    """
    var = np.diag(cov)
    spread2 = np.maximum(var[:, None] + var[None, :] - 2 * cov, 1e-12)
    gap = np.abs(mean[:, None] - mean[None, :])
    prob = 1.0 / (1.0 + np.exp(-gap))
    after2 = 1.0 / (1.0 / spread2 + prob * (1.0 - prob))
    utility: FloatArray = np.asarray(
        _ndtr(-gap / np.sqrt(spread2)) - _ndtr(-gap / np.sqrt(after2)), dtype=float
    )
    np.fill_diagonal(utility, -1.0)
    return utility


def _grow(
    chosen: list[int], size: int, utility: FloatArray, fresh: FloatArray, order: list[int]
) -> list[int]:
    while len(chosen) < size:
        best: tuple[float, float] | None = None
        pick = -1
        for candidate in order:
            if candidate in chosen:
                continue
            key = (float(fresh[candidate, chosen].sum()), float(utility[candidate, chosen].sum()))
            if best is None or key > best:
                best, pick = key, candidate
        chosen.append(pick)
    return chosen


def next_matchup(
    items: Sequence[str],
    votes: Sequence[Vote],
    k: int = 2,
    *,
    rng: random.Random,
    strengths: Posterior | Mapping[str, Strength] | None = None,
    skipped: Iterable[Sequence[str]] = (),
) -> tuple[str, ...]:
    """The next `k` items to show, in random display order (see the module docstring).

    `strengths` is the current fit (a `Posterior` uses the full covariance; a mapping of
    `Strength` uses each interval alone); without it the votes are fitted here. Pairs in
    `skipped` match-ups count as seen, so a skipped match-up does not come straight back.
    """
    names = list(dict.fromkeys(items))
    if not 2 <= k <= len(names):
        raise ValueError(f"k={k}: need 2 <= k <= {len(names)} items")
    posterior = strengths if strengths is not None else fit_posterior(names, votes)
    mean, cov = _moments(names, posterior)
    utility = pair_utility(mean, cov)
    counts = pair_counts(votes)
    for match in skipped:
        for first, second in itertools.combinations(match, 2):
            seen = frozenset((first, second))
            counts[seen] = counts.get(seen, 0) + 1
    n = len(names)
    fresh = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        if counts.get(frozenset((names[i], names[j])), 0) == 0:
            fresh[i, j] = fresh[j, i] = 1.0
    order = list(range(n))
    rng.shuffle(order)
    any_fresh = bool(fresh.any())
    best: tuple[float, int, int] | None = None
    for i, j in itertools.combinations(order, 2):
        if any_fresh and not fresh[i, j]:
            continue
        key = (float(utility[i, j]), i, j)
        if best is None or key[0] > best[0]:
            best = key
    assert best is not None
    chosen = _grow([best[1], best[2]], k, utility, fresh, order)
    shown = [names[i] for i in chosen]
    rng.shuffle(shown)
    return tuple(shown)
