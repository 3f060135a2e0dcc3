"""The faults people meet, each reproduced against the real sandbox: nothing billed is lost or
created twice, every job ends within its deadline, and resume() finishes what can be finished."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _faulty import (
    CREATE,
    FAMILY_ROUTES,
    MEDIA,
    Faulty,
    Routes,
    after_server,
    answer,
    delayed,
    drip,
    refuse,
)

import kling_nb as kn
from kling_nb import _pipeline
from kling_nb.sandbox import Sandbox

KEY = "sk-sandbox-team"
OTHER_TEAM = "sk-sandbox-team2"
FIXTURE = Path(__file__).parent.parent / "fixtures" / "ledger_v1"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01, pending_cap=4, seed=3) as sb:
        yield sb


@pytest.fixture
def faulty() -> Faulty:
    return Faulty()


@pytest.fixture(params=sorted(FAMILY_ROUTES))
def family(request: pytest.FixtureRequest) -> Routes:
    """The family a fault test runs for: each runs once per family (Kling, Seedance, Grok)."""
    routes: Routes = FAMILY_ROUTES[request.param]
    return routes


def studio_on(sb: Sandbox, root: Path, transport: Faulty | None = None, **kw: Any) -> kn.Studio:
    key = kw.pop("api_key", KEY)
    return kn.Studio(api_key=key, base_url=sb.base_url, root=root, transport=transport, **kw)


def creates(sb: Sandbox) -> int:
    return int(sum(sb.stats()["creates_by_key"].values()))


def rows(root: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(root / "kling_runs.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM jobs ORDER BY submitted_at")]
    finally:
        db.close()


def until(predicate: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


# -- one garbled reply, uncertain creates ----------------------------------------------


@pytest.mark.parametrize(
    "garbage", [b"<html><body>502 Bad Gateway</body></html>", b"[]", b'{"id": "someone-else"}']
)
def test_one_garbled_status_reply_is_not_final(
    sandbox: Sandbox, faulty: Faulty, tmp_path: Path, garbage: bytes, family: Routes
) -> None:
    faulty.add("GET", family.status, answer(200, garbage, "text/html"))
    with studio_on(sandbox, tmp_path, faulty) as studio:
        job = studio.submit(family.request("a lighthouse"))
        path = job.result(timeout=30)
        assert path.exists()
        assert job.state is kn.JobState.SUCCEEDED
    assert creates(sandbox) == 1


@pytest.mark.parametrize("reply", [b"<html>oops</html>", b'{"status": "queued"}', b'{"id": ""}'])
def test_create_answered_without_a_readable_task_is_unknown_and_never_resent(
    sandbox: Sandbox, faulty: Faulty, tmp_path: Path, reply: bytes, family: Routes
) -> None:
    faulty.add("POST", family.create, after_server(200, reply))
    with studio_on(sandbox, tmp_path, faulty) as studio:
        job = studio.submit(family.request("a lighthouse"))
        with pytest.raises(kn.CreateOutcomeUnknownError):
            job.result(timeout=30)
        assert job.state is kn.JobState.UNKNOWN
        assert studio.resume() == []  # final: a resume never sends it again
        time.sleep(0.3)
    assert faulty.count("POST", family.create) == 1
    assert creates(sandbox) == 1  # the server did create it: that is why it must not be re-sent
    assert rows(tmp_path)[0]["status"] == "unknown"


def test_a_refused_connection_sends_three_creates_then_ends_unbilled(
    sandbox: Sandbox, faulty: Faulty, tmp_path: Path, family: Routes
) -> None:
    faulty.add("POST", family.create, refuse(), times=100)
    with studio_on(sandbox, tmp_path, faulty) as studio:
        started = time.monotonic()
        job = studio.submit(family.request("a lighthouse"))
        with pytest.raises(kn.APIConnectionError):
            job.result(timeout=30)
        took = time.monotonic() - started
    assert faulty.count("POST", family.create) == 3  # was 12 (two retry layers)
    assert took < 8
    assert job.state is kn.JobState.ERROR
    assert not job.state.billed
    assert creates(sandbox) == 0


def test_cancel_while_the_create_is_on_the_wire_keeps_the_task_id(
    sandbox: Sandbox, faulty: Faulty, tmp_path: Path, family: Routes
) -> None:
    faulty.add("POST", family.create, delayed(1.0))
    with studio_on(sandbox, tmp_path, faulty) as studio:
        job = studio.submit(family.request("a lighthouse"))
        until(lambda: job.state is kn.JobState.CREATING)
        assert job.cancel()
        with pytest.raises(kn.JobStoppedError):
            job.result(timeout=10)
        assert job.state is kn.JobState.STOPPED
        assert job.task_id is not None
    (row,) = rows(tmp_path)
    assert row["status"] == "stopped"
    assert row["task_id"] == job.task_id
    assert row["family"] == family.family
    assert creates(sandbox) == 1


# -- bad settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_in_flight", math.nan),
        ("max_in_flight", 0),
        ("max_in_flight", True),
        ("max_in_flight", 2.5),
        ("timeout", -1),
        ("timeout", 0),
        ("timeout", math.inf),
        ("timeout", math.nan),
        ("budget", -1),
        ("budget", math.nan),
    ],
)
def test_bad_settings_are_refused_before_anything_is_sent(
    sandbox: Sandbox, tmp_path: Path, name: str, value: object
) -> None:
    with pytest.raises(kn.ValidationError, match=name):
        studio_on(sandbox, tmp_path, **{name: value})
    assert creates(sandbox) == 0
    assert not (tmp_path / "kling_runs.sqlite").exists()


def test_bad_root_and_tags(sandbox: Sandbox, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(kn.ValidationError, match="root"):
        studio_on(sandbox, a_file)
    with studio_on(sandbox, tmp_path) as studio:
        with pytest.raises(kn.ValidationError, match="tags"):
            studio.submit(kn.TextToVideo("a"), tags=[3])  # type: ignore[list-item]
        job = studio.submit(kn.TextToVideo("a"), tags="one tag")
        assert job.tags == ("one tag",)
        job.result(timeout=30)


# -- deadlines and downloads -------------------------------------------------------------


def test_a_dripping_media_host_cannot_hold_a_job_past_its_deadline(
    sandbox: Sandbox, faulty: Faulty, tmp_path: Path, family: Routes
) -> None:
    faulty.add("GET", MEDIA, drip(200, 0.1), times=100)
    with studio_on(sandbox, tmp_path, faulty, timeout=3.0) as studio:
        job = studio.submit(family.request("a lighthouse"))
        job.wait_created(timeout=10)
        with pytest.raises(kn.KlingError):
            job.result(timeout=30)
        assert job.state is kn.JobState.FETCH_FAILED
        assert job.created_at is not None
        assert job.finished_at is not None
        assert time.time() - job.created_at < 3.0 + 2.0  # the deadline, plus a small margin
        faulty.rules.clear()  # the media host recovers: the billed video is still fetched
        assert studio.resume() == [job]  # its own parked job is driven again
        assert job.result(timeout=30).exists()
    assert creates(sandbox) == 1


def test_unwritable_outputs_before_a_create_sends_nothing(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pipeline, "OUTPUTS_PATIENCE", 1.0)
    monkeypatch.setattr(_pipeline, "OUTPUTS_RECHECK", 0.2)
    (tmp_path / "kling_outputs").write_text("not a folder")
    with studio_on(sandbox, tmp_path) as studio:
        job = studio.submit(kn.TextToVideo("a lighthouse"))
        with pytest.raises(kn.DownloadError, match="nothing was sent"):
            job.result(timeout=10)
        assert job.state is kn.JobState.ERROR
    assert creates(sandbox) == 0


def test_jobs_wait_unsent_while_the_outputs_folder_is_gone(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pipeline, "OUTPUTS_RECHECK", 0.2)
    (tmp_path / "kling_outputs").write_text("the disk is away for a moment")
    with studio_on(sandbox, tmp_path) as studio:
        jobs = [studio.submit(kn.TextToVideo(f"boat {i}")) for i in range(3)]
        time.sleep(1.0)
        assert {job.state for job in jobs} == {kn.JobState.WAITING}
        assert creates(sandbox) == 0  # nothing billed while its video could not be saved
        (tmp_path / "kling_outputs").unlink()
        for job in jobs:
            assert job.result(timeout=30).exists()
    assert creates(sandbox) == 3


def test_a_failed_download_is_resumable_not_final(sandbox: Sandbox, tmp_path: Path) -> None:
    slow = Sandbox(time_scale=0.02, seed=4)
    with slow, studio_on(slow, tmp_path) as studio:
        job = studio.submit(kn.TextToVideo("a lighthouse"))
        job.wait_created(timeout=10)
        shutil.rmtree(tmp_path / "kling_outputs")
        (tmp_path / "kling_outputs").write_text("the disk went away")
        started = time.monotonic()
        with pytest.raises(kn.DownloadError):
            job.result(timeout=60)
        assert time.monotonic() - started < 20  # job.result() does not hang on a broken disk
        assert job.state is kn.JobState.FETCH_FAILED
        assert rows(tmp_path)[0]["status"] == "fetch_failed"
        (tmp_path / "kling_outputs").unlink()
        studio.resume()
        assert job.result(timeout=30).exists()
        assert creates(slow) == 1


# -- secrets ---------------------------------------------------------------------------------


def test_a_key_echoed_in_a_reply_reaches_no_artefact(
    sandbox: Sandbox, faulty: Faulty, tmp_path: Path
) -> None:
    async def echo(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await inner.handle_async_request(request)
        body = json.loads(await response.aread())
        body["debug"] = {"authorization": request.headers["authorization"]}
        return httpx.Response(200, json=body)

    faulty.add("GET", "/v1/videos/text2video/", echo, times=1000)
    faulty.add("POST", CREATE, echo, times=1000)
    with studio_on(sandbox, tmp_path, faulty) as studio:
        job = studio.submit(kn.TextToVideo("a lighthouse"))
        job.result(timeout=30)
        shown = repr(job) + repr(studio) + json.dumps(job.snapshot(), default=str)
        shown += json.dumps(dict(job.task.raw) if job.task else {}, default=str)
    assert KEY not in shown
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


# -- two processes, other settings, old ledgers ----------------------------------------------

_CRASH = """
import os, sys, time
import kling_nb as kn
from kling_nb import _keeper
_keeper.LEASE_SECONDS = 1.0
base, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
studio = kn.Studio(api_key="sk-sandbox-team", base_url=base, root=root)
jobs = [studio.submit(kn.TextToVideo(f"prompt {i}")) for i in range(n)]
for job in jobs:
    job.wait_created(timeout=30)
