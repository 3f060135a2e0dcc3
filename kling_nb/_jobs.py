"""`Job`: one video request as it moves through the Studio (queue, create, poll, download).

The Job owns its state. Every change goes through `Job.advance(event, ...)`: the pure
`transition` says where the event leads (or refuses it), the host persists the new state to
the ledger, and only then does the Job take it and tell its listeners. A Job reaches its
Studio only through the small `JobHost` protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import KlingError, error_fields
from ._families import (
    AnyRequest,
    family_name,
    family_of,
    request_duration,
    request_fields,
    request_tier,
)
from ._jobrows import error_columns
from ._judge_ops import rate as rate_job
from ._loop import Runner
from ._models import Task
from ._states import Event, JobState, transition
from ._views import view

if TYPE_CHECKING:
    from ._studio import Studio

__all__ = ["Job", "JobHost"]

log = logging.getLogger("kling_nb")

Listener = Callable[["Job"], None]

_BEFORE_CREATE = frozenset({JobState.WAITING, JobState.CREATING})


class JobHost(Protocol):
    """What a Job needs from the Studio that drives it."""

    @property
    def runner(self) -> Runner:
        """The loop the job's coroutine runs on."""

    @property
    def cost_unit(self) -> str:
        """The unit of cost estimates (e.g. 'credits')."""

    async def record(self, job: Job, event: Event, fields: dict[str, Any], detail: object) -> None:
        """Persist a transition's fields (raises when it could not be written)."""

    def expected_seconds(self, job: Job) -> float | None:
        """Expected create-to-finish seconds for jobs like this one."""

    def stop(self, job: Job) -> None:
        """Stop driving `job` (its coroutine ends it as `stopped`)."""


