"""`Studio`: submit video jobs from a notebook, poll them in the background, keep a ledger."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._client import ENV_BASE_URL, ENV_KEY, AsyncClient
from ._errors import (
    APIConnectionError,
    KlingError,
    ServerError,
    TaskFailedError,
    TaskTimeoutError,
    TooManyPendingTasksError,
    UpstreamError,
    ValidationError,
)
from ._jobs import Job, JobStoppedError, task_status_to_state
from ._ledger import Ledger, LedgerError
from ._loop import Runner
from ._models import MODELS, Status, Task, as_route, parse_status
from ._policy import DEFAULT_PRIORS, PollSchedule, backoff_delay
from ._pricing import RateCard, reported_cost
from ._requests import (
    ImageToVideo,
    OmniVideo,
    Request,
    TextToVideo,
    request_fields,
    request_from_row,
)

if TYPE_CHECKING:
    import httpx

    from .sandbox import Sandbox

__all__ = ["Studio", "Sweep", "panel"]

log = logging.getLogger("kling_nb")

UNBILLED_STATES = frozenset({"failed", "cancelled", "expired", "error"})
MAX_UPSTREAM_RETRIES = 3
MAX_UNSENT_RETRIES = 3
RETRY_INITIAL = 1.0
"""First backoff (seconds) before re-sending a create that provably created nothing."""
CLOSE_GRACE = 5.0
"""Seconds `close()` waits for creates already sent to be answered before it stops polling."""


class CreateOutcomeUnknownError(KlingError):
    """The create request may have reached the server, so it is not sent again."""


class _Slots:
    """Counts tasks in flight against `limit`; waiters queue in order (lives on the loop).

    `limit` starts at `max_in_flight` and adapts to the server's pending cap: a 429 lowers it
    to the slots held at that moment, and every task that ends raises it by one again (up to
    `ceiling`) to probe for room. So a Studio allowed more than the cap queues locally, at
    about one 429 per finished task, instead of every queued job retrying into 429s.
    """

    def __init__(self, limit: int) -> None:
        self.ceiling = limit
        self.limit = limit
        self.used = 0
        self.peak = 0
        self.ended = 0  # created tasks that have ended: each frees room under the server's cap
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.used < self.limit)
            self._take()

    def take_now(self) -> None:
        """Count an already-created task (on resume) without waiting."""
        self._take()

    def _take(self) -> None:
        self.used += 1
        self.peak = max(self.peak, self.used)

    async def release(self, *, ended: bool = False) -> None:
        """Free a slot; `ended` when it held a created task that is now terminal."""
        async with self._changed:
            self.used = max(self.used - 1, 0)
            if ended:
                self.ended += 1
                self.limit = min(self.limit + 1, self.ceiling)
            self._changed.notify_all()

    def note_cap(self) -> None:
        """The server refused a create (429): hold the limit to the slots in use now."""
        self.limit = max(min(self.limit, self.used), 1)

    async def wait_release(self, timeout: float) -> None:
        """Return when a created task has ended (room under the cap), or after `timeout` seconds.

        Only an ended task counts: a slot freed by another create's 429 would wake every
        waiter into another 429 at once (bench/sweep.py: 34,712 429s for 200 jobs).
        """
        async with self._changed:
            seen = self.ended
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.ended != seen), timeout)


class Sweep(list[Job]):
    """The jobs of one `Studio.sweep`, displayed as a side-by-side comparison grid."""

    def wait(self, timeout: float | None = None) -> Sweep:
        """Block this cell until every job has finished (other cells' jobs keep moving)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            with contextlib.suppress(KlingError):
                job.result(remaining)
        return self

    @property
    def df(self) -> Any:
        """The ledger rows of these jobs (a pandas DataFrame)."""
        if not self:
            return None
        frame = self[0].studio.log.df
        return frame[frame["job_id"].isin([job.job_id for job in self])]

    def _ipython_display_(self) -> None:
        from .widgets import show_grid

        show_grid(list(self))


class Studio:
    """Submit Kling video jobs without blocking the notebook; keep a ledger of every run.

    With no API key anywhere (argument or `$WORLDROUTER_API_KEY`) and no base URL, the Studio
    starts the embedded sandbox on 127.0.0.1 and says so: nothing is billed. Files live under
    `root`: `kling_runs.sqlite` (the ledger) and `kling_outputs/` (the videos).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        root: str | os.PathLike[str] = ".",
        max_in_flight: int = 4,
        pricing: RateCard | None = None,
        budget: float | None = None,
        timeout: float = 1800.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValidationError("max_in_flight", max_in_flight, "an integer >= 1")
        if budget is not None and budget < 0:
            raise ValidationError("budget", budget, "a non-negative amount, or None")
        self.root = Path(root).expanduser().resolve()
        self.outputs = self.root / "kling_outputs"
        self.pricing = pricing or RateCard()
        self.budget = budget
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.sandbox: Sandbox | None = None
        key = api_key or os.environ.get(ENV_KEY)
        base = base_url or os.environ.get(ENV_BASE_URL)
        if not key and not base and transport is None:
            self.sandbox = _embedded_sandbox(self.root)
            key, base = "sk-sandbox-team", self.sandbox.base_url
            print(
                "kling_nb: no WORLDROUTER_API_KEY, so the embedded sandbox serves this Studio "
                "(no credits used)."
            )
        self.client = AsyncClient(key, base_url=base, transport=transport)
        self.log = Ledger(self.root / "kling_runs.sqlite")
        self.jobs: dict[str, Job] = {}
        self._runner = Runner()
        self._slots: _Slots | None = None
        self._timing_cache: dict[tuple[str, str | None, int], float | None] = {}
        self._schedules: dict[tuple[str, str | None, int], PollSchedule] = {}
        self._medians: dict[tuple[str, str | None, int], float] = {}
        self._sends: set[asyncio.Future[Task]] = set()  # create requests on the wire
        self._lock = threading.Lock()
        self._closing = False

    def __repr__(self) -> str:
        where = f"sandbox at {self.sandbox.base_url}" if self.sandbox else self.client.base_url
        counts: dict[str, int] = {}
        for job in list(self.jobs.values()):
            counts[job.status] = counts.get(job.status, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no jobs"
        return f"<Studio {str(self.root)!r} on {where}: {summary}>"

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submitting --------------------------------------------------------------------------

    def estimate(self, requests: Request | Iterable[Request]) -> float:
        """Estimated cost of one request or several, in `pricing.unit` (unknown rates: 0)."""
        items = (
            [requests] if isinstance(requests, (TextToVideo, ImageToVideo, OmniVideo)) else requests
        )
        return self.pricing.total((r.model, r.mode, r.duration) for r in items)

    def committed_cost(self) -> float:
        """Estimated cost of this Studio's jobs that have billed or may still bill."""
        return round(
            sum(
                job.cost_estimate or 0.0
                for job in list(self.jobs.values())
                if job.status not in UNBILLED_STATES
            ),
            6,
        )

    def _check_budget(self, extra: float) -> None:
        if self.budget is None:
            return
        total = self.committed_cost() + extra
        if total > self.budget + 1e-9:
            raise ValidationError(
                "budget",
                self.pricing.format(total),
                f"at most {self.pricing.format(self.budget)} in all "
                f"({self.pricing.format(self.committed_cost())} already committed)",
            )

    def submit(self, request: Request, tags: Iterable[str] | None = None) -> Job:
        """Queue a request and return its Job at once; it runs in the background."""
        if not isinstance(request, (TextToVideo, ImageToVideo, OmniVideo)):
            raise ValidationError(
                "request", request, "a kn.TextToVideo, kn.ImageToVideo or kn.OmniVideo"
            )
        estimate = self.pricing.estimate(request.model, request.mode, request.duration)
        with self._lock:
            self._check_budget(estimate or 0.0)
            job = self._new_job(request, tuple(tags or ()), estimate)
        self._start(job)
        return job

    def sweep(
        self,
        prompts: str | Sequence[str],
        models: Sequence[str] | None = None,
        modes: Sequence[str] | None = None,
        durations: Sequence[int] | None = None,
        aspect_ratios: Sequence[str] | None = None,
        *,
        tags: Iterable[str] | None = None,
    ) -> Sweep:
        """Submit the cross product of prompts × models × modes × durations × aspect ratios.

        Every request is validated and the total cost checked against the budget before any
        is submitted; the jobs then queue under `max_in_flight` and the server's pending cap.
        """
        prompt_list = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompt_list:
            raise ValidationError("prompts", prompts, "at least one prompt")
        requests: list[Request] = []
        for prompt, model, mode, duration, ratio in itertools.product(
            prompt_list,
            models or ["kling-v3"],
            modes or ["std"],
            durations or [5],
            aspect_ratios or ["16:9"],
        ):
            if model in MODELS and MODELS[model] == ("omni-video",):
                requests.append(
                    OmniVideo(prompt, model=model, mode=mode, duration=duration, aspect_ratio=ratio)
                )
            else:
                requests.append(
                    TextToVideo(
                        prompt, model=model, mode=mode, duration=duration, aspect_ratio=ratio
                    )
                )
        sweep_tag = f"sweep:{secrets.token_hex(3)}"
        all_tags = (*tuple(tags or ()), sweep_tag)
        with self._lock:
            self._check_budget(self.estimate(requests))
            jobs = Sweep(
                self._new_job(r, all_tags, self.pricing.estimate(r.model, r.mode, r.duration))
                for r in requests
            )
        for job in jobs:
            self._start(job)
        return jobs

    def _new_job(self, request: Request, tags: tuple[str, ...], estimate: float | None) -> Job:
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
        job = Job(self, job_id, request, tags=tags, cost_estimate=estimate)
        planned = request.to_body() if request.local_image is None else None
        job.body = planned
        # The row is written before anything is sent: a crash from here on loses nothing.
        self.log.insert(
            {
                "job_id": job_id,
                **request_fields(request),
                "status": "waiting",
                "create_state": "pending",
                "submitted_at": job.submitted_at,
                "cost_estimate": estimate,
                "tags": list(tags),
                "request": planned or {},
                "base_url": self.client.base_url,
            }
        )
        self.jobs[job_id] = job
        return job

    def _start(self, job: Job) -> None:
        job._future = self._runner.loop.create_future()
        job._runner_task = self._runner.spawn(self._run(job))

    # -- the pipeline (runs on the Studio's loop) ----------------------------------------------

    def _slots_here(self) -> _Slots:
        if self._slots is None:
            self._slots = _Slots(self.max_in_flight)
        return self._slots

    @property
    def in_flight(self) -> int:
        """Tasks created and not yet terminal (plus creates on their way)."""
        return self._slots.used if self._slots else 0

    @property
    def peak_in_flight(self) -> int:
        """The most tasks this Studio has had in flight at once."""
        return self._slots.peak if self._slots else 0

    def _set(
        self, job: Job, status: str, *, event: str, detail: object = None, **fields: Any
    ) -> None:
        job.status = status
        self.log.update(job.job_id, status=status, event=event, detail=detail, **fields)
        job._changed()

    async def _run(self, job: Job) -> None:
        slots = self._slots_here()
        holding = False
        try:
            if job.task is None:
                await self._create(job, slots)
            else:
                slots.take_now()
            holding = True
            task = await self._poll(job)
            holding = False
            await slots.release(ended=True)
            await self._download(job, task)
            self._finish(job, "succeeded")
        except asyncio.CancelledError:
            if self._closing:
                self.log.update(job.job_id, event="detached", detail="studio closed")
                self._resolve(job, KlingError(f"job {job.job_id}: studio closed; resume() later"))
                raise
            self._finish(job, "stopped", JobStoppedError(_stopped_text(job)))
        except TaskFailedError as exc:
            self._finish(job, str(exc.task.status), exc)
        except TaskTimeoutError as exc:
            self._finish(job, "timeout", exc)
        except CreateOutcomeUnknownError as exc:
            self._finish(job, "unknown", exc, create_state="unknown")
        except KlingError as exc:
            self._finish(job, "error", exc)
        except Exception as exc:  # an unexpected bug must still end the job visibly
            log.exception("job %s crashed", job.job_id)
            self._finish(job, "error", exc)
        finally:
            if holding:
                await slots.release(ended=job.task is not None and job.task.done)

    def _finish(
        self, job: Job, status: str, error: BaseException | None = None, **fields: Any
    ) -> None:
        job.error = error
        if job.finished_at is None:
            job.finished_at = time.time()
        self._set(
            job,
            status,
            event=status,
            detail=str(error) if error else None,
            error=str(error) if error else None,
            finished_at=job.finished_at,
            polls=job.polls,
            **fields,
        )
        self._resolve(job, error)

    def _resolve(self, job: Job, error: BaseException | None) -> None:
        future = job._future
        if future is None or future.done():
            return
        if job.status == "succeeded" and job.video_path is not None:
            future.set_result(job.video_path)
        else:
            future.set_exception(error or KlingError(f"job {job.job_id} ended {job.status}"))
            future.exception()  # mark retrieved: nobody may be awaiting it

    async def _create(self, job: Job, slots: _Slots) -> None:
        assert job.request is not None
        upstream_failures = unsent_failures = cap_waits = 0
        while True:
            await slots.acquire()
            try:
                request = await self.client.prepare(job.request)
                body = request.to_body()
                job.request, job.body = request, body
                if self._closing:  # close() waits for the creates already sent: send no more
                    raise asyncio.CancelledError
                self._set(
                    job,
                    "creating",
                    event="create_sent",
                    create_state="sending",
                    request=body,
                    image=request_fields(request)["image"],
                )
                send = asyncio.ensure_future(self.client.create(request))
                self._sends.add(send)
                send.add_done_callback(self._sends.discard)
                task = await send
            except TooManyPendingTasksError as exc:
                await slots.release()
                slots.note_cap()
                cap_waits += 1
                self._set(
                    job, "waiting", event="pending_cap", detail=exc.message, create_state="pending"
                )
                wait = exc.retry_after or backoff_delay(cap_waits, initial=1.0, cap=30.0)
                await slots.wait_release(wait)
                continue
            except UpstreamError as exc:
                await slots.release()
                upstream_failures += 1
                if upstream_failures > MAX_UPSTREAM_RETRIES:
                    raise
                self._set(
                    job, "waiting", event="upstream_424", detail=exc.message, create_state="pending"
                )
                await asyncio.sleep(
                    backoff_delay(upstream_failures, initial=RETRY_INITIAL, cap=16.0)
                )
                continue
            except APIConnectionError as exc:
                await slots.release()
                if exc.sent is False and unsent_failures < MAX_UNSENT_RETRIES:
                    unsent_failures += 1
                    self._set(
                        job,
                        "waiting",
                        event="create_unsent",
                        detail=str(exc),
                        create_state="pending",
                    )
                    await asyncio.sleep(
                        backoff_delay(unsent_failures, initial=RETRY_INITIAL, cap=16.0)
                    )
                    continue
                if exc.sent is False:
                    raise
                raise CreateOutcomeUnknownError(_unknown_text(job, exc)) from exc
            except ServerError as exc:
                await slots.release()
                raise CreateOutcomeUnknownError(_unknown_text(job, exc)) from exc
            except BaseException:
                await slots.release()
                raise
            job.task = task
            job.created_at = time.time()
            self._set(
                job,
                "queued",
                event="created",
                detail={"task_id": task.id, "request_id": task.request_id},
                task_id=task.id,
                create_state="created",
                created_at=job.created_at,
            )
            return

    async def _poll(self, job: Job) -> Task:
        assert job.task is not None
        created = job.created_at or time.time()
        since = max(time.time() - created, 0.0)
        schedule = self._schedule(job)
        remaining = self.timeout - since
        if remaining <= 0:
            raise TaskTimeoutError(job.task, self.timeout)
        if job.status in ("queued", "creating"):
            await asyncio.sleep(schedule.delay(since))
            since = max(time.time() - created, 0.0)

        def on_update(task: Task) -> None:
            job.polls += 1
            previous = job.task.status if job.task else None
            job.task = task
            if task.status == previous and job.status not in ("waiting", "creating"):
                if job.polls % 10 == 0:
                    self.log.update(job.job_id, polls=job.polls)
                return
            fields: dict[str, Any] = {"polls": job.polls}
            if task.status is Status.RUNNING and job.running_at is None:
                job.running_at = fields["running_at"] = time.time()
            if task.done:
                job.finished_at = fields["finished_at"] = time.time()
                fields["video_url"] = task.video_url
                cost = reported_cost(task.raw)
                if cost is not None:
                    fields["cost_reported"] = cost
            self._set(
                job,
                task_status_to_state(task.status),
                event="status",
                detail=str(task.status),
                **fields,
            )

        return await self.client.wait(
            job.task, timeout=remaining, on_update=on_update, schedule=schedule, since=since
        )

    async def _download(self, job: Job, task: Task) -> None:
        if job.finished_at is None:
            job.finished_at = time.time()
        dest = self.outputs / f"{job.job_id}.mp4"
        result = await self.client.download_file(task, dest)
        job.video_path = result.path
        self.log.update(
            job.job_id,
            event="downloaded",
            detail={"bytes": result.size},
            video_path=str(result.path),
            video_bytes=result.size,
            video_sha256=result.sha256,
            video_url=task.video_url,
        )
        key = (job.model, job.mode, job.duration)
        self._timing_cache.pop(key, None)
        self._schedules.pop(key, None)

    # -- timing --------------------------------------------------------------------------------

    @property
    def time_scale(self) -> float:
        """How much faster than the real service tasks finish (the sandbox's time_scale, or 1)."""
        return float(self.sandbox.config.time_scale) if self.sandbox is not None else 1.0

    def _prior(self, model: str, mode: str | None, duration: int) -> float:
        base = DEFAULT_PRIORS.get((mode or "std", duration), 150.0)
        return base * (1.3 if MODELS.get(model) == ("omni-video",) else 1.0) * self.time_scale

    def expected_seconds(self, job: Job) -> float | None:
        """Expected create-to-finish seconds for jobs like this one (ledger median, else prior)."""
        key = (job.model, job.mode, job.duration)
        if key not in self._timing_cache:
            try:
                learned = self.log.timing(*key)
            except LedgerError:  # closed ledger (studio.close()): a card still renders
                return self._prior(*key)
            self._timing_cache[key] = learned[0] if learned else None
        cached = self._timing_cache[key]
        return cached if cached is not None else self._prior(*key)

    def _schedule(self, job: Job) -> PollSchedule:
        key = (job.model, job.mode, job.duration)
        cached = self._schedules.get(key)
        if cached is not None:
            return cached
        learned = self.log.timing(*key)
        floor = 0.2 if self.sandbox is not None else 1.0
        if learned is not None and learned[2] >= 3:
            median, spread, count = learned
            self._medians[key] = median
            schedule = PollSchedule(
                median=median,
                sigma=min(max(spread, 0.15), 1.0),
                confident=count >= 5,
                min_delay=min(floor, median / 20),
                scale=self._time_base(),
            )
        else:
            median = self._prior(*key)
            schedule = PollSchedule(
                median=median,
                sigma=0.6,
                min_delay=min(floor, median / 20),
                scale=self._time_base(),
            )
        self._schedules[key] = schedule
        return schedule

    def _time_base(self) -> float:
        """One unit for the poll cost of every kind of job (`PollSchedule.scale`).

        The median of the learned medians of the kinds seen so far (else a std 5 s job's
        prior): with one unit, a status request buys as much notice latency on a long job as
        on a short one, which minimises the total over a mixed sweep (bench/polling.py).
        """
        learned = sorted(self._medians.values())
        if not learned:
            return self._prior("kling-v3", "std", 5)
        mid = len(learned) // 2
        return learned[mid] if len(learned) % 2 else (learned[mid - 1] + learned[mid]) / 2

    # -- control -------------------------------------------------------------------------------

    def _stop_job(self, job: Job) -> None:
        task = job._runner_task
        if task is not None:
            self._runner.call(task.cancel)

    def resume(self) -> list[Job]:
        """Re-attach every unfinished job in the ledger: poll it to the end and download it.

        A task that has an id is never created again. A job whose create request may have
        reached the server without an answer is marked `unknown`, not re-sent. A job that was
        still waiting in the local queue (nothing sent) is queued again.
        """
        attached: list[Job] = []
        for row in self.log.unfinished():
            if row["job_id"] in self.jobs:
                continue
            job = self._job_from_row(row)
            self.jobs[job.job_id] = job
            attached.append(job)
            if row["task_id"] is None and row["create_state"] == "sending":
                job._future = None
                exc = CreateOutcomeUnknownError(_unknown_text(job, None))
                self._finish(job, "unknown", exc, create_state="unknown")
                continue
            self.log.update(job.job_id, event="resumed")
            self._start(job)
        return attached

    def _job_from_row(self, row: dict[str, Any]) -> Job:
        try:
            request: Request | None = request_from_row(row)
        except (ValidationError, KeyError):
            # e.g. a local first frame deleted since: the job can still be polled by task id.
            request = None
        job = Job(
            self,
            row["job_id"],
            request,
            tags=tuple(row["tags"] or ()),
            cost_estimate=row["cost_estimate"],
            submitted_at=row["submitted_at"],
        )
        job.body = row["request"] or None
        job.status = row["status"]
        job.created_at = row["created_at"]
        job.running_at = row["running_at"]
        job.polls = row["polls"] or 0
        if row["task_id"]:
            job.task = Task(
                id=row["task_id"],
                route=as_route(row["route"]),
                model=row["model"],
                status=parse_status(row["status"] if row["status"] != "downloading" else "running"),
            )
        return job

    def wait(self, jobs: Iterable[Job] | None = None, timeout: float | None = None) -> list[Job]:
        """Block this cell until the given jobs (default: all) have finished; return them."""
        chosen = Sweep(self.jobs.values() if jobs is None else jobs)
        chosen.wait(timeout)
        return list(chosen)

    def panel(self) -> Any:
        """The generate panel (ipywidgets) bound to this Studio."""
        from .widgets import StudioPanel

        return StudioPanel(self)

    def grid(self, jobs: Iterable[Job] | None = None) -> Any:
        """A side-by-side comparison grid of jobs (default: all of this Studio's jobs)."""
        from .widgets import ComparisonGrid

        return ComparisonGrid(list(self.jobs.values()) if jobs is None else list(jobs))

    def close(self) -> None:
        """Stop polling (the ledger keeps every unfinished job for `resume()`), close the client."""
        if self._closing:
            return
        self._closing = True
        if not self._runner.loop.is_closed():
            try:
                self._runner.run(self._aclose(), timeout=10)
            except (RuntimeError, TimeoutError):
                log.debug("studio close: loop unavailable", exc_info=True)
        self._runner.close()
        self.log.close()

    async def _aclose(self) -> None:
        # A create already on the wire gets its answer first, so its task id reaches the
        # ledger: cancelled mid-request, it would leave a task that resume() cannot find (a
        # job marked 'unknown'; bench/soak.py saw 1 in 1,000 jobs over two restarts).
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=CLOSE_GRACE)
        pending = [t for t in self._runner._tasks if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.client.aclose()


def _stopped_text(job: Job) -> str:
    remote = f" (task {job.task.id} runs on remotely)" if job.task else ""
    return f"job {job.job_id} stopped locally{remote}"


def _unknown_text(job: Job, exc: BaseException | None) -> str:
    why = f": {exc}" if exc else ""
    return (
        f"job {job.job_id}: the create request may have reached the server but got no answer{why}. "
        "It was not sent again (that could bill twice); check your WorldRouter usage before "
        "resubmitting."
    )


_SANDBOXES: dict[Path, Sandbox] = {}
_SANDBOX_LOCK = threading.Lock()


def _embedded_sandbox(root: Path) -> Sandbox:
    """One sandbox per process and root, persisted under root so tasks survive a restart."""
    from .sandbox import Sandbox

    with _SANDBOX_LOCK:
        existing = _SANDBOXES.get(root)
        if existing is not None:
            return existing
        state = root / ".kling_sandbox" / "state.sqlite"
        state.parent.mkdir(parents=True, exist_ok=True)
        sandbox = Sandbox(state_path=state)
        sandbox.start()
        _SANDBOXES[root] = sandbox
        return sandbox


_DEFAULT: Studio | None = None


def panel(**kwargs: Any) -> Any:
    """The generate panel on a default Studio (created on first use with `kwargs`)."""
    global _DEFAULT
    if _DEFAULT is None or _DEFAULT._closing:
        _DEFAULT = Studio(**kwargs)
    return _DEFAULT.panel()
