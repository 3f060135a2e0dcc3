"""The ledger's connections: one for reads (under a lock), one owned by the writer thread.

Every write runs on ONE writer thread, in the order it was issued (a FIFO executor), inside its
own transaction on the writer's connection: `BEGIN IMMEDIATE` on SQLite (it takes the file's
write lock at once), a transaction with a `lock_timeout` on PostgreSQL. Synchronous callers
wait for it; `submit` hands the event loop a future instead, so a locked or slow database never
blocks the loop. Reads use a second connection: in WAL mode (and always on PostgreSQL) readers
never wait for the writer, so `row()` or `df` stay fast even while a write waits out another
process's lock. A connection is not safe to use from two threads at once, hence one per role.
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from ._compare import Median
from ._engine import Target, open_engine, scrub
from ._errors import LedgerConnectError, LedgerError, ledger_error
from ._schema import ensure_schema

__all__ = ["Store"]

T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.create_aggregate("kn_median", 1, Median)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against a process crash (a killed kernel) in WAL mode; only an OS
        # crash could drop the last transactions.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class Store:
    """The connections, the read lock and the writer thread of one ledger."""

    def __init__(self, target: Target, *, timeout: float) -> None:
        self.target = target
        self.path = target.display
        self.timeout = timeout
        self.engine = open_engine(target, timeout=timeout)
        self.sqlite = target.url is None
        if self.sqlite:
            assert target.path is not None
            try:
                target.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ledger_error(self.path, "create its folder", exc, timeout=timeout) from exc
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._closed = False
        self._write_db = self._connect()
        try:
            self.found_version = self._transact(
                lambda db: ensure_schema(db, self.path), "open (write the schema)"
            )
            self._read_db = self._connect()
        except BaseException:
            self._write_db.close()
            raise
        self._read_lock = threading.Lock()
        self._writer = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="kling-ledger-writer"
        )

    def _connect(self) -> sa.Connection:
        try:
            return self.engine.connect()
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            error = ledger_error(self.path, "open", exc, timeout=self.timeout)
            if self.sqlite:
                raise error from exc
            # Not chained: the driver's exception could carry connection details verbatim.
            raise LedgerConnectError(
                self.path, f"connect to {self.target.host}", scrub(error.cause)
            ) from None

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except (sa.exc.SQLAlchemyError, OSError, sqlite3.Error) as exc:
            raise ledger_error(self.path, action, exc, timeout=self.timeout) from exc

    def _begin(self, db: sa.Connection) -> None:
        if self.sqlite:
            db.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            ms = max(1, int(self.timeout * 1000))
            db.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")

    def _transact(self, work: Callable[[sa.Connection], T], action: str) -> T:
        db = self._write_db
        with self._translated(action):
            if db.in_transaction():  # a failed connection leaves SQLAlchemy's state open
                db.rollback()
            with db.begin():
                self._begin(db)
                return work(db)

    def submit(
        self, work: Callable[[sa.Connection], T], action: str
    ) -> concurrent.futures.Future[T]:
        """Queue `work(connection)` as one transaction on the writer thread; its future."""
        if self._closed:
            raise LedgerError(self.path, action, "the ledger is closed")
        try:
            return self._writer.submit(self._transact, work, action)
        except RuntimeError as exc:  # shut down by a concurrent close()
            raise LedgerError(self.path, action, "the ledger is closed") from exc

    def write(self, work: Callable[[sa.Connection], T], action: str) -> T:
        """Run `work(connection)` as one transaction on the writer thread and wait for it.

        Through the same queue as `submit`, so sync and async writes apply in issue order.
        """
        return self.submit(work, action).result()

    @contextmanager
    def _reading(self, action: str) -> Iterator[sa.Connection]:
        """The read connection, held alone, open and with no transaction left from before."""
        with self._read_lock, self._translated(action):
            if self._closed:
                raise LedgerError(self.path, action, "the ledger is closed")
            db = self._read_db
            if db.in_transaction():
                db.rollback()
            yield db

    def read(self, work: Callable[[sa.Connection], T], action: str) -> T:
        """Run `work(connection)` on the read connection (one reader at a time)."""
        with self._reading(action) as db, db.begin():
            return work(db)

    def read_sqlite(self, query: str, params: tuple[object, ...], action: str) -> list[Any]:
        """SQLite only: `query` (qmark parameters) on the read connection's driver, as dicts.

        A hot path (`Ledger.row`): one SELECT is its own transaction in SQLite, so the
        BEGIN/COMMIT and SQLAlchemy's statement and row objects around it would only cost
        (about 3x the read itself).
        """
        assert self.sqlite
        with self._reading(action) as db:
            raw = db.connection.driver_connection
            assert raw is not None
            cursor = raw.execute(query, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        """Finish the queued writes, stop the writer thread, close both connections."""
        if self._closed:
            return
        self._closed = True
        self._writer.shutdown(wait=True)
        with self._read_lock:
            self._read_db.close()
        self._write_db.close()
        self.engine.dispose()
