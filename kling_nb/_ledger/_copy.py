"""Copy one ledger into another (`kling-nb ledger migrate`): a personal file into a team's.

Jobs already in the target (same job_id) are left as they are, with their events; the others
are copied with their events, in one transaction of the target. Ratings of copied or existing
jobs are added unless that rater already rated that job there; judgements unless the same one
(time, rater, jobs shown) is there. Rows written before schema v3 name no member or machine:
they get the copying Ledger's (the person migrating their own ledger, on their machine).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from ._schema import TABLE_COLUMNS
from ._writes import _INSERT_SQL

if TYPE_CHECKING:
    from ._core import Ledger

__all__ = ["CopyReport", "copy_ledger"]

_EVENT_COLUMNS: Final = ("job_id", "at", "kind", "status", "detail")
_RATING_COLUMNS: Final = ("job_id", "rater", "stars", "note", "at", "member")
_JUDGEMENT_COLUMNS: Final = ("at", "rater", "shown", "choice", "tie", "member")


@dataclasses.dataclass(frozen=True)
class CopyReport:
    """What `copy_ledger` did, in counts."""

    jobs_copied: int
    jobs_already_there: int
    events: int
    ratings: int
    judgements: int

    def __str__(self) -> str:
        return (
            f"copied {self.jobs_copied} job(s) with {self.events} event(s), "
            f"{self.ratings} rating(s) and {self.judgements} judgement(s); "
            f"{self.jobs_already_there} job(s) were already there"
        )


@dataclasses.dataclass(frozen=True)
class _Source:
    jobs: list[dict[str, Any]]
    events: list[dict[str, Any]]
    ratings: list[dict[str, Any]]
    judgements: list[dict[str, Any]]


def _all(db: sa.Connection, table: str, columns: Sequence[str], order: str) -> list[dict[str, Any]]:
    query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"  # noqa: S608 (ours)
    return [dict(row) for row in db.execute(sa.text(query)).mappings()]


def _read(db: sa.Connection) -> _Source:
    return _Source(
        jobs=_all(db, "jobs", TABLE_COLUMNS, "submitted_at, job_id"),
        events=_all(db, "events", _EVENT_COLUMNS, "seq"),
        ratings=_all(db, "ratings", _RATING_COLUMNS, "at, job_id, rater"),
        judgements=_all(db, "judgements", _JUDGEMENT_COLUMNS, "seq"),
    )


def _insert(db: sa.Connection, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
    if not rows:
        return 0
    names = list(rows[0])
    query = (
        f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 (our own names)
        f"VALUES ({', '.join(':' + name for name in names)})"
    )
    db.execute(sa.text(query), list(rows))
    return len(rows)


def _write(source: _Source, member: str, machine: str) -> Any:
    def work(db: sa.Connection) -> CopyReport:
        there = set(db.execute(sa.text("SELECT job_id FROM jobs")).scalars())
        new_jobs = [row for row in source.jobs if row["job_id"] not in there]
        for row in new_jobs:
            row["member"] = row["member"] or member
            row["machine"] = row["machine"] or machine
        if new_jobs:
            db.execute(_INSERT_SQL, new_jobs)
        copied = {row["job_id"] for row in new_jobs}
        events = [row for row in source.events if row["job_id"] in copied]
        rated = {tuple(r) for r in db.execute(sa.text("SELECT job_id, rater FROM ratings"))}
        ratings = [
            {**row, "member": row["member"] or member}
            for row in source.ratings
            if (row["job_id"], row["rater"]) not in rated
        ]
        judged = {tuple(r) for r in db.execute(sa.text("SELECT at, rater, shown FROM judgements"))}
        judgements = [
            {**row, "member": row["member"] or member}
            for row in source.judgements
            if (row["at"], row["rater"], row["shown"]) not in judged
        ]
        return CopyReport(
            jobs_copied=len(new_jobs),
            jobs_already_there=len(source.jobs) - len(new_jobs),
            events=_insert(db, "events", events),
            ratings=_insert(db, "ratings", ratings),
            judgements=_insert(db, "judgements", judgements),
        )

    return work


def copy_ledger(source: Ledger, target: Ledger) -> CopyReport:
    """Copy `source`'s jobs, events, ratings and judgements into `target` (see the module)."""
    data = source._store.read(_read, "read the ledger to copy")
    work = _write(data, target.member, target.machine)
    report: CopyReport = target._store.write(work, f"copy {source!r} into this ledger")
    return report
