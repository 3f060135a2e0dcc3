"""The ledger's tables, its schema version and the migrations that bring old ledgers up to it.

One set of tables, versions and migrations for both engines. SQLite keeps the version in
`PRAGMA user_version`; PostgreSQL in the one-row table `ledger_schema`. Version 1 is the first
ledger (it left user_version at 0; a `jobs` table tells it from a new file). Opening a ledger
migrates it in place, in the caller's one transaction (PostgreSQL's DDL is transactional too,
and an advisory lock keeps two Studios from migrating one database at once). The DDL is written
once, in SQLite's words, and `ddl()` translates the types for PostgreSQL (64-bit REAL and
INTEGER, an identity for AUTOINCREMENT), so a SQLite file stays exactly what older versions
wrote. A schema change is: the new columns appended to `JOB_COLUMNS` (or new DDL in `_LATEST`),
`VERSION` + 1, and one function registered in `MIGRATIONS` that turns the previous version into
it (tests/test_ledger_schema.py checks a migrated ledger equals a new one).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from .._states import JobState
from ._errors import LedgerError

__all__ = [
    "FINAL_STATES",
    "JOB_COLUMNS",
    "MIGRATIONS",
    "TABLE_COLUMNS",
    "VERSION",
    "ddl",
    "ensure_schema",
]

VERSION: Final = 5
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
_V3_JOB_COLUMNS: Final = (
    ("member", "TEXT"),  # who ran it: a member= name, else the OS user
    ("machine", "TEXT"),  # the host name of the machine it ran from
)
_V4_JOB_COLUMNS: Final = (
    # kling, seedance or grok (kling_nb._families); every job before v4 was a Kling job.
    ("family", "TEXT NOT NULL DEFAULT 'kling'"),
)
JOB_COLUMNS: Final = _V1_JOB_COLUMNS + _V2_JOB_COLUMNS + _V3_JOB_COLUMNS + _V4_JOB_COLUMNS
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
_V3_DDL: Final = (
    "ALTER TABLE ratings ADD COLUMN member TEXT",  # who recorded it (the rater may differ)
    "ALTER TABLE judgements ADD COLUMN member TEXT",
    "CREATE INDEX IF NOT EXISTS jobs_member ON jobs(member)",
)
_V5_DDL: Final = (
    # `compare()`'s default pivot (prompts × model, mode, duration; seconds and cost) read from
    # this index alone, in group order: at 1,000,000 jobs SQLite's GROUP BY then needs no sort
    # (1.5 s -> 0.6 s, bench/ledger.py).
    "CREATE INDEX IF NOT EXISTS jobs_compare ON jobs(status, prompt, model, mode, duration, "
    "created_at, finished_at, cost_estimate)",
)
_LATEST: Final = (
    f"CREATE TABLE jobs ({', '.join(f'{name} {kind}' for name, kind in JOB_COLUMNS)})",
    _EVENTS,
    *_V1_INDEXES,
    *_V2_DDL,
    *_V3_DDL,
    *_V5_DDL,
)


_PG_TYPES: Final = (
    (
        re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
)


def ddl(db: sa.Connection, statement: str) -> None:
    """Run a DDL statement written in SQLite's types, translated for `db`'s engine."""
    if db.dialect.name == "postgresql":
        for pattern, replacement in _PG_TYPES:
            statement = pattern.sub(replacement, statement)
    db.exec_driver_sql(statement)


def _run(db: sa.Connection, query: str, **params: object) -> sa.CursorResult[Any]:
    return db.execute(sa.text(query), params)


def _v1_to_v2(db: sa.Connection) -> None:
    """Add leases, settings and typed errors; judging tables; park billed failed downloads."""
    for name, kind in _V2_JOB_COLUMNS:
        ddl(db, f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
    for statement in _V2_DDL:
        ddl(db, statement)
    # Legacy rows: the create went to base_url; which key made it is unknown (key_fp NULL).
    _run(db, "UPDATE jobs SET endpoint = base_url")
    # v1 made a billed video whose download failed final ('error'); it is resumable now.
    now = time.time()
    parked = _run(
        db,
        "SELECT job_id FROM jobs WHERE status = 'error' AND task_id IS NOT NULL "
        "AND video_url IS NOT NULL AND video_path IS NULL",
    ).scalars()
    detail = json.dumps({"from": "error", "schema": 2})
    state = JobState.FETCH_FAILED.value
    for job_id in list(parked):
        _run(
            db, "UPDATE jobs SET status = :state, updated_at = :now WHERE job_id = :job_id",
            state=state, now=now, job_id=job_id,
        )  # fmt: skip
        _run(
            db,
            "INSERT INTO events (job_id, at, kind, status, detail) "
            "VALUES (:job_id, :now, 'migrated', :state, :detail)",
            job_id=job_id, now=now, state=state, detail=detail,
        )  # fmt: skip


def _v2_to_v3(db: sa.Connection) -> None:
    """Team ledgers: who ran each job and from where; who recorded each rating and judgement.

    Rows written before v3 keep NULL there: the member who ran them is not known.
    """
    for name, kind in _V3_JOB_COLUMNS:
        ddl(db, f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
    for statement in _V3_DDL:
        ddl(db, statement)


def _v3_to_v4(db: sa.Connection) -> None:
    """Other video families: each job's `family` (the rows before v4 get the default, kling)."""
    for name, kind in _V4_JOB_COLUMNS:
        ddl(db, f"ALTER TABLE jobs ADD COLUMN {name} {kind}")


def _v4_to_v5(db: sa.Connection) -> None:
    """An index for `compare()` (no column changes: a v4 reader ignores it)."""
    for statement in _V5_DDL:
        ddl(db, statement)


MIGRATIONS: Final[dict[int, Callable[[sa.Connection], None]]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
}
"""`MIGRATIONS[n]` turns a version-n ledger into version n + 1, inside the open transaction."""

# One advisory lock key for "migrating a kling_nb ledger" (any constant; ours).
_PG_SCHEMA_LOCK: Final = 0x6B6C696E67


def _found_version(db: sa.Connection) -> int:
    if db.dialect.name == "postgresql":
        _run(db, f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")
        if _run(db, "SELECT to_regclass('ledger_schema')").scalar() is not None:
            return int(_run(db, "SELECT version FROM ledger_schema").scalar() or 0)
        jobs = _run(db, "SELECT to_regclass('jobs')").scalar()
        return 0 if jobs is None else 1
    version = db.exec_driver_sql("PRAGMA user_version").scalar()
    if version:
        return int(version)
    found = _run(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'")
    return 1 if found.first() is not None else 0


def _write_version(db: sa.Connection) -> None:
    if db.dialect.name == "postgresql":
        db.exec_driver_sql("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
        _run(db, "DELETE FROM ledger_schema")
        _run(db, "INSERT INTO ledger_schema (version) VALUES (:v)", v=VERSION)
    else:
        db.exec_driver_sql(f"PRAGMA user_version = {VERSION}")


def ensure_schema(db: sa.Connection, path: Path | str) -> int:
    """Create or migrate the schema to `VERSION` (call inside a write transaction).

    Returns the version the ledger had (0: new). One from a newer kling_nb raises LedgerError.
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
            ddl(db, statement)
    for version in range(found or VERSION, VERSION):
        MIGRATIONS[version](db)
    # Written even when unchanged: opening thereby proves the ledger can be written.
    _write_version(db)
    return found
