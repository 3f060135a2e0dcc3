"""The Runner on a running loop (a kernel's): its thread pool is started up front and the heap
is frozen for the GC, so neither a thread start nor a full collection blocks the loop later."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from kling_nb import _loop
from kling_nb._loop import _WORKERS, Runner


def _named(prefix: str) -> int:
    return sum(t.name.startswith(prefix) for t in threading.enumerate())


async def test_a_runner_on_a_running_loop_starts_every_pool_thread_up_front(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in a fresh kernel: the heap not frozen yet.
    monkeypatch.setattr(_loop, "_frozen", threading.Event())
    runner = Runner()
    try:
        assert _named("kling-nb-io") == _WORKERS
        assert gc.get_freeze_count() > 0
        count = threading.active_count()
        # asyncio.to_thread now starts no thread: it finds one idle.
        assert await asyncio.to_thread(threading.current_thread) is not threading.current_thread()
        assert threading.active_count() == count
    finally:
        runner.close()


async def test_a_second_runner_keeps_the_loops_pool() -> None:
    first = Runner()
    count = threading.active_count()
    second = Runner()
    try:
        assert threading.active_count() == count
    finally:
        first.close()
        second.close()


async def test_a_loop_with_its_own_executor_keeps_it() -> None:
    await asyncio.to_thread(int)  # asyncio makes its default executor now
    loop = asyncio.get_running_loop()
    mine = loop._default_executor  # type: ignore[attr-defined]
    runner = Runner()
    try:
        assert loop._default_executor is mine  # type: ignore[attr-defined]
    finally:
        runner.close()
