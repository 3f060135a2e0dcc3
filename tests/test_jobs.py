"""`Job.advance`: persisted first, then taken; a cancel mid-write still takes what was written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import kling_nb as kn
from kling_nb._jobs import Job
from kling_nb._loop import Runner
from kling_nb._states import Event, IllegalTransitionError, JobState


class SlowHost:
    """A JobHost whose writes take `delay` seconds and are recorded."""

    def __init__(self, delay: float = 0.0, fail: BaseException | None = None) -> None:
        self.delay = delay
        self.fail = fail
        self.written: list[tuple[str, dict[str, Any]]] = []
        self._runner: Runner | None = None

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = Runner()
        return self._runner

    @property
    def cost_unit(self) -> str:
        return "credits"

    async def record(self, job: Job, event: Event, fields: dict[str, Any], detail: object) -> None:
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        self.written.append((event.value, fields))

    def expected_seconds(self, job: Job) -> float | None:
        return None

    def stop(self, job: Job) -> None:
        pass


def new_job(host: SlowHost, state: JobState = JobState.CREATING) -> Job:
    return Job(host, "job-1", kn.TextToVideo("a fox"), state=state)


async def test_a_transition_is_written_before_it_is_taken() -> None:
    host = SlowHost()
    job = new_job(host)
    seen: list[str] = []
    job.on_change(lambda j: seen.append(j.status))
    assert await job.advance(Event.CREATED, task_id="t1") is JobState.QUEUED
    assert host.written == [("created", {"status": "queued", "task_id": "t1"})]
    assert job.state is JobState.QUEUED
    assert seen == ["queued"]


async def test_a_refused_write_changes_nothing() -> None:
    job = new_job(SlowHost(fail=kn.KlingError("disk full")))
    with pytest.raises(kn.KlingError, match="disk full"):
        await job.advance(Event.CREATED)
    assert job.state is JobState.CREATING


async def test_an_illegal_move_is_refused_before_any_write() -> None:
    host = SlowHost()
    job = new_job(host, JobState.SUCCEEDED)
    with pytest.raises(IllegalTransitionError):
        await job.advance(Event.SEND)
    assert host.written == []


async def test_cancelled_mid_write_takes_what_was_written() -> None:
    host = SlowHost(delay=0.2)
    job = new_job(host)
    advancing = asyncio.ensure_future(job.advance(Event.CREATED, task_id="t1"))
    await asyncio.sleep(0.05)
    advancing.cancel()  # Studio.close() while the write is on its way
    with pytest.raises(asyncio.CancelledError):
        await advancing
    assert host.written == [("created", {"status": "queued", "task_id": "t1"})]
    assert job.state is JobState.QUEUED  # not left `creating`, which a close would make `unknown`
