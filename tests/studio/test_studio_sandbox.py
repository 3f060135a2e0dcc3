"""Studio against the live sandbox over real HTTP: queueing, the cap, faults, resume, ledger."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import kling_nb as kn
from kling_nb import _pipeline
from kling_nb.sandbox import Faults, Sandbox

KEY = "sk-sandbox-team"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01, pending_cap=4, seed=1) as sb:
        yield sb


def make_studio(sb: Sandbox, root: Path, **kwargs: object) -> kn.Studio:
    return kn.Studio(api_key=KEY, base_url=sb.base_url, root=root, **kwargs)  # type: ignore[arg-type]


def creates(sb: Sandbox) -> int:
    return int(sum(sb.stats()["creates_by_key"].values()))


def mp4_ok(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[4:8] == b"ftyp"


def test_jobs_run_on_a_private_loop_outside_a_kernel(sandbox: Sandbox, tmp_path: Path) -> None:
    with make_studio(sandbox, tmp_path) as studio:
        started = time.perf_counter()
        job = studio.submit(kn.TextToVideo("a paper boat on a river"))
        assert time.perf_counter() - started < 0.5
        assert studio._runner.owns_thread
        path = job.result(timeout=30)
        assert path.parent == tmp_path / "kling_outputs"
        assert mp4_ok(path)
        row = studio.log.row(job.job_id)
        assert row is not None
        assert row["status"] == "succeeded"
        assert row["video_bytes"] == path.stat().st_size
        assert len(row["video_sha256"]) == 64


@pytest.mark.slow
async def test_submit_returns_at_once_while_status_reads_are_slow(tmp_path: Path) -> None:
    faults = Faults(status_slow=1.0, slow_seconds=1.5)
    with Sandbox(time_scale=0.01, faults=faults) as sb:
        studio = make_studio(sb, tmp_path)
        try:
            assert not studio._runner.owns_thread  # the test's own running loop, like a kernel
            first = studio.submit(kn.TextToVideo("first"))
            await asyncio.sleep(1.0)  # its status reads are now in progress and slow
            started = time.perf_counter()
            second = studio.submit(kn.TextToVideo("second"))
            assert time.perf_counter() - started < 0.5
            await asyncio.wait_for(asyncio.gather(first._wait(), second._wait()), 60)
            assert first.succeeded
            assert second.succeeded
        finally:
            await asyncio.to_thread(studio.close)


@pytest.mark.slow
def test_six_jobs_under_a_cap_of_two(sandbox: Sandbox, tmp_path: Path) -> None:
    with make_studio(sandbox, tmp_path, max_in_flight=2) as studio:
        jobs = [studio.submit(kn.TextToVideo(f"fox number {i}")) for i in range(6)]
        studio.wait(jobs, timeout=60)
        assert [job.status for job in jobs] == ["succeeded"] * 6
        assert studio.peak_in_flight == 2
        assert sandbox.stats()["max_pending"]["team-sandbox"] <= 2
        assert creates(sandbox) == 6


@pytest.mark.slow
def test_server_pending_cap_queues_instead_of_failing(tmp_path: Path) -> None:
    with (
        Sandbox(time_scale=0.01, pending_cap=2) as sb,
        make_studio(sb, tmp_path, max_in_flight=6) as studio,
    ):
        jobs = studio.sweep(["a", "b", "c"], modes=["std", "pro"])
        assert len(jobs) == 6
        jobs.wait(timeout=90)
        assert [job.status for job in jobs] == ["succeeded"] * 6
        stats = sb.stats()
        assert stats["too_many_pending"] > 0  # the cap was really hit...
        # ...but waiting jobs wake only when a task ends: no storm of 429s (bench/sweep.py)
        assert stats["too_many_pending"] <= len(jobs)
        assert creates(sb) == 6  # ...and every job was created exactly once
        events = studio.log.events()
        requeued = events[events["kind"] == "requeue"]["detail"]
        assert sum(d["why"] == "slot" for d in requeued) == stats["too_many_pending"]


@pytest.mark.slow
def test_closed_studio_resumes_with_zero_new_creates(sandbox: Sandbox, tmp_path: Path) -> None:
    studio = make_studio(sandbox, tmp_path, max_in_flight=4)
    jobs = [studio.submit(kn.TextToVideo(f"river {i}", duration=10)) for i in range(6)]
    deadline = time.monotonic() + 20
    while sum(job.task is not None for job in jobs) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    studio.close()  # mid-flight: 4 created, 2 still waiting in the local queue
    made = creates(sandbox)
    assert made == 4
    assert all(job.status != "succeeded" for job in jobs)

    with make_studio(sandbox, tmp_path, max_in_flight=4) as again:
        resumed = again.resume()
        assert sorted(job.job_id for job in resumed) == sorted(job.job_id for job in jobs)
        again.wait(resumed, timeout=60)
        assert [job.status for job in resumed] == ["succeeded"] * 6
        # the 4 created tasks were never created again; the 2 never sent were sent once
        assert creates(sandbox) == 6
        frame = again.log.df
        assert frame["task_id"].is_unique
        assert (frame["status"] == "succeeded").all()
        assert all(mp4_ok(Path(p)) for p in frame["video_path"])


@pytest.mark.slow
def test_thirty_percent_status_faults_still_complete(tmp_path: Path) -> None:
    faults = Faults(status_5xx=0.15, status_reset=0.1, status_slow=0.05, slow_seconds=0.3, seed=7)
    with (
        Sandbox(time_scale=0.01, faults=faults) as sb,
        make_studio(sb, tmp_path, max_in_flight=4) as studio,
    ):
        jobs = [studio.submit(kn.TextToVideo(f"storm {i}")) for i in range(8)]
        studio.wait(jobs, timeout=120)
        assert [job.status for job in jobs] == ["succeeded"] * 8
        assert sum(sb.stats()["faults"].values()) > 0
        assert creates(sb) == 8


def test_upstream_424_is_retried_then_fails_with_the_upstream_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pipeline, "RETRY_INITIAL", 0.05)
    with (
        Sandbox(time_scale=0.01, faults=Faults(upstream_424=1.0)) as sb,
        make_studio(sb, tmp_path) as studio,
    ):
        job = studio.submit(kn.TextToVideo("always upstream trouble"))
        with pytest.raises(kn.UpstreamError) as info:
            job.result(timeout=60)
        assert job.status == "error"
        assert info.value.upstream_status is not None
        attempts = (studio.log.events(job.job_id)["kind"] == "send").sum()
        assert attempts == 4  # the first try and three retries: 424 means nothing was created
        assert creates(sb) == 0


def test_rejections_end_the_job_with_the_servers_words(sandbox: Sandbox, tmp_path: Path) -> None:
    with kn.Studio(api_key="sk-sandbox-broke", base_url=sandbox.base_url, root=tmp_path) as s:
        job = s.submit(kn.TextToVideo("no money"))
        with pytest.raises(kn.InsufficientBalanceError):
            job.result(timeout=30)
        assert job.status == "error"
        row = s.log.row(job.job_id)
        assert row is not None
        assert row["error_code"] == "kling_balance_too_low"
        assert row["error_type"] == "InsufficientBalanceError"
        assert "sk-sandbox-broke" not in json.dumps(row)


@pytest.mark.slow
def test_failed_and_expired_tasks(tmp_path: Path) -> None:
    with (
        Sandbox(time_scale=0.01, faults=Faults(task_fail=0.5, task_expire=0.5, seed=3)) as sb,
        make_studio(sb, tmp_path) as studio,
    ):
        jobs = [studio.submit(kn.TextToVideo(f"doomed {i}")) for i in range(4)]
        studio.wait(jobs, timeout=60)
        assert {job.status for job in jobs} <= {"failed", "expired"}
        for job in jobs:
            assert isinstance(job.error, kn.TaskFailedError)
            assert job.video_path is None


def test_unreachable_first_frame_fails_the_task(sandbox: Sandbox, tmp_path: Path) -> None:
    with make_studio(sandbox, tmp_path) as studio:
        job = studio.submit(kn.ImageToVideo("https://example.invalid/frame.png", "pan"))
        with pytest.raises(kn.TaskFailedError):
            job.result(timeout=30)
        assert job.status == "failed"
        assert "example.invalid" in (studio.log.row(job.job_id) or {})["error"]


def test_local_first_frame_is_uploaded(sandbox: Sandbox, tmp_path: Path, png_path: Path) -> None:
    with make_studio(sandbox, tmp_path) as studio:
        job = studio.submit(kn.ImageToVideo(png_path, "slow dolly-in"))
        assert mp4_ok(job.result(timeout=30))
        row = studio.log.row(job.job_id)
        assert row is not None
        assert row["request"]["ImageList"][0]["ImageUrl"].startswith(sandbox.base_url)
        assert sandbox.stats()["uploads"] == 1


def test_create_with_unknown_outcome_is_never_resent(tmp_path: Path) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ReadTimeout("no answer", request=request)

    transport = httpx.MockTransport(handler)
    with kn.Studio(
        api_key="sk-x", base_url="http://127.0.0.1:9", root=tmp_path, transport=transport
    ) as s:
        job = s.submit(kn.TextToVideo("maybe created"))
        with pytest.raises(kn.KlingError, match="not sent again"):
            job.result(timeout=30)
        assert job.status == "unknown"
        assert calls == ["POST"]
        with kn.Studio(
            api_key="sk-x", base_url="http://127.0.0.1:9", root=tmp_path, transport=transport
        ) as again:
            assert again.resume() == []  # unknown is final: nothing is re-sent
        assert calls == ["POST"]


def test_resume_marks_an_interrupted_create_unknown(sandbox: Sandbox, tmp_path: Path) -> None:
    with make_studio(sandbox, tmp_path) as studio:
        job = studio.submit(kn.TextToVideo("crashed while sending"))
        job.result(timeout=30)
    # Simulate a crash between "create_sent" and the answer: the row says sending, no task id.
    ledger = kn.Ledger(tmp_path / "kling_runs.sqlite")
    ledger.update(job.job_id, status="creating", create_state="sending", task_id=None)
    ledger.close()
    with make_studio(sandbox, tmp_path) as again:
        [resumed] = again.resume()
        assert resumed.status == "unknown"
    assert creates(sandbox) == 1


def test_cancel_stops_locally(sandbox: Sandbox, tmp_path: Path) -> None:
    with make_studio(sandbox, tmp_path) as studio:
        job = studio.submit(kn.TextToVideo("slow one", mode="pro", duration=10))
        while job.task is None:
            time.sleep(0.01)
        assert job.cancel()
        with pytest.raises(kn.KlingError, match="stopped locally"):
            job.result(timeout=10)
        assert job.status == "stopped"
        assert not job.cancel()


@pytest.mark.slow
def test_budget_refuses_before_anything_is_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    with make_studio(sandbox, tmp_path, budget=1.0) as studio:
        assert studio.estimate(kn.TextToVideo("x", mode="pro", duration=10)) == pytest.approx(1.12)
        with pytest.raises(kn.ValidationError, match="budget"):
            studio.sweep(["a", "b"], modes=["std", "pro"])
        assert studio.jobs == {}
        studio.submit(kn.TextToVideo("fits", duration=10)).result(timeout=30)  # 0.7
        with pytest.raises(kn.ValidationError, match="already committed"):
            studio.submit(kn.TextToVideo("does not fit", duration=10))
    assert creates(sandbox) == 1


@pytest.mark.slow
def test_ledger_views(sandbox: Sandbox, tmp_path: Path) -> None:
    with make_studio(sandbox, tmp_path) as studio:
        jobs = studio.sweep(["fox in snow", "fox in snow, golden hour"], modes=["std", "pro"])
        jobs.wait(timeout=60)
        frame = studio.log.df
        design_columns = (
            "job_id task_id route model mode duration aspect_ratio prompt status submitted_at "
            "started_at finished_at queued_s running_s total_s polls cost_estimate "
            "cost_reported video_url video_path error tags request"
        )
        for column in design_columns.split():
            assert column in frame.columns
        assert len(frame) == 4
        assert (frame["total_s"] > 0).all()
        assert (frame["polls"] >= 1).all()
        assert json.loads(frame["request"].iloc[0])["Duration"] == "5"
        pivot = studio.log.compare()
        assert pivot.shape[0] == 2
        assert ("cost_estimate", "kling-v3", "pro", 5) in pivot.columns
        kinds = list(studio.log.events(jobs[0].job_id)["kind"])
        assert kinds[0] == "submitted"
        assert kinds[-2:] == ["status_succeeded", "downloaded"]
        assert "created" in kinds
        csv = studio.log.to_csv(tmp_path / "runs.csv")
        parquet = studio.log.to_parquet(tmp_path / "runs.parquet")
        assert csv.stat().st_size > 0
        assert parquet.stat().st_size > 0
        # the learned timing now drives the ETA and the poll schedule
        assert studio.log.timing("kling-v3", "std", 5) is not None


def test_media_url_gone_rereads_status(sandbox: Sandbox, tmp_path: Path) -> None:
    with make_studio(sandbox, tmp_path) as studio:
        job = studio.submit(kn.TextToVideo("once"))
        job.result(timeout=30)
        assert job.task is not None
        stale = kn.Task(
            id=job.task.id,
            route="text2video",
            status=kn.Status.SUCCEEDED,
            video_url=sandbox.base_url + "/media/does-not-exist.mp4",
        )

        async def fetch() -> Path:
            async with kn.AsyncClient(KEY, base_url=sandbox.base_url) as client:
                return await client.download(stale, tmp_path / "again.mp4")

        assert mp4_ok(asyncio.run(fetch()))
