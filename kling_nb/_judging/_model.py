"""Votes and the Bradley–Terry fit: pure functions over plain data (no I/O, no widgets).

A vote shows k items (videos) and names the best one, or calls a tie among all of them. It is
broken into pairwise outcomes (`votes_to_pairs`): the winner beats each other shown item with
weight 1; a tie gives every shown pair half a win each way (weight 0.5 both ways). That is the
"ties count as half a win" rule, not a Davidson model: under Bradley–Terry a half-win each way
adds the likelihood term ½·log p + ½·log(1 − p), which pulls the two strengths together without
a tie parameter to estimate.

`fit` regularises with virtual games: every item starts with `alpha` wins and `alpha` losses
against a fixed reference item of strength 0 (a prior whose log-density is
alpha·(log σ(θ) + log σ(−θ)): about N(0, 2/alpha) near 0, with heavier tails). So an item with
only wins, or never compared, still gets a finite score and a wide interval. The maximum
a-posteriori strengths come from `choix.ilsr_pairwise_dense` (iterative Luce spectral ranking,
which takes the fractional half-wins as they are); the 95 % intervals from the inverse of the
regularised Hessian with the reference pinned (the Laplace approximation), for strengths
centred to mean 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

import choix
import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_ALPHA",
    "Z95",
    "Pair",
    "Posterior",
    "Strength",
    "Vote",
    "fit",
    "fit_matrix",
    "fit_posterior",
    "votes_to_pairs",
    "weight_matrix",
]

DEFAULT_ALPHA: Final = 1.0
"""Virtual wins (and as many losses) of every item against a reference of strength 0."""

Z95: Final = 1.959963984540054

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Vote:
    """One judgement: the items `shown` (display order), the `choice`, or a `tie` among them.

    A vote with neither a choice nor a tie (a skip) carries no information and is ignored.
    """

    at: float
    rater: str | None
    shown: tuple[str, ...]
    choice: str | None
    tie: bool = False

    def __post_init__(self) -> None:
        if len(self.shown) < 2 or len(set(self.shown)) != len(self.shown):
            raise ValueError(f"a vote shows two or more distinct items, not {self.shown!r}")
        if self.tie and self.choice is not None:
            raise ValueError("a tie has no single choice")
        if self.choice is not None and self.choice not in self.shown:
            raise ValueError(f"choice {self.choice!r} was not shown")

    @property
    def decisive(self) -> bool:
        """True when the vote names a winner."""
        return self.choice is not None

    @property
    def skipped(self) -> bool:
        """True when the vote names neither a winner nor a tie."""
        return self.choice is None and not self.tie


class Pair(NamedTuple):
    """One pairwise outcome: `winner` beat `loser` with `weight` (1, or 0.5 for a tie)."""

    winner: str
    loser: str
    weight: float


def votes_to_pairs(votes: Iterable[Vote]) -> list[Pair]:
    """Break k-wise votes into weighted pairwise outcomes (see the module docstring)."""
    pairs: list[Pair] = []
    for vote in votes:
        if vote.choice is not None:
            winner = vote.choice
            pairs.extend(Pair(winner, other, 1.0) for other in vote.shown if other != winner)
        elif vote.tie:
            for i, first in enumerate(vote.shown):
                for second in vote.shown[i + 1 :]:
                    pairs.append(Pair(first, second, 0.5))
                    pairs.append(Pair(second, first, 0.5))
    return pairs


@dataclass(frozen=True)
class Strength:
    """An item's fitted log-strength with its 95 % interval and its vote tallies.

    `wins`, `losses` and `ties` count votes (a k-wise vote is one win for its choice and one
    loss for each other item shown); `comparisons` counts the non-skipped votes it was shown in.
    """

    score: float
    ci_low: float
    ci_high: float
    wins: int = 0
    losses: int = 0
    ties: int = 0
    comparisons: int = 0

    @property
    def sd(self) -> float:
        """The standard deviation implied by the 95 % interval."""
        return (self.ci_high - self.ci_low) / (2 * Z95)


@dataclass(frozen=True)
class Posterior:
    """The Laplace posterior of centred log-strengths: `mean` and `cov`, indexed by `items`."""

    items: tuple[str, ...]
    mean: FloatArray
    cov: FloatArray
    tallies: Mapping[str, tuple[int, int, int, int]] = field(default_factory=dict)

    def strengths(self) -> dict[str, Strength]:
        """Each item's `Strength` (score, 95 % interval, tallies)."""
        out: dict[str, Strength] = {}
        for index, item in enumerate(self.items):
            score = float(self.mean[index])
            half = Z95 * math.sqrt(max(float(self.cov[index, index]), 0.0))
            wins, losses, ties, seen = self.tallies.get(item, (0, 0, 0, 0))
            out[item] = Strength(score, score - half, score + half, wins, losses, ties, seen)
        return out


