"""The life of one job on the Studio's loop: create (at most once), poll, download.

`drive(job, ctx)` is the coroutine behind every job. It never assigns a job's state: it
reports events to `Job.advance`, which checks them against the lifecycle and persists them
before they take effect. Creates follow the pure `create_decision`; every wait is bounded
by the job's deadline, the download included.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ._client import AsyncClient
from ._errors import (
    APIConnectionError,
    APIError,
    CreateOutcomeUnknownError,
    DownloadError,
    JobStoppedError,
    KlingError,
    TaskFailedError,
    TaskTimeoutError,
    TooManyPendingTasksError,
    UpstreamError,
)
from ._families import request_fields
from ._fetch import OutputsCheck, deadline_of, fetch
from ._jobs import Job
from ._models import Status, Task
from ._policy import CreateDecision, backoff_delay, create_decision
from ._pricing import reported_cost
from ._slots import Slots
from ._states import Event, JobState, state_for_status, transition
from ._timing import Timing

__all__ = ["Context", "LeaseLostError", "drive"]

log = logging.getLogger("kling_nb")

RETRY_INITIAL: Final = 1.0
"""First backoff (seconds) before a create is sent again (424, provably unsent)."""
OUTPUTS_PATIENCE: Final = 120.0
"""Seconds a job waits (unsent) for an unwritable or full outputs folder before giving up."""
OUTPUTS_RECHECK: Final = 2.0
CLOSE_GRACE: Final = 5.0
"""Seconds a create already on the wire may take to answer when the Studio closes."""


class LeaseLostError(KlingError):
    """Another Studio owns this job now: this one must not act on it."""


@dataclass
class Context:
    """What `drive` needs from its Studio (no more)."""

    client: AsyncClient
    slots: Slots
    timing: Timing
    outputs: Path
    timeout: float
    closing: Callable[[], bool]
    sends: set[asyncio.Future[Task]] = field(default_factory=set)
    outputs_check: OutputsCheck = field(init=False)

    def __post_init__(self) -> None:
        self.outputs_check = OutputsCheck(self.outputs)


async def drive(job: Job, ctx: Context) -> None:
    """Take `job` from where it is to a final or parked state."""
    holding = False
    try:
        if job.state is JobState.WAITING:
            holding = await _create(job, ctx)
            if holding and job.stop_requested:  # cancel() came while the create was on the wire
                await job.advance(Event.STOP, error=JobStoppedError(_stopped_text(job)))
        elif job.state in (JobState.QUEUED, JobState.RUNNING):
            ctx.slots.take_now()
            holding = True
        if job.state in (JobState.QUEUED, JobState.RUNNING):
            await _poll(job, ctx)
        if holding:
            holding = False
            ended = job.task is not None and job.task.done
            await ctx.slots.release(ended=ended)
        if job.state is JobState.DOWNLOADING:
            await fetch(job, ctx)
    except asyncio.CancelledError:
        if ctx.closing():
            await _safely(job, Event.DETACH, KlingError(_closed_text(job)))
            raise
        await _safely(job, Event.STOP, JobStoppedError(_stopped_text(job)))
    except LeaseLostError as exc:
        _lose(job, exc)
    except Exception as exc:  # a bug must still end the job visibly, and resumably
        log.exception("job %s crashed", job.job_id)
        event = Event.REFUSED if job.task is None else Event.DETACH
        await _safely(job, event, exc)
    finally:
        if holding:
            await ctx.slots.release()


# -- create ------------------------------------------------------------------------------------


async def _create(job: Job, ctx: Context) -> bool:
    """Send the create (at most once unless provably unsent); True when a task exists."""
    tries = {"unsent": 0, "upstream": 0, "slot": 0, "other": 0}
    outputs_since: float | None = None
    while True:
        problem = await ctx.outputs_check.problem()
        if problem is not None:
            # A full or unwritable outputs folder: a billed video could not be saved, so wait
            # (nothing sent) for it to come back, then give up without billing anything.
            outputs_since = outputs_since or time.monotonic()
            if not await _wait_for_outputs(job, problem, time.monotonic() - outputs_since):
                return False
            continue
        await ctx.slots.acquire()
        try:
            ready = await _prepare(job, ctx)
        except BaseException:
            await ctx.slots.release()
            raise
        if not ready:
            await ctx.slots.release()
            return False
        try:
            task = await _send(job, ctx)
        except asyncio.CancelledError:
            await ctx.slots.release()
            raise
        except Exception as exc:
            mark = ctx.slots.ended  # before any await: a task ending from now on is room
            await ctx.slots.release()
            if isinstance(exc, TooManyPendingTasksError):
                ctx.slots.note_cap()  # at once, before other queued jobs take the slot
            if not await _after_refusal(job, ctx, exc, tries, mark):
                return False
            continue
        await _created(job, ctx, task)
        return True


async def _wait_for_outputs(job: Job, problem: str, waited: float) -> bool:
    """Wait a little for the outputs folder; False (the job refused, unbilled) past patience."""
    if job.stop_requested:
        await job.advance(Event.STOP, error=JobStoppedError(_stopped_text(job)))
        return False
    if waited >= OUTPUTS_PATIENCE:
        error = DownloadError(f"{problem}; nothing was sent", reason="disk", retryable=False)
        await job.advance(Event.REFUSED, error=error)
        return False
    if waited == 0:
        await job.advance(Event.REQUEUE, detail={"why": "outputs", "message": problem})
    await asyncio.sleep(min(OUTPUTS_RECHECK, OUTPUTS_PATIENCE - waited))
    return True


async def _prepare(job: Job, ctx: Context) -> bool:
    """Local checks and the image upload; then the `creating` row is written (before sending)."""
    assert job.request is not None
    if job.stop_requested:
        await job.advance(Event.STOP, error=JobStoppedError(_stopped_text(job)))
        return False
    try:
        request = await ctx.client.prepare(job.request)
    except KlingError as exc:
        await job.advance(Event.REFUSED, error=exc)
        return False
    if ctx.closing():
        raise asyncio.CancelledError
    body = request.to_body()
    job.request, job.body = request, body
    job.attempts += 1
    # Written before the request leaves: a crash from here on leaves a `creating` row that
    # resume() marks `unknown` (never re-sent), not a task nobody knows about.
    await job.advance(
        Event.SEND,
        create_state="sending",
        request=body,
        image=request_fields(request)["image"],
        attempts=job.attempts,
    )
    return True


async def _send(job: Job, ctx: Context) -> Task:
    assert job.request is not None
    send = asyncio.ensure_future(ctx.client.create(job.request))
    ctx.sends.add(send)
    send.add_done_callback(ctx.sends.discard)
    try:
        return await asyncio.shield(send)
    except asyncio.CancelledError:
        # The Studio is closing while the create is on the wire: its answer must still reach
        # the ledger, or resume() could not find a task that bills (bench/soak.py found one).
        task = await _answer_of(send)
        if task is not None:
            await _created(job, ctx, task)
        else:
            error = CreateOutcomeUnknownError(_unknown_text(job, None))
            await _safely(job, Event.OUTCOME_UNKNOWN, error, create_state="unknown")
        raise


async def _answer_of(send: asyncio.Future[Task]) -> Task | None:
    done, _ = await asyncio.wait({send}, timeout=CLOSE_GRACE)
    if send in done and not send.cancelled() and send.exception() is None:
        return send.result()
    return None


async def _after_refusal(
    job: Job, ctx: Context, exc: Exception, tries: dict[str, int], mark: int
) -> bool:
    """Act on a create that failed: True to try again, False when the job has ended."""
    if isinstance(exc, APIConnectionError) and exc.sent is False:
        kind = "unsent"
    elif isinstance(exc, UpstreamError):
        kind = "upstream"
    elif isinstance(exc, TooManyPendingTasksError):
        kind = "slot"
    else:
        kind = "other"
    decision = create_decision(exc, attempt=tries[kind])
    tries[kind] += 1
    if decision is CreateDecision.UNKNOWN:
        error = exc if isinstance(exc, CreateOutcomeUnknownError) else None
        error = error or CreateOutcomeUnknownError(_unknown_text(job, exc))
        await job.advance(Event.OUTCOME_UNKNOWN, error=error, create_state="unknown")
        return False
    if decision is CreateDecision.FAIL:
        await job.advance(Event.REFUSED, error=exc, create_state="refused")
        return False
    detail = getattr(exc, "message", None) or str(exc)
    await job.advance(
        Event.REQUEUE, detail={"why": kind, "message": detail}, create_state="pending"
    )
    if decision is CreateDecision.WAIT_SLOT:
        retry_after = getattr(exc, "retry_after", None)
        wait = retry_after or backoff_delay(tries[kind], initial=1.0, cap=30.0)
        await ctx.slots.wait_release(wait, since=mark)
    else:
        await asyncio.sleep(backoff_delay(tries[kind] - 1, initial=RETRY_INITIAL, cap=16.0))
    return True


async def _created(job: Job, ctx: Context, task: Task) -> None:
    now = time.time()
    job.attach_task(task)
    await job.advance(
        Event.CREATED,
        detail={"task_id": task.id, "request_id": task.request_id},
        task_id=task.id,
        create_state="created",
        created_at=now,
        deadline_at=now + ctx.timeout,
        remote_status=str(task.status),
    )


# -- poll ----------------------------------------------------------------------------------------


async def _poll(job: Job, ctx: Context) -> None:
    task = job.task
    assert task is not None
    kind = (job.model, job.mode, job.duration)
    schedule = ctx.timing.schedule(kind)
    since = max(time.time() - (job.created_at or time.time()), 0.0)
    remaining = deadline_of(job, ctx) - time.time()
    if remaining <= 0:
        await job.advance(Event.DEADLINE, error=TaskTimeoutError(task, ctx.timeout))
        return
    if job.state is JobState.QUEUED and job.polls == 0:
        await asyncio.sleep(min(schedule.delay(since), remaining))
        since = max(time.time() - (job.created_at or time.time()), 0.0)
        remaining = deadline_of(job, ctx) - time.time()

    async def on_update(seen: Task) -> None:
        await _observe(job, seen)

    try:
        await ctx.client.wait(
            task,
            timeout=max(remaining, 0.001),
            on_update=on_update,
            schedule=schedule,
            since=since,
        )
    except TaskTimeoutError as exc:
        await job.advance(Event.DEADLINE, error=exc)
    except TaskFailedError as exc:
        if job.state.active:  # on_update has normally ended it already
            await job.advance(state_for_status(exc.task.status), error=exc)
    except APIError as exc:
        # 401/403/404 on the status route: this Studio's key or base URL cannot read the task
        # (owner-scoped reads, contract.md). It still exists: park it for a resume() with the
        # settings it was created with, never end it for good.
        await job.advance(Event.DETACH, error=exc)


async def _observe(job: Job, seen: Task) -> None:
    """One status read: count it, and advance the job when the remote state moved."""
    job.polls += 1
    job.attach_task(seen)
    event = state_for_status(seen.status)
    if event is Event.STATUS_SUCCEEDED and not seen.succeeded:
        event = Event.STATUS_RUNNING  # contract.md assumption 5: no URL yet, not finished
    if transition(job.state, event) is job.state:
        if job.polls % 10 == 0:
            await job.advance(event, polls=job.polls, remote_status=str(seen.status))
        else:
            job.changed()
        return
    fields: dict[str, Any] = {"polls": job.polls, "remote_status": str(seen.status)}
    if seen.status is Status.RUNNING and job.running_at is None:
        fields["running_at"] = time.time()
    error = None
    if seen.done:
        fields["finished_at"] = time.time()
        fields["video_url"] = seen.video_url
        cost = reported_cost(seen.raw)
        if cost is not None:
            fields["cost_reported"] = cost
        if seen.status is not Status.SUCCEEDED:
            error = TaskFailedError(seen)
    await job.advance(event, detail=str(seen.status), error=error, **fields)


# -- endings -------------------------------------------------------------------------------------


async def _safely(job: Job, event: Event, error: BaseException, **fields: Any) -> None:
    """Take `event` if the lifecycle allows it here; persist it when the ledger can."""
    try:
        transition(job.state, event)
    except RuntimeError:
        return
    try:
        await job.advance(event, error=error, **fields)
    except LeaseLostError as exc:
        _lose(job, exc)
    except KlingError:
        job.advance_unsaved(event, error=error, **fields)


def _lose(job: Job, exc: LeaseLostError) -> None:
    try:
        job.advance_unsaved(Event.DETACH, error=exc)
    except RuntimeError:
        log.warning("job %s: %s", job.job_id, exc)


def _stopped_text(job: Job) -> str:
    remote = f" (task {job.task.id} runs on remotely)" if job.task else ""
    return f"job {job.job_id} stopped locally{remote}"


def _closed_text(job: Job) -> str:
    return f"job {job.job_id}: the studio closed; studio.resume() follows it again"


def _unknown_text(job: Job, exc: BaseException | None) -> str:
    why = f": {exc}" if exc else ""
    return (
        f"job {job.job_id}: the create request may have reached the server but got no answer{why}. "
        "It was not sent again (that could bill twice); check your WorldRouter usage before "
        "resubmitting."
    )
