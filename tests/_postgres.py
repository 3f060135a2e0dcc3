"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temporary folder.

The server runs as an unprivileged user (`nobody` when the tests run as root, as CI does:
PostgreSQL refuses to run as root), listens on 127.0.0.1 at a free port, and is stopped and
deleted at the end of the session. Each test that asks for `pg_url` gets a new database.
Skipped, with the reason, only when Debian's PostgreSQL binaries are not installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUPERUSER = "kling"
PASSWORD = "s3cret-pg-pass"  # a throwaway test server's password


@dataclasses.dataclass(frozen=True)
class PgServer:
    """Where the test server listens and how to log in."""

    host: str
    port: int
    user: str
    password: str
    restart_command: tuple[str, ...] = ()
    run_as: str | None = None

    def url(self, database: str, *, password: str | None = None) -> str:
        """A SQLAlchemy URL of `database` (with this server's password unless given)."""
        secret = self.password if password is None else password
        return f"postgresql://{self.user}:{secret}@{self.host}:{self.port}/{database}"

    def restart(self) -> None:
        """Restart the server on the same port, cutting off every open session."""
        _run_as(self.run_as, list(self.restart_command))

    def admin(self) -> Any:
        """An autocommit psycopg connection to the `postgres` database."""
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname="postgres", autocommit=True,
        )  # fmt: skip


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as(user: str | None, args: list[str], **kwargs: Any) -> None:
    done = subprocess.run(
        args, user=user, capture_output=True, text=True, check=False, timeout=120, **kwargs
    )
    if done.returncode:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}")


def _unprivileged() -> str | None:
    """The user to run the server as: `nobody` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "nobody"], check=True)
    return "nobody"


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """Start a PostgreSQL server in a temporary folder; stop and delete it afterwards."""
    bindir = _binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql: initdb, pg_ctl)")
    user = _unprivileged()
    folder = Path(tempfile.mkdtemp(prefix="kling-pg-"))
    data = folder / "data"
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (folder, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        _run_as(user, [
            str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
        ], cwd=folder)  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run_as(user, [*ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"], cwd=folder)
        try:
            # fast: sessions are cut off mid-transaction, but acknowledged commits are kept (the
            # test server runs with synchronous_commit=off, so an immediate stop could drop them).
            restart = (*ctl, "-l", str(folder / "log"), "-m", "fast", "-w", "restart")
            yield PgServer("127.0.0.1", port, SUPERUSER, PASSWORD, restart, user)
        finally:
            _run_as(user, [*ctl, "-m", "immediate", "-w", "stop"], cwd=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (started on first use)."""
    with running_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg_server.admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.url(name)
    with pg_server.admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a ledger lives: a SQLite file, then a new PostgreSQL database (one suite, both)."""
    if request.param == "sqlite":
        return tmp_path / "kling_runs.sqlite"
    url: str = request.getfixturevalue("pg_url")
    return url