def _tallies(items: Sequence[str], votes: Sequence[Vote]) -> dict[str, tuple[int, int, int, int]]:
    counts = {item: [0, 0, 0, 0] for item in items}
    for vote in votes:
        if vote.skipped:
            continue
        for item in vote.shown:
            row = counts.get(item)
            if row is None:
                continue
            row[3] += 1
            if vote.tie:
                row[2] += 1
            elif item == vote.choice:
                row[0] += 1
            else:
                row[1] += 1
    return {item: (row[0], row[1], row[2], row[3]) for item, row in counts.items()}


def weight_matrix(items: Sequence[str], pairs: Iterable[Pair]) -> FloatArray:
    """`W[i, j]`: the weighted number of times item i beat item j (unknown items dropped)."""
    index = {item: i for i, item in enumerate(items)}
    wins = np.zeros((len(items), len(items)))
    for pair in pairs:
        i, j = index.get(pair.winner), index.get(pair.loser)
        if i is not None and j is not None and i != j:
            wins[i, j] += pair.weight
    return wins


def _augment(wins: FloatArray, alpha: float) -> FloatArray:
    n = wins.shape[0]
    games = np.zeros((n + 1, n + 1))
    games[1:, 1:] = wins
    games[0, 1:] = alpha  # the reference beats every item alpha times...
    games[1:, 0] = alpha  # ...and loses to it alpha times
    return games


def _map_estimate(games: FloatArray, initial: FloatArray | None) -> FloatArray:
    start = None if initial is None else np.concatenate(([0.0], initial))
    # The reference's virtual games make the comparison graph strongly connected, which is
    # what the spectral (LSR) iteration needs to have a unique fixed point.
    theta = choix.ilsr_pairwise_dense(games, initial_params=start, max_iter=10_000, tol=1e-7)
    items: FloatArray = np.asarray(theta, dtype=float)[1:] - float(theta[0])
    return items


def _covariance(games: FloatArray, theta: FloatArray) -> FloatArray:
    n = theta.shape[0]
    both = games + games.T
    full = np.concatenate(([0.0], theta))
    prob = 1.0 / (1.0 + np.exp(-(full[:, None] - full[None, :])))
    info = both * prob * (1.0 - prob)
    laplacian = np.diag(info.sum(axis=1)) - info
    # With the reference pinned, the items' block of the Laplacian is positive definite.
    hessian = laplacian[1:, 1:]
    centre = np.eye(n) - np.full((n, n), 1.0 / n)
    cov: FloatArray = np.asarray(centre @ np.linalg.inv(hessian) @ centre, dtype=float)
    return cov


def fit_posterior(
    items: Sequence[str],
    votes: Iterable[Vote],
    *,
    alpha: float = DEFAULT_ALPHA,
    initial: FloatArray | None = None,
) -> Posterior:
    """The Laplace posterior of the items' log-strengths given `votes` (see `fit`).

    `initial` (log-strengths in `items` order, e.g. the previous fit) only speeds the solver.
    """
    if not alpha > 0:
        raise ValueError("alpha must be > 0: it keeps all-win and unseen items finite")
    names = tuple(dict.fromkeys(items))
    chosen = list(votes)
    wins = weight_matrix(names, votes_to_pairs(chosen))
    return fit_matrix(names, wins, alpha=alpha, initial=initial, tallies=_tallies(names, chosen))


def fit_matrix(
    items: Sequence[str],
    wins: FloatArray,
    *,
    alpha: float = DEFAULT_ALPHA,
    initial: FloatArray | None = None,
    tallies: Mapping[str, tuple[int, int, int, int]] | None = None,
) -> Posterior:
    """`fit_posterior` from a `weight_matrix` (kept up to date by a caller that adds votes)."""
    if not alpha > 0:
        raise ValueError("alpha must be > 0: it keeps all-win and unseen items finite")
    games = _augment(wins, alpha)
    theta = _map_estimate(games, initial)
    cov = _covariance(games, theta)
    return Posterior(tuple(items), theta - theta.mean(), cov, dict(tallies or {}))


def fit(
    items: Sequence[str], votes: Iterable[Vote], *, alpha: float = DEFAULT_ALPHA
) -> dict[str, Strength]:
    """Bradley–Terry log-strengths (mean 0) with 95 % intervals and tallies, per item.

    Votes naming items outside `items` lose those items; the virtual games against the
    reference (`alpha` each way) keep every score finite: an item never compared sits at the
    reference with the widest interval.
    """
    return fit_posterior(items, votes, alpha=alpha).strengths()
