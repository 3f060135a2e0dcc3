"""The pandas views of the ledger (`df`, `events`, `compare`) and the learned timing per variant."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from .._states import JobState
from ._codec import loads
from ._engine import sql_for
from ._schema import TABLE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from ._store import Store

__all__ = ["COLUMNS", "as_list", "compare_frame", "events_frame", "jobs_frame", "timing_stats"]

COLUMNS: Final = (
    "job_id",
    "task_id",
    "family",
    "route",
    "model",
    "mode",
    "duration",
    "aspect_ratio",
    "prompt",
    "status",
    "submitted_at",
    "started_at",
    "finished_at",
    "queued_s",
    "running_s",
    "total_s",
    "polls",
    "cost_estimate",
    "cost_reported",
    "video_url",
    "video_path",
    "error",
    "tags",
    "request",
    "create_state",
    "video_bytes",
    "video_sha256",
    "remote_status",
    "error_type",
    "error_code",
    "endpoint",
    "member",
    "machine",
)
"""Columns of `Ledger.df`, in order (design.md's list first)."""

_DF_SOURCE: Final = tuple(
    name for name in TABLE_COLUMNS if name in COLUMNS or name in ("created_at", "running_at")
)
_DF_SQL: Final = f"SELECT {', '.join(_DF_SOURCE)} FROM jobs"  # noqa: S608 (names are ours)
_CHUNK: Final = 900  # ids per IN (...): under SQLite's oldest limit of 999 parameters
_TIME_COLUMNS: Final = ("submitted_at", "started_at", "finished_at")
_SUCCEEDED: Final = JobState.SUCCEEDED.value


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while millions of short-lived objects are built at once.

    Its passes over the growing heap cost about a third of `Ledger.df` at 100,000 jobs
    (bench/ledger.py); rows, strings and floats form no cycles for it to find.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plain_rows(db: sa.Connection, query: str, params: Mapping[str, object] | None = None) -> Any:
    """The rows as plain tuples. Without parameters, straight from the driver's cursor: at
    100,000 jobs, building SQLAlchemy `Row`s would cost more than the read itself."""
    if params:
        return [tuple(row) for row in db.execute(sa.text(query), params)]
    cursor = db.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(query)
        return cursor.fetchall()
    finally:
        cursor.close()


def _rows_of(db: sa.Connection, job_ids: Sequence[str]) -> list[Any]:
    query = sa.text(_DF_SQL + " WHERE job_id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)
    )
    ids = list(job_ids)
    found: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        found += [tuple(row) for row in db.execute(query, {"ids": ids[start : start + _CHUNK]})]
    return found


def jobs_frame(store: Store, job_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Every job (or those of `job_ids`), one row each, oldest first, with the columns `COLUMNS`."""
    import pandas as pd

    def read(db: sa.Connection) -> Any:
        return _plain_rows(db, _DF_SQL) if job_ids is None else _rows_of(db, job_ids)

    with _gc_paused():
        records = store.read(read, "read the jobs")
        found = pd.DataFrame.from_records(records, columns=list(_DF_SOURCE))
        frame = found
        # Sorted here, not by ORDER BY: SQLite's sorter copies every whole row first, which
        # took longer than this sort of two columns (bench/ledger.py, 100,000 jobs).
        frame = frame.sort_values(["submitted_at", "job_id"], kind="stable", ignore_index=True)
        shaped: pd.DataFrame = _shape(frame)
    return shaped


def _copied(value: object) -> object:
    return list(value) if isinstance(value, list) else value


def _shape(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    # pandas 2 keeps a column of only None as object dtype, which .round() refuses.
    created, running, finished = (
        pd.to_numeric(frame[name]) for name in ("created_at", "running_at", "finished_at")
    )
    frame["queued_s"] = (running.fillna(finished) - created).round(3)
    frame["running_s"] = (finished - running).round(3)
    frame["total_s"] = (finished - created).round(3)
    frame["started_at"] = created
    for name in _TIME_COLUMNS:
        frame[name] = pd.to_datetime(frame[name], unit="s", utc=True)
    # Decoded once per distinct value (a sweep's jobs share their tags), a list per row.
    codes, uniques = pd.factorize(frame["tags"])
    decoded = [loads(value) for value in uniques]
    frame["tags"] = pd.Series(
        [_copied(decoded[code]) if code >= 0 else None for code in codes.tolist()],
        index=frame.index,
        dtype=object,
    )
    ordered: pd.DataFrame = frame[list(COLUMNS)]
    return ordered


def events_frame(store: Store, job_id: str | None) -> pd.DataFrame:
    """The transition history of one job (or all), oldest first, `at` as UTC datetimes."""
    import pandas as pd

    query = "SELECT seq, job_id, at, kind, status, detail FROM events"
    params: dict[str, object] = {}
    if job_id is not None:
        query += " WHERE job_id = :job_id"
        params = {"job_id": job_id}
    records = store.read(lambda db: _plain_rows(db, query + " ORDER BY seq", params), "read events")
    frame = pd.DataFrame.from_records(
        records, columns=["seq", "job_id", "at", "kind", "status", "detail"]
    )
    frame["at"] = pd.to_datetime(frame["at"], unit="s", utc=True)
    frame["detail"] = frame["detail"].map(loads).astype(object)
    result: pd.DataFrame = frame
    return result


def as_list(value: str | Sequence[str]) -> list[str]:
    """`value` as a list of names (one string is one name)."""
    return [value] if isinstance(value, str) else list(value)


def compare_frame(
    frame: pd.DataFrame,
    *,
    index: str | Sequence[str],
    columns: str | Sequence[str],
    values: str | Sequence[str],
    aggfunc: Any,
) -> pd.DataFrame:
    """The pivot of `Ledger.compare` over the succeeded rows of `frame`."""
    if "status" not in frame:
        raise ValueError("compare() counts succeeded jobs only: its rows need a 'status' column")
    succeeded = frame[frame["status"] == _SUCCEEDED]
    pivot: pd.DataFrame = succeeded.pivot_table(
        index=as_list(index), columns=as_list(columns), values=as_list(values), aggfunc=aggfunc
    )
    return pivot


_TIMING_SQL: Final = (
    "SELECT finished_at - created_at FROM jobs WHERE model = :model AND mode {same} :mode "
    "AND duration = :duration AND status = :status AND created_at IS NOT NULL "
    "AND finished_at > created_at ORDER BY finished_at DESC LIMIT :last"
)


def timing_stats(
    store: Store, model: str, mode: str | None, duration: int, last: int
) -> tuple[float, float, int] | None:
    """(median, log-spread, n) of create-to-finish seconds of the last succeeded jobs."""
    params = {"model": model, "mode": mode, "duration": duration, "status": _SUCCEEDED}
    params["last"] = last

    def read(db: sa.Connection) -> Any:
        return _plain_rows(db, _TIMING_SQL.format(same=sql_for(db).same), params)

    found = store.read(read, "read timings")
    values = sorted(float(item[0]) for item in found)
    if not values:
        return None
    logs = [math.log(v) for v in values]
    mean = sum(logs) / len(logs)
    spread = math.sqrt(sum((x - mean) ** 2 for x in logs) / max(len(logs) - 1, 1))
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    return median, spread, len(values)
