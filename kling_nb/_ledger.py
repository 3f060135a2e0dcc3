"""The ledger: one SQLite file (WAL) with a row per job and an event per transition.

It is written before every action (the row exists before the create request is sent) and at
every state change, so a crashed kernel loses nothing: `Studio.resume()` reads it back.
pandas views (`df`, `events`, `compare`) are built from the file on demand.
"""

from __future__ import annotations

import gc
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "Ledger"]

_JOB_COLUMNS: Final = (
    ("job_id", "TEXT PRIMARY KEY"),
    ("task_id", "TEXT"),
    ("route", "TEXT NOT NULL"),
    ("model", "TEXT NOT NULL"),
    ("mode", "TEXT"),
    ("duration", "INTEGER NOT NULL"),
    ("aspect_ratio", "TEXT"),
    ("prompt", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("create_state", "TEXT NOT NULL DEFAULT 'pending'"),
    ("submitted_at", "REAL NOT NULL"),
    ("created_at", "REAL"),
    ("running_at", "REAL"),
    ("finished_at", "REAL"),
    ("polls", "INTEGER NOT NULL DEFAULT 0"),
    ("cost_estimate", "REAL"),
    ("cost_reported", "REAL"),
    ("video_url", "TEXT"),
    ("video_path", "TEXT"),
    ("video_bytes", "INTEGER"),
    ("video_sha256", "TEXT"),
    ("error", "TEXT"),
    ("tags", "TEXT NOT NULL DEFAULT '[]'"),
    ("request", "TEXT NOT NULL"),
    ("image", "TEXT"),
    ("base_url", "TEXT"),
    ("updated_at", "REAL NOT NULL"),
)
"""The jobs table: one list of (name, SQL type) from which the schema and the inserts are made."""

_TABLE_COLUMNS: Final = tuple(name for name, _ in _JOB_COLUMNS)

_SCHEMA: Final = f"""
CREATE TABLE IF NOT EXISTS jobs (
    {", ".join(f"{name} {kind}" for name, kind in _JOB_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE INDEX IF NOT EXISTS jobs_variant ON jobs(model, mode, duration, status);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    status TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id);
"""

COLUMNS: Final = (
    "job_id",
    "task_id",
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
)
"""Columns of `Ledger.df`, in order (design.md's list first)."""

_DF_SOURCE: Final = tuple(
    name for name in _TABLE_COLUMNS if name in COLUMNS or name in ("created_at", "running_at")
)
"""The stored columns `Ledger.df` reads (the others are derived from them)."""

_TIME_COLUMNS: Final = ("submitted_at", "started_at", "finished_at")
# Local job states that will not change again without a user action.
FINAL_STATES: Final = frozenset(
    {"succeeded", "failed", "cancelled", "expired", "error", "unknown", "stopped", "timeout"}
)


class Ledger:
    """A SQLite-backed record of every job: `df` for pandas, `events(job_id)` for its history.

    Safe to share between the kernel's loop and other threads (one connection, one lock), and
    between processes (SQLite WAL): a new kernel opens the same file and sees everything.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a process crash (a killed kernel) in WAL mode; only an
            # OS crash could drop the last transactions.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def close(self) -> None:
        """Close the connection (the file stays)."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writes ------------------------------------------------------------------------------

    def insert(self, row: Mapping[str, Any]) -> None:
        """Add a job row (and its 'submitted' event) in one transaction."""
        now = time.time()
        values = {key: _encode(row.get(key)) for key in _TABLE_COLUMNS}
        values["submitted_at"] = values["submitted_at"] or now
        values["updated_at"] = now
        values["polls"] = values["polls"] or 0
        values["create_state"] = values["create_state"] or "pending"
        values["tags"] = values["tags"] or "[]"
        names = ", ".join(_TABLE_COLUMNS)
        marks = ", ".join("?" for _ in _TABLE_COLUMNS)
        with self._tx() as db:
            db.execute(f"INSERT INTO jobs ({names}) VALUES ({marks})", list(values.values()))  # noqa: S608
            db.execute(
                "INSERT INTO events (job_id, at, kind, status, detail) VALUES (?, ?, ?, ?, ?)",
                (row["job_id"], now, "submitted", row.get("status"), None),
            )

    def update(
        self, job_id: str, *, event: str | None = None, detail: object = None, **fields: Any
    ) -> None:
        """Set fields of a job row; with `event`, also append an event, atomically."""
        unknown = set(fields) - set(_TABLE_COLUMNS)
        if unknown:
            raise KeyError(f"unknown ledger columns: {sorted(unknown)}")
        now = time.time()
        fields["updated_at"] = now
        assignments = ", ".join(f"{name} = ?" for name in fields)
        params = [_encode(value) for value in fields.values()] + [job_id]
        with self._tx() as db:
            db.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", params)  # noqa: S608
            if event is not None:
                db.execute(
                    "INSERT INTO events (job_id, at, kind, status, detail) VALUES (?, ?, ?, ?, ?)",
                    (job_id, now, event, fields.get("status"), _encode(detail)),
                )

    # -- reads -------------------------------------------------------------------------------

    def row(self, job_id: str) -> dict[str, Any] | None:
        """One job's row as a dict (raw columns), or None."""
        with self._lock:
            found = self._db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _decode_row(found) if found is not None else None

    def rows(self, where: str = "1", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Raw rows matching a SQL condition (for internal queries), oldest first."""
        with self._lock:
            found = self._db.execute(
                f"SELECT * FROM jobs WHERE {where} ORDER BY submitted_at, job_id",  # noqa: S608
                tuple(params),
            ).fetchall()
        return [_decode_row(item) for item in found]

    def unfinished(self) -> list[dict[str, Any]]:
        """Rows whose job has not reached a final state (what `Studio.resume()` re-attaches)."""
        marks = ", ".join("?" for _ in FINAL_STATES)
        return self.rows(f"status NOT IN ({marks})", sorted(FINAL_STATES))

    def count_creates(self, task_id: str) -> int:
        """How many rows carry this task id (1 when nothing was created twice)."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE task_id = ?", (task_id,)
            ).fetchone()
        return int(count)

    def timing(
        self, model: str, mode: str | None, duration: int, *, last: int = 50
    ) -> tuple[float, float, int] | None:
        """(median, log-spread, n) of create-to-finish seconds of recent successes, or None."""
        with self._lock:
            found = self._db.execute(
                "SELECT finished_at - created_at FROM jobs WHERE model = ? AND mode IS ? "
                "AND duration = ? AND status = 'succeeded' AND created_at IS NOT NULL "
                "AND finished_at > created_at ORDER BY finished_at DESC LIMIT ?",
                (model, mode, duration, last),
            ).fetchall()
        values = sorted(float(item[0]) for item in found)
        if not values:
            return None
        logs = [math.log(v) for v in values]
        mean = sum(logs) / len(logs)
        spread = math.sqrt(sum((x - mean) ** 2 for x in logs) / max(len(logs) - 1, 1))
        mid = len(values) // 2
        median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        return median, spread, len(values)

    @property
    def df(self) -> pd.DataFrame:
        """Every job as a pandas DataFrame, one row per job, oldest first (see `COLUMNS`)."""
        import pandas as pd

        with _gc_paused():
            with self._lock:
                cursor = self._db.cursor()
                cursor.row_factory = None  # plain tuples: sqlite3.Row costs a third of the read
                records = cursor.execute(f"SELECT {', '.join(_DF_SOURCE)} FROM jobs").fetchall()  # noqa: S608
            frame = pd.DataFrame.from_records(records, columns=list(_DF_SOURCE))
            # Sorted here, not by ORDER BY: SQLite's sorter copies every whole row first, which
            # took longer than this sort of two columns (bench/ledger.py, 100,000 jobs).
            frame = frame.sort_values(["submitted_at", "job_id"], kind="stable", ignore_index=True)
            shaped: pd.DataFrame = _shape(frame)
        return shaped

    def events(self, job_id: str | None = None) -> pd.DataFrame:
        """The transition history of one job (or all), with timestamps, as a DataFrame."""
        import pandas as pd

        query = "SELECT seq, job_id, at, kind, status, detail FROM events"
        params: tuple[str, ...] = ()
        if job_id is not None:
            query += " WHERE job_id = ?"
            params = (job_id,)
        with self._lock:
            records = self._db.execute(query + " ORDER BY seq", params).fetchall()
        frame = pd.DataFrame.from_records(
            records, columns=["seq", "job_id", "at", "kind", "status", "detail"]
        )
        frame["at"] = pd.to_datetime(frame["at"], unit="s", utc=True)
        frame["detail"] = frame["detail"].map(_loads)
        result: pd.DataFrame = frame
        return result

    def compare(
        self,
        rows: pd.DataFrame | None = None,
        *,
        index: str | Sequence[str] = "prompt",
        columns: str | Sequence[str] = ("model", "mode", "duration"),
        values: str | Sequence[str] = ("total_s", "cost_estimate"),
        aggfunc: Any = "median",
    ) -> pd.DataFrame:
        """A pivot for side-by-side comparison: prompts down, variants across.

        By default: median seconds from create to finish and estimated cost, for each prompt
        under each (model, mode, duration). Pass `rows` (a filtered `df`) to compare a subset.
        """
        frame = self.df if rows is None else rows
        frame = frame[frame["status"] == "succeeded"] if "status" in frame else frame
        pivot: pd.DataFrame = frame.pivot_table(
            index=_as_list(index),
            columns=_as_list(columns),
            values=_as_list(values),
            aggfunc=aggfunc,
        )
        return pivot

    def to_csv(self, path: str | Path) -> Path:
        """Write `df` to a CSV file; returns its path."""
        target = Path(path)
        self.df.to_csv(target, index=False)
        return target

    def to_parquet(self, path: str | Path) -> Path:
        """Write `df` to a Parquet file (needs pyarrow); returns its path."""
        target = Path(path)
        self.df.to_parquet(target, index=False)
        return target


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _encode(value: object) -> object:
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _loads(text: object) -> object:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


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


def _copied(value: object) -> object:
    return list(value) if isinstance(value, list) else value


def _decode_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["tags"] = _loads(data.get("tags")) or []
    data["request"] = _loads(data.get("request"))
    return data


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
    decoded = [_loads(value) for value in uniques]
    frame["tags"] = pd.Series(
        [_copied(decoded[code]) if code >= 0 else None for code in codes.tolist()],
        index=frame.index,
        dtype=object,
    )
    ordered: pd.DataFrame = frame[list(COLUMNS)]
    return ordered
