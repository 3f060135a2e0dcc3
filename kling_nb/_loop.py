"""Where background jobs run: the kernel's own event loop, or a loop on a daemon thread.

In a Jupyter kernel a cell runs while the kernel's asyncio loop is running, so jobs become
tasks on that loop and the cell returns at once. In a plain script there is no running loop,
so a private loop runs on a daemon thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import os
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Runner"]

T = TypeVar("T")

# asyncio's default executor starts a thread on a submit that finds none idle, and
# `Thread.start()` waits until the new thread runs: on a loaded machine that wait blocked the
# kernel's loop for up to 350 ms (bench/kernel.py). The kernel's pool is started up front.
_WORKERS = min(32, (os.cpu_count() or 1) + 4)


class Runner:
    """Runs coroutines in the background and waits for them without freezing the kernel."""

    def __init__(self) -> None:
        try:
            self.loop = asyncio.get_running_loop()
            self.owns_thread = False
            self._thread: threading.Thread | None = None
            # Patch now, so the loop iterations of later cells can be re-entered safely.
            _patch(self.loop)
            _settle_kernel(self.loop)
        except RuntimeError:
            self.loop = asyncio.new_event_loop()
            self.owns_thread = True
            self._thread = threading.Thread(target=self._serve, name="kling-nb-loop", daemon=True)
            self._thread.start()
        self._tasks: set[asyncio.Future[Any]] = set()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def __repr__(self) -> str:
        where = "own thread" if self.owns_thread else "running loop"
        return f"Runner({where}, {len(self._tasks)} tasks)"

    @property
    def on_loop_thread(self) -> bool:
        """True when called from the thread that runs the loop."""
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T] | asyncio.Task[T]:
        """Schedule `coro` on the loop, keeping a reference until it ends."""
        if self.on_loop_thread:
            task = self.loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return task
        return asyncio.run_coroutine_threadsafe(self._track(coro), self.loop)

    async def _track(self, coro: Coroutine[Any, Any, T]) -> T:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await coro

    def tasks(self) -> list[asyncio.Future[Any]]:
        """The tasks this runner keeps alive right now."""
        return list(self._tasks)

    def call(self, callback: Any, *args: Any) -> None:
        """Run a plain callback on the loop thread (thread-safe)."""
        if self.on_loop_thread:
            callback(*args)
        else:
            self.loop.call_soon_threadsafe(callback, *args)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Block the caller until `coro` finishes, while the loop keeps serving other tasks.

        In a kernel this re-enters the running loop (nest-asyncio2), so other jobs, widgets and
        the kernel's own handlers keep moving while this cell waits.
        """
        if self.owns_thread:
            if self.on_loop_thread:
                raise RuntimeError("cannot block the Studio's own loop thread; use `await job`")
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
            try:
                return future.result(timeout)
            except concurrent.futures.TimeoutError:
                future.cancel()
                raise TimeoutError(f"still running after {timeout} s") from None
        _patch(self.loop)
        # The loop iteration that runs this cell may predate the patch: its unpatched
        # `_run_once` pops a fixed count of ready handles, and the nested run may consume some
        # of them ("pop from an empty deque"). Top the queue back up with no-ops afterwards.
        ready = getattr(self.loop, "_ready", None)
        before = len(ready) if ready is not None else 0
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))
        finally:
            for _ in range(before - (len(ready) if ready is not None else 0)):
                self.loop.call_soon(_noop)

    def close(self) -> None:
        """Cancel what is still running; stop the private loop, if there is one."""
        for task in list(self._tasks):
            if self.owns_thread:
                self.loop.call_soon_threadsafe(task.cancel)
            else:
                task.cancel()
        if self.owns_thread and self._thread is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
            with contextlib.suppress(RuntimeError):
                self.loop.close()


def _noop() -> None:
    pass


_settled: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_frozen = threading.Event()


def _settle_kernel(loop: asyncio.AbstractEventLoop) -> None:
    """Ready a kernel's loop for background jobs: threads started, the heap frozen for GC.

    Runs in the cell that makes the first Studio on this loop (where a short wait is fine).
    The default executor is replaced only if the loop has not made one yet (asyncio keeps it
    in a private attribute; if the layout differs, nothing is replaced). The heap is frozen
    once per process.
    """
    if loop in _settled:
        return
    _settled.add(loop)
    if getattr(loop, "_default_executor", False) is None:
        loop.set_default_executor(_started_pool(_WORKERS, "kling-nb-io"))
    if _frozen.is_set():
        return
    _frozen.set()
    # The kernel's heap after its imports (IPython, widgets, httpx, kling_nb) is long-lived:
    # without this every full collection walks all of it, and 100 polling jobs trigger one
    # every few seconds (370 ms on a loaded machine, bench/kernel.py). Frozen objects are
    # still freed by reference counting; only cycles among them wait for `gc.unfreeze()`.
    gc.collect()
    gc.freeze()


def _started_pool(workers: int, name: str) -> concurrent.futures.ThreadPoolExecutor:
    """A thread pool whose `workers` threads are all running already."""
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix=name)
    barrier = threading.Barrier(workers + 1)
    # Each submit finds no idle thread (the earlier ones wait at the barrier): one thread each.
    for _ in range(workers):
        pool.submit(barrier.wait, 10.0)
    barrier.wait(10.0)
    return pool


def _patch(loop: asyncio.AbstractEventLoop) -> None:
    import nest_asyncio2

    nest_asyncio2.apply(loop)
