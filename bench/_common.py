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
import sqlite3
import statistics
import subprocess
import sys
import threading
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


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain aligned table, then the same as markdown (for the README)."""
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
    print("\nMarkdown:\n")
    print("| " + " | ".join(cells[0]) + " |")
    print("|" + "---|" * len(headers))
    for row in cells[1:]:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", required=True)
    _serve(json.loads(parser.parse_args().serve))
