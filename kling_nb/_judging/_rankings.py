"""`rankings_frame`: jobs grouped into variants, one Bradley–Terry item per variant, best first."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ._model import DEFAULT_ALPHA, Vote, fit

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RANKING_COLUMNS", "position_bias", "rankings_frame", "variant_votes"]

RANKING_COLUMNS: Final = (
    "score",
    "ci_low",
    "ci_high",
    "wins",
    "losses",
    "ties",
    "comparisons",
    "stars_mean",
    "stars_n",
    "total_s_mean",
    "cost_estimate_mean",
)
"""The columns after the variant fields, in order."""


def _key(values: Sequence[Any]) -> str:
    return "\x1f".join("" if _missing(v) else str(v) for v in values)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def variant_votes(votes: Iterable[Vote], variant_of: Mapping[str, str]) -> list[Vote]:
    """`votes` with each shown job replaced by its variant.

    Jobs without a variant (not in the frame) are dropped from the vote; a vote whose choice was
    dropped, or that shows fewer than two variants, keeps only what it still says: a winner
    shown beside a job of its own variant beats the other variants only.
    """
    out: list[Vote] = []
    for vote in votes:
        shown = tuple(dict.fromkeys(variant_of[j] for j in vote.shown if j in variant_of))
        if len(shown) < 2:
            continue
        choice = variant_of.get(vote.choice) if vote.choice is not None else None
        if vote.choice is not None and choice is None:
            continue  # the winner is outside the frame: nothing is said about the others
        out.append(Vote(vote.at, vote.rater, shown, choice, vote.tie))
    return out


def position_bias(votes: Iterable[Vote]) -> dict[str, float | int | None]:
    """Share of decisive two-item votes won by the left (first shown) item, with their count."""
    decisive = [vote for vote in votes if len(vote.shown) == 2 and vote.choice is not None]
    left = sum(1 for vote in decisive if vote.choice == vote.shown[0])
    return {"left_share": left / len(decisive) if decisive else None, "n": len(decisive)}


def _latest_ratings(ratings: pd.DataFrame | None, rater: str | None) -> pd.DataFrame | None:
    if ratings is None or ratings.empty:
        return None
    frame = ratings if rater is None else ratings[ratings["rater"] == rater]
    if "at" in frame:
        frame = frame.sort_values("at")
    latest: pd.DataFrame = frame.drop_duplicates(["job_id", "rater"], keep="last")
    return latest


def rankings_frame(
    jobs: pd.DataFrame,
    votes: Iterable[Vote],
    ratings: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = ("prompt",),
    rater: str | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """One row per variant (the `by` fields of `jobs`), best score first.

    `jobs` has `job_id`, the `by` fields and optionally `total_s` and `cost_estimate`;
    `votes` name job ids; `ratings` has `job_id`, `rater`, `stars` (and `at`: a rater's latest
    rating of a job counts). `rater` keeps only that rater's votes and ratings. The frame's
    `attrs["position_bias"]` is `position_bias` of the (job-level) votes used.
    """
    import pandas as pd

    fields = list(by)
    keys = [_key(row) for row in jobs[fields].itertuples(index=False, name=None)]
    variant_of = dict(zip(jobs["job_id"].astype(str), keys, strict=True))
    chosen = [vote for vote in votes if rater is None or vote.rater == rater]
    strengths = fit(list(dict.fromkeys(keys)), variant_votes(chosen, variant_of), alpha=alpha)
    grouped = jobs.assign(_variant=keys)
    latest = _latest_ratings(ratings, rater)
    rows: list[dict[str, Any]] = []
    for variant, group in grouped.groupby("_variant", sort=False):
        strength = strengths[str(variant)]
        row: dict[str, Any] = {name: group[name].iloc[0] for name in fields}
        row.update(
            score=strength.score,
            ci_low=strength.ci_low,
            ci_high=strength.ci_high,
            wins=strength.wins,
            losses=strength.losses,
            ties=strength.ties,
            comparisons=strength.comparisons,
        )
        stars = (
            latest[latest["job_id"].isin(group["job_id"])]["stars"]
            if latest is not None
            else pd.Series(dtype=float)
        )
        row["stars_mean"] = float(stars.mean()) if len(stars) else math.nan
        row["stars_n"] = len(stars)
        for column in ("total_s", "cost_estimate"):
            values = pd.to_numeric(group[column], errors="coerce") if column in group else None
            row[f"{column}_mean"] = float(values.mean()) if values is not None else math.nan
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*fields, *RANKING_COLUMNS])
    ranked: pd.DataFrame = frame.sort_values(
        ["score", "comparisons"], ascending=False, ignore_index=True, kind="stable"
    )
    ranked.attrs["position_bias"] = position_bias(chosen)
    ranked.attrs["alpha"] = alpha
    ranked.attrs["ties"] = "half a win each way"
    return ranked
