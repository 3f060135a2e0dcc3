"""The job writes: a row and its events, built in the caller and applied on the writer thread.

Each function here checks its arguments at once (in the caller's thread, so a bad call fails
where it was made) and returns the work to run inside one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, Final

from .._states import JobState
from ._codec import encode
from ._schema import TABLE_COLUMNS

__all__ = ["EVENT_SQL", "insert_work", "update_work"]

EVENT_SQL: Final = "INSERT INTO events (job_id, at, kind, status, detail) VALUES (?, ?, ?, ?, ?)"
_INSERT_SQL: Final = (
    f"INSERT INTO jobs ({', '.join(TABLE_COLUMNS)}) "  # noqa: S608 (names are ours)
    f"VALUES ({', '.join('?' for _ in TABLE_COLUMNS)})"
)
_DEFAULTS: Final = {"polls": 0, "attempts": 0, "create_state": "pending", "tags": "[]"}


def _status(value: object) -> str | None:
    return None if value is None else JobState.parse(value).value


def insert_work(row: Mapping[str, Any], now: float) -> Callable[[sqlite3.Connection], None]:
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
    params = list(values.values())
    job_id = row["job_id"]

    def work(db: sqlite3.Connection) -> None:
        db.execute(_INSERT_SQL, params)
        db.execute(EVENT_SQL, (job_id, now, "submitted", status, None))

    return work


def update_work(
    job_id: str,
    owner: str | None,
    event: str | None,
    detail: object,
    fields: Mapping[str, Any],
    now: float,
) -> Callable[[sqlite3.Connection], bool]:
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
    assignments = ", ".join(f"{name} = ?" for name in values)
    query = f"UPDATE jobs SET {assignments} WHERE job_id = ?"  # noqa: S608 (checked names)
    params: list[object] = [*values.values(), job_id]
    if owner is not None:
        query += " AND owner = ?"
        params.append(owner)
    event_params = (job_id, now, event, values.get("status"), encode(detail))

    def work(db: sqlite3.Connection) -> bool:
        if db.execute(query, params).rowcount == 0:
            return False
        if event is not None:
            db.execute(EVENT_SQL, event_params)
        return True

    return work
