"""What a live view may ask of a Job or Studio: its state, and a timer on the Studio's loop.

Widgets read a job only through its public face (`snapshot()`, `on_change`, `status`, ...)
and schedule only through `studio.spawn` / `studio.call_soon` / `studio.closed`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .._states import JobState

if TYPE_CHECKING:
    from .._jobs import Job
    from .._studio import Studio

__all__ = ["job_active", "job_state", "spawn_timer", "stop_timer"]


def job_state(job: Job) -> JobState | None:
    """The job's `JobState`, or None for a status this version does not know."""
    try:
        return JobState.parse(job.status)
    except ValueError:
        return None


def job_active(job: Job) -> bool:
    """True while a coroutine of the Studio drives the job (its view should tick)."""
    state = job_state(job)
    return state is not None and state.active


def spawn_timer(studio: Studio, make: Callable[[], Coroutine[Any, Any, None]]) -> Any:
    """Run `make()` on the Studio's loop; None if the Studio is closed or its loop is gone."""
    if studio.closed:
        return None
    coro = make()
    try:
        return studio.spawn(coro)
    except RuntimeError:  # the loop closed between the check and the call
        coro.close()
        return None


def stop_timer(studio: Studio | None, timer: Any) -> None:
    """Cancel a timer from `spawn_timer`, from any thread."""
    if studio is None or timer is None or timer.done():
        return
    if isinstance(timer, asyncio.Future):
        with contextlib.suppress(RuntimeError):  # a closed loop took the task with it
            studio.call_soon(timer.cancel)
    else:  # a concurrent.futures.Future: cancel() is thread-safe
        timer.cancel()
