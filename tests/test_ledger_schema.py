"""Schema versions: a v1 ledger written by the old code migrates in place, in one transaction."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _ledger_helpers import FIXTURE_V2, FIXTURE_V3, FIXTURE_V4, copy_v1, job

from kling_nb._ledger import VERSION, Ledger, LedgerError
from kling_nb._ledger._schema import MIGRATIONS

V1_IDS = {
    "20261130-103348-58e5ec58": "succeeded",
    "20261130-103351-4b7c57cb": "queued",
    "20261130-103351-49a8d26f": "queued",
    "20261130-103351-3533c3e0": "waiting",
    "20261130-103352-5e4d1a9b": "creating",
}


def raw(path: Path, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(query, params).fetchall()
    finally:
        db.close()


def shape(path: Path) -> dict[str, Any]:
    """Tables, indexes and column definitions: what a migrated and a new file must share."""
    objects = sorted(
        raw(path, "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    )
    columns = {
        name: [row[1:] for row in raw(path, f"PRAGMA table_info({name})")]
        for kind, name in objects
        if kind == "table"
    }
    return {"objects": objects, "columns": columns}


def test_every_version_below_the_current_has_a_migration() -> None:
    assert VERSION == 5
    assert sorted(MIGRATIONS) == list(range(1, VERSION))


def test_the_v1_fixture_migrates_in_place(tmp_path: Path) -> None:
    path = copy_v1(tmp_path)
    assert raw(path, "PRAGMA user_version") == [(0,)]
    events_before = raw(path, "SELECT seq, job_id, kind FROM events ORDER BY seq")
    before = {row[0]: row for row in raw(path, "SELECT * FROM jobs")}

    with Ledger(path) as ledger:
        rows = {row["job_id"]: row for row in ledger.df.to_dict("records")}
        assert {job_id: row["status"] for job_id, row in rows.items()} == V1_IDS
        for job_id in V1_IDS:
            row = ledger.row(job_id)
            assert row is not None
            assert row["endpoint"] == row["base_url"] == "http://127.0.0.1:41521"
            assert row["key_fp"] is None
            assert row["owner"] is None
            assert row["lease_until"] is None
            assert row["attempts"] == 0
            assert row["task_id"] == before[job_id][1]  # v1 columns kept as they were
        assert {row["job_id"] for row in ledger.unfinished()} == set(V1_IDS) - {
            "20261130-103348-58e5ec58"
        }

    assert raw(path, "PRAGMA user_version") == [(VERSION,)]
    assert raw(path, "SELECT seq, job_id, kind FROM events ORDER BY seq") == events_before


def test_a_migrated_file_has_the_schema_of_a_new_one(tmp_path: Path) -> None:
    Ledger(tmp_path / "new.sqlite").close()
    Ledger(copy_v1(tmp_path)).close()
    assert shape(tmp_path / "kling_runs.sqlite") == shape(tmp_path / "new.sqlite")


def v1_row(db: sqlite3.Connection, job_id: str, **fields: Any) -> None:
    """Write a row the way the v1 code did (raw columns of the v1 table)."""
    row = {
        "job_id": job_id,
        "route": "text2video",
        "model": "kling-v3",
        "duration": 5,
        "prompt": "p",
        "status": "error",
        "submitted_at": 1.0,
        "updated_at": 1.0,
        "request": "{}",
        "base_url": "https://inference-api.worldrouter.ai",
        **fields,
    }
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO jobs ({names}) VALUES ({marks})", list(row.values()))  # noqa: S608


def test_v1_failed_downloads_become_fetch_failed(tmp_path: Path) -> None:
    path = copy_v1(tmp_path)
    db = sqlite3.connect(path, isolation_level=None)
    v1_row(db, "billed", task_id="t1", video_url="https://media/x.mp4", error="disk full")
    v1_row(db, "refused", error="402 balance")  # never created: stays a final error
    v1_row(db, "no-url", task_id="t2", error="task failed to start")
    v1_row(db, "got-it", task_id="t3", video_url="u", video_path="/v.mp4", status="error")
    v1_row(db, "timed-out", task_id="t4", status="timeout")
    db.close()

    with Ledger(path) as ledger:
        status = {row["job_id"]: row["status"] for row in ledger.df.to_dict("records")}
        kinds = list(ledger.events("billed")["kind"])
        details = list(ledger.events("billed")["detail"])
    assert status["billed"] == "fetch_failed"
    assert kinds == ["migrated"]
    assert details == [{"from": "error", "schema": 2}]
    assert status["refused"] == status["no-url"] == status["got-it"] == "error"
    assert status["timed-out"] == "timeout"  # unchanged (now a parked state: resume takes it)


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = copy_v1(tmp_path)
    Ledger(path).close()
    with Ledger(path) as ledger:
        ledger.insert(job("new"))
        assert ledger._store.found_version == VERSION
    with Ledger(path) as ledger:
        assert ledger.row("new") is not None
        assert len(ledger.df) == len(V1_IDS) + 1


def test_a_failed_migration_leaves_the_v1_file_untouched(tmp_path: Path) -> None:
    path = copy_v1(tmp_path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("ALTER TABLE jobs ADD COLUMN key_fp TEXT")  # the migration's ALTER will clash
    db.close()
    before = shape(path)
    with pytest.raises(LedgerError, match="duplicate column"):
        Ledger(path)
    assert shape(path) == before
    assert raw(path, "PRAGMA user_version") == [(0,)]
    names = [row[1] for row in raw(path, "PRAGMA table_info(jobs)")]
    assert "owner" not in names
    assert "endpoint" not in names


def test_a_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {VERSION + 1}")
    db.close()
    with pytest.raises(LedgerError, match=rf"newer kling_nb \(schema version {VERSION + 1}"):
        Ledger(path)


def test_new_columns_round_trip(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        detail = {"upstream": 500, "message": "<b>x</b>"}
        ledger.insert(job("a", owner="me", lease_until=5.0, key_fp="fp", deadline_at=9.0))
        ledger.update(
            "a", error_type="ServerError", error_status=502, error_code="E1",
            error_detail=detail, remote_status="failed", attempts=2,
        )  # fmt: skip
        row = ledger.row("a")
    assert row is not None
    assert row["error_detail"] == detail
    assert (row["owner"], row["lease_until"], row["key_fp"], row["deadline_at"]) == (
        "me", 5.0, "fp", 9.0,
    )  # fmt: skip
    assert (row["error_status"], row["attempts"], row["remote_status"]) == (502, 2, "failed")
    assert json.loads(raw(tmp_path / "l.sqlite", "SELECT error_detail FROM jobs")[0][0]) == detail


def test_the_v2_fixture_migrates_to_team_columns(tmp_path: Path) -> None:
    path = copy_v1(tmp_path, FIXTURE_V2)
    assert raw(path, "PRAGMA user_version") == [(2,)]
    with Ledger(path, member="cat", machine="box") as ledger:
        assert ledger._store.found_version == 2
        old = ledger.row("v2-open")
        ledger.insert(job("v3-new"))
        ledger.add_rating("v2-open", 2, rater="cat")
        ratings = ledger.ratings.set_index("rater")
        judgements = ledger.judgements
        frame = ledger.df.set_index("job_id")
    assert old is not None
    assert (old["member"], old["machine"], old["owner"], old["polls"]) == (None, None, "old", 3)
    assert frame.loc["v3-new", "member"] == "cat"
    assert frame.loc["v3-new", "machine"] == "box"
    assert frame.loc["v2-done", "total_s"] == 60.0
    assert pd.isna(ratings.loc["ann", "member"])  # recorded before v3: unknown
    assert ratings.loc["cat", "member"] == "cat"
    assert judgements["shown"].tolist() == [["v2-done", "v2-open"]]
    assert raw(path, "PRAGMA user_version") == [(VERSION,)]
    Ledger(tmp_path / "new.sqlite").close()
    assert shape(path) == shape(tmp_path / "new.sqlite")


def test_the_v3_fixture_migrates_to_families(tmp_path: Path) -> None:
    path = copy_v1(tmp_path, FIXTURE_V3)
    assert raw(path, "PRAGMA user_version") == [(3,)]
    before = raw(path, "SELECT * FROM jobs ORDER BY job_id")
    with Ledger(path) as ledger:
        assert ledger._store.found_version == 3
        ledger.insert(job("v4-grok", route="grok", model="grok-imagine-video", mode="720p"))
        ledger.insert(job("v4-said", route="seedance", family="seedance", model="seedance-2.0"))
        frame = ledger.df.set_index("job_id")
        ratings = ledger.ratings
    assert frame["family"].to_dict() == {
        "v3-done": "kling",  # every row before v4 was a Kling job
        "v3-open": "kling",
        "v4-grok": "grok",  # a row written without a family gets its route's
        "v4-said": "seedance",
    }
    assert frame.loc["v3-done", "total_s"] == 60.0
    assert ratings["stars"].tolist() == [4]
    after = raw(path, "SELECT * FROM jobs WHERE job_id LIKE 'v3-%' ORDER BY job_id")
    assert [row[:-1] for row in after] == before  # the old columns are as they were
    assert raw(path, "PRAGMA user_version") == [(VERSION,)]
    Ledger(tmp_path / "new.sqlite").close()
    assert shape(path) == shape(tmp_path / "new.sqlite")


def test_a_postgresql_ledger_records_its_version_and_refuses_a_newer_one(pg_url: str) -> None:
    with Ledger(pg_url) as ledger:
        assert ledger._store.found_version == 0
    with Ledger(pg_url) as ledger:
        assert ledger._store.found_version == VERSION
        ledger._store.write(
            lambda db: db.exec_driver_sql(
                f"UPDATE ledger_schema SET version = {VERSION + 1}"  # noqa: S608 (a constant)
            ),
            "x",
        )
    with pytest.raises(LedgerError, match=rf"newer kling_nb \(schema version {VERSION + 1}"):
        Ledger(pg_url)


def test_the_v4_fixture_gets_the_compare_index(tmp_path: Path) -> None:
    path = copy_v1(tmp_path, FIXTURE_V4)
    assert raw(path, "PRAGMA user_version") == [(4,)]
    before = raw(path, "SELECT * FROM jobs ORDER BY job_id")
    with Ledger(path) as ledger:
        assert ledger._store.found_version == 4
        pivot = ledger.compare()
    assert pivot.loc["a fox", ("total_s", "kling-v3", "std", 5)] == 45.0
    assert raw(path, "SELECT * FROM jobs ORDER BY job_id") == before
    assert raw(path, "PRAGMA user_version") == [(VERSION,)]
    plan = raw(
        path,
        "EXPLAIN QUERY PLAN SELECT prompt, model, mode, duration, finished_at - created_at, "
        "cost_estimate FROM jobs WHERE status = 'succeeded' ORDER BY prompt, model, mode, duration",
    )
    assert "COVERING INDEX jobs_compare" in str(plan)
    Ledger(tmp_path / "new.sqlite").close()
    assert shape(path) == shape(tmp_path / "new.sqlite")
