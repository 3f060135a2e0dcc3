"""`LedgerError`: a failed ledger read or write, in words that name the ledger and the cause."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

import sqlalchemy as sa

from .._errors import ConfigurationError, KlingError
from ._engine import scrub

__all__ = ["LedgerConnectError", "LedgerError", "ledger_error"]


class LedgerError(KlingError):
    """The ledger could not be opened, read or written (disk full, read-only, locked...).

    `path` is the ledger file, or a PostgreSQL ledger's URL without its password; `cause` says
    what went wrong in words. The SQLite, PostgreSQL or OS error is chained as `__cause__`.
    """

    def __init__(self, path: Path | str, action: str, cause: str) -> None:
        self.path = path
        self.action = action
        self.cause = cause
        super().__init__(f"ledger {str(path)!r}: could not {action}: {cause}")


class LedgerConnectError(LedgerError, ConfigurationError):
    """The PostgreSQL ledger cannot be reached or logged into (host, port, user, password)."""


# Primary SQLite result codes (https://sqlite.org/rescode.html) and what they mean to a user.
_BUSY: Final = 5
_LOCKED: Final = 6
_WORDS: Final = {
    3: "permission denied",
    8: "the file or its folder is read-only",
    10: "a disk input/output error",
    11: "the database file is corrupt",
    13: "the disk is full (or the database reached its size limit)",
    14: "the file cannot be opened (its folder is missing or read-only, or the path is a folder)",
    19: "a constraint failed",
    23: "access denied",
    26: "the file is not a SQLite database",
}
# Python < 3.11 has no `sqlite_errorcode`: the same causes, found in the message.
_MESSAGES: Final = (
    ("database is locked", _BUSY),
    ("readonly database", 8),
    ("disk i/o error", 10),
    ("malformed", 11),
    ("disk is full", 13),
    ("unable to open", 14),
    ("constraint failed", 19),
    ("not a database", 26),
)


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    return next((value for needle, value in _MESSAGES if needle in text), None)


# PostgreSQL error classes (SQLSTATE's first two characters) and codes, in words.
_PG_WORDS: Final = {
    "55P03": "a row or table is locked by another session",
    "53100": "the server's disk is full",
    "42501": "permission denied (the database user may not do this)",
    "25006": "the database is read-only",
    "57P01": "the server shut down",
    "23": "a constraint failed",
    "08": "the connection to the server failed",
    "53": "the server is out of resources",
}


def _pg_cause(exc: Exception, timeout: float) -> str:
    state = str(getattr(exc, "sqlstate", "") or "")
    if state == "55P03":
        return f"the database is locked by another process (waited {timeout:g} s)"
    words = _PG_WORDS.get(state) or _PG_WORDS.get(state[:2])
    detail = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    return f"{words} ({detail})" if words else f"PostgreSQL error: {detail}"


def ledger_error(
    path: Path | str, action: str, exc: BaseException, *, timeout: float
) -> LedgerError:
    """The `LedgerError` for `exc` (a database or OS error) raised while trying to `action`."""
    if isinstance(exc, LedgerError):
        return exc
    if isinstance(exc, sa.exc.DBAPIError) and isinstance(exc.orig, Exception):
        exc = exc.orig  # the driver's own error: SQLAlchemy's text adds the statement
    if type(exc).__module__.startswith("psycopg"):
        return LedgerError(path, action, _pg_cause(exc, timeout))  # type: ignore[arg-type]
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return LedgerError(path, action, scrub(f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc).lower():
        return LedgerError(path, action, "the ledger is closed")
    if isinstance(exc, sqlite3.Error):
        code = _code(exc)
        if code in (_BUSY, _LOCKED):
            cause = f"the database is locked by another process (waited {timeout:g} s)"
        elif code == 19:
            cause = f"a constraint failed ({exc})"
        elif code in _WORDS:
            cause = _WORDS[code]
        else:
            cause = f"SQLite error: {exc}"
        return LedgerError(path, action, cause)
    if isinstance(exc, OSError):
        return LedgerError(path, action, exc.strerror or type(exc).__name__)
    return LedgerError(path, action, f"{type(exc).__name__}: {exc}")
