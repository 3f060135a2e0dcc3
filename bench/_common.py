"""Shared bench helpers: the sandbox as a separate process, and table printing.

The sandbox stands for the remote service, so the Studio benches run it in its own process
(at nice 10, as the kernel tests do): its MP4 rendering then competes with the Studio for this
machine's two cores only as much as a busy remote service would, and never for the GIL.

Run directly (`python bench/_common.py --serve '{json kwargs}'`) it serves one `Sandbox` and
prints `READY <base_url>`; it stops when its stdin closes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from kling_nb.sandbox import NANO, Faults, Sandbox


class RemoteSandbox:
    """A `kling_nb.sandbox.Sandbox` in a child process (nice 10), reachable over HTTP."""

    def __init__(self, *, nice: int = 10, faults: dict[str, float] | None = None, **kwargs: Any):
        self.state_path: Path | None = (
            Path(kwargs["state_path"]) if kwargs.get("state_path") else None
        )
        spec = {**kwargs, "faults": faults or {}}
        self.process = subprocess.Popen(
            ["nice", "-n", str(nice), sys.executable, __file__, "--serve", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("READY "):
            self.process.kill()
            raise RuntimeError(f"the sandbox process did not start: {line!r}")
        self.base_url = line.split(" ", 1)[1]
        self.api_key = Sandbox.api_key

    def stats(self) -> dict[str, Any]:
        """The sandbox's counters (`GET /_sandbox/stats`)."""
        return dict(httpx.get(self.base_url + "/_sandbox/stats", timeout=30).json())

    def tasks(self) -> list[dict[str, Any]]:
        """Every task record the sandbox drew (needs `state_path`): its own timeline and outcome."""
        assert self.state_path is not None, "tasks() needs a state_path"
        db = sqlite3.connect(self.state_path)
        try:
            return [json.loads(data) for (data,) in db.execute("SELECT data FROM tasks")]
        finally:
            db.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(spec: dict[str, Any]) -> None:
    faults = Faults(**spec.pop("faults", {}))
    spec.setdefault("team_credit_nano", 1_000_000 * NANO)
    sandbox = Sandbox(faults=faults, **spec).start()
    print(f"READY {sandbox.base_url}", flush=True)
    done = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    sandbox.stop()


# -- numbers and tables -----------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(math.ceil(q * len(ordered)) - 1, len(ordered) - 1)] if q > 0 else ordered[0]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def machine() -> str:
    """The run conditions every bench prints: cores and the load average right now."""
    one, five, fifteen = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min)"
    )


def load1() -> float:
    """The 1-minute load average (printed beside every repeated run)."""
    return os.getloadavg()[0]


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """'median (min-max, n runs)': how a repeated measurement is reported."""
    if not values:
        return "n/a"
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return f"{fmt.format(median(values))} ({lo}-{hi}, {len(values)} runs)"


# -- sampling profiles (py-spy, outside the measured process) ----------------------------------

