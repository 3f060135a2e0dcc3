"""`LedgerError`: a failed ledger read or write, in words that name the file and the cause."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from .._errors import KlingError

__all__ = ["LedgerError", "ledger_error"]


class LedgerError(KlingError):
    """The ledger file could not be opened, read or written (disk full, read-only, locked...).

    `path` is the ledger file; `cause` says what went wrong in words. The SQLite or OS error is
    chained as `__cause__`.
    """

    def __init__(self, path: Path, action: str, cause: str) -> None:
        self.path = path
        self.action = action
        self.cause = cause
        super().__init__(f"ledger {str(path)!r}: could not {action}: {cause}")


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


def ledger_error(path: Path, action: str, exc: BaseException, *, timeout: float) -> LedgerError:
    """The `LedgerError` for `exc` (a sqlite3 or OS error) raised while trying to `action`."""
    if isinstance(exc, LedgerError):
        return exc
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
