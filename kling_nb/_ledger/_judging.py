"""Judging records: star ratings (one per job and rater) and k-wise preference judgements."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa

from .._errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from ._store import Store

__all__ = ["judgement_work", "judgements_frame", "rating_work", "ratings_frame"]

STARS: Final = range(1, 6)


def _check_rater(rater: object) -> str:
    if not isinstance(rater, str) or not rater.strip():
        raise ValidationError("rater", rater, "a non-empty name")
    return rater


_EXISTS: Final = sa.text("SELECT 1 FROM jobs WHERE job_id = :job_id")
_RATE: Final = sa.text(
    "INSERT INTO ratings (job_id, rater, stars, note, at, member) "
    "VALUES (:job_id, :rater, :stars, :note, :at, :member) "
    "ON CONFLICT (job_id, rater) DO UPDATE SET "
    "stars = excluded.stars, note = excluded.note, at = excluded.at, member = excluded.member"
)
_JUDGE: Final = sa.text(
    "INSERT INTO judgements (at, rater, shown, choice, tie, member) "
    "VALUES (:at, :rater, :shown, :choice, :tie, :member) RETURNING seq"
)


def _require_jobs(db: sa.Connection, job_ids: Sequence[str]) -> None:
    for job_id in job_ids:
        if db.execute(_EXISTS, {"job_id": job_id}).first() is None:
            raise KeyError(f"no job {job_id!r} in this ledger")


def rating_work(
    job_id: str, stars: int, note: str | None, rater: str, member: str, now: float
) -> Callable[[sa.Connection], None]:
    """Store `rater`'s rating of a job, replacing their earlier one (KeyError: no such job)."""
    if isinstance(stars, bool) or not isinstance(stars, int) or stars not in STARS:
        raise ValidationError("stars", stars, "an integer from 1 to 5")
    _check_rater(rater)

    params = {
        "job_id": job_id, "rater": rater, "stars": stars, "note": note, "at": now,
        "member": member,
    }  # fmt: skip

    def work(db: sa.Connection) -> None:
        _require_jobs(db, [job_id])
        db.execute(_RATE, params)

    return work


def judgement_work(
    shown: Sequence[str], choice: str | None, tie: bool, rater: str, member: str, now: float
) -> Callable[[sa.Connection], int]:
    """Store one judgement (the jobs shown, in order; the winner or None); the work's seq."""
    shown = list(shown)
    if len(shown) < 2 or len(set(shown)) != len(shown):
        raise ValidationError("shown", shown, "two or more distinct job ids")
    if choice is not None and choice not in shown:
        raise ValidationError("choice", choice, "one of the shown job ids, or None")
    if tie and choice is not None:
        raise ValidationError("choice", choice, "None when tie=True")
    _check_rater(rater)
    params = {
        "at": now, "rater": rater, "shown": json.dumps(shown), "choice": choice,
        "tie": int(bool(tie)), "member": member,
    }  # fmt: skip

    def work(db: sa.Connection) -> int:
        _require_jobs(db, shown)
        return int(db.execute(_JUDGE, params).scalar_one())

    return work


def _records(store: Store, query: str) -> list[tuple[object, ...]]:
    def read(db: sa.Connection) -> list[tuple[object, ...]]:
        return [tuple(row) for row in db.execute(sa.text(query))]

    return store.read(read, "read judging records")


def ratings_frame(store: Store) -> pd.DataFrame:
    """Every rating: job_id, rater, stars, note, at (UTC), oldest first."""
    import pandas as pd

    records = _records(
        store,
        "SELECT job_id, rater, stars, note, at, member FROM ratings ORDER BY at, job_id, rater",
    )
    names = ["job_id", "rater", "stars", "note", "at", "member"]
    frame = pd.DataFrame.from_records(records, columns=names)
    frame["stars"] = frame["stars"].astype("int64")
    frame["at"] = pd.to_datetime(frame["at"], unit="s", utc=True)
    result: pd.DataFrame = frame
    return result


def judgements_frame(store: Store) -> pd.DataFrame:
    """Every judgement: seq, at (UTC), rater, shown (list), choice, tie (bool), in order."""
    import pandas as pd

    records = _records(
        store, "SELECT seq, at, rater, shown, choice, tie, member FROM judgements ORDER BY seq"
    )
    frame = pd.DataFrame.from_records(
        records, columns=["seq", "at", "rater", "shown", "choice", "tie", "member"]
    )
    frame["seq"] = frame["seq"].astype("int64")
    frame["at"] = pd.to_datetime(frame["at"], unit="s", utc=True)
    frame["shown"] = pd.Series([json.loads(str(r[3])) for r in records], dtype=object)
    frame["choice"] = pd.Series([r[4] for r in records], dtype=object)  # None stays None
    frame["tie"] = frame["tie"].astype(bool)
    result: pd.DataFrame = frame
    return result
