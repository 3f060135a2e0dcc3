"""The process's worker threads for file writes and hashes, shared by every download."""

from __future__ import annotations

import concurrent.futures
import threading

__all__ = ["DISK_WORKERS", "disk_pool", "started_pool"]

DISK_WORKERS = 4
_disk: concurrent.futures.ThreadPoolExecutor | None = None
_disk_lock = threading.Lock()


def disk_pool(*, started: bool = False) -> concurrent.futures.ThreadPoolExecutor:
    """The process's threads for download writes and hashes (`_media.FileSink`).

    Made on first use; `started=True` (a kernel's first Studio) starts its threads at once.
    """
    global _disk
    with _disk_lock:
        if _disk is None:
            if started:
                _disk = started_pool(DISK_WORKERS, "kling-nb-disk")
            else:
                _disk = concurrent.futures.ThreadPoolExecutor(
                    DISK_WORKERS, thread_name_prefix="kling-nb-disk"
                )
        return _disk


def started_pool(workers: int, name: str) -> concurrent.futures.ThreadPoolExecutor:
    """A thread pool whose `workers` threads are all running already."""
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix=name)
    barrier = threading.Barrier(workers + 1)
    # Each submit finds no idle thread (the earlier ones wait at the barrier): one thread each.
    for _ in range(workers):
        pool.submit(barrier.wait, 10.0)
    barrier.wait(10.0)
    return pool
