"""Judging: votes until the estimated order matches the truth, per match-up strategy.

Simulated raters judge 16 variants with known latent log-strengths (drawn per run from N(0, 1),
centred): each vote is a tie with probability 0.1, otherwise a Bradley–Terry choice (the winner
is drawn with probability σ(θᵢ − θⱼ); that draw is the rater's noise). After every vote the
votes are fitted with `kling_nb._judging.fit_posterior` (choix, the default prior), and a run
stops at the first vote where Kendall τ between the estimated and the true order is ≥ 0.9.

Strategies:
- informative: `next_matchup` (fresh pairs first, then the most uncertain order), fitted each vote;
- random: a uniformly random pair each vote;
- round-robin: all 120 pairs in a shuffled order, then again.

Reported per strategy: median votes to τ ≥ 0.9 (IQR), the ratio to random, and the share of
95 % intervals that contain the true (centred) strength at the stopping vote.
Target: informative ≤ 0.5× random; intervals covering 90–98 %.

Run: python bench/judging.py [--runs 200] [--items 16] [--k 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from _common import machine

from kling_nb._judging import (
    DEFAULT_ALPHA,
    Posterior,
    Vote,
    fit_matrix,
    next_matchup,
    votes_to_pairs,
)

TAU_TARGET = 0.9
TIE_RATE = 0.1
CHECK_EVERY = 5  # the non-adaptive strategies fit every 5th vote, then back-fill the last 4


@dataclass(frozen=True)
class Outcome:
    """One run of one strategy: votes to the target (None if never), interval coverage."""

    votes: int | None
    covered: int
    items: int


def kendall_tau(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Kendall τ-a between two score vectors (a tie in either counts as neither)."""
    d_est = np.sign(estimate[:, None] - estimate[None, :])
    d_true = np.sign(truth[:, None] - truth[None, :])
    n = len(truth)
    return float((d_est * d_true).sum() / (n * (n - 1)))


def simulate_vote(
    shown: Sequence[str], truth: dict[str, float], rng: random.Random, at: float
) -> Vote:
    """A tie with probability TIE_RATE, else a Luce (k-wise Bradley–Terry) choice."""
    if rng.random() < TIE_RATE:
        return Vote(at, "sim", tuple(shown), None, tie=True)
    weights = [math.exp(truth[item]) for item in shown]
    choice = rng.choices(list(shown), weights=weights)[0]
    return Vote(at, "sim", tuple(shown), choice)


def _covered(post: Posterior, truth_vec: np.ndarray) -> int:
    half = 1.959963984540054 * np.sqrt(np.maximum(np.diag(post.cov), 0.0))
    return int(((post.mean - half <= truth_vec) & (truth_vec <= post.mean + half)).sum())


def run_one(strategy: str, seed: int, n_items: int, k: int, cap: int) -> Outcome:
    """One simulated judging session with `strategy`; stops at τ ≥ 0.9 or after `cap` votes."""
    rng = random.Random(seed)
    items = [f"v{i:02d}" for i in range(n_items)]
    raw = np.array([rng.gauss(0.0, 1.0) for _ in items])
    truth_vec = raw - raw.mean()
    truth = dict(zip(items, truth_vec.tolist(), strict=True))
    pairs = list(itertools.combinations(items, 2))
    rng.shuffle(pairs)
    votes: list[Vote] = []
    index = {item: i for i, item in enumerate(items)}
    wins = np.zeros((n_items, n_items))
    history: list[np.ndarray] = []  # the win matrix after each vote, for the back-fill
    post = fit_matrix(items, wins)

    def refit(matrix: np.ndarray) -> Posterior:
        return fit_matrix(items, matrix, initial=post.mean)

    for n in range(1, cap + 1):
        if strategy == "informative":
            shown: Sequence[str] = next_matchup(items, votes, k, rng=rng, strengths=post)
        elif strategy == "random":
            shown = rng.sample(items, k)
        else:
            shown = pairs[(n - 1) % len(pairs)]
        votes.append(simulate_vote(shown, truth, rng, float(n)))
        for pair in votes_to_pairs(votes[-1:]):
            wins[index[pair.winner], index[pair.loser]] += pair.weight
        history.append(wins.copy())
        if strategy != "informative" and n % CHECK_EVERY and n != cap:
            continue
        post = refit(wins)
        if kendall_tau(post.mean, truth_vec) < TAU_TARGET:
            continue
        if strategy != "informative":  # find the first vote that reached it among the last few
            for back in range(max(n - CHECK_EVERY + 1, 1), n):
                trial = refit(history[back - 1])
                if kendall_tau(trial.mean, truth_vec) >= TAU_TARGET:
                    return Outcome(back, _covered(trial, truth_vec), n_items)
        return Outcome(n, _covered(post, truth_vec), n_items)
    return Outcome(None, _covered(post, truth_vec), n_items)


def _task(args: tuple[str, int, int, int, int]) -> tuple[str, Outcome]:
    return args[0], run_one(*args)


def summarise(name: str, outcomes: Sequence[Outcome], random_median: float | None) -> str:
    """One table row."""
    counts = [o.votes if o.votes is not None else math.inf for o in outcomes]
    missed = sum(1 for o in outcomes if o.votes is None)
    q1, med, q3 = (float(np.percentile(counts, q, method="lower")) for q in (25, 50, 75))
    votes = f"{med:6.0f}  ({q1:.0f}–{q3:.0f})"
    ratio = f"{med / random_median:5.2f}x" if random_median else "     -"
    coverage = sum(o.covered for o in outcomes) / sum(o.items for o in outcomes)
    return f"{name:<12} {votes:<20} {ratio:>7} {coverage:9.1%} {missed:7d}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--cap", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strategies", default="random,round-robin,informative")
    args = parser.parse_args(argv)
    print(f"bench/judging.py: {machine()}", flush=True)
    strategies = args.strategies.split(",")
    start = time.perf_counter()
    tasks = [
        (s, seed, args.items, args.k, args.cap) for s in strategies for seed in range(args.runs)
    ]
    results: dict[str, list[Outcome]] = {s: [] for s in strategies}
    with ProcessPoolExecutor(args.workers) as pool:
        for name, outcome in pool.map(_task, tasks, chunksize=4):
            results[name].append(outcome)
    wall = time.perf_counter() - start
    random_votes = [o.votes or math.inf for o in results.get("random", [])]
    random_median = float(np.percentile(random_votes, 50, method="lower")) if random_votes else None
    print(
        f"judging bench: {args.items} variants, k={args.k}, {args.runs} runs per strategy, "
        f"ties {TIE_RATE:.0%}, prior alpha={DEFAULT_ALPHA}, target tau >= {TAU_TARGET}"
    )
    print(
        f"{'strategy':<12} {'median votes (IQR)':<20} {'vs rand':>7} {'CI cover':>9} {'missed':>7}"
    )
    for name in strategies:
        print(summarise(name, results[name], random_median))
    print(f"wall time {wall:.1f} s on {args.workers} workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
