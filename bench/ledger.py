"""The ledger at 100,000 jobs: write cost per transition, and the pandas views built from it.

Every job is written the way the Studio writes it: `Ledger.insert` (row + 'submitted' event,
one transaction), then one `Ledger.update` with an event per transition (create_sent, created,
running, a terminal status, downloaded for successes) and one poll-count update without an event.
A second file is filled through a bulk path (one `executemany` transaction, the same encoded
rows) to show what the per-transaction writes cost against it.

Then `log.df` (every job as a DataFrame) and `log.compare()` (the pivot) are timed, each the
median of several runs. Target: `log.df` under 1 s at 100,000 jobs.

Run: python bench/ledger.py [--jobs N]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kling_nb._ledger import Ledger
from kling_nb._ledger._codec import encode
from kling_nb._ledger._schema import TABLE_COLUMNS

VARIANTS = [
    ("kling-v3", "std", 5),
    ("kling-v3", "pro", 5),
    ("kling-v3", "std", 10),
    ("kling-v3", "pro", 10),
    ("kling-v2-6", "std", 5),
    ("kling-v3-omni", "pro", 5),
]
SUBJECTS = ["a fox", "a paper boat", "a lighthouse", "a city street", "a hummingbird"]
STYLES = ["in snow", "at golden hour", "in the rain", "under neon lights", "in watercolour"]


def job_row(i: int, rng: random.Random, t0: float) -> dict[str, Any]:
    model, mode, duration = VARIANTS[i % len(VARIANTS)]
    prompt = f"{rng.choice(SUBJECTS)} {rng.choice(STYLES)}, take {i % 40}"
    route = "omni-video" if model == "kling-v3-omni" else "text2video"
    return {
        "job_id": f"20261125-120000-{i:08x}",
        "route": route,
        "model": model,
        "mode": mode,
        "duration": duration,
        "aspect_ratio": "16:9",
        "prompt": prompt,
        "status": "waiting",
        "create_state": "pending",
        "submitted_at": t0 + i * 0.5,
        "cost_estimate": 0.07 * duration * (1.6 if mode == "pro" else 1.0),
        "tags": [f"sweep:{i // 40:06x}"],
        "request": {
            "Model": model,
            "Prompt": prompt,
            "Duration": str(duration),
            "Mode": mode,
            "AspectRatio": "16:9",
        },
        "base_url": "https://inference-api.worldrouter.ai",
    }


def outcome(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.86:
        return "succeeded"
    if roll < 0.91:
        return "failed"
    if roll < 0.94:
        return "expired"
    if roll < 0.97:
        return "error"
    return "running"


def transitions(row: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """The `Ledger.update` calls the Studio makes for this job, in order."""
    job_id, sub = row["job_id"], row["submitted_at"]
    created = sub + rng.uniform(0.1, 2.0)
    running = created + rng.lognormvariate(2.5, 0.5)
    finished = running + rng.lognormvariate(4.3, 0.3)
    end = outcome(rng)
    task_id = f"task_{rng.getrandbits(96):024x}"
    calls: list[dict[str, Any]] = [
        {"job_id": job_id, "status": "creating", "event": "create_sent", "create_state": "sending"},
        {
            "job_id": job_id,
            "status": "queued",
            "event": "created",
            "detail": {"task_id": task_id, "request_id": "req_x"},
            "task_id": task_id,
            "create_state": "created",
            "created_at": created,
        },
        {
            "job_id": job_id,
            "status": "running",
            "event": "status",
            "detail": "running",
            "running_at": running,
            "polls": 3,
        },
        {"job_id": job_id, "polls": 10},  # periodic poll count, no event
    ]
    if end == "error":
        calls = [
            calls[0],
            {
                "job_id": job_id,
                "status": "error",
                "event": "error",
                "detail": "402 balance",
                "error": "team balance too low",
                "finished_at": created,
            },
        ]
    elif end == "succeeded":
        url = f"https://media.example/{task_id}.mp4?sig=abc"
        calls += [
            {"job_id": job_id, "status": "downloading", "event": "status", "detail": "succeeded",
             "finished_at": finished, "video_url": url, "polls": 14},
            {"job_id": job_id, "event": "downloaded", "detail": {"bytes": 412345},
             "video_path": f"/work/kling_outputs/{job_id}.mp4", "video_bytes": 412345,
             "video_sha256": f"{rng.getrandbits(256):064x}", "video_url": url},
            {"job_id": job_id, "status": "succeeded", "event": "succeeded",
             "finished_at": finished, "polls": 14},
        ]  # fmt: skip
    elif end in ("failed", "expired"):
        calls += [
            {"job_id": job_id, "status": end, "event": end, "detail": f"task {end}",
             "error": f"task {end}", "finished_at": finished, "polls": 12},
        ]  # fmt: skip
    return calls


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, min) seconds of `repeat` calls."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), min(runs)


def encoded(row: dict[str, Any], now: float) -> list[object]:
    """A row's column values, encoded and defaulted the way `Ledger.insert` does it."""
    values = {key: encode(row.get(key)) for key in TABLE_COLUMNS}
    values["updated_at"] = now
    values["polls"] = values["polls"] or 0
    values["attempts"] = values["attempts"] or 0
    values["create_state"] = values["create_state"] or "pending"
    values["tags"] = values["tags"] or "[]"
    values["family"] = values["family"] or "kling"
    return list(values.values())


