"""Writes off the event loop: a locked file delays `aupdate` but never freezes the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from _ledger_helpers import job

from kling_nb._ledger import Ledger, LedgerError


class Ticker:
    """Ticks every 10 ms on the loop and records the longest gap between two ticks."""

    def __init__(self) -> None:
        self.ticks = 0
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.longest = max(self.longest, now - last)
            self.ticks += 1
            last = now

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


def hold_lock(path: Path, seconds: float) -> threading.Event:
    """Another connection takes the write lock now and holds it `seconds` (set when taken)."""
    taken = threading.Event()

    def run() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        taken.set()
        time.sleep(seconds)
        db.execute("COMMIT")
        db.close()

    threading.Thread(target=run, daemon=True).start()
    assert taken.wait(5)
    return taken


async def test_a_locked_file_does_not_block_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    with Ledger(path) as ledger:
        await ledger.ainsert(job("a"))
        ticker = Ticker()
        ticker.start()
        hold_lock(path, 1.0)
        started = time.monotonic()
        update = asyncio.ensure_future(ledger.aupdate("a", status="creating", event="create_sent"))
        await asyncio.sleep(0.2)
        assert not update.done()
        read_started = time.monotonic()
        assert (ledger.row("a") or {})["status"] == "waiting"  # reads are not behind the lock
        assert time.monotonic() - read_started < 0.1
        assert await update is True
        waited = time.monotonic() - started
        await ticker.stop()
        assert (ledger.row("a") or {})["status"] == "creating"
    assert 0.9 <= waited < 4.0
    assert ticker.longest < 0.1, ticker.longest
    assert ticker.ticks >= 50


async def test_a_cancelled_caller_does_not_drop_its_write(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    ledger = Ledger(path)
    await ledger.ainsert(job("a"))
    hold_lock(path, 0.5)
    first = asyncio.ensure_future(ledger.aupdate("a", polls=8, event="first"))
    queued = asyncio.ensure_future(ledger.aupdate("a", polls=9, event="queued"))
    await asyncio.sleep(0.1)  # first waits out the lock; queued waits behind it, not started
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await first
    ledger.close()  # waits for the queued write
    with Ledger(path) as again:
        assert (again.row("a") or {})["polls"] == 9
        assert list(again.events("a")["kind"]) == ["submitted", "first", "queued"]


async def test_async_writes_apply_in_the_order_issued(target: str | Path) -> None:
    with Ledger(target) as ledger:
        await ledger.ainsert(job("a", owner="A", lease_until=1.0))
        results = await asyncio.gather(
            *(ledger.aupdate("a", owner="A", polls=n, event=f"e{n}") for n in range(100))
        )
        assert all(results)
        assert (ledger.row("a") or {})["polls"] == 99
        assert list(ledger.events("a")["kind"])[1:] == [f"e{n}" for n in range(100)]
        assert await ledger.aheartbeat("A", 60) == 1
        assert (ledger.row("a") or {})["lease_until"] > time.time() + 50
        assert await ledger.aupdate("a", owner="B", polls=0) is False


async def test_an_async_write_failure_reaches_the_awaiter(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    with Ledger(path, timeout=0.2) as ledger:
        await ledger.ainsert(job("a"))
        hold_lock(path, 1.0)
        with pytest.raises(LedgerError, match="locked by another process"):
            await ledger.aupdate("a", polls=1)


async def test_sync_and_async_writes_share_one_queue(tmp_path: Path) -> None:
    path = tmp_path / "kling_runs.sqlite"
    with Ledger(path) as ledger:
        await ledger.ainsert(job("a"))
        hold_lock(path, 0.3)
        first = asyncio.ensure_future(ledger.aupdate("a", polls=1, event="async"))
        await asyncio.sleep(0.05)  # queued (waiting out the lock) before the sync write below
        assert ledger.update("a", polls=2, event="sync")
        assert await first
        assert (ledger.row("a") or {})["polls"] == 2
        assert list(ledger.events("a")["kind"]) == ["submitted", "async", "sync"]
