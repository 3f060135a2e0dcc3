"""The PostgreSQL ledger: the test server itself, team semantics, faults that name the host."""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from _ledger_helpers import ENDPOINT, job
from _postgres import PASSWORD, PgServer

import kling_nb as kn
from kling_nb._ledger import ENV_LEDGER, Ledger, LedgerError
from kling_nb.sandbox import Sandbox


def test_the_test_server_is_a_real_postgresql_15(pg_server: PgServer) -> None:
    with pg_server.admin() as admin:
        (version,) = admin.execute("SHOW server_version_num").fetchone()
        (user,) = admin.execute("SELECT current_user").fetchone()
    assert int(version) // 10000 == 15
    assert user == "kling"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01, seed=1) as sb:
        yield sb


def team_studio(sb: Sandbox, root: Path, **kwargs: Any) -> kn.Studio:
    return kn.Studio(api_key="sk-sandbox-team", base_url=sb.base_url, root=root, **kwargs)


def test_two_members_share_one_ledger(sandbox: Sandbox, pg_url: str, tmp_path: Path) -> None:
    with team_studio(sandbox, tmp_path / "ann", ledger=pg_url, member="ann") as ann:
        first = ann.submit(kn.TextToVideo("a paper boat"))
        assert first.result(timeout=30).is_file()
        assert repr(ann.log) == f"Ledger({ann.log.url!r})"
        assert PASSWORD not in repr(ann.log)
    with team_studio(sandbox, tmp_path / "bob", ledger=pg_url, member="bob") as bob:
        second = bob.submit(kn.TextToVideo("a lighthouse"))
        assert second.result(timeout=30).is_file()
        frame = bob.log.df
    assert not (tmp_path / "bob" / "kling_runs.sqlite").exists()
    assert frame["member"].tolist() == ["ann", "bob"]
    assert set(frame["machine"]) == {socket.gethostname()}
    assert frame[frame["member"] == "bob"]["job_id"].tolist() == [second.job_id]
    assert set(frame["status"]) == {"succeeded"}


def test_the_environment_names_the_ledger(
    sandbox: Sandbox, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_LEDGER, pg_url)
    with team_studio(sandbox, tmp_path) as studio:
        assert studio.log.url is not None
        assert studio.log.path is None
        assert studio.log.df.empty
    assert not (tmp_path / "kling_runs.sqlite").exists()
    monkeypatch.delenv(ENV_LEDGER)
    with team_studio(sandbox, tmp_path) as studio:
        assert studio.log.path == tmp_path / "kling_runs.sqlite"


def test_ratings_and_judgements_carry_the_member(pg_url: str) -> None:
    with Ledger(pg_url, member="ann") as ann, Ledger(pg_url, member="bob") as bob:
        ann.insert(job("a", status="succeeded"))
        bob.insert(job("b", status="succeeded"))
        ann.add_rating("b", 5, rater="ann")
        bob.add_judgement(["a", "b"], "a", tie=False, rater="carol")
        assert ann.ratings[["job_id", "rater", "member"]].values.tolist() == [["b", "ann", "ann"]]
        assert bob.judgements[["rater", "member"]].values.tolist() == [["carol", "bob"]]
        assert ann.df["member"].tolist() == ["ann", "bob"]


def test_a_claim_skips_rows_another_transaction_has_locked(pg_url: str) -> None:
    with Ledger(pg_url) as ledger:
        ledger.insert(job("busy"))
        ledger.insert(job("free"))
        with psycopg.connect(pg_url, autocommit=False) as other:
            other.execute("SELECT 1 FROM jobs WHERE job_id = 'busy' FOR UPDATE")
            started = time.monotonic()
            found = ledger.claim("A", endpoint=ENDPOINT, key_fp=None, lease_s=60)
            assert time.monotonic() - started < 2  # skipped, not waited for
            other.rollback()
        assert [row["job_id"] for row in found.claimed] == ["free"]
        again = ledger.claim("B", endpoint=ENDPOINT, key_fp=None, lease_s=60)
        assert [row["job_id"] for row in again.claimed] == ["busy"]


def test_a_held_row_lock_fails_a_write_after_the_timeout(pg_url: str) -> None:
    with Ledger(pg_url, timeout=0.3) as ledger:
        ledger.insert(job("a"))
        with psycopg.connect(pg_url) as other:
            other.execute("SELECT 1 FROM jobs WHERE job_id = 'a' FOR UPDATE")
            with pytest.raises(LedgerError, match=r"locked by another process \(waited 0.3 s\)"):
                ledger.update("a", polls=1)
            assert (ledger.row("a") or {})["polls"] == 0  # reads go on
        assert ledger.update("a", polls=2)


def wrong_password(server: PgServer) -> str:
    return server.url("postgres", password="not-the-password-42")


@pytest.mark.parametrize(
    ("make_url", "words"),
    [
        (wrong_password, "password authentication failed"),
        (lambda s: f"postgresql://kling:{PASSWORD}@127.0.0.1:1/postgres", "refused"),
        (lambda s: f"postgresql://kling:{PASSWORD}@127.0.0.1:notaport/db", "not a valid"),
        (lambda s: f"postgresql://kling:{PASSWORD}@127.0.0.1:{s.port}/", "names no database"),
        (lambda s: s.url("no_such_db"), 'database "no_such_db" does not exist'),
    ],
    ids=["password", "unreachable", "bad-port", "no-database", "no-such-database"],
)
def test_a_bad_ledger_url_is_a_configuration_error_without_the_password(
    pg_server: PgServer, tmp_path: Path, make_url: Any, words: str
) -> None:
    url = make_url(pg_server)
    with pytest.raises(kn.ConfigurationError) as caught:
        kn.Studio(root=tmp_path, ledger=url)
    text = str(caught.value)
    assert words in text
    assert "127.0.0.1" in text or "not a valid" in text or "no database" in text
    for secret in (PASSWORD, "not-the-password-42"):
        assert secret not in text
        assert secret not in repr(caught.value)
        assert secret not in "".join(traceback.format_exception(caught.value))
    assert isinstance(caught.value, LedgerError)
    assert not (tmp_path / "kling_runs.sqlite").exists()


def test_the_password_may_come_from_the_environment(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://{pg_server.user}@{pg_server.host}:{pg_server.port}/postgres"
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    with Ledger(url) as ledger:
        assert ledger.url == url
        assert ledger.df.empty
