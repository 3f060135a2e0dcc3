"""The ledger on SQLite and PostgreSQL at 100,000 and 1,000,000 jobs: reads, writes, writers.

For each engine and size, a ledger is filled through a bulk path (the rows the Studio would have
left, encoded as `Ledger.insert` encodes them: one `executemany` transaction on SQLite, COPY on
PostgreSQL). Then `--repeat` fresh processes each open it and time `log.df` and `log.compare()`
twice: the first read in a fresh process (what the targets count) and a repeat. Targets at
1,000,000 jobs: `log.df` < 3 s, `compare()` < 1 s.

Writes, per engine: `--transitions` jobs written the way the Studio writes them (`insert`, then
one `update` per transition, with or without an event) give the cost per transaction; then four
writer processes do the same on one ledger for `--writer-s` seconds, three rounds: commits/s.

PostgreSQL is a throwaway server started as the tests start theirs (tests/_postgres.py).

Run: python bench/ledger.py [--engine sqlite|postgresql|both] [--jobs 100000,1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from _common import machine, spread

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


T0 = 1_764_000_000.0


def final_rows(n: int) -> Iterator[list[object]]:
    """`n` jobs as the Studio leaves them (every transition applied), encoded; seeded."""
    rng = random.Random(7)
    now = time.time()
    for i in range(n):
        row = job_row(i, rng, T0)
        for call in transitions(row, rng):
            row.update({k: v for k, v in call.items() if k not in ("event", "detail")})
        yield encoded(row, now)


def bulk_fill(target: str, n: int) -> float:
    """Write `n` final rows and their 'submitted' events in one transaction; seconds."""
    Ledger(target).close()  # the schema
    started = time.perf_counter()
    names = ", ".join(TABLE_COLUMNS)
    now = time.time()
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as db, db.cursor() as cursor:
            with cursor.copy(f"COPY jobs ({names}) FROM STDIN") as copy:
                for values in final_rows(n):
                    copy.write_row(values)
            with cursor.copy("COPY events (job_id, at, kind, status) FROM STDIN") as copy:
                for i in range(n):
                    copy.write_row((f"20261125-120000-{i:08x}", now, "submitted", "waiting"))
        filled = time.perf_counter() - started
        # What autovacuum does to a live server's table soon after a bulk load: statistics and
        # the visibility map, without which no scan is index-only (not counted in the fill).
        with psycopg.connect(target, autocommit=True) as db:
            db.execute("VACUUM ANALYZE jobs")
        return filled
    db = sqlite3.connect(target, isolation_level=None)
    marks = ", ".join("?" for _ in TABLE_COLUMNS)
    db.execute("BEGIN")
    db.executemany(f"INSERT INTO jobs ({names}) VALUES ({marks})", final_rows(n))  # noqa: S608
    db.executemany(
        "INSERT INTO events (job_id, at, kind, status, detail) VALUES (?, ?, ?, ?, ?)",
        ((f"20261125-120000-{i:08x}", now, "submitted", "waiting", None) for i in range(n)),
    )
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started


def _clock(fn: Callable[[], object]) -> tuple[float, Any]:
    started = time.perf_counter()
    found = fn()
    return time.perf_counter() - started, found


def _fresh_reads(target: str, out: Any) -> None:
    """In a new process: open the ledger, then `df` and `compare()` twice each (seconds)."""
    log = Ledger(target)
    df1, frame = _clock(lambda: log.df)
    df2, _ = _clock(lambda: log.df)
    cmp1, pivot = _clock(log.compare)
    cmp2, _ = _clock(log.compare)
    # The baselines, in the same process: the read through the driver's tuples (df's only path
    # now: an ADBC read was tried and dropped, see README) and that df pivoted in pandas (what
    # compare() did before SQL).
    base_df, slow = _clock(lambda: log.df)
    base_cmp, slow_pivot = _clock(lambda: log.compare(log.df))
    assert slow.equals(frame), "two reads of one ledger differ"
    assert slow_pivot.shape == pivot.shape, (slow_pivot.shape, pivot.shape)
    log.close()
    out.put({"df1": df1, "df2": df2, "cmp1": cmp1, "cmp2": cmp2, "rows": len(frame),
             "base_df": base_df, "base_cmp": base_cmp,
             "pivot": f"{pivot.shape[0]}x{pivot.shape[1]}"})  # fmt: skip


def _in_process(fn: Callable[..., None], *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=fn, args=(*args, out))
    process.start()
    found = out.get()
    process.join()
    return found


def time_reads(target: str, n: int, repeat: int) -> dict[str, Any]:
    """The `_fresh_reads` of `repeat` fresh processes."""
    runs = [_in_process(_fresh_reads, target) for _ in range(repeat)]
    assert all(run["rows"] == n for run in runs), runs
    keys = ("df1", "df2", "cmp1", "cmp2", "base_df", "base_cmp")
    return {key: [run[key] for run in runs] for key in keys} | {"pivot": runs[0]["pivot"]}


def _studio_writes(log: Ledger, prefix: str, rng: random.Random, i: int) -> tuple[int, list[Any]]:
    """One job written as the Studio writes it; (transactions, [(has event, seconds)])."""
    row = job_row(i, rng, T0)
    row["job_id"] = f"{prefix}-{i:08x}"
    log.insert(row)
    spans = []
    for call in transitions(row, rng):
        call.pop("job_id")
        started = time.perf_counter()
        log.update(row["job_id"], **call)
        spans.append(("event" in call, time.perf_counter() - started))
    return 1 + len(spans), spans


def _writer(target: str, name: str, seconds: float, barrier: Any, out: Any) -> None:
    log = Ledger(target)
    rng = random.Random(name)
    barrier.wait()
    deadline = time.monotonic() + seconds
    commits = i = 0
    while time.monotonic() < deadline:
        done, _ = _studio_writes(log, name, rng, i)
        commits += done
        i += 1
    log.close()
    out.put(commits)


def writers_rate(target: str, seconds: float, rounds: int = 3, writers: int = 4) -> list[float]:
    """Commits per second of `writers` processes writing Studio-like jobs on one ledger."""
    Ledger(target).close()
    context = multiprocessing.get_context("spawn")
    rates = []
    for round_ in range(rounds):
        barrier, out = context.Barrier(writers), context.Queue()
        procs = [
            context.Process(target=_writer, args=(target, f"w{round_}{k}", seconds, barrier, out))
            for k in range(writers)
        ]
        for proc in procs:
            proc.start()
        total = sum(out.get() for _ in procs)
        for proc in procs:
            proc.join()
        rates.append(total / seconds)
    return rates


def per_transition(target: str, n: int) -> dict[str, list[float]]:
    """Seconds per `insert`, per `update` with an event and without, over `n` jobs."""
    log = Ledger(target)
    rng = random.Random(11)
    inserts: list[float] = []
    found: dict[str, list[float]] = {"insert": inserts, "event": [], "plain": []}
    for i in range(n):
        started = time.perf_counter()
        _, spans = _studio_writes(log, "t", rng, i)
        total = time.perf_counter() - started
        inserts.append(total - sum(span for _, span in spans))
        for has_event, span in spans:
            found["event" if has_event else "plain"].append(span)
    log.close()
    return found


@contextlib.contextmanager
def engine_targets(engine: str, folder: Path) -> Iterator[Callable[[str], str]]:
    """A function naming a new, empty ledger of `engine` (a file, or a new database)."""
    if engine == "sqlite":
        yield lambda name: str(folder / f"{name}.sqlite")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _postgres import running_server

    with running_server() as server:

        def new_database(name: str) -> str:
            database = f"b_{name}_{uuid.uuid4().hex[:8]}"
            with server.admin() as admin:
                admin.execute(f'CREATE DATABASE "{database}"')
            return server.url(database)

        yield new_database


def _ms(values: Sequence[float]) -> str:
    return spread([v * 1000 for v in values], "{:.0f}") + " ms"


def _ratio(slow: Sequence[float], fast: Sequence[float]) -> str:
    return f"{statistics.median(s / f for s, f in zip(slow, fast, strict=True)):.1f}"


def _us(values: Sequence[float]) -> str:
    ordered = sorted(values)
    return f"{statistics.median(values) * 1e6:.0f} µs p50, {ordered[int(0.99 * len(ordered))] * 1e6:.0f} µs p99"


def run_engine(
    engine: str, sizes: Sequence[int], args: argparse.Namespace
) -> list[tuple[str, str, str]]:
    """The table rows of one engine."""
    rows: list[tuple[str, str, str]] = []
    with (
        tempfile.TemporaryDirectory(prefix="kling-bench-ledger-") as tmp,
        engine_targets(engine, Path(tmp)) as new_target,
    ):
        for n in sizes:
            target = new_target(f"fill{n}")
            fill_s = bulk_fill(target, n)
            reads = time_reads(target, n, args.repeat)
            at = f"{engine}, {n:,} jobs"
            rows += [
                (
                    f"{at}: bulk fill",
                    f"{fill_s:.1f} s",
                    f"{n / fill_s:,.0f} jobs/s, one transaction",
                ),
                (f"{at}: log.df, first read", _ms(reads["df1"]), "a fresh process each run"),
                (f"{at}: log.df, repeat", _ms(reads["df2"]), "same process, second read"),
                (f"{at}: log.compare(), first", _ms(reads["cmp1"]), f"pivot {reads['pivot']}"),
                (f"{at}: log.compare(), repeat", _ms(reads["cmp2"]), "same process"),
                (f"{at}: baseline df (driver tuples)", _ms(reads["base_df"]),
                 f"{_ratio(reads['base_df'], reads['df2'])}x the repeat, same processes"
                 + "; the same path as log.df"),
                (f"{at}: baseline compare(df) (driver read + pandas)", _ms(reads["base_cmp"]),
                 f"{_ratio(reads['base_cmp'], reads['cmp2'])}x the SQL repeat, same processes"),
            ]  # fmt: skip
            print(*(f"  {r[0]}: {r[1]} ({r[2]})" for r in rows[-7:]), sep="\n", flush=True)
        writes = per_transition(new_target("writes"), args.transitions)
        rates = writers_rate(new_target("writers"), args.writer_s)
    rows += [
        (f"{engine}: Ledger.insert", _us(writes["insert"]), f"{args.transitions:,} jobs, one process"),
        (f"{engine}: Ledger.update with event", _us(writes["event"]), f"{len(writes['event']):,} transitions"),
        (f"{engine}: Ledger.update, no event", _us(writes["plain"]), f"{len(writes['plain']):,} calls"),
        (f"{engine}: four writer processes", spread(rates, "{:.0f}") + " commits/s",
         f"{args.writer_s:.0f} s rounds; insert + updates per job, one ledger"
         + ("" if engine == "sqlite" else "; server: fsync=off, synchronous_commit=off")),
    ]  # fmt: skip
    print(*(f"  {r[0]}: {r[1]} ({r[2]})" for r in rows[-4:]), sep="\n", flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--jobs", default="100000,1000000", help="sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes timing the reads")
    parser.add_argument("--transitions", type=int, default=3000, help="jobs for the write costs")
    parser.add_argument("--writer-s", type=float, default=5.0, help="seconds per writers round")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.jobs.split(",")]
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    started = time.perf_counter()
    print(f"bench/ledger.py: {machine()}", flush=True)
    rows: list[tuple[str, str, str]] = []
    for engine in engines:
        rows += run_engine(engine, sizes, args)
    print(f"\n{machine()}\n\n| measure | median (min-max, runs) | note |\n|---|---|---|")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")
    print(f"\nSUMMARY ledger: {len(rows)} measures, {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
