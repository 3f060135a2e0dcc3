"""`Studio`: submit video jobs from a notebook, poll them in the background, keep a ledger."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from . import _keeper
from ._client import ENV_BASE_URL, ENV_KEY, AsyncClient
from ._errors import CreateOutcomeUnknownError, KlingError, ValidationError
from ._families import REQUEST_TYPES, AnyRequest, family_of, request_fields, request_kind
from ._jobrows import ledger_fields
from ._jobs import Job
from ._judge_ops import Judging
from ._keeper import Keeper
from ._ledger import Claim, Ledger, LedgerError, ledger_location
from ._loop import Runner
from ._pipeline import Context, drive
from ._pricing import RateCard
from ._resume import ResumeReport, job_from_row, plan_resume
from ._reuse import place_videos, reuse_plan, reused_job
from ._settings import (
    check_amount,
    check_budget,
    check_count,
    check_root,
    check_seconds,
    check_tags,
    embedded_sandbox,
    key_fingerprint,
    new_owner_id,
    owner_is_dead,
)
from ._slots import Slots
from ._states import Event, JobState
from ._sweep import Sweep, sweep_requests
from ._timing import Timing
from ._views import view

if TYPE_CHECKING:
    import httpx

    from .sandbox import Sandbox

__all__ = ["Studio", "Sweep", "key_fingerprint", "panel"]

log = logging.getLogger("kling_nb")

SANDBOX_ENDPOINT: Final = "sandbox:embedded"


class Studio(Judging):
    """Submit video jobs of any family without blocking the notebook; keep a ledger of every run.

    With no API key anywhere (argument or `$WORLDROUTER_API_KEY`) and no base URL, the Studio
    starts the embedded sandbox on 127.0.0.1 and says so: nothing is billed. Files live under
    `root`: `kling_runs.sqlite` (the ledger) and `kling_outputs/` (the videos). `timeout` is
    each job's deadline in seconds from its create, download included. `ledger`: a SQLite file
    or a team's `postgresql://user@host:port/db` (default: `$KLING_NB_LEDGER`, else the root's
    file); `member`: who this Studio's jobs are recorded as (default: the OS user).
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
        ledger: str | os.PathLike[str] | None = None,
        member: str | None = None,
    ) -> None:
        self.max_in_flight = check_count("max_in_flight", max_in_flight)
        self.timeout = check_seconds("timeout", timeout)
        self.budget = None if budget is None else check_amount("budget", budget)
        self.root = check_root(root)
        self.outputs = self.root / "kling_outputs"
        self.pricing = pricing or RateCard()
        # Opened first: a bad ledger URL or password fails before a sandbox or client starts.
        self.log = Ledger(ledger_location(ledger, self.root), member=member)
        self.sandbox: Sandbox | None = None
        key = api_key or os.environ.get(ENV_KEY)
        base = base_url or os.environ.get(ENV_BASE_URL)
        if not key and not base and transport is None:
            self.sandbox = embedded_sandbox(self.root)
            key, base = "sk-sandbox-team", self.sandbox.base_url
            print(
                "kling_nb: no WORLDROUTER_API_KEY, so the embedded sandbox serves this Studio "
                "(no credits used)."
            )
        self.client = AsyncClient(key, base_url=base, transport=transport)
        self.endpoint = SANDBOX_ENDPOINT if self.sandbox else self.client.base_url
        self.key_fp = key_fingerprint((key or "").strip())
        self.id = new_owner_id()
        self.jobs: dict[str, Job] = {}
        self.last_resume: ResumeReport | None = None
        self._runner = Runner()
        self._slots: Slots | None = None
        scale = float(self.sandbox.config.time_scale) if self.sandbox is not None else 1.0
        self.timing = Timing(self.log.timing, time_scale=scale, floor=0.2 if self.sandbox else 1.0)
        self._ctx: Context | None = None
        self._hold = Keeper(self.log, self.id)
        self._heartbeat: Any = None
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

    # -- what the jobs and widgets use (JobHost) ------------------------------------------------

    @property
    def runner(self) -> Runner:
        """The loop this Studio's jobs run on."""
        return self._runner

    @property
    def cost_unit(self) -> str:
        """The unit of cost estimates."""
        return self.pricing.unit

    @property
    def closed(self) -> bool:
        """True once `close()` has begun."""
        return self._closing

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run `coro` on this Studio's loop, keeping a reference until it ends."""
        return self._runner.spawn(coro)

    def call_soon(self, callback: Any, *args: Any) -> None:
        """Call `callback(*args)` on this Studio's loop (thread-safe)."""
        self._runner.call(callback, *args)

    def expected_seconds(self, job: Job) -> float | None:
        """Expected create-to-finish seconds for jobs like this one (ledger median, else prior)."""
        return self.timing.expected((job.model, job.mode, job.duration))

    async def record(self, job: Job, event: Event, fields: dict[str, Any], detail: object) -> None:
        """Persist one transition of `job` (see `Keeper.record`)."""
        await self._hold.record(job, event, fields, detail)

    def stop(self, job: Job) -> None:
        """Stop driving `job` (a create on the wire gets its answer first)."""
        if job.state is JobState.CREATING:
            return  # the pipeline stops it once the create answered
        if job.driver is not None:
            self._runner.call(job.driver.cancel)

    # -- submitting ----------------------------------------------------------------------------

    def estimate(self, requests: AnyRequest | Iterable[AnyRequest]) -> float:
        """Estimated cost of one request or several, in `pricing.unit` (unknown rates: 0)."""
        items = [requests] if isinstance(requests, REQUEST_TYPES) else requests
        return self.pricing.total(request_kind(r) for r in items)

    def committed_cost(self) -> float:
        """Estimated cost of this Studio's jobs that have billed or may still bill."""
        jobs = list(self.jobs.values())
        return round(
            sum(
                job.cost_estimate or 0.0
                for job in jobs
                if job.state.billed or job.state is JobState.WAITING
            ),
            6,
        )

    def _check_budget(self, extra: float) -> None:
        check_budget(self.budget, self.committed_cost(), extra, self.pricing.format)

    def submit(self, request: AnyRequest, tags: str | Iterable[str] | None = None) -> Job:
        """Queue a request of any family and return its Job at once; it runs in the background."""
        if not isinstance(cast(object, request), REQUEST_TYPES):  # callers are not typed
            allowed = "a kn.TextToVideo, ImageToVideo, OmniVideo, SeedanceVideo or GrokVideo"
            raise ValidationError("request", request, allowed)
        self._check_open()
        tag_list = check_tags(tags)
        estimate = self.pricing.estimate(*request_kind(request))
        with self._lock:
            self._check_budget(estimate or 0.0)
            job = self._new_job(request, tag_list, estimate)
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
        tags: str | Iterable[str] | None = None,
        skip_done: bool = False,
    ) -> Sweep:
        """Submit the cross product of prompts × models × modes × durations × aspect ratios.

        `models` may mix families (modes apply to Kling, aspect ratios to Kling and Seedance).
        All are validated and budget-checked, then queue under `max_in_flight`. `skip_done=True`
        reuses each variant the ledger has a succeeded video of, whoever made it (`_reuse`).
        """
        self._check_open()
        requests = sweep_requests(prompts, models, modes, durations, aspect_ratios)
        rows, fresh = reuse_plan(self.log, requests, skip_done)
        all_tags = (*check_tags(tags), f"sweep:{secrets.token_hex(3)}")
        with self._lock:
            self._check_budget(self.estimate(fresh))
            jobs = Sweep(
                self._new_job(r, all_tags, self.pricing.estimate(*request_kind(r)))
                if row is None
                else reused_job(self, row)
                for r, row in zip(requests, rows, strict=True)
            )
        for job, row in zip(jobs, rows, strict=True):
            if row is None:  # a reused job is another run's: read-only, never driven here
                self._start(job)
        place_videos(self, jobs, rows)
        return jobs

    def _check_open(self) -> None:
        if self._closing:
            raise KlingError("this Studio is closed: make a new one (kn.Studio(...))")

    def _new_job(self, request: AnyRequest, tags: tuple[str, ...], estimate: float | None) -> Job:
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
        job = Job(self, job_id, request, tags=tags, cost_estimate=estimate)
        local = family_of(request.route).local_images(request)
        planned = None if local else request.to_body()
        job.body = planned
        # The row is written before anything is sent: a crash from here on loses nothing.
        self.log.insert(
            {
                "job_id": job_id,
                **request_fields(request),
                "status": JobState.WAITING.value,
                "create_state": "pending",
                "submitted_at": job.submitted_at,
                "cost_estimate": estimate,
                "tags": list(tags),
                "request": planned or {},
                "base_url": self.client.base_url,
                "endpoint": self.endpoint,
                "key_fp": self.key_fp,
                "owner": self.id,
                "lease_until": time.time() + _keeper.LEASE_SECONDS,
            }
        )
        self.jobs[job_id] = job
        return job

    def _context(self) -> Context:
        if self._ctx is None:
            self._slots = Slots(self.max_in_flight)
            self._ctx = Context(
                client=self.client,
                slots=self._slots,
                timing=self.timing,
                outputs=self.outputs,
                timeout=self.timeout,
                closing=lambda: self._closing,
            )
        return self._ctx

    def _start(self, job: Job) -> None:
        job.bind()
        job.driver = self._runner.spawn(self._drive(job))
        if self._heartbeat is None:
            self._heartbeat = self._runner.spawn(
                self._hold.beat(lambda: self._closing, lambda: _keeper.LEASE_SECONDS)
            )

    async def _drive(self, job: Job) -> None:
        job.driver = asyncio.current_task() or job.driver
        await drive(job, self._context())

    @property
    def in_flight(self) -> int:
        """Tasks created and not yet terminal (plus creates on their way)."""
        return self._slots.used if self._slots else 0

    @property
    def peak_in_flight(self) -> int:
        """The most tasks this Studio has had in flight at once."""
        return self._slots.peak if self._slots else 0

    # -- resume --------------------------------------------------------------------------------

    def resume(self) -> list[Job]:
        """Re-attach every unfinished job this Studio may drive; return them.

        Its own parked jobs (a failed download, a passed deadline) are driven again, and from
        the ledger it takes the jobs no live Studio holds that were created with this Studio's
        base URL and key (atomically: two processes never drive one job). A task with an id
        is never created again; a create that may have reached the server without an answer
        is marked `unknown`, not re-sent; a job that never left the local queue is queued again.
        """
        self._check_open()
        again = [job for job in list(self.jobs.values()) if job.state.parked]
        for job in again:
            self._reattach(job, self.log.row(job.job_id) or ledger_fields(job))
        claim = self._claim()
        dead = {row.get("owner") for row in claim.held if owner_is_dead(row.get("owner"))}
        if dead:  # a crashed kernel on this machine: its jobs are free now, not in a minute
            for owner in dead:
                self.log.release(str(owner))
            more = self._claim()
            claim = Claim(claim.claimed + more.claimed, claim.other_settings, more.held)
        self.last_resume = report = ResumeReport.of(claim, self.endpoint)
        attached: list[Job] = []
        for row in claim.claimed:
            job = job_from_row(self, row)
            self.jobs[job.job_id] = job
            attached.append(job)
            self._reattach(job, row)
        if report.note:
            print(f"kling_nb: {report.note}")
        return again + attached

    def _claim(self) -> Claim:
        return self.log.claim(
            self.id,
            endpoint=self.endpoint,
            key_fp=self.key_fp,
            lease_s=_keeper.LEASE_SECONDS,
            legacy_endpoint=SANDBOX_ENDPOINT if self.sandbox else None,
        )

    def _reattach(self, job: Job, row: Mapping[str, Any]) -> None:
        event, fields = plan_resume(row, now=time.time(), timeout=self.timeout)
        self.log.update(job.job_id, owner=self.id, event=event.value, **fields)
        if event is Event.DETACH:  # its create was on the wire when the process died
            job.advance_unsaved(event, error=CreateOutcomeUnknownError(str(fields["error"])))
            return
        job.advance_unsaved(event, **fields)
        self._start(job)

    # -- waiting and views ---------------------------------------------------------------------

    def wait(self, jobs: Iterable[Job] | None = None, timeout: float | None = None) -> list[Job]:
        """Block this cell until the given jobs (default: all) have finished; return them."""
        chosen = Sweep(self.jobs.values() if jobs is None else jobs)
        chosen.wait(timeout)
        return list(chosen)

    def panel(self) -> Any:
        """The generate panel (ipywidgets) bound to this Studio."""
        return view("panel", self)

    def grid(self, jobs: Iterable[Job] | None = None) -> Any:
        """A side-by-side comparison grid of jobs (default: all of this Studio's jobs)."""
        return view("grid", list(self.jobs.values()) if jobs is None else list(jobs))

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop polling (the ledger keeps every unfinished job for `resume()`), close the client."""
        if self._closing:
            return
        self._closing = True
        if not self._runner.loop.is_closed():
            try:
                self._runner.run(self._aclose(), timeout=15)
            except (RuntimeError, TimeoutError):
                log.debug("studio close: loop unavailable", exc_info=True)
        self._runner.close()
        try:
            self.log.release(self.id)
        except LedgerError as exc:
            log.warning("could not release this Studio's jobs: %s", exc)
        self.log.close()

    async def _aclose(self) -> None:
        ctx = self._ctx
        if ctx is not None and ctx.sends:
            # A create already on the wire gets its answer first, so its task id reaches the
            # ledger (cancelled mid-request it would be a task that resume() cannot find).
            await asyncio.wait(set(ctx.sends), timeout=5.0)
        current = asyncio.current_task()
        pending = [t for t in self._runner.tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        try:
            await self._hold.rewrite()
        except LedgerError as exc:
            log.warning("final ledger writes failed: %s", exc)
        await self.client.aclose()


_DEFAULT: Studio | None = None


def panel(**kwargs: Any) -> Any:
    """The generate panel on a default Studio (created on first use with `kwargs`)."""
    global _DEFAULT
    if _DEFAULT is None or _DEFAULT.closed:
        _DEFAULT = Studio(**kwargs)
    return _DEFAULT.panel()
