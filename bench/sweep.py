"""A 200-job sweep under a pending cap of 4: wall time against the ideal cap-limited bound.

The sandbox runs in its own process (bench/_common.py) with `pending_cap=4` and keeps its
state in a file, so every task's own drawn timeline (create -> finish on the server) can be
read back afterwards. A Studio in this process sweeps 100 prompts x (std, pro) and waits.

- ideal bound = sum over tasks of the server's (finished_at - created_at) / cap: the wall time
  if the cap were never idle for a moment. Ratio = wall / bound (target <= 1.10).
- variant A: `max_in_flight=4` (= the cap: the Studio's own queue keeps it polite);
- variant B: `max_in_flight=8` (> the cap: the server's 429s do the queueing).
- zero failed jobs expected; the 429s the server sent are counted.

Run: python bench/sweep.py [--jobs 200] [--time-scale 0.015]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import RemoteSandbox, machine, median, pct, print_table

import kling_nb as kn

CAP = 4


def run(jobs: int, max_in_flight: int, time_scale: float, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kling-bench-sweep-") as tmp:
        state = Path(tmp) / "sandbox.sqlite"
        with RemoteSandbox(
            time_scale=time_scale, pending_cap=CAP, seed=seed, state_path=str(state)
        ) as sb:
            studio = kn.Studio(
                api_key=sb.api_key,
                base_url=sb.base_url,
                root=tmp,
                max_in_flight=max_in_flight,
            )
            try:
                prompts = [f"bench sweep prompt {i}" for i in range(jobs // 2)]
                started = time.monotonic()
                sweep = studio.sweep(prompts, modes=["std", "pro"])
                submit_s = time.monotonic() - started
                sweep.wait(timeout=900)
                wall = time.monotonic() - started
                statuses = Counter(job.status for job in sweep)
                peak = studio.peak_in_flight
                frame = studio.log.df
            finally:
                studio.close()
            stats = sb.stats()
            tasks = sb.tasks()
    busy = [t["finished_at"] - t["created_at"] for t in tasks]
    bound = sum(busy) / CAP
    first_create = min(t["created_at"] for t in tasks)
    last_finish = max(t["finished_at"] for t in tasks)
    # Notice lag: when the Studio saw the end (ledger) minus when the server ended the task.
    seen = {
        row.task_id: row.finished_at.timestamp()
        for row in frame.itertuples()
        if isinstance(row.task_id, str) and row.finished_at is not None
    }
    lags = [seen[t["id"]] - t["finished_at"] for t in tasks if t["id"] in seen]
    return {
        "max_in_flight": max_in_flight,
        "jobs": len(sweep),
        "succeeded": statuses.get("succeeded", 0),
        "failed": sum(n for s, n in statuses.items() if s != "succeeded"),
        "statuses": dict(statuses),
        "tasks_created": stats["creates_by_key"].get(sb.api_key, 0),
        "wall": wall,
        "bound": bound,
        "server_span": last_finish - first_create,
        "ratio": wall / bound,
        "n429": stats["too_many_pending"],
        "max_pending": max(stats["max_pending"].values()),
        "peak_local": peak,
        "status_reads": stats["status_reads"],
        "submit_s": submit_s,
        "renders": stats["renders"],
        "lag_p50": median(lags),
        "lag_p95": pct(lags, 0.95),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--time-scale", type=float, default=0.015)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"bench/sweep.py: {machine()}", flush=True)
    started = time.perf_counter()
    results = [
        run(args.jobs, CAP, args.time_scale, args.seed),
        run(args.jobs, 2 * CAP, args.time_scale, args.seed),
    ]
    rows = [
        [
            f"max_in_flight={r['max_in_flight']}",
            r["jobs"],
            r["succeeded"],
            r["failed"],
            r["tasks_created"],
            f"{r['wall']:.1f}",
            f"{r['bound']:.1f}",
            f"{r['ratio']:.3f}",
            r["n429"],
            f"{r['max_pending']}/{CAP}",
            f"{r['status_reads'] / r['jobs']:.1f}",
            f"{r['lag_p50']:.3f} / {r['lag_p95']:.3f}",
            f"{r['submit_s'] * 1000:.0f}",
        ]
        for r in results
    ]
    print(
        f"{args.jobs} jobs (100 prompts x std/pro, 5 s), pending cap {CAP}, "
        f"time_scale {args.time_scale}"
    )
    print_table(
        [
            "variant",
            "jobs",
            "ok",
            "failed",
            "tasks",
            "wall s",
            "bound s",
            "wall/bound",
            "429s",
            "max pending",
            "polls/job",
            "notice lag p50/p95 s",
            "sweep() ms",
        ],
        rows,
    )
    ok = all(r["ratio"] <= 1.10 and r["failed"] == 0 for r in results)
    worst = max(r["ratio"] for r in results)
    print(
        f"\nSUMMARY sweep: wall/bound {results[0]['ratio']:.3f} (max_in_flight={CAP}) and "
        f"{results[1]['ratio']:.3f} (max_in_flight={2 * CAP}, {results[1]['n429']} 429s); "
        f"failed {sum(r['failed'] for r in results)}; target <= 1.10 and 0 failed: "
        f"{'MET' if ok else 'MISSED'} (worst {worst:.3f}); {time.perf_counter() - started:.0f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
