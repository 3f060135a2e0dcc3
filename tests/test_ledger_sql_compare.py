"""`compare()` aggregated in the database equals the pandas pivot of `df`, on both engines."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _ledger_helpers import job

from kling_nb._ledger import Ledger
from kling_nb._ledger._compare import SQL_AGGFUNCS, sql_compare

STATUSES = ["succeeded"] * 6 + ["failed", "running", "fetch_failed", "error"]
SHAPES: list[tuple[Any, Any, Any]] = [
    ("prompt", ("model", "mode", "duration"), ("total_s", "cost_estimate")),
    ("model", "duration", ("queued_s", "running_s", "polls")),
    (("prompt", "mode"), "family", ("total_s", "cost_reported", "video_bytes")),
    ("member", ("route", "aspect_ratio"), "total_s"),
]


def _row(i: int, rng: random.Random) -> dict[str, Any]:
    status = rng.choice(STATUSES)
    created = 1000.0 + rng.uniform(0, 50) if rng.random() < 0.95 else None
    running = None if created is None or rng.random() < 0.2 else created + rng.uniform(1, 30)
    start = running if running is not None else created
    finished = None if start is None or rng.random() < 0.1 else start + rng.uniform(10, 200)
    return job(
        f"j{i:04d}",
        status=status,
        model=rng.choice(["kling-v3", "kling-v2-6", "kling-v3-omni"]),
        mode=rng.choice(["std", "pro", None]),
        duration=rng.choice([5, 10]),
        family=rng.choice(["kling", "seedance"]),
        route=rng.choice(["text2video", "image2video"]),
        aspect_ratio=rng.choice(["16:9", "9:16", None]),
        prompt=f"prompt {rng.randrange(7)}",
        member=rng.choice(["ann", "bo"]),
        submitted_at=900.0 + i,
        created_at=created,
        running_at=running,
        finished_at=finished,
        polls=rng.randrange(0, 30),
        cost_estimate=rng.choice([0.35, 0.7, 0.56, None]),
        cost_reported=rng.choice([0.3, 0.5, None, None]),
        video_bytes=rng.choice([None, 1000, 2500, 400_000]),
    )


def _ledger(target: str | Path, *, rated: bool, judged: bool) -> Ledger:
    rng = random.Random(20261130)
    ledger = Ledger(target)
    rows = [_row(i, rng) for i in range(240)]
    for row in rows:
        ledger.insert(row)
    ids = [row["job_id"] for row in rows]
    if rated:
        for job_id in rng.sample(ids, 40):
            ledger.add_rating(job_id, rng.randint(1, 5), rater=rng.choice(["ann", "bo"]))
    if judged:
        for _ in range(30):
            shown = rng.sample(ids, 2)
            choice = rng.choice([*shown, None])
            ledger.add_judgement(shown, choice, tie=choice is None, rater="ann")
    return ledger


@pytest.mark.parametrize(("rated", "judged"), [(False, False), (True, True)])
def test_sql_pivot_equals_the_pandas_pivot(target: str | Path, rated: bool, judged: bool) -> None:
    ledger = _ledger(target, rated=rated, judged=judged)
    frame = ledger.df
    checked = 0
    for index, columns, values in SHAPES:
        for aggfunc in SQL_AGGFUNCS:
            shape = {"index": index, "columns": columns, "values": values}
            in_sql = sql_compare(
                ledger._store, **shape, aggfunc=aggfunc,
                judgements=ledger.judgements, ratings=ledger.ratings,
            )  # fmt: skip
            assert in_sql is not None, (shape, aggfunc)
            in_pandas = ledger.compare(frame, **shape, aggfunc=aggfunc)
            assert not in_pandas.empty
            pd.testing.assert_frame_equal(
                in_sql, in_pandas, check_dtype=False, rtol=1e-9, obj=f"{shape} {aggfunc}"
            )
            checked += 1
    added = {"stars_mean", "score"} & set(in_sql.columns.get_level_values(0))
    assert added == ({"stars_mean", "score"} if rated else set())
    # The default call takes the SQL path and gives the same pivot.
    pd.testing.assert_frame_equal(ledger.compare(), ledger.compare(frame), check_dtype=False)
    assert checked == len(SHAPES) * len(SQL_AGGFUNCS)
    ledger.close()


def test_what_sql_cannot_do_falls_back_to_pandas(target: str | Path) -> None:
    ledger = _ledger(target, rated=False, judged=False)
    frame = ledger.df
    shapes: list[dict[str, Any]] = [
        {"aggfunc": "std"},
        {"aggfunc": lambda s: s.max() - s.min()},
        {"index": "tags"},  # lists: no SQL grouping
        {"values": ("total_s", "submitted_at"), "aggfunc": "max"},
        {"index": "model", "columns": "duration", "values": "duration"},  # pandas refuses it too
    ]
    for shape in shapes:
        options: dict[str, Any] = {
            "index": "prompt", "columns": ("model", "mode", "duration"),
            "values": ("total_s", "cost_estimate"), "aggfunc": "median", **shape,
        }  # fmt: skip
        found = sql_compare(
            ledger._store, **options, judgements=ledger.judgements, ratings=ledger.ratings
        )
        assert found is None, shape
        if options["index"] != "tags" and options["values"] != "duration":
            in_pandas = ledger.compare(frame, **options)
            pd.testing.assert_frame_equal(ledger.compare(**options), in_pandas)
    ledger.close()


def test_rankings_read_the_judged_jobs_only(target: str | Path) -> None:
    ledger = _ledger(target, rated=True, judged=True)
    ranked = ledger.rankings(by=("model", "mode"))
    votes = ledger.votes()
    judged = {j for vote in votes for j in vote.shown} | set(ledger.ratings["job_id"])
    assert ranked.attrs["jobs"] == len(judged)
    assert ranked["comparisons"].sum() > 0
    ledger.close()


def test_empty_ledger_compares_to_an_empty_pivot(target: str | Path) -> None:
    ledger = Ledger(target)
    ledger.insert(job("only", status="failed", created_at=1.0, finished_at=2.0))
    assert ledger.compare().empty
    assert ledger.compare(ledger.df).empty
    ledger.close()


def test_df_sees_every_write_and_leaves_the_ledger_readable(tmp_path: Path) -> None:
    # ADBC's SQLite driver (a faster df, tried) carries its own SQLite: its read, then its close,
    # dropped the POSIX locks of the ledger's own connection, and the next plain read failed
    # ("disk I/O error").
    path = tmp_path / "kling_runs.sqlite"
    ledger = Ledger(path)
    ledger.insert(job("one", status="succeeded", created_at=1.0, finished_at=2.0))
    for name in ("two", "three"):
        assert len(ledger.df) >= 1
        ledger.insert(job(name, status="succeeded", created_at=1.0, finished_at=2.0))
        with sqlite3.connect(path) as other:
            count = other.execute("SELECT count(*) FROM jobs").fetchone()[0]
        assert count == len(ledger.df)
    assert len(ledger.df) == 3
    ledger.close()
