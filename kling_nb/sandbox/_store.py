"""Optional persistence: one SQLite file keeps tasks, balances, uploads and the signing secret."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._lifecycle import TaskRecord

__all__ = ["Snapshot", "Store", "UploadRecord"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (team TEXT PRIMARY KEY, nano INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, meta TEXT NOT NULL, data BLOB NOT NULL);
"""


@dataclass(frozen=True)
class UploadRecord:
    """One uploaded image's metadata (its bytes are kept beside it)."""

    id: str
    content_type: str
    extension: str
    size_bytes: int
    width: int
    height: int
    created_at: float
    expires_at: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


@dataclass
class Snapshot:
    """Everything loaded from a state file."""

    secret: bytes | None = None
    tasks: list[TaskRecord] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)
    uploads: list[tuple[UploadRecord, bytes]] = field(default_factory=list)


class Store:
    """A small write-through SQLite store; every call is one short transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The server thread writes and the caller's thread may close: guard with a lock.
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def load(self) -> Snapshot:
        """Read the whole state."""
        snap = Snapshot()
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
            if row:
                snap.secret = bytes.fromhex(row[0])
            for (data,) in self._conn.execute("SELECT data FROM tasks"):
                snap.tasks.append(TaskRecord.from_json(json.loads(data)))
            for team, nano in self._conn.execute("SELECT team, nano FROM balances"):
                snap.balances[str(team)] = int(nano)
            for meta, blob in self._conn.execute("SELECT meta, data FROM uploads"):
                snap.uploads.append((UploadRecord(**json.loads(meta)), bytes(blob)))
        return snap

    def put_secret(self, secret: bytes) -> None:
        """Keep the URL-signing secret, so signed URLs stay valid across a restart."""
        self._write("INSERT OR REPLACE INTO meta VALUES ('secret', ?)", (secret.hex(),))

    def put_task(self, task: TaskRecord) -> None:
        """Insert or update one task."""
        self._write(
            "INSERT OR REPLACE INTO tasks VALUES (?, ?)", (task.id, json.dumps(task.to_json()))
        )

    def put_balances(self, balances: dict[str, int]) -> None:
        """Write every team's balance."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO balances VALUES (?, ?)", list(balances.items())
            )

    def put_upload(self, upload: UploadRecord, data: bytes) -> None:
        """Insert one upload."""
        self._write(
            "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?)",
            (upload.id, json.dumps(upload.to_json()), data),
        )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        with self._lock:
            self._conn.execute(sql, params)
