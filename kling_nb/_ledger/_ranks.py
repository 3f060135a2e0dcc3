"""The ledger's judging views: votes as `Vote`s, rankings, and compare's stars and scores."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from .._judging import Vote, rankings_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TABLES",
    "judged_values",
    "ranked_ids",
    "table_for_export",
    "to_votes",
    "variant_key",
    "variant_rankings",
]

TABLES: Final = ("jobs", "ratings", "judgements")
"""What `Ledger.to_csv` / `to_parquet` can write."""

_SUCCEEDED: Final = "succeeded"


def to_votes(judgements: pd.DataFrame, job_ids: Sequence[str] | None = None) -> list[Vote]:
    """The judgements as `Vote`s, oldest first; with `job_ids`, those that show any of them."""
    wanted = None if job_ids is None else set(job_ids)
    votes: list[Vote] = []
    for seq_at, rater, shown, choice, tie in judgements[
        ["at", "rater", "shown", "choice", "tie"]
    ].itertuples(index=False, name=None):
        if wanted is not None and not wanted.intersection(shown):
            continue
        at = float(seq_at.timestamp()) if hasattr(seq_at, "timestamp") else float(seq_at)
        votes.append(Vote(at, rater, tuple(shown), choice, bool(tie)))
    return votes


def _ids(jobs: Sequence[object]) -> list[str]:
    return [job if isinstance(job, str) else str(getattr(job, "job_id", job)) for job in jobs]


def ranked_ids(
    judgements: pd.DataFrame, ratings: pd.DataFrame, jobs: Sequence[object] | None
) -> list[str]:
    """The jobs `rankings()` reads: those given, else every job judged or rated."""
    if jobs is not None:
        return list(dict.fromkeys(_ids(jobs)))
    judged = {job_id for vote in to_votes(judgements) for job_id in vote.shown}
    judged.update(ratings["job_id"].astype(str))
    return sorted(judged)


def variant_rankings(
    df: pd.DataFrame,
    judgements: pd.DataFrame,
    ratings: pd.DataFrame,
    *,
    by: Sequence[str],
    jobs: Sequence[object] | None,
    rater: str | None,
) -> pd.DataFrame:
    """`Ledger.rankings`: `rankings_frame` over the chosen jobs (default: every judged one)."""
    votes = to_votes(judgements)
    if jobs is None:
        judged = {job_id for vote in votes for job_id in vote.shown}
        judged.update(ratings["job_id"].astype(str))
        chosen = df[df["job_id"].isin(judged)]
    else:
        chosen = df[df["job_id"].isin(_ids(jobs))]
    missing = [name for name in by if name not in chosen.columns]
    if missing:
        raise ValueError(f"rankings(by=...): no column {missing[0]!r} in the ledger")
    ranked = rankings_frame(chosen, votes, ratings, by=by, rater=rater)
    ranked.attrs["jobs"] = len(chosen)
    return ranked


def _job_stars(ratings: pd.DataFrame) -> pd.Series:
    latest = ratings.sort_values("at").drop_duplicates(["job_id", "rater"], keep="last")
    stars: pd.Series = latest.groupby("job_id")["stars"].mean()
    return stars


def variant_key(values: Sequence[Any]) -> tuple[str, ...]:
    """A variant's field values as a key (None and NaN are both "")."""
    return tuple(
        "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values
    )


def judged_values(
    frame: pd.DataFrame,
    judgements: pd.DataFrame,
    ratings: pd.DataFrame,
    fields: Sequence[str],
) -> tuple[pd.DataFrame, list[str]]:
    """`frame` with `stars_mean` (per job) and `score` (per variant of `fields`) columns added.

    Only the columns the records support are added: `stars_mean` when there are ratings,
    `score` when there are judgements. Returns the frame and the names added.
    """
    added: list[str] = []
    out = frame.copy()
    if len(ratings):
        out["stars_mean"] = out["job_id"].map(_job_stars(ratings)).astype(float)
        added.append("stars_mean")
    if len(judgements) and all(name in out.columns for name in fields):
        succeeded = out[out["status"] == _SUCCEEDED]
        ranked = rankings_frame(succeeded, to_votes(judgements), by=list(fields))
        score = {
            variant_key(row[: len(fields)]): row[len(fields)]
            for row in ranked[[*fields, "score"]].itertuples(index=False, name=None)
        }
        keys = out[list(fields)].itertuples(index=False, name=None)
        out["score"] = [score.get(variant_key(key), math.nan) for key in keys]
        added.append("score")
    return out, added


def table_for_export(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame of `table` ready for CSV/Parquet (`shown` lists as JSON text)."""
    if table == "judgements":
        frame = frame.assign(shown=frame["shown"].map(json.dumps))
    return frame
