"""Scale: a 1,000-job sweep in one Studio: submit time, memory per queued job, loop lag.

One `Studio.sweep` of 1,000 prompts against the sandbox (its own process at nice 10,
`time_scale` 0.005 so tasks take well under a second), `max_in_flight` 100 under a server pending cap of 100: 900 jobs wait locally
while 100 are on the server, and the queue drains as tasks end. Measured:

- submit: the wall time of the `sweep()` call (validation, 1,000 ledger rows, 1,000 tasks);
- memory: this process's RSS after `gc.collect()` before the sweep, right after it returns
  (1,000 jobs queued) and its peak while the queue drains (sampled every 20 ms), per job;
- loop lag: a task on the Studio's loop sleeps 10 ms and records how late it woke, for 5 s
  with no jobs (the baseline in the same run) and then while the sweep drains.

Each run is a fresh process (so RSS is its own); `--runs` of them (default 3) are printed one
by one and as median (min-max). No targets are set by the issue for these numbers: they are
reported, with the load lag against the idle lag of the same run.

Run: python bench/scale.py [--runs 3] [--jobs 1000] [--in-flight 100]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from _common import RemoteSandbox, machine, median, pct, print_table, spread

import kling_nb as kn

TIME_SCALE = 0.005
IDLE_SECONDS = 5.0


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Probe:
    """Loop lag on the Studio's loop, and a thread sampling the peak RSS."""

    def __init__(self, studio: kn.Studio) -> None:
        self.lags: list[float] = []
        self.peak = 0.0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._task = studio.spawn(self._probe())

    async def _probe(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.010)
            self.lags.append(time.perf_counter() - started - 0.010)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def start_sampling(self) -> None:
        self.peak = rss_mb()
        self._sampler.start()

    def stop(self) -> None:
        self._stop.set()
        self._sampler.join()
        self._task.cancel()


def one_run(jobs: int, in_flight: int) -> dict[str, Any]:
    """One sweep in this process; its numbers as a dict."""
    with (
        tempfile.TemporaryDirectory(prefix="kling-bench-scale-") as tmp,
        RemoteSandbox(time_scale=TIME_SCALE, pending_cap=in_flight) as sandbox,
    ):
        studio = kn.Studio(
            api_key=sandbox.api_key,
            base_url=sandbox.base_url,
            root=tmp,
            max_in_flight=in_flight,
            timeout=600,
        )
        probe = Probe(studio)
        time.sleep(IDLE_SECONDS)
        idle = list(probe.lags)
        gc.collect()
        before = rss_mb()
        probe.lags.clear()
        probe.start_sampling()
        started = time.perf_counter()
        sweep = studio.sweep([f"scale bench {i}" for i in range(jobs)])
        submit_s = time.perf_counter() - started
        queued = rss_mb()
        waiting = sum(job.status == "waiting" for job in sweep)
        sweep.wait(timeout=900)
        drain_s = time.perf_counter() - started
        probe.stop()
        drain = list(probe.lags)
        statuses = Counter(job.status for job in sweep)
        studio.close()
    return {
        "submit_s": submit_s,
        "rss_before": before,
        "rss_queued": queued,
        "rss_peak": probe.peak,
        "waiting_after_submit": waiting,
        "drain_s": drain_s,
        "idle_lags": idle,
        "drain_lags": drain,
        "statuses": dict(statuses),
    }


def run_row(n: int, r: dict[str, Any], jobs: int) -> list[object]:
    idle, drain = r["idle_lags"], r["drain_lags"]
    return [
        n,
        f"{r['load_avg'][0]:.1f}-{r['load_avg'][1]:.1f}",
        f"{r['submit_s'] * 1000:.0f}",
        f"{r['submit_s'] / jobs * 1e6:.0f}",
        f"{(r['rss_queued'] - r['rss_before']) / jobs * 1024:.1f}",
        f"{(r['rss_peak'] - r['rss_before']) / jobs * 1024:.1f}",
        f"{r['rss_before']:.0f} / {r['rss_peak']:.0f}",
        f"{pct(idle, 0.99) * 1000:.1f}",
        f"{pct(drain, 0.99) * 1000:.1f}",
        f"{max(drain) * 1000:.0f}",
        f"{r['drain_s']:.0f}",
        ", ".join(f"{n} {s}" for s, n in sorted(r["statuses"].items())),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print("RESULT " + json.dumps(one_run(args.jobs, args.in_flight)), flush=True)
        return 0
    started = time.perf_counter()
    print(f"machine: {machine()}")
    print(
        f"{args.jobs} jobs in one sweep, max_in_flight {args.in_flight} = pending cap; "
        f"time_scale {TIME_SCALE}; each run a fresh process"
    )
    results = []
    rows = []
    for n in range(1, args.runs + 1):
        load_before = os.getloadavg()[0]
        command = [sys.executable, __file__, "--one", "--jobs", str(args.jobs)]
        child = subprocess.run(
            [*command, "--in-flight", str(args.in_flight)],
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(x for x in child.stdout.splitlines() if x.startswith("RESULT "))
        r = json.loads(line.split(" ", 1)[1])
        r["load_avg"] = (load_before, os.getloadavg()[0])
        results.append(r)
        rows.append(run_row(n, r, args.jobs))
        print("  run " + " | ".join(map(str, rows[-1])), flush=True)
    print()
    print_table(
        [
            "run",
            "load avg",
            "submit ms",
            "µs/job",
            "KB/queued job",
            "KB/job at peak",
            "RSS MB before / peak",
            "idle lag p99 ms",
            "drain lag p99 ms",
            "drain max ms",
            "drain s",
            "statuses",
        ],
        rows,
    )
    submit = [r["submit_s"] * 1000 for r in results]
    per_job = [(r["rss_queued"] - r["rss_before"]) / args.jobs * 1024 for r in results]
    peak = [(r["rss_peak"] - r["rss_before"]) / args.jobs * 1024 for r in results]
    idle99 = [pct(r["idle_lags"], 0.99) * 1000 for r in results]
    drain99 = [pct(r["drain_lags"], 0.99) * 1000 for r in results]
    drain_max = [max(r["drain_lags"]) * 1000 for r in results]
    ok = all(set(r["statuses"]) == {"succeeded"} for r in results)
    print(f"\nmachine at the end: {machine()}")
    print(
        f"\nSUMMARY scale: {args.jobs} jobs, {args.runs} runs: submit ms {spread(submit, '{:.0f}')}; "
        f"KB per queued job {spread(per_job, '{:.1f}')}, at peak {spread(peak, '{:.1f}')}; "
        f"loop lag p99 ms while draining {spread(drain99, '{:.1f}')} vs idle "
        f"{spread(idle99, '{:.1f}')} (ratio {median(drain99) / median(idle99):.1f}x), "
        f"max {spread(drain_max, '{:.0f}')}; all succeeded: {ok}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
