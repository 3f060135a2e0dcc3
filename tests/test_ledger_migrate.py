"""`kling-nb ledger migrate`: a personal SQLite ledger copied into a team's PostgreSQL ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from _ledger_helpers import FIXTURE_V2, copy_v1, job
from _postgres import PASSWORD

from kling_nb._ledger import Ledger
from kling_nb.cli import main


def personal(tmp_path: Path) -> Path:
    """The v2 fixture (two jobs, a rating, a judgement) plus a job written by v3 code."""
    path = copy_v1(tmp_path, FIXTURE_V2)
    with Ledger(path, member="ann", machine="laptop") as ledger:
        ledger.insert(job("v3-ann", status="succeeded", submitted_at=3.0))
        ledger.update("v3-ann", event="downloaded", detail={"bytes": 9})
    return path


def test_migrate_copies_once_and_keeps_what_is_there(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = personal(tmp_path)
    with Ledger(pg_url, member="bob", machine="desk") as team:
        team.insert(job("v2-open", status="succeeded", prompt="bob's own"))  # same id, kept
    assert (
        main(["ledger", "migrate", "--from", str(source), "--to", pg_url, "--member", "ann"]) == 0
    )
    out = capsys.readouterr().out
    assert "copied 2 job(s) with 3 event(s), 1 rating(s) and 1 judgement(s)" in out
    assert "1 job(s) were already there" in out
    assert PASSWORD not in out
    assert main(["ledger", "migrate", "--from", str(source), "--to", pg_url]) == 0
    assert "copied 0 job(s) with 0 event(s), 0 rating(s) and 0 judgement(s)" in (
        capsys.readouterr().out
    )
    with Ledger(pg_url) as team:
        frame = team.df.set_index("job_id")
        assert frame.loc["v2-open", "prompt"] == "bob's own"
        assert frame.loc["v2-done", "member"] == "ann"  # written before v3: the migrating member
        assert frame.loc["v3-ann", ["member", "machine"]].tolist() == ["ann", "laptop"]
        assert frame.loc["v2-done", "total_s"] == 60.0
        assert list(team.events("v3-ann")["kind"]) == ["submitted", "downloaded"]
        assert team.events("v3-ann")["detail"].iloc[1] == {"bytes": 9}
        assert team.ratings[["job_id", "rater", "stars"]].values.tolist() == [["v2-done", "ann", 4]]
        assert team.judgements["shown"].tolist() == [["v2-done", "v2-open"]]
        assert len(team.events()) == 1 + 3  # bob's submitted event and the copied ones


def test_log_reads_a_team_ledger_filtered_by_member(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger(pg_url, member="ann") as ann, Ledger(pg_url, member="bob") as bob:
        ann.insert(job("ann-1", status="succeeded"))
        bob.insert(job("bob-1", status="succeeded"))
    assert main(["log", "--ledger", pg_url, "--member", "bob"]) == 0
    out = capsys.readouterr().out
    assert "bob-1" in out
    assert "ann-1" not in out
    assert PASSWORD not in out


def test_migrate_from_a_missing_file_is_a_usage_error(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.sqlite"
    assert main(["ledger", "migrate", "--from", str(missing), "--to", pg_url]) == 2
    assert "no such ledger file" in capsys.readouterr().err
    assert not missing.exists()


def test_a_wrong_password_fails_in_one_line_without_it(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = pg_url.replace(PASSWORD, "wrong-pass-77")
    assert main(["ledger", "migrate", "--from", str(personal(tmp_path)), "--to", bad]) == 1
    err = capsys.readouterr().err
    assert "password authentication failed" in err
    assert "127.0.0.1" in err
    assert "wrong-pass-77" not in err
