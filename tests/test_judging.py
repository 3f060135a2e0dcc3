"""The judging core: votes to pairs, the Bradley–Terry fit, match-ups and rankings by variant."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pandas as pd
import pytest

from kling_nb._judging import (
    Pair,
    Vote,
    fit,
    fit_posterior,
    next_matchup,
    pair_counts,
    rankings_frame,
    votes_to_pairs,
)


def kendall_tau(order: list[str], truth: dict[str, float]) -> float:
    rank = {item: i for i, item in enumerate(order)}
    total = 0
    for a, b in itertools.combinations(order, 2):
        total += int(np.sign(rank[b] - rank[a]) * np.sign(truth[a] - truth[b]))
    return total / (len(order) * (len(order) - 1) / 2)


def simulate(truth: dict[str, float], votes: int, seed: int, rater: str = "sim") -> list[Vote]:
    rng = random.Random(seed)
    items = list(truth)
    out = []
    for n in range(votes):
        a, b = rng.sample(items, 2)
        p = 1 / (1 + math.exp(truth[b] - truth[a]))
        out.append(Vote(float(n), rater, (a, b), a if rng.random() < p else b))
    return out


def test_a_vote_breaks_into_pairs_and_a_tie_into_half_wins_each_way() -> None:
    assert votes_to_pairs([Vote(0, None, ("a", "b", "c"), "b")]) == [
        Pair("b", "a", 1.0),
        Pair("b", "c", 1.0),
    ]
    tie = votes_to_pairs([Vote(0, None, ("a", "b", "c"), None, tie=True)])
    assert sorted(tie) == sorted(
        Pair(x, y, 0.5) for x, y in itertools.permutations(("a", "b", "c"), 2)
    )
    assert votes_to_pairs([Vote(0, None, ("a", "b"), None)]) == []  # a skip says nothing


@pytest.mark.parametrize(
    ("shown", "choice", "tie"),
    [
        (("a",), None, True),
        (("a", "a"), "a", False),
        (("a", "b"), "c", False),
        (("a", "b"), "a", True),
    ],
)
def test_malformed_votes_are_refused(shown: tuple[str, ...], choice: str | None, tie: bool) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Vote(0.0, None, shown, choice, tie)


def test_the_fit_recovers_a_known_order() -> None:
    truth = {f"v{i:02d}": s for i, s in enumerate(np.linspace(-2, 2, 12))}
    strengths = fit(list(truth), simulate(truth, 1500, seed=3))
    order = sorted(strengths, key=lambda item: -strengths[item].score)
    assert kendall_tau(order, truth) >= 0.85
    assert abs(sum(s.score for s in strengths.values())) < 1e-6  # centred
    assert all(s.ci_low < s.score < s.ci_high for s in strengths.values())


def test_all_wins_and_never_compared_stay_finite_with_wide_intervals() -> None:
    votes = [Vote(float(n), None, ("champ", other), "champ") for n in range(5) for other in "xyz"]
    votes += [Vote(10.0 + n, None, ("x", "y"), "x" if n % 2 else "y") for n in range(6)]
    strengths = fit(["champ", "x", "y", "z", "ghost"], votes)
    champ, ghost, x = strengths["champ"], strengths["ghost"], strengths["x"]
    assert all(math.isfinite(v) for s in strengths.values() for v in (s.score, s.ci_low, s.ci_high))
    assert champ.score == max(s.score for s in strengths.values())
    assert (champ.wins, champ.losses, champ.comparisons) == (15, 0, 15)
    assert ghost.comparisons == 0
    assert ghost.ci_high - ghost.ci_low > 1.5 * (x.ci_high - x.ci_low)
    assert ghost.ci_high - ghost.ci_low > 4.0


def test_ties_pull_together_and_count_as_half_a_win_each_way() -> None:
    ties = [Vote(0, None, ("a", "b"), None, tie=True)] * 2
    split = [Vote(0, None, ("a", "b"), "a"), Vote(1, None, ("a", "b"), "b")]
    tied, halves = fit(["a", "b", "c"], ties), fit(["a", "b", "c"], split)
    for item in "abc":
        assert tied[item].score == pytest.approx(halves[item].score, abs=1e-6)
        assert tied[item].ci_high == pytest.approx(halves[item].ci_high, abs=1e-6)
    assert tied["a"].ties == 2
    assert tied["a"].wins == 0
    one_sided = fit(["a", "b"], [Vote(0, None, ("a", "b"), "a")] * 4)
    with_ties = fit(["a", "b"], [Vote(0, None, ("a", "b"), "a")] * 4 + ties * 2)
    assert 0 < with_ties["a"].score < one_sided["a"].score


def test_next_matchup_never_repeats_while_a_fresh_pair_exists() -> None:
    items = list("abcdef")
    rng, votes, seen = random.Random(1), [], set()
    for n in range(15):
        shown = next_matchup(items, votes, 2, rng=rng)
        pair = frozenset(shown)
        assert pair not in seen, n
        seen.add(pair)
        votes.append(Vote(float(n), None, shown, shown[0]))
    assert len(seen) == 15
    assert len(frozenset(next_matchup(items, votes, 2, rng=rng))) == 2  # repeats are allowed now
    three = next_matchup(items, votes[:3], 3, rng=rng)
    assert len(set(three)) == 3


def test_next_matchup_prefers_an_unsettled_close_pair_and_shuffles_display_order() -> None:
    # Every pair seen once; then many votes settle a/b apart and c/d far from the rest,
    # while c and d (close, few votes between them) remain unsettled.
    items = list("abcd")
    votes = [Vote(0, None, (x, y), x) for x, y in itertools.combinations(items, 2)]
    votes += [Vote(1, None, ("a", "b"), "a")] * 30 + [Vote(1, None, ("b", "c"), "b")] * 30
    votes += [Vote(2, None, ("c", "d"), "c"), Vote(3, None, ("c", "d"), "d")]
    posterior = fit_posterior(items, votes)
    orders = {
        next_matchup(items, votes, 2, rng=random.Random(s), strengths=posterior) for s in range(12)
    }
    assert {frozenset(order) for order in orders} == {frozenset("cd")}
    assert orders == {("c", "d"), ("d", "c")}
    assert pair_counts(votes)[frozenset("cd")] == 3


def jobs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "job_id": ["j1", "j2", "j3", "j4", "j5"],
            "prompt": ["fox", "fox", "owl", "owl", "cat"],
            "model": ["kling-v3"] * 5,
            "total_s": [40.0, 60.0, 100.0, None, 80.0],
            "cost_estimate": [0.5, 0.5, 1.0, 1.0, 2.0],
        }
    )


def test_rankings_group_jobs_into_variants_with_stars_time_and_cost() -> None:
    votes = [Vote(float(n), "ann", ("j1", "j3"), "j1") for n in range(4)]
    votes += [Vote(5.0, "ann", ("j4", "j2"), "j2"), Vote(6.0, "ann", ("j1", "j2"), "j1")]
    ratings = pd.DataFrame(
        {
            "job_id": ["j1", "j1", "j2", "j3"],
            "rater": ["ann", "ann", "ann", "bob"],
            "stars": [1, 5, 4, 2],
            "note": [None] * 4,
            "at": [1.0, 2.0, 1.0, 1.0],
        }
    )
    frame = rankings_frame(jobs_frame(), votes, ratings)
    assert list(frame["prompt"]) == ["fox", "cat", "owl"]  # cat: never compared, in the middle
    fox = frame.iloc[0]
    assert (fox["wins"], fox["losses"], fox["comparisons"]) == (5, 0, 5)  # fox vs fox says nothing
    assert fox["stars_mean"] == pytest.approx(4.5)
    assert fox["stars_n"] == 2
    assert fox["total_s_mean"] == pytest.approx(50.0)
    assert fox["cost_estimate_mean"] == 0.5
    assert frame.iloc[2]["total_s_mean"] == pytest.approx(100.0)
    assert frame.iloc[1]["comparisons"] == 0
    assert frame.attrs["position_bias"] == {"left_share": 5 / 6, "n": 6}


def test_two_raters_votes_and_ratings_are_kept_apart_by_the_filter() -> None:
    ann = [Vote(float(n), "ann", ("j1", "j3"), "j1") for n in range(5)]
    bob = [Vote(float(n), "bob", ("j3", "j1"), "j3") for n in range(3)]
    ratings = pd.DataFrame(
        {"job_id": ["j1", "j3"], "rater": ["ann", "bob"], "stars": [5, 1], "at": [1.0, 1.0]}
    )
    for rater, best, wins, stars in (("ann", "fox", 5, 5.0), ("bob", "owl", 3, 1.0)):
        frame = rankings_frame(jobs_frame(), ann + bob, ratings, by=("prompt",), rater=rater)
        top = frame.iloc[0]
        assert (top["prompt"], top["wins"], top["losses"]) == (best, wins, 0)
        assert frame.set_index("prompt").loc[best, "stars_mean"] == stars
        assert frame.attrs["position_bias"]["n"] == wins
    both = rankings_frame(jobs_frame(), ann + bob, ratings).set_index("prompt")
    assert (both.loc["fox", "wins"], both.loc["fox", "losses"]) == (5, 3)


def test_a_vote_whose_winner_is_filtered_out_says_nothing_about_the_rest() -> None:
    jobs = jobs_frame()
    votes = [Vote(0.0, None, ("j1", "j3", "j5"), "j5"), Vote(1.0, None, ("j1", "j3", "j5"), "j1")]
    frame = rankings_frame(jobs[jobs["job_id"] != "j5"], votes).set_index("prompt")
    assert (frame.loc["fox", "wins"], frame.loc["owl", "losses"]) == (1, 1)
    assert frame.loc["fox", "comparisons"] == 1
