"""The Runner on a running loop (a kernel's): its thread pool is started up front and the heap
is frozen for the GC, so neither a thread start nor a full collection blocks the loop later."""

from __future__ import annotations

import asyncio
import gc
import threading

from kling_nb._loop import _WORKERS, Runner


async def test_a_runner_on_a_running_loop_starts_every_pool_thread_up_front() -> None:
    before = threading.active_count()
    runner = Runner()
    try:
        assert threading.active_count() - before == _WORKERS
        names = [t.name for t in threading.enumerate() if t.name.startswith("kling-nb-io")]
        assert len(names) == _WORKERS
        # asyncio.to_thread now starts no thread: it finds one idle.
        assert await asyncio.to_thread(threading.current_thread) is not threading.current_thread()
        assert threading.active_count() - before == _WORKERS
        assert gc.get_freeze_count() > 0
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
