"""The ledger's tables, its schema version and the migrations that bring old files up to it.

`PRAGMA user_version` holds the version. Version 1 is the first ledger (it left user_version at
0; a `jobs` table tells it from a new file). Opening a file migrates it in place, in the caller's
one transaction. A schema change is: the new columns appended to `JOB_COLUMNS` (or new DDL in
`_LATEST`), `VERSION` + 1, and one function registered in `MIGRATIONS` that turns the previous
version into it (tests/test_ledger_schema.py checks a migrated file equals a new one).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from .._states import JobState
from ._errors import LedgerError

__all__ = [
    "FINAL_STATES",
    "JOB_COLUMNS",
    "MIGRATIONS",
    "TABLE_COLUMNS",
    "VERSION",
    "ensure_schema",
]

VERSION: Final = 2
"""The schema this code writes."""

_V1_JOB_COLUMNS: Final = (
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
_V2_JOB_COLUMNS: Final = (
    ("owner", "TEXT"),  # the Studio instance driving the job
    ("lease_until", "REAL"),  # its lease ends then (epoch seconds)
    ("endpoint", "TEXT"),  # where the task was created: an API origin or "sandbox:embedded"
    ("key_fp", "TEXT"),  # a non-secret fingerprint of the key that created it (NULL: legacy)
    ("remote_status", "TEXT"),
    ("error_type", "TEXT"),
    ("error_status", "INTEGER"),
    ("error_code", "TEXT"),
    ("error_detail", "TEXT"),  # JSON
    ("deadline_at", "REAL"),
    ("attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("poster", "TEXT"),  # a poster frame beside the video
    ("filmstrip", "TEXT"),  # a few frames side by side: what a saved notebook shows
)
JOB_COLUMNS: Final = _V1_JOB_COLUMNS + _V2_JOB_COLUMNS
"""The jobs table as (name, SQL type), in table order: the schema and the inserts come from it."""

TABLE_COLUMNS: Final = tuple(name for name, _ in JOB_COLUMNS)

FINAL_STATES: Final = tuple(sorted(state.value for state in JobState if state.final))
"""The `status` values that never change again (`JobState.final`)."""

_EVENTS: Final = """CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    status TEXT,
    detail TEXT
)"""
_RATINGS: Final = """CREATE TABLE IF NOT EXISTS ratings (
    job_id TEXT NOT NULL,
    rater TEXT NOT NULL,
    stars INTEGER NOT NULL,
    note TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (job_id, rater)
)"""
_JUDGEMENTS: Final = """CREATE TABLE IF NOT EXISTS judgements (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    rater TEXT NOT NULL,
    shown TEXT NOT NULL,
    choice TEXT,
    tie INTEGER NOT NULL DEFAULT 0
)"""
_V1_INDEXES: Final = (
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status)",
    "CREATE INDEX IF NOT EXISTS jobs_variant ON jobs(model, mode, duration, status)",
    "CREATE INDEX IF NOT EXISTS events_job ON events(job_id)",
)
_V2_DDL: Final = (
    "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner)",
    _RATINGS,
    _JUDGEMENTS,
)
_LATEST: Final = (
    f"CREATE TABLE jobs ({', '.join(f'{name} {kind}' for name, kind in JOB_COLUMNS)})",
    _EVENTS,
    *_V1_INDEXES,
    *_V2_DDL,
)


def _v1_to_v2(db: sqlite3.Connection) -> None:
    """Add leases, settings and typed errors; judging tables; park billed failed downloads."""
    for name, kind in _V2_JOB_COLUMNS:
        db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
    for statement in _V2_DDL:
        db.execute(statement)
    # Legacy rows: the create went to base_url; which key made it is unknown (key_fp NULL).
    db.execute("UPDATE jobs SET endpoint = base_url")
    # v1 made a billed video whose download failed final ('error'); it is resumable now.
    now = time.time()
    parked = [
        job_id
        for (job_id,) in db.execute(
            "SELECT job_id FROM jobs WHERE status = 'error' AND task_id IS NOT NULL "
            "AND video_url IS NOT NULL AND video_path IS NULL"
        )
    ]
    for job_id in parked:
        db.execute(
            "UPDATE jobs SET status = ?, updated_at = ? WHERE job_id = ?",
            (JobState.FETCH_FAILED.value, now, job_id),
        )
        db.execute(
            "INSERT INTO events (job_id, at, kind, status, detail) VALUES (?, ?, ?, ?, ?)",
            (
                job_id,
                now,
                "migrated",
                JobState.FETCH_FAILED.value,
                json.dumps({"from": "error", "schema": 2}),
            ),
        )


MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {1: _v1_to_v2}
"""`MIGRATIONS[n]` turns a version-n file into version n + 1, inside the open transaction."""


def _found_version(db: sqlite3.Connection) -> int:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version:
        return int(version)
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'")
    return 1 if found.fetchone() is not None else 0


def ensure_schema(db: sqlite3.Connection, path: Path) -> int:
    """Create or migrate the schema to `VERSION` (call inside a write transaction).

    Returns the version the file had (0: new). A file from a newer kling_nb raises LedgerError.
    """
    found = _found_version(db)
    if found > VERSION:
        raise LedgerError(
            path,
            "open",
            f"it was written by a newer kling_nb (schema version {found}; "
            f"this version reads up to {VERSION})",
        )
    if found == 0:
        for statement in _LATEST:
            db.execute(statement)
    for version in range(found or VERSION, VERSION):
        MIGRATIONS[version](db)
    # Written even when unchanged: opening thereby proves the file can be written.
    db.execute(f"PRAGMA user_version = {VERSION}")
    return found
