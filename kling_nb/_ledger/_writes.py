"""The job writes: a row and its events, built in the caller and applied on the writer thread.

Each function here checks its arguments at once (in the caller's thread, so a bad call fails
where it was made) and returns the work to run inside one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import sqlalchemy as sa

from .._errors import ValidationError
from .._families import family_of
from .._states import JobState
from ._codec import encode
from ._schema import TABLE_COLUMNS

__all__ = ["EVENT_SQL", "event", "insert_work", "update_work"]

EVENT_SQL: Final = sa.text(
    "INSERT INTO events (job_id, at, kind, status, detail) "
    "VALUES (:job_id, :at, :kind, :status, :detail)"
)
_INSERT_SQL: Final = sa.text(
    f"INSERT INTO jobs ({', '.join(TABLE_COLUMNS)}) "  # noqa: S608 (names are ours)
    f"VALUES ({', '.join(':' + name for name in TABLE_COLUMNS)})"
)


def event(job_id: str, at: float, kind: str, status: object, detail: object) -> dict[str, object]:
    """The parameters of `EVENT_SQL`."""
    return {"job_id": job_id, "at": at, "kind": kind, "status": status, "detail": detail}


_DEFAULTS: Final = {"polls": 0, "attempts": 0, "create_state": "pending", "tags": "[]"}


def _family(route: object) -> str:
    """The family that owns `route` (a row written without one; an unknown route is Kling's)."""
    try:
        return family_of(route).name
    except ValidationError:
        return "kling"


def _status(value: object) -> str | None:
    return None if value is None else JobState.parse(value).value


def insert_work(row: Mapping[str, Any], now: float) -> Callable[[sa.Connection], None]:
    """Add a job row and its 'submitted' event (unknown keys raise KeyError here)."""
    unknown = set(row) - set(TABLE_COLUMNS)
    if unknown:
        raise KeyError(f"unknown ledger columns: {sorted(unknown)}")
    status = _status(row.get("status"))
    values = {key: encode(row.get(key)) for key in TABLE_COLUMNS}
    values["status"] = status
    values["submitted_at"] = values["submitted_at"] or now
    values["updated_at"] = now
    for key, default in _DEFAULTS.items():
        if values[key] is None:
            values[key] = default
    if values["family"] is None:
        values["family"] = _family(row.get("route"))
    submitted = event(row["job_id"], now, "submitted", status, None)

    def work(db: sa.Connection) -> None:
        db.execute(_INSERT_SQL, values)
        db.execute(EVENT_SQL, submitted)

    return work


def update_work(
    job_id: str,
    owner: str | None,
    event: str | None,
    detail: object,
    fields: Mapping[str, Any],
    now: float,
) -> Callable[[sa.Connection], bool]:
    """Set fields of a row (and append `event`), only if `owner` (when given) owns it.

    The work returns whether the row was changed: False when there is no such row, or when
    `owner` was given and the row's owner is someone else (this Studio lost the job).
    """
    unknown = set(fields) - set(TABLE_COLUMNS)
    if unknown:
        raise KeyError(f"unknown ledger columns: {sorted(unknown)}")
    values = {name: encode(value) for name, value in fields.items()}
    if "status" in values:
        values["status"] = _status(values["status"])
    values["updated_at"] = now
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    where = "job_id = :where_job_id" + ("" if owner is None else " AND owner = :where_owner")
    query = sa.text(f"UPDATE jobs SET {assignments} WHERE {where}")  # noqa: S608 (checked)
    params: dict[str, object] = {**values, "where_job_id": job_id, "where_owner": owner}
    if owner is None:
        del params["where_owner"]
    appended = None if event is None else _event(job_id, now, event, values, detail)

    def work(db: sa.Connection) -> bool:
        if db.execute(query, params).rowcount == 0:
            return False
        if appended is not None:
            db.execute(EVENT_SQL, appended)
        return True

    return work


def _event(
    job_id: str, now: float, kind: str, values: Mapping[str, object], detail: object
) -> dict[str, object]:
    return event(job_id, now, kind, values.get("status"), encode(detail))