# (substring of a frame's file, what it is): the first match from the innermost frame outwards
# names the sample. Ordered so that the work is named, not the loop that called it.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("kling_nb/_ledger", "ledger (sqlite, writer thread)"),
    ("sqlite3", "ledger (sqlite, writer thread)"),
    ("json/", "JSON"),
    ("ipywidgets", "widget/comm updates"),
    ("comm/", "widget/comm updates"),
    ("kling_nb/widgets", "widget/comm updates"),
    ("kling_nb/_states", "job state updates"),
    ("kling_nb/_jobs", "job state updates"),
    ("kling_nb/_keeper", "job state updates"),
    ("kling_nb/_policy", "poll schedule"),
    ("kling_nb/_timing", "poll schedule"),
    ("kling_nb/_pipeline", "pipeline (kling_nb)"),
    ("kling_nb/_fetch", "download + pictures"),
    ("kling_nb/_download", "download + pictures"),
    ("kling_nb/_filmstrip", "download + pictures"),
    ("av/", "download + pictures"),
    ("kling_nb/_client", "HTTP client (httpx/httpcore)"),
    ("kling_nb/_models", "HTTP client (httpx/httpcore)"),
    ("httpx/", "HTTP client (httpx/httpcore)"),
    ("httpcore/", "HTTP client (httpx/httpcore)"),
    ("h11/", "HTTP client (httpx/httpcore)"),
    ("anyio/", "HTTP client (httpx/httpcore)"),
    ("ssl.py", "HTTP client (httpx/httpcore)"),
    ("ipykernel/", "kernel (cells, zmq, iopub)"),
    ("zmq/", "kernel (cells, zmq, iopub)"),
    ("jupyter_client/", "kernel (cells, zmq, iopub)"),
    ("tornado/", "kernel (cells, zmq, iopub)"),
    ("IPython/", "kernel (cells, zmq, iopub)"),
    ("traitlets/", "kernel (cells, zmq, iopub)"),
    ("asyncio/", "asyncio loop"),
    ("selectors.py", "asyncio loop"),
    ("nest_asyncio", "asyncio loop"),
)


class PySpy:
    """`py-spy record` on another process (GIL holders only, never pausing it), then a summary."""

    def __init__(self, pid: int, out: Path, *, rate: int = 200) -> None:
        self.out = out
        self.process: subprocess.Popen[bytes] | None = None
        exe = shutil.which("py-spy")
        if exe is None:
            return
        command = [exe, "record", "-p", str(pid), "-r", str(rate), "-f", "raw", "-o", str(out)]
        self.process = subprocess.Popen(
            [*command, "--gil", "--nonblocking", "--threads"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> dict[str, Counter[str]] | None:
        """Stop sampling; samples by category, by thread and by innermost kling_nb frame."""
        if self.process is None:
            return None
        self.process.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return None
        if not self.out.exists():
            return None
        return summarise_stacks(self.out.read_text().splitlines())


def summarise_stacks(lines: Sequence[str]) -> dict[str, Counter[str]]:
    """Collapsed py-spy stacks -> counters: category, thread name, innermost kling_nb frame."""
    found: dict[str, Counter[str]] = {
        "category": Counter(),
        "thread": Counter(),
        "kling": Counter(),
    }
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        head, _, frames_text = stack.partition(": ")
        frames = frames_text.split(";")
        found["thread"][frames[0] if frames else head] += n
        frames = frames[1:]
        category = "other"
        for frame in reversed(frames):
            hit = next((label for key, label in CATEGORIES if key in frame), None)
            if hit is not None:
                category = hit
                break
        found["category"][category] += n
        kling = next((f for f in reversed(frames) if "kling_nb/" in f), None)
        if kling is not None:
            found["kling"][kling.split(" (")[0] + " (" + kling.split("kling_nb/")[-1]] += n
    return found


def print_profile(found: dict[str, Counter[str]], seconds: float, top: int = 12) -> None:
    """Where the GIL-holding samples went: by category, thread and kling_nb function."""
    total = sum(found["category"].values()) or 1
    print(f"\nGIL-holding samples: {total} over {seconds:.0f} s (py-spy --gil --nonblocking)")
    for key, title in (("category", "what"), ("thread", "thread"), ("kling", "kling_nb frame")):
        rows = [
            [name, count, f"{100 * count / total:.1f} %"]
            for name, count in found[key].most_common(top)
        ]
        print()
        print_table([title, "samples", "share"], rows, markdown=False)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, markdown: bool = True
) -> None:
    """A plain aligned table, then (unless `markdown` is False) the same as markdown."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    if not markdown:
        return
    print("\nMarkdown:\n")
    print("| " + " | ".join(cells[0]) + " |")
    print("|" + "---|" * len(headers))
    for row in cells[1:]:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", required=True)
    _serve(json.loads(parser.parse_args().serve))