os._exit(0)  # a crash: no close(), leases left to expire
"""


def run_script(source: str, *args: object, wait: bool = True) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(source), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if wait:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    return proc


@pytest.mark.slow
def test_resume_with_other_settings_leaves_jobs_alone_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Sandbox(time_scale=0.05, pending_cap=8, seed=5) as sb:
        run_script(_CRASH, sb.base_url, tmp_path, 3)
        time.sleep(1.2)  # the crashed process's leases expire
        with studio_on(sb, tmp_path, api_key=OTHER_TEAM) as wrong_key:
            assert wrong_key.resume() == []
        assert "other settings" in capsys.readouterr().out
        with Sandbox(time_scale=0.05) as elsewhere, studio_on(elsewhere, tmp_path) as wrong_url:
            assert wrong_url.resume() == []
        assert {row["status"] for row in rows(tmp_path)} <= {"queued", "running"}
        with studio_on(sb, tmp_path) as right:
            jobs = right.resume()
            assert len(jobs) == 3
            for job in jobs:
                assert job.result(timeout=60).exists()
        assert creates(sb) == 3


_SWEEP = """
import sys
import kling_nb as kn
base, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with kn.Studio(api_key="sk-sandbox-team", base_url=base, root=root, max_in_flight=4) as studio:
    jobs = studio.sweep([f"prompt {i}" for i in range(n)])
    for job in jobs:
        job.result(timeout=120)
