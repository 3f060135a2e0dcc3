"""Writes that fail loudly (LedgerError in words, on real files) and the typed row queries."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from _ledger_helpers import job, read_only

from kling_nb import KlingError
from kling_nb._ledger import Ledger, LedgerError


def test_ledger_error_is_a_kling_error() -> None:
    assert issubclass(LedgerError, KlingError)


def test_a_folder_in_place_of_the_file_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    path.mkdir()
    with pytest.raises(LedgerError, match="cannot be opened") as caught:
        Ledger(path)
    assert str(path) in str(caught.value)
    assert not isinstance(caught.value, sqlite3.Error)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    path.write_bytes(b"this is a CSV, not a ledger\n" * 200)
    with pytest.raises(LedgerError, match="not a SQLite database"):
        Ledger(path)


def test_a_read_only_folder_is_refused_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    with read_only(folder), pytest.raises(LedgerError, match="read-only") as caught:
        Ledger(folder / "kling_runs.sqlite")
    assert str(folder) in str(caught.value)


def test_a_read_only_file_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    with Ledger(path) as ledger:
        ledger.insert(job("a"))
    with read_only(path), pytest.raises(LedgerError, match="read-only"):
        Ledger(path)


def test_a_missing_folder_is_created(tmp_path: Path) -> None:
    with Ledger(tmp_path / "a" / "b" / "kling_runs.sqlite") as ledger:
        ledger.insert(job("x"))
        assert ledger.row("x") is not None


def test_a_full_disk_fails_the_write_and_keeps_the_ledger(tmp_path: Path) -> None:
    with Ledger(tmp_path / "kling_runs.sqlite") as ledger:
        ledger.insert(job("small"))
        pages = ledger._store.write(
            lambda db: db.exec_driver_sql("PRAGMA page_count").scalar(), "x"
        )
        # The write connection's size limit: the file may not grow by more than 2 pages.
        ledger._store.write(
            lambda db: db.exec_driver_sql(f"PRAGMA max_page_count = {pages + 2}").fetchone(), "x"
        )
        with pytest.raises(LedgerError, match="disk is full") as caught:
            ledger.insert(job("big", prompt="x" * 200_000))
        assert "insert job big" in str(caught.value)
        assert ledger.row("big") is None  # rolled back whole: no half-written row
        assert ledger.update("small", polls=3)  # still usable for what fits
        assert (ledger.row("small") or {})["polls"] == 3


def test_a_lock_held_by_another_process_fails_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    with Ledger(path, timeout=0.3) as ledger:
        ledger.insert(job("a"))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(LedgerError, match=r"locked by another process \(waited 0.3 s\)"):
            ledger.update("a", polls=1)
        assert time.monotonic() - started >= 0.25
        assert (ledger.row("a") or {})["polls"] == 0  # reads go on under the lock (WAL)
        other.execute("COMMIT")
        other.close()
        assert ledger.update("a", polls=2)


def test_writes_after_close_raise(target: str | Path) -> None:
    ledger = Ledger(target)
    ledger.close()
    ledger.close()  # twice is fine
    with pytest.raises(LedgerError, match="closed"):
        ledger.insert(job("a"))
    with pytest.raises(LedgerError, match="closed"):
        _ = ledger.df


def test_a_duplicate_job_id_is_a_ledger_error(target: str | Path) -> None:
    with Ledger(target) as ledger:
        ledger.insert(job("a"))
        with pytest.raises(LedgerError, match=r"constraint failed \((UNIQUE|duplicate key)"):
            ledger.insert(job("a"))
        assert len(ledger.events("a")) == 1


def test_bad_arguments_fail_in_the_caller(target: str | Path) -> None:
    with Ledger(target) as ledger:
        ledger.insert(job("a"))
        with pytest.raises(KeyError, match="nope"):
            ledger.update("a", nope=1)
        with pytest.raises(KeyError, match="nope"):
            ledger.insert(job("b", nope=1))
        with pytest.raises(ValueError, match="'finished'"):
            ledger.update("a", status="finished")
        assert ledger.row("b") is None


def test_update_reports_whether_it_applied(target: str | Path) -> None:
    with Ledger(target) as ledger:
        ledger.insert(job("a"))
        assert ledger.update("a", status="creating", event="create_sent", detail={"n": 1})
        assert not ledger.update("missing", status="creating", event="create_sent")
        events = ledger.events()
    assert list(events["kind"]) == ["submitted", "create_sent"]  # no event for a missing row
    assert events["detail"].iloc[1] == {"n": 1}


def test_typed_queries(target: str | Path) -> None:
    with Ledger(target) as ledger:
        ledger.insert(job("a", tags=["sweep:1", "x"], submitted_at=1.0))
        ledger.insert(job("b", tags=["sweep:1"], submitted_at=2.0, status="succeeded"))
        ledger.insert(job("c", tags=["sweep:10"], submitted_at=3.0, status="timeout"))
        ledger.insert(job("d", submitted_at=0.5, status="fetch_failed"))
        assert [r["job_id"] for r in ledger.by_tag("sweep:1")] == ["a", "b"]
        assert ledger.by_tag("sweep") == []
        assert [r["job_id"] for r in ledger.by_ids(["c", "a", "zz", "a"])] == ["a", "c"]
        # Not final: waiting, and the parked timeout / fetch_failed (resume() takes them).
        assert [r["job_id"] for r in ledger.unfinished()] == ["d", "a", "c"]
        row = ledger.row("a")
    assert row is not None
    assert row["tags"] == ["sweep:1", "x"]
    assert row["request"] == {"Model": "kling-v3", "Prompt": "prompt of a"}
    assert not hasattr(ledger, "rows")
    assert not hasattr(ledger, "count_creates")