def bulk_fill(path: Path, rows: Sequence[dict[str, Any]]) -> float:
    """Write final rows and their events in one transaction; return seconds."""
    Ledger(path).close()  # the schema
    db = sqlite3.connect(path, isolation_level=None)
    started = time.perf_counter()
    names = ", ".join(TABLE_COLUMNS)
    marks = ", ".join("?" for _ in TABLE_COLUMNS)
    now = time.time()
    db.execute("BEGIN")
    db.executemany(
        f"INSERT INTO jobs ({names}) VALUES ({marks})",  # noqa: S608
        (encoded(row, now) for row in rows),
    )
    db.executemany(
        "INSERT INTO events (job_id, at, kind, status, detail) VALUES (?, ?, ?, ?, ?)",
        ((row["job_id"], now, "submitted", "waiting", None) for row in rows),
    )
    db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = random.Random(7)
    t0 = 1_764_000_000.0
    rows = [job_row(i, rng, t0) for i in range(args.jobs)]
    plans = [transitions(row, rng) for row in rows]

    with tempfile.TemporaryDirectory(prefix="kling-bench-ledger-") as tmp:
        log = Ledger(Path(tmp) / "kling_runs.sqlite")
        t = time.perf_counter()
        for row in rows:
            log.insert(row)
        insert_s = time.perf_counter() - t

        with_event: list[float] = []
        without_event: list[float] = []
        for plan in plans:
            for call in plan:
                job_id = call.pop("job_id")
                t = time.perf_counter()
                log.update(job_id, **call)
                (with_event if "event" in call else without_event).append(time.perf_counter() - t)

        # What the bulk path would have written: each job's final state, in one transaction.
        finals = []
        for row, plan in zip(rows, plans, strict=True):
            final = dict(row)
            for call in plan:
                final.update({k: v for k, v in call.items() if k not in ("event", "detail")})
            finals.append(final)
        bulk_s = bulk_fill(Path(tmp) / "bulk.sqlite", finals)

        size_mb = (Path(tmp) / "kling_runs.sqlite").stat().st_size / 1e6
        frame = log.df
        assert len(frame) == args.jobs, len(frame)
        df_med, df_min = timed(lambda: log.df, args.repeat)
        cmp_med, cmp_min = timed(lambda: log.compare(), args.repeat)
        pivot = log.compare()
        sub_med, _ = timed(lambda: log.compare(frame[frame["model"] == "kling-v3"]), args.repeat)
        timing_med, _ = timed(lambda: log.timing("kling-v3", "std", 5), args.repeat)
        unfinished_med, _ = timed(log.unfinished, args.repeat)
        events = log.events()
        n_events = len(events)
        log.close()

    n_with, n_without = len(with_event), len(without_event)
    us = 1e6
    results = [
        ("jobs", f"{args.jobs:,}", ""),
        ("events", f"{n_events:,}", ""),
        ("ledger file", f"{size_mb:.1f} MB", "after every transition"),
        ("Ledger.insert", f"{insert_s / args.jobs * us:.0f} µs/job", f"{insert_s:.1f} s total"),
        (
            "Ledger.update with event",
            f"{statistics.median(with_event) * us:.0f} µs p50, "
            f"{sorted(with_event)[int(0.99 * n_with)] * us:.0f} µs p99",
            f"{n_with:,} transitions",
        ),
        (
            "Ledger.update, no event",
            f"{statistics.median(without_event) * us:.0f} µs p50",
            f"{n_without:,} calls",
        ),
        (
            "bulk path (executemany, 1 tx)",
            f"{bulk_s / args.jobs * us:.1f} µs/job",
            f"{bulk_s:.2f} s; {insert_s / bulk_s:.0f}x faster than insert()",
        ),
        ("log.df", f"{df_med * 1000:.0f} ms p50", f"min {df_min * 1000:.0f} ms; target < 1000 ms"),
        (
            "log.compare()",
            f"{cmp_med * 1000:.0f} ms p50",
            f"min {cmp_min * 1000:.0f} ms; pivot {pivot.shape[0]}x{pivot.shape[1]}",
        ),
        ("log.compare(df subset)", f"{sub_med * 1000:.0f} ms p50", "kling-v3 rows, no re-read"),
        ("log.timing(variant)", f"{timing_med * 1000:.1f} ms p50", "per schedule (cached)"),
        ("log.unfinished()", f"{unfinished_med * 1000:.0f} ms p50", "what resume() reads"),
    ]
    width = max(len(r[0]) for r in results)
    print(f"{'measure':{width}s}  {'value':30s}  note")
    for name, value, note in results:
        print(f"{name:{width}s}  {value:30s}  {note}")
    print("\nMarkdown:\n")
    print("| measure | value | note |\n|---|---|---|")
    for name, value, note in results:
        print(f"| {name} | {value} | {note} |")
    ok = df_med < 1.0
    print(
        f"\nSUMMARY ledger: log.df {df_med * 1000:.0f} ms at {args.jobs:,} jobs "
        f"(target < 1000 ms: {'MET' if ok else 'MISSED'}); compare() {cmp_med * 1000:.0f} ms; "
        f"update+event {statistics.median(with_event) * us:.0f} µs/transition; "
        f"insert {insert_s / args.jobs * us:.0f} µs/job vs bulk {bulk_s / args.jobs * us:.1f}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
