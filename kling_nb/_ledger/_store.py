"""The ledger file's connections: one for reads (under a lock), one owned by the writer thread.

Every write runs on ONE writer thread, in the order it was issued (a FIFO executor), inside its
own `BEGIN IMMEDIATE` transaction on the writer's connection. Synchronous callers wait for it;
`submit` hands the event loop a future instead, so a locked or slow disk never blocks the loop.
Reads use a second connection: in WAL mode readers never wait for the writer, so `row()` or
`df` stay fast even while a write waits out another process's lock. sqlite3 connections are not
safe to use from two threads at once, hence one connection per role rather than one shared.
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

from ._errors import LedgerError, ledger_error
from ._schema import ensure_schema

__all__ = ["Store"]

T = TypeVar("T")


class Store:
    """The connections, the read lock and the writer thread of one ledger file."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ledger_error(path, "create its folder", exc, timeout=timeout) from exc
        self._closed = False
        self._write_db = self._connect(wal=True)
        try:
            self.found_version = self._transact(
                lambda db: ensure_schema(db, path), "open (write the schema)"
            )
            self._read_db = self._connect(wal=False)
        except BaseException:
            self._write_db.close()
            raise
        self._read_db.row_factory = sqlite3.Row
        self._write_db.row_factory = sqlite3.Row
        self._read_lock = threading.Lock()
        self._writer = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="kling-ledger-writer"
        )

    def _connect(self, *, wal: bool) -> sqlite3.Connection:
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(
                self.path, timeout=self.timeout, check_same_thread=False, isolation_level=None
            )
            if wal:
                db.execute("PRAGMA journal_mode=WAL")
                # NORMAL is durable against a process crash (a killed kernel) in WAL mode; only
                # an OS crash could drop the last transactions.
                db.execute("PRAGMA synchronous=NORMAL")
            else:
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            raise ledger_error(self.path, "open", exc, timeout=self.timeout) from exc
        return db

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise ledger_error(self.path, action, exc, timeout=self.timeout) from exc

    def _transact(self, work: Callable[[sqlite3.Connection], T], action: str) -> T:
        db = self._write_db
        with self._translated(action):
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
        return result

    def submit(
        self, work: Callable[[sqlite3.Connection], T], action: str
    ) -> concurrent.futures.Future[T]:
        """Queue `work(connection)` as one transaction on the writer thread; its future."""
        if self._closed:
            raise LedgerError(self.path, action, "the ledger is closed")
        try:
            return self._writer.submit(self._transact, work, action)
        except RuntimeError as exc:  # shut down by a concurrent close()
            raise LedgerError(self.path, action, "the ledger is closed") from exc

    def write(self, work: Callable[[sqlite3.Connection], T], action: str) -> T:
        """Run `work(connection)` as one transaction on the writer thread and wait for it.

        Through the same queue as `submit`, so sync and async writes apply in issue order.
        """
        return self.submit(work, action).result()

    def read(self, work: Callable[[sqlite3.Connection], T], action: str) -> T:
        """Run `work(connection)` on the read connection (one reader at a time)."""
        with self._read_lock, self._translated(action):
            if self._closed:
                raise LedgerError(self.path, action, "the ledger is closed")
            return work(self._read_db)

    def close(self) -> None:
        """Finish the queued writes, stop the writer thread, close both connections."""
        if self._closed:
            return
        self._closed = True
        self._writer.shutdown(wait=True)
        with self._read_lock:
            self._read_db.close()
        self._write_db.close()