class Job:
    """A video job: returned at once by `Studio.submit`, then updated in the background.

    `state` is the local `kn.JobState` (`status` its string), `task` the last remote view,
    `video_path` the downloaded file. `result()` blocks this cell only; `await job` does the
    same in async code. `cancel()` stops local polling; the remote task runs on (there is no
    cancel route).
    """

    def __init__(
        self,
        host: JobHost,
        job_id: str,
        request: AnyRequest | None,
        *,
        tags: tuple[str, ...] = (),
        cost_estimate: float | None = None,
        submitted_at: float | None = None,
        state: JobState = JobState.WAITING,
    ) -> None:
        self._host = host
        self.job_id = job_id
        self.request = request
        self.tags = tags
        self.cost_estimate = cost_estimate
        self._state = state
        self.task: Task | None = None
        self.error: BaseException | None = None
        self.video_path: Path | None = None
        self.poster: Path | None = None
        self.filmstrip: Path | None = None
        self.submitted_at = submitted_at if submitted_at is not None else time.time()
        self.created_at: float | None = None
        self.running_at: float | None = None
        self.finished_at: float | None = None
        self.deadline_at: float | None = None
        self.polls = 0
        self.attempts = 0
        self.body: dict[str, Any] | None = None
        self.download: tuple[int, int | None] | None = None
        self.stop_requested = False
        self._listeners: list[Listener] = []
        self._future: asyncio.Future[Path] | None = None
        self._created: asyncio.Event | None = None
        self.driver: Any = None  # the asyncio task (or concurrent future) that drives the job

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
    def studio(self) -> Studio:
        """The Studio that drives this job."""
        return self._host  # type: ignore[return-value]

    @property
    def state(self) -> JobState:
        """The job's local state."""
        return self._state

    @property
    def status(self) -> str:
        """The job's local state as a string (`state.value`)."""
        return self._state.value

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
        """Kling's mode, or the resolution of a Seedance or Grok job (its price tier)."""
        return request_tier(self.request)

    @property
    def duration(self) -> int:
        """The video length in seconds (Seedance's assumed default when unset)."""
        return request_duration(self.request)

    @property
    def family(self) -> str:
        """The job's video family: `kling`, `seedance` or `grok`."""
        if self.request is not None:
            return family_name(self.request)
        return family_of(self.route).name if self.route else ""

    @property
    def route(self) -> str:
        """The create route."""
        if self.request is not None:
            return self.request.route
        return self.task.route if self.task else ""

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
        """True once nothing drives the job any more (final, or parked for `resume()`)."""
        return not self._state.active

    @property
    def succeeded(self) -> bool:
        """True when the video is downloaded."""
        return self._state is JobState.SUCCEEDED and self.video_path is not None

    def expected_seconds(self) -> float | None:
        """The Studio's expected create-to-finish time for this kind of job (for an ETA)."""
        return self._host.expected_seconds(self)

    # -- transitions ---------------------------------------------------------------------------

    async def advance(
        self,
        event: Event,
        *,
        detail: object = None,
        error: BaseException | None = None,
        **fields: Any,
    ) -> JobState:
        """Move to the state `event` leads to: persisted first, then taken, then announced.

        Raises `IllegalTransitionError` for a move the lifecycle does not allow, and whatever
        the host raises when the ledger refused the write (then nothing changed here).
        """
        new = transition(self._state, event)
        row: dict[str, Any] = {"status": new.value, **fields}
        if error is not None:
            row.update(error_columns(error))
        record = asyncio.ensure_future(self._host.record(self, event, row, detail))
        try:
            await asyncio.shield(record)
        except asyncio.CancelledError:
            # Cancelled (close, cancel) while the write was under way: it still lands, so take
            # the state it wrote, or memory would lag the disk (a created task then detached
            # from `creating` would read as `unknown` and never be fetched).
            await asyncio.wait({record})
            if not record.cancelled() and record.exception() is None:
                self._take(new, error, fields)
            raise
        self._take(new, error, fields)
        return new

    def advance_unsaved(
        self, event: Event, *, error: BaseException | None = None, **fields: Any
    ) -> JobState:
        """Take a transition in memory only: the ledger refused it (or lost this job)."""
        new = transition(self._state, event)
        self._take(new, error, fields)
        return new

    def _take(self, new: JobState, error: BaseException | None, fields: Mapping[str, Any]) -> None:
        self._state = new
        for name in ("created_at", "running_at", "finished_at", "deadline_at", "polls"):
            if name in fields and fields[name] is not None:
                setattr(self, name, fields[name])
        if "attempts" in fields:
            self.attempts = int(fields["attempts"])
        if error is not None:
            self.error = error
        if new is JobState.SUCCEEDED:
            self.error = None
        if new not in _BEFORE_CREATE and self._created is not None:
            self._created.set()  # the create's answer is on disk now
        if not new.active:
            self._resolve()
        self.changed()

    def attach_task(self, task: Task) -> None:
        """Record the latest remote view of the task (no state change by itself)."""
        self.task = task

    def _resolve(self) -> None:
        if self._created is not None:
            self._created.set()
        future = self._future
        if future is None or future.done():
            return
        if self.succeeded:
            assert self.video_path is not None
            future.set_result(self.video_path)
        else:
            future.set_exception(self.error or KlingError(f"job {self.job_id} ended {self.status}"))
            future.exception()  # mark retrieved: nobody may be awaiting it

    def bind(self) -> None:
        """Create the job's result future on the host's loop (before it starts)."""
        self._future = self._host.runner.loop.create_future()
        self._created = asyncio.Event()

    # -- waiting -------------------------------------------------------------------------------

    def result(self, timeout: float | None = None) -> Path:
        """Wait for the video and return its path; raise the job's error if it ended otherwise.

        In a notebook this blocks only this cell: other jobs keep polling meanwhile.
        """
        if self.done():
            return self._outcome()
        return self._host.runner.run(self._wait(), timeout)

    async def _wait(self) -> Path:
        if self._future is None or self.done():
            return self._outcome()
        return await asyncio.shield(self._future)

    def __await__(self) -> Generator[Any, None, Path]:
        runner = self._host.runner
        if runner.on_loop_thread:
            return self._wait().__await__()
        future = asyncio.run_coroutine_threadsafe(self._wait(), runner.loop)
        return asyncio.wrap_future(future).__await__()

    def wait_created(self, timeout: float | None = None) -> str | None:
        """Block until the create's answer is in the ledger (or the job is done); its task id."""
        if self._state not in _BEFORE_CREATE or self.done():
            return self.task_id
        self._host.runner.run(self._wait_created(), timeout)
        return self.task_id

    async def _wait_created(self) -> None:
        if self._created is not None:
            await self._created.wait()

    def _outcome(self) -> Path:
        if self.succeeded:
            assert self.video_path is not None
            return self.video_path
        if self.error is not None:
            raise self.error
        raise KlingError(f"job {self.job_id} ended {self.status}")

    def cancel(self) -> bool:
        """Stop polling locally; the remote task (if created) runs on and may still bill.

        A create already on the wire gets its answer first, so the task id is kept. Returns
        False if the job had already finished.
        """
        if self.done():
            return False
        self.stop_requested = True
        self._host.stop(self)
        return True

    # -- change notification (used by the widgets) ---------------------------------------------

    def rate(self, stars: int, *, note: str | None = None, rater: str | None = None) -> None:
        """Rate this job 1-5 stars; `rater` (default: the OS user) replaces their older rating."""
        rate_job(self.studio.log, self, stars, note=note, rater=rater)

    def on_change(self, callback: Listener) -> None:
        """Call `callback(job)` on the Studio's loop after every state change."""
        self._listeners.append(callback)

    def changed(self) -> None:
        """Tell the listeners the job changed (a state, a poll, download progress)."""
        for callback in list(self._listeners):
            try:
                callback(self)
            except Exception:  # a broken display must never break the job
                log.exception("job listener failed")

    # -- display -------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        view("show_job", self)

    def _repr_html_(self) -> str:
        html: str = view("job_html", self.snapshot())
        return html

    def snapshot(self) -> dict[str, Any]:
        """The job's current fields as a plain dict (what renderers and the ledger show)."""
        task = self.task
        error = error_fields(self.error) if self.error is not None else {}
        return {
            "job_id": self.job_id,
            "task_id": task.id if task else None,
            "family": self.family,
            "route": self.route,
            "model": self.model,
            "mode": self.mode,
            "duration": self.duration,
            "aspect_ratio": request_fields(self.request)["aspect_ratio"] if self.request else None,
            "prompt": self.prompt,
            "status": self.status,
            "remote_status": str(task.status) if task else None,
            "submitted_at": self.submitted_at,
            "created_at": self.created_at,
            "running_at": self.running_at,
            "finished_at": self.finished_at,
            "deadline_at": self.deadline_at,
            "elapsed_s": round(self.elapsed, 3),
            "expected_s": self.expected_seconds(),
            "polls": self.polls,
            "download": self.download,
            "cost_estimate": self.cost_estimate,
            "cost_unit": self._host.cost_unit,
            "video_url": task.video_url if task else None,
            "video_path": str(self.video_path) if self.video_path else None,
            "poster": str(self.poster) if self.poster else None,
            "filmstrip": str(self.filmstrip) if self.filmstrip else None,
            "error": (str(self.error) or type(self.error).__name__) if self.error else None,
            "error_type": error.get("error_type"),
            "error_status": error.get("error_status"),
            "error_code": error.get("error_code"),
            "error_details": error.get("error_details") or {},
            "tags": list(self.tags),
            "request": self.body,
        }
