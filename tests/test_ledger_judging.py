"""Ratings (one per job and rater, the newer replaces the older) and preference judgements."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _ledger_helpers import job

from kling_nb import ValidationError
from kling_nb._ledger import Ledger


@pytest.fixture
def ledger(target: str | Path) -> Ledger:
    ledger = Ledger(target)
    for job_id in ("a", "b", "c"):
        ledger.insert(job(job_id, status="succeeded"))
    return ledger


def test_a_raters_newer_rating_replaces_the_older(ledger: Ledger) -> None:
    ledger.add_rating("a", 3, rater="ann")
    ledger.add_rating("a", 5, note="sharper <b>now</b>", rater="ann")
    ledger.add_rating("a", 2, rater="bob")
    ratings = ledger.ratings.sort_values("rater", ignore_index=True)
    assert list(ratings.columns) == ["job_id", "rater", "stars", "note", "at", "member"]
    assert ratings[["rater", "stars"]].values.tolist() == [["ann", 5], ["bob", 2]]
    assert ratings["note"].iloc[0] == "sharper <b>now</b>"
    assert isinstance(ratings["at"].dtype, pd.DatetimeTZDtype)
    ledger.close()


@pytest.mark.parametrize("stars", [0, 6, 2.5, True, "4"])
def test_stars_are_one_to_five(ledger: Ledger, stars: object) -> None:
    with pytest.raises(ValidationError, match="stars"):
        ledger.add_rating("a", stars, rater="ann")  # type: ignore[arg-type]
    ledger.close()


def test_rating_an_unknown_job_fails(ledger: Ledger) -> None:
    with pytest.raises(KeyError, match="zz"):
        ledger.add_rating("zz", 4, rater="ann")
    assert ledger.ratings.empty
    ledger.close()


def test_judgements_frame(ledger: Ledger) -> None:
    first = ledger.add_judgement(["b", "a"], "a", tie=False, rater="ann")
    second = ledger.add_judgement(["a", "b", "c"], None, tie=True, rater="bob")
    assert second == first + 1
    frame = ledger.judgements
    assert list(frame.columns) == ["seq", "at", "rater", "shown", "choice", "tie", "member"]
    assert frame["shown"].tolist() == [["b", "a"], ["a", "b", "c"]]
    assert frame["choice"].tolist() == ["a", None]
    assert frame["tie"].tolist() == [False, True]
    assert isinstance(frame["at"].dtype, pd.DatetimeTZDtype)
    ledger.close()


def test_judgements_empty(ledger: Ledger) -> None:
    frame = ledger.judgements
    assert frame.empty
    assert list(frame.columns) == ["seq", "at", "rater", "shown", "choice", "tie", "member"]
    ledger.close()


@pytest.mark.parametrize(
    ("shown", "choice", "tie"),
    [
        (["a"], "a", False),
        (["a", "a"], None, True),
        (["a", "b"], "c", False),
        (["a", "b"], "a", True),
    ],
)
def test_bad_judgements_are_refused(
    ledger: Ledger, shown: list[str], choice: str | None, tie: bool
) -> None:
    with pytest.raises(ValidationError):
        ledger.add_judgement(shown, choice, tie=tie, rater="ann")
    with pytest.raises(KeyError, match="zz"):
        ledger.add_judgement(["a", "zz"], "a", tie=False, rater="ann")
    assert ledger.judgements.empty
    ledger.close()
