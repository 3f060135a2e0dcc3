"""The pandas views: `df` columns, `events`, and timing/compare counting succeeded jobs only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _ledger_helpers import job

from kling_nb._ledger import COLUMNS, Ledger


def timed(job_id: str, status: str, total: float, **fields: object) -> dict[str, object]:
    return job(
        job_id, status=status, created_at=100.0, running_at=101.0,
        finished_at=100.0 + total, **fields,
    )  # fmt: skip


@pytest.fixture
def ledger(target: str | Path) -> Ledger:
    ledger = Ledger(target)
    ledger.insert(timed("ok1", "succeeded", 60.0, cost_estimate=0.35, tags=["t"]))
    ledger.insert(timed("ok2", "succeeded", 80.0, cost_estimate=0.35))
    ledger.insert(timed("ok3", "succeeded", 100.0, cost_estimate=0.35))
    # Not succeeded, yet with times: a download that failed, one in flight, a failed task.
    ledger.insert(timed("fetch", "fetch_failed", 5.0, cost_estimate=0.35))
    ledger.insert(timed("down", "downloading", 6.0, cost_estimate=0.35))
    ledger.insert(timed("bad", "failed", 7.0, cost_estimate=0.35))
    ledger.update("bad", remote_status="failed", error_type="TaskFailedError", error_code="E9")
    return ledger


def test_df_keeps_its_columns_and_appends_the_new_ones(ledger: Ledger) -> None:
    frame = ledger.df
    assert list(frame.columns) == list(COLUMNS)
    assert list(COLUMNS[-6:-2]) == ["remote_status", "error_type", "error_code", "endpoint"]
    assert list(COLUMNS[-2:]) == ["member", "machine"]
    bad = frame.set_index("job_id").loc["bad"]
    assert (bad["remote_status"], bad["error_type"], bad["error_code"]) == (
        "failed", "TaskFailedError", "E9",
    )  # fmt: skip
    assert frame["tags"].iloc[0] == ["t"]
    assert frame["total_s"].iloc[0] == 60.0
    assert str(frame["submitted_at"].dtype).startswith("datetime64")
    ledger.close()


def test_timing_counts_succeeded_jobs_only(ledger: Ledger) -> None:
    found = ledger.timing("kling-v3", "std", 5)
    assert found is not None
    median, _, count = found
    assert (median, count) == (80.0, 3)
    assert ledger.timing("kling-v3", "pro", 5) is None
    ledger.close()


def test_compare_counts_succeeded_jobs_only(ledger: Ledger) -> None:
    pivot = ledger.compare()
    assert pivot[("total_s", "kling-v3", "std", 5)].tolist() == [60.0, 80.0, 100.0]
    # A subset with every status still counts the succeeded rows only.
    frame = ledger.df
    subset = ledger.compare(frame[frame["job_id"].isin(["ok1", "fetch", "down"])])
    assert subset[("total_s", "kling-v3", "std", 5)].tolist() == [60.0]
    with pytest.raises(ValueError, match="'status' column"):
        ledger.compare(frame.drop(columns=["status"]))
    ledger.close()


def test_events_of_one_job_and_of_all(ledger: Ledger) -> None:
    ledger.update("ok1", event="downloaded", detail={"bytes": 3})
    one = ledger.events("ok1")
    assert list(one["kind"]) == ["submitted", "downloaded"]
    assert one["detail"].iloc[1] == {"bytes": 3}
    assert isinstance(one["at"].dtype, pd.DatetimeTZDtype)
    assert len(ledger.events()) == 7
    ledger.close()


def test_exports(ledger: Ledger, tmp_path: Path) -> None:
    csv = ledger.to_csv(tmp_path / "runs.csv")
    assert len(pd.read_csv(csv)) == 6
    ledger.close()