print("done")
"""


@pytest.mark.slow
def test_two_processes_on_one_folder_never_create_a_task_twice(tmp_path: Path) -> None:
    with Sandbox(time_scale=0.02, pending_cap=4, seed=6) as sb:
        proc = run_script(_SWEEP, sb.base_url, tmp_path, 16, wait=False)
        until(lambda: (tmp_path / "kling_runs.sqlite").exists(), 30)
        resumed: list[kn.Job] = []
        with studio_on(sb, tmp_path) as other:
            while proc.poll() is None:
                resumed += other.resume()
                time.sleep(0.1)
            _out, err = proc.communicate()
            assert proc.returncode == 0, err
            resumed += other.resume()
        assert resumed == []  # every job was held by the live sweep
        assert creates(sb) == 16
        found = rows(tmp_path)
        assert len(found) == 16
        assert {row["status"] for row in found} == {"succeeded"}
        assert len({row["task_id"] for row in found}) == 16


@pytest.mark.slow
def test_a_ledger_written_by_the_previous_release_migrates_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "old"
    shutil.copytree(FIXTURE, root)
    studio = kn.Studio(root=root)  # no key: the embedded sandbox, with the fixture's state
    try:
        jobs = {job.job_id: job for job in studio.resume()}
        assert len(jobs) == 4  # two queued, one waiting, one whose create was on the wire
        states = {}
        for job in jobs.values():
            with contextlib.suppress(kn.KlingError):
                job.result(timeout=60)
            states[job.job_id] = job.state
        assert sorted(s.value for s in states.values()) == [
            "succeeded",
            "succeeded",
            "succeeded",
            "unknown",
        ]
        assert studio.sandbox is not None
        assert sum(studio.sandbox.stats()["creates_by_key"].values()) == 1  # only the waiting one
    finally:
        studio.close()
        if studio.sandbox is not None:
            studio.sandbox.stop()
    db = sqlite3.connect(root / "kling_runs.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 2
    db.close()
