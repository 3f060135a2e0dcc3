"""Where a ledger lives: a SQLite file or a PostgreSQL database, as one SQLAlchemy engine.

Everything else in the package speaks SQLAlchemy Core (`text()` statements with named
parameters on a `Connection`) and asks `db.dialect.name` only for the few phrases the two
engines spell differently (`SQL`). The password of a PostgreSQL URL is never shown: `display`
drops it, and `scrub` removes any userinfo secret from text that came from elsewhere.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
import socket
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import URL

from .._errors import ValidationError

__all__ = [
    "ENV_LEDGER",
    "SQL",
    "Target",
    "check_member",
    "default_machine",
    "is_url",
    "ledger_location",
    "open_engine",
    "scrub",
    "sql_for",
]

ENV_LEDGER: Final = "KLING_NB_LEDGER"
"""The environment variable naming the ledger (a path or a PostgreSQL URL)."""
LEDGER_NAME: Final = "kling_runs.sqlite"

_SCHEMES: Final = ("postgresql", "postgres")
_USERINFO_SECRET: Final = re.compile(r"(?<=//)([^:/@\s]*):[^@\s]*@")
CONNECT_TIMEOUT_S: Final = 10


def is_url(target: str | Path) -> bool:
    """Whether `target` names a PostgreSQL database (a URL) rather than a SQLite file."""
    if isinstance(target, Path):
        return False
    scheme = target.split("://", 1)[0].split("+", 1)[0].lower() if "://" in target else ""
    return scheme in _SCHEMES


def ledger_location(ledger: str | os.PathLike[str] | None, root: Path) -> str | Path:
    """Where a Studio's ledger lives: `ledger`, else `$KLING_NB_LEDGER`, else the root's file."""
    chosen = ledger if ledger is not None else os.environ.get(ENV_LEDGER) or None
    if chosen is None:
        return root / LEDGER_NAME
    text = os.fspath(chosen)
    return text if is_url(text) else Path(text)


def check_member(member: str | None) -> str:
    """`member`, or the OS user when None (ValidationError: an empty name)."""
    if member is None:
        try:
            return getpass.getuser()
        except (OSError, KeyError):  # no login name (a container without a passwd entry)
            return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    if not isinstance(member, str) or not member.strip():
        raise ValidationError("member", member, "a non-empty name")
    return member.strip()


def default_machine() -> str:
    """This machine's host name."""
    return socket.gethostname() or "unknown"


def scrub(text: str) -> str:
    """`text` with the password of any URL in it removed (`user:secret@` becomes `user@`)."""
    return _USERINFO_SECRET.sub(r"\1@", text)


@dataclasses.dataclass(frozen=True)
class SQL:
    """The phrases that differ between the engines."""

    lock_rows: str
    """Appended to a claim's SELECT: lock the rows read, skip those another claimer holds."""
    tag_exists: str
    """A condition: the row's JSON `tags` list holds `:tag`."""
    same: str
    """Equality that treats NULL as a value (`mode IS :mode`)."""


_SQL: Final = {
    "sqlite": SQL(
        # BEGIN IMMEDIATE already serialises every writer: no row locks in SQLite.
        lock_rows="",
        tag_exists="EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE json_each.value = :tag)",
        same="IS",
    ),
    "postgresql": SQL(
        lock_rows=" FOR UPDATE SKIP LOCKED",
        tag_exists=(
            "EXISTS (SELECT 1 FROM json_array_elements_text(CAST(jobs.tags AS json)) AS t(value)"
            " WHERE t.value = :tag)"
        ),
        same="IS NOT DISTINCT FROM",
    ),
}


def sql_for(db: sa.Connection) -> SQL:
    """The phrases of `db`'s engine."""
    return _SQL[db.dialect.name]


@dataclasses.dataclass(frozen=True)
class Target:
    """A parsed ledger location: `path` for SQLite, else a PostgreSQL `url`."""

    path: Path | None
    url: URL | None

    @property
    def display(self) -> str:
        """How to name it in a repr, a log or an error: a path, or the URL without password."""
        if self.url is None:
            return str(self.path)
        # URL.set() ignores None, so the password is dropped with the tuple's own _replace.
        bare = self.url.set(drivername="postgresql")._replace(password=None)
        return bare.render_as_string(hide_password=False)

    @property
    def host(self) -> str:
        """The server's host (and port), or the file's path."""
        if self.url is None:
            return str(self.path)
        host = self.url.host or str(self.url.query.get("host") or "localhost (unix socket)")
        return host if self.url.port is None else f"{host}:{self.url.port}"


def parse_target(target: str | Path) -> Target:
    """A `Target` from a path or a URL (ValueError, without the password, if it is not valid)."""
    if not is_url(target):
        return Target(Path(target), None)
    try:
        url = sa.make_url(str(target))
        _ = url.port  # a non-numeric port raises here
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ValueError(scrub(f"not a valid PostgreSQL URL ({exc})")) from None
    if not url.database:
        raise ValueError("the PostgreSQL URL names no database (postgresql://user@host:port/db)")
    return Target(None, url.set(drivername="postgresql+psycopg"))


def open_engine(target: Target, *, timeout: float) -> sa.Engine:
    """The engine of `target`: connections made as the ledger needs them (see _store)."""
    if target.url is None:
        assert target.path is not None
        sqlite_url = URL.create("sqlite", database=str(target.path))
        # isolation_level=None: the driver never begins on its own; _store issues
        # BEGIN IMMEDIATE itself, and SQLAlchemy's commit/rollback end that transaction.
        args: dict[str, Any] = {
            "timeout": timeout, "check_same_thread": False, "isolation_level": None,
        }  # fmt: skip
        return sa.create_engine(sqlite_url, connect_args=args, poolclass=sa.pool.NullPool)
    pg_args = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "kling_nb"}
    return sa.create_engine(target.url, connect_args=pg_args, poolclass=sa.pool.NullPool)
