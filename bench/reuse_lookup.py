"""`sweep(skip_done=True)` at 100,000 jobs: the one ledger read that finds reusable variants.

The ledger is filled the way bench/ledger.py fills it (its rows: 1,000 distinct prompts, six
variants, 86 % succeeded), in bulk. Then `kling_nb._reuse.reusable_rows` (one query filtered
by status, model and prompt, then the bodies compared in Python) is timed for a 6-variant and
a 60-variant sweep of prompts that are in the ledger (each matches ~100 rows), the median of
several runs. Baselines in the same run: one `Ledger.row(job_id)` (a primary-key read) and
`Ledger.unfinished()`. Then the same lookups with an extra index on `jobs(prompt)`, to see if
the schema would need one (a v4→v5 migration). `--pg` repeats it on a throwaway PostgreSQL
server (tests/_postgres.py; needs Debian's postgresql binaries).

Run: python bench/reuse_lookup.py [--jobs N] [--pg]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _common import machine
from ledger import encoded, job_row, outcome

from kling_nb._ledger import Ledger
from kling_nb._ledger._schema import TABLE_COLUMNS
from kling_nb._reuse import reusable_rows
from kling_nb._sweep import sweep_requests

REPEAT = 15


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, min) seconds of `repeat` calls."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), min(runs)


def rows(count: int) -> list[dict[str, Any]]:
    rng, t0 = random.Random(7), time.time() - 86400
    made = []
    for i in range(count):
        row = job_row(i, rng, t0)
        row["status"] = outcome(rng)
        row["finished_at"] = row["submitted_at"] + 60
        row["family"] = "kling"  # bench/ledger.py's rows predate the v4 column
        made.append(row)
    return made


def sweeps(filled: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    prompts = sorted({row["prompt"] for row in filled})
    return {
        "6 variants": sweep_requests(prompts[:3], ["kling-v3"], ["std", "pro"], [5], None),
        "60 variants": sweep_requests(prompts[:15], ["kling-v3"], ["std", "pro"], [5, 10], None),
    }


def measure(log: Ledger, filled: Sequence[dict[str, Any]], label: str) -> list[list[str]]:
    table = []
    some = filled[len(filled) // 2]["job_id"]
    for name, fn in (
        ("row(job_id) [baseline]", lambda: log.row(some)),
        ("unfinished() [baseline]", log.unfinished),
    ):
        median, best = timed(fn, REPEAT)
        table.append([label, name, f"{median * 1e3:.1f}", f"{best * 1e3:.1f}", ""])
    for name, requests in sweeps(filled).items():
        found = reusable_rows(log, requests)
        median, best = timed(lambda r=requests: reusable_rows(log, r), REPEAT)
        hits = sum(row is not None for row in found)
        table.append([label, f"reusable_rows {name}", f"{median * 1e3:.1f}", f"{best * 1e3:.1f}",
                      f"{hits}/{len(requests)} reusable"])  # fmt: skip
    return table


def add_prompt_index(engine_url: str) -> None:
    engine = sa.create_engine(engine_url)
    with engine.begin() as db:
        db.exec_driver_sql("CREATE INDEX IF NOT EXISTS bench_jobs_prompt ON jobs(prompt)")
        if engine.dialect.name == "postgresql":
            db.exec_driver_sql("ANALYZE jobs")
    engine.dispose()


def plan(engine_url: str) -> str:
    engine = sa.create_engine(engine_url)
    explain = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
    query = (
        f"{explain} SELECT * FROM jobs WHERE status = 'succeeded' AND model IN ('kling-v3') "  # noqa: S608
        "AND prompt IN ('a fox in snow, take 1') ORDER BY submitted_at DESC, job_id DESC"
    )
    with engine.connect() as db:
        lines = [" ".join(str(v) for v in row) for row in db.exec_driver_sql(query)]
    engine.dispose()
    return " | ".join(lines)


def run(where: str | Path, url: str, filled: Sequence[dict[str, Any]], label: str) -> list[Any]:
    table = []
    with Ledger(where) as log:
        print(f"{label} plan: {plan(url)}")
        table += measure(log, filled, label)
    add_prompt_index(url)
    with Ledger(where) as log:
        print(f"{label} + index(prompt) plan: {plan(url)}")
        table += measure(log, filled, f"{label} + index(prompt)")
    return table


def fill(where: str | Path, url: str, filled: Sequence[dict[str, Any]]) -> None:
    """The rows in one transaction (the schema made by `Ledger` first), then ANALYZE."""
    Ledger(where).close()  # the schema
    engine = sa.create_engine(url)
    names = ", ".join(TABLE_COLUMNS)
    marks = ", ".join(f":{name}" for name in TABLE_COLUMNS)
    now = time.time()
    with engine.begin() as db:
        db.execute(
            sa.text(f"INSERT INTO jobs ({names}) VALUES ({marks})"),  # noqa: S608
            [dict(zip(TABLE_COLUMNS, encoded(row, now), strict=True)) for row in filled],
        )
        db.exec_driver_sql("ANALYZE jobs")
    engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--pg", action="store_true", help="also on a throwaway PostgreSQL")
    args = parser.parse_args(argv)
    print(f"bench/reuse_lookup.py: {machine()}", flush=True)
    filled = rows(args.jobs)
    table: list[Any] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kling_runs.sqlite"
        fill(path, f"sqlite:///{path}", filled)
        table += run(path, f"sqlite:///{path}", filled, f"sqlite {args.jobs:,}")
    if args.pg:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from _postgres import running_server

        with running_server() as server:
            with server.admin() as admin:
                admin.execute('CREATE DATABASE "bench"')
            url = server.url("bench")
            fill(url, url.replace("postgresql://", "postgresql+psycopg://"), filled)
            table += run(url, url.replace("postgresql://", "postgresql+psycopg://"), filled,
                         f"postgresql {args.jobs:,}")  # fmt: skip
    head = ["ledger", "read", "median ms", "min ms", "note"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for line in table:
        print("| " + " | ".join(line) + " |")
    worst = max(float(line[2]) for line in table if line[1].startswith("reusable_rows"))
    print(f"SUMMARY reusable_rows worst median {worst:.1f} ms at {args.jobs:,} jobs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
