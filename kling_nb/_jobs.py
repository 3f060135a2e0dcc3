"""`Job`: one video request as it moves through the Studio (queue, create, poll, download)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ._errors import KlingError
from ._models import Status, Task
from ._requests import Request

if TYPE_CHECKING:
    from ._studio import Studio

__all__ = ["ACTIVE_STATES", "JOB_STATES", "Job", "JobStoppedError"]

log = logging.getLogger("kling_nb")

JOB_STATES: Final = (
    "waiting",  # in the local queue (pending cap or max_in_flight), nothing sent yet
    "creating",  # the create request is on its way
    "queued",
    "running",
    "downloading",
    "succeeded",
    "failed",
    "cancelled",
    "expired",
    "error",  # refused at create (400/401/402/403, 424 after retries) or download failed
    "unknown",  # the create may have reached the server; not re-sent (no idempotency key)
    "timeout",  # local deadline passed; the remote task runs on
    "stopped",  # job.cancel(): local polling stopped; the remote task runs on
)
ACTIVE_STATES: Final = frozenset({"waiting", "creating", "queued", "running", "downloading"})


class JobStoppedError(KlingError):
    """The job was stopped locally with `job.cancel()` (the remote task runs on)."""


Listener = Callable[["Job"], None]


class Job:
    """A video job: returned at once by `Studio.submit`, then updated in the background.

    `status` is the local state (see `JOB_STATES`), `task` the last remote view, `video_path`
    the downloaded file. `result()` blocks this cell only; `await job` does the same in async
    code. `cancel()` stops local polling; the remote task runs on (there is no cancel route).
    """

    def __init__(
        self,
        studio: Studio,
        job_id: str,
        request: Request | None,
        *,
        tags: tuple[str, ...] = (),
        cost_estimate: float | None = None,
        submitted_at: float | None = None,
    ) -> None:
        self.studio = studio
        self.job_id = job_id
        self.request = request
        self.tags = tags
        self.cost_estimate = cost_estimate
        self.status: str = "waiting"
        self.task: Task | None = None
        self.error: BaseException | None = None
        self.video_path: Path | None = None
        self.submitted_at = submitted_at if submitted_at is not None else time.time()
        self.created_at: float | None = None
        self.running_at: float | None = None
        self.finished_at: float | None = None
        self.polls = 0
        self.body: dict[str, Any] | None = None
        self._listeners: list[Listener] = []
        self._future: asyncio.Future[Path] | None = None
        self._runner_task: Any = None

    # -- what the user reads -----------------------------------------------------------------

    def __repr__(self) -> str:
        prompt = self.prompt
        if len(prompt) > 40:
            prompt = prompt[:37] + "..."
        return (
            f"<Job {self.job_id} {self.status} {self.model} {self.mode or ''} "
            f"{self.duration}s {prompt!r}>"
        ).replace("  ", " ")

    @property
    def prompt(self) -> str:
        """The request's prompt ('' for an image-only request)."""
        return getattr(self.request, "prompt", "") or ""

    @property
    def model(self) -> str:
        """The request's model."""
        return getattr(self.request, "model", "") or (self.task.model if self.task else "")

    @property
    def mode(self) -> str | None:
        """The request's mode."""
        value = getattr(self.request, "mode", None)
        return str(value) if value is not None else None

    @property
    def duration(self) -> int:
        """The requested video length in seconds."""
        return int(getattr(self.request, "duration", 0) or 0)

    @property
    def route(self) -> str:
        """The create route."""
        return (
            self.request.route
            if self.request is not None
            else (self.task.route if self.task else "")
        )

    @property
    def task_id(self) -> str | None:
        """The remote task id, once created."""
        return self.task.id if self.task else None

    @property
    def elapsed(self) -> float:
        """Seconds since submit (until the job finished)."""
        end = self.finished_at or time.time()
        return max(end - self.submitted_at, 0.0)

    def done(self) -> bool:
        """True once the job will not change again by itself."""
        return self.status not in ACTIVE_STATES

    @property
    def succeeded(self) -> bool:
        """True when the video is downloaded."""
        return self.status == "succeeded" and self.video_path is not None

    def expected_seconds(self) -> float | None:
        """The Studio's expected create-to-finish time for this kind of job (for an ETA)."""
        return self.studio.expected_seconds(self)

    # -- waiting -----------------------------------------------------------------------------

    def result(self, timeout: float | None = None) -> Path:
        """Wait for the video and return its path; raise the job's error if it failed.

        In a notebook this blocks only this cell: other jobs keep polling meanwhile.
        """
        if self.done():
            return self._outcome()
        return self.studio._runner.run(self._wait(), timeout)

    def wait_created(self, timeout: float | None = None) -> str | None:
        """Block until the job has a task id or is done; return the task id (None if none).

        TEMPORARY (platform branch): stands in for the lead's job core, which provides it.
        """
        answered = threading.Event()

        def check(job: Job) -> None:
            if job.task is not None or job.done():
                answered.set()

        self.on_change(check)
        try:
            check(self)
            answered.wait(timeout)
        finally:
            self._listeners.remove(check)
        return self.task_id

    async def _wait(self) -> Path:
        if self._future is None or self.done():
            return self._outcome()
        return await asyncio.shield(self._future)

    def __await__(self) -> Generator[Any, None, Path]:
        runner = self.studio._runner
        if runner.on_loop_thread:
            return self._wait().__await__()
        future = asyncio.run_coroutine_threadsafe(self._wait(), runner.loop)
        return asyncio.wrap_future(future).__await__()

    def _outcome(self) -> Path:
        if self.status == "succeeded" and self.video_path is not None:
            return self.video_path
        if self.error is not None:
            raise self.error
        raise KlingError(f"job {self.job_id} ended {self.status}")

    def cancel(self) -> bool:
        """Stop polling locally; the remote task (if created) runs on and may still bill.

        Returns False if the job had already finished.
        """
        if self.done():
            return False
        self.studio._stop_job(self)
        return True

    # -- change notification (used by the widgets) ---------------------------------------------

    def on_change(self, callback: Listener) -> None:
        """Call `callback(job)` on the Studio's loop after every state change."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            try:
                callback(self)
            except Exception:  # a broken display must never break the job
                log.exception("job listener failed")

    # -- display -----------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        from .widgets import show_job

        show_job(self)

    def _repr_html_(self) -> str:
        from ._render import job_card_html

        return job_card_html(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        """The job's current fields as a plain dict (what renderers and the ledger show)."""
        task = self.task
        return {
            "job_id": self.job_id,
            "task_id": task.id if task else None,
            "route": self.route,
            "model": self.model,
            "mode": self.mode,
            "duration": self.duration,
            "aspect_ratio": getattr(self.request, "aspect_ratio", None),
            "prompt": self.prompt,
            "status": self.status,
            "remote_status": str(task.status) if task else None,
            "submitted_at": self.submitted_at,
            "created_at": self.created_at,
            "running_at": self.running_at,
            "finished_at": self.finished_at,
            "elapsed_s": round(self.elapsed, 3),
            "expected_s": self.expected_seconds(),
            "polls": self.polls,
            "cost_estimate": self.cost_estimate,
            "cost_unit": self.studio.pricing.unit,
            "video_url": task.video_url if task else None,
            "video_path": str(self.video_path) if self.video_path else None,
            "error": _error_text(self.error),
            "tags": list(self.tags),
            "request": self.body,
        }


def _error_text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return str(error) or type(error).__name__


def task_status_to_state(status: Status | str) -> str:
    """The local job state for a remote status (unknown remote values count as running)."""
    if isinstance(status, Status):
        return "downloading" if status is Status.SUCCEEDED else status.value
    return "running"
