"""Status routes: the lifecycle, route matching, owner scoping, failures and status-read faults."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from kling_nb._errors import (
    AccessDeniedError,
    APIError,
    NotFoundError,
    ServerError,
)
from kling_nb._models import Task
from kling_nb.sandbox import Faults, Sandbox

from ._sandbox_helpers import (
    BROKE,
    SOLO,
    TEAM,
    TEAM2,
    assert_problem,
    auth,
    create,
    i2v,
    omni,
    t2v,
    wait_terminal,
)


async def test_lifecycle_queued_running_succeeded(make_sandbox: Any) -> None:
    sandbox = make_sandbox(time_scale=0.01)
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        task = await create(http, "text2video", t2v())
        while not seen or seen[-1] not in ("succeeded", "failed"):
            response = await http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM))
            assert response.status_code == 200
            assert response.headers["x-request-id"].startswith("req_")
            body = response.json()
            if not seen or seen[-1] != body["status"]:
                seen.append(body["status"])
            await asyncio.sleep(0.01)
    assert seen == ["queued", "running", "succeeded"]
    assert set(body) == {"id", "model", "status", "kling_action_family", "content"}
    assert body["id"] == task["id"]
    assert body["model"] == "kling-v3"
    assert body["kling_action_family"] == "text"
    assert body["content"]["video_url"].startswith(sandbox.base_url + "/media/")
    parsed = Task.from_response(body, "text2video")
    assert parsed.succeeded
    assert parsed.done


async def test_queued_and_running_bodies_have_no_content(frozen_http: httpx.AsyncClient) -> None:
    task = await create(frozen_http, "text2video", t2v())
    response = await frozen_http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM))
    body = response.json()
    assert body == {
        "id": task["id"],
        "model": "kling-v3",
        "status": "queued",
        "kling_action_family": "text",
    }


@pytest.mark.parametrize(
    ("route", "make_body"),
    [
        ("text2video", lambda sb: t2v()),
        ("image2video", lambda sb: i2v(sb.sample_url())),
        ("omni-video", lambda sb: omni()),
        ("omni-video", lambda sb: omni(ImageList=[{"ImageUrl": sb.sample_url("portrait.jpg")}])),
    ],
)
async def test_every_route_reaches_succeeded(
    http: httpx.AsyncClient, sandbox: Sandbox, route: str, make_body: Any
) -> None:
    task = await create(http, route, make_body(sandbox))
    final = await wait_terminal(http, route, task["id"])
    assert final["status"] == "succeeded", final
    assert "error" not in final
    video = await http.get(final["content"]["video_url"])  # no auth on the media URL
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


async def test_timing_scales_and_orders_by_model_mode_duration(make_sandbox: Any) -> None:
    sandbox = make_sandbox(time_scale=1.0, pending_cap=100, seed=5, team_credit_nano=10**12)
    totals: dict[tuple[str, str, int], list[float]] = {}
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        for route, model in (("text2video", "kling-v3"), ("omni-video", "kling-v3-omni")):
            for mode in ("std", "pro"):
                for duration in (5, 10):
                    body = {"Model": model, "Prompt": "p", "Mode": mode, "Duration": duration}
                    for _ in range(6):
                        await create(http, route, body)
    for task in sandbox.state.tasks():
        key = (task.model, task.mode, task.duration)
        totals.setdefault(key, []).append(task.finished_at - task.created_at)
    every = [t for values in totals.values() for t in values]
    assert min(every) >= 60  # realistic: 1 to 6 minutes
    assert max(every) <= 360

    def median(key: tuple[str, str, int]) -> float:
        values = sorted(totals[key])
        return values[len(values) // 2]

    assert median(("kling-v3", "pro", 5)) > median(("kling-v3", "std", 5))
    assert median(("kling-v3", "std", 10)) > median(("kling-v3", "std", 5))
    assert median(("kling-v3-omni", "std", 5)) > median(("kling-v3", "std", 5))


async def test_default_time_scale_makes_a_5s_std_video_take_seconds() -> None:
    from kling_nb.sandbox import DEFAULT_TIME_SCALE, SandboxConfig, SandboxState
    from kling_nb.sandbox._validate import parse_create

    state = SandboxState(SandboxConfig(time_scale=DEFAULT_TIME_SCALE, pending_cap=100))
    spec = parse_create("text2video", t2v())
    totals = []
    for _ in range(20):
        task = state.create_task(TEAM, spec, None, request_id="req_x")
        totals.append(task.finished_at - task.created_at)
    assert 1.5 < sorted(totals)[10] < 6.0


async def test_wrong_status_route_is_404(frozen_http: httpx.AsyncClient) -> None:
    task = await create(frozen_http, "text2video", t2v())
    for route in ("image2video", "omni-video"):
        response = await frozen_http.get(f"/v1/videos/{route}/{task['id']}", headers=auth(TEAM))
        error = assert_problem(response, 404, "not_found", NotFoundError)
        assert "route" in error.message
    response = await frozen_http.get("/v1/videos/text2video/task_nope", headers=auth(TEAM))
    assert_problem(response, 404, "not_found", NotFoundError)


@pytest.mark.parametrize("route", ["text2video", "image2video", "omni-video"])
async def test_list_route_is_not_supported(http: httpx.AsyncClient, route: str) -> None:
    response = await http.get(f"/v1/videos/{route}", headers=auth(TEAM))
    error = assert_problem(response, 405, "list_not_supported", APIError)
    assert "task id" in error.message
    assert response.headers["allow"] == "POST"


async def test_row_403_another_owners_task(frozen_http: httpx.AsyncClient) -> None:
    task = await create(frozen_http, "text2video", t2v())
    path = f"/v1/videos/text2video/{task['id']}"
    for key in (TEAM2, SOLO, BROKE):
        response = await frozen_http.get(path, headers=auth(key))
        assert_problem(response, 403, "media_resource_access_denied", AccessDeniedError)
    assert (await frozen_http.get(path, headers=auth(TEAM))).status_code == 200
    # And the other way round.
    theirs = await create(frozen_http, "text2video", t2v(), key=TEAM2)
    response = await frozen_http.get(f"/v1/videos/text2video/{theirs['id']}", headers=auth(TEAM))
    assert response.status_code == 403


async def test_unreachable_image_url_fails_the_task_when_polled(
    http: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    urls = [
        "https://your-host.example.com/first-frame.png",
        sandbox.base_url + "/samples/no-such.png",
        sandbox.base_url + "/uploads/img_unknown.png?X-Amz-Signature=00",
        "http://127.0.0.1:1/samples/first-frame.png",  # right path, another server
    ]
    for url in urls:
        task = await create(http, "image2video", i2v(url))  # create still succeeds
        final = await wait_terminal(http, "image2video", task["id"])
        assert final["status"] == "failed"
        assert final["error"]["code"] == "image_fetch_failed"
        assert final["error"]["message"] == f"failed to fetch ImageUrl {url}: not reachable"
        assert "content" not in final
        assert Task.from_response(final, "image2video").error == final["error"]["message"]


async def test_localhost_spelling_of_own_url_is_reachable(
    http: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    url = f"http://localhost:{sandbox.port}/samples/first-frame.png"
    task = await create(http, "image2video", i2v(url))
    assert (await wait_terminal(http, "image2video", task["id"]))["status"] == "succeeded"


@pytest.mark.parametrize(
    ("faults", "status", "code"),
    [
        (Faults(task_fail=1.0), "failed", "kling_task_failed"),
        (Faults(task_expire=1.0), "expired", "kling_task_expired"),
    ],
)
async def test_injected_task_failures(
    make_sandbox: Any, faults: Faults, status: str, code: str
) -> None:
    sandbox = make_sandbox(faults=faults)
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        task = await create(http, "text2video", t2v())
        final = await wait_terminal(http, "text2video", task["id"])
    assert final["status"] == status
    assert final["error"]["code"] == code
    assert final["error"]["message"]
    assert "content" not in final
    assert sandbox.stats()["faults"][f"task_{status[:-2] if status == 'failed' else 'expire'}"]


async def test_task_fail_rate_mixes_outcomes(make_sandbox: Any) -> None:
    sandbox = make_sandbox(time_scale=0, pending_cap=100, faults=Faults(task_fail=0.5, seed=2))
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        for _ in range(12):
            await create(http, "text2video", t2v())
    assert set(sandbox.stats()["tasks_by_status"]) == {"succeeded", "failed"}


async def test_status_5xx_fault(make_sandbox: Any) -> None:
    sandbox = make_sandbox(time_scale=1.0, faults=Faults(status_5xx=1.0))
    codes: set[int] = set()
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        task = await create(http, "text2video", t2v())
        for _ in range(15):
            response = await http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM))
            code = response.json()["detail"]["code"]
            assert_problem(response, response.status_code, code, ServerError)
            codes.add(response.status_code)
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
    assert codes == {500, 502, 503}
    assert sandbox.stats()["faults"]["status_5xx"] == 15


async def test_status_slow_fault(make_sandbox: Any) -> None:
    sandbox = make_sandbox(time_scale=1.0, faults=Faults(status_slow=1.0, slow_seconds=0.3))
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        task = await create(http, "text2video", t2v())
        started = time.monotonic()
        response = await http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM))
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["status"] == "queued"
    assert 0.3 <= elapsed < 2.0
    # A short client timeout sees the slow read as a timeout.
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=0.1) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM))


async def test_status_reset_fault_aborts_the_connection(make_sandbox: Any) -> None:
    sandbox = make_sandbox(time_scale=1.0, faults=Faults(status_reset=1.0))
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        task = await create(http, "text2video", t2v())  # creates are never reset
        for _ in range(3):
            with pytest.raises(httpx.TransportError):
                await http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM))
        # The server is fine afterwards.
        assert (await http.get("/")).status_code == 200
    assert sandbox.stats()["faults"]["status_reset"] == 3


async def test_faults_can_change_while_running(
    frozen: Sandbox, frozen_http: httpx.AsyncClient
) -> None:
    task = await create(frozen_http, "text2video", t2v())
    path = f"/v1/videos/text2video/{task['id']}"
    frozen.set_faults(Faults(status_5xx=1.0))
    assert frozen.faults.status_5xx == 1.0
    assert (await frozen_http.get(path, headers=auth(TEAM))).status_code >= 500
    frozen.set_faults(Faults())
    assert (await frozen_http.get(path, headers=auth(TEAM))).status_code == 200


async def test_status_faults_stay_off_the_create_route(make_sandbox: Any) -> None:
    faults = Faults(status_5xx=1.0, status_reset=1.0, status_slow=1.0, slow_seconds=5)
    sandbox = make_sandbox(time_scale=1.0, faults=faults)
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=2) as http:
        for _ in range(3):
            await create(http, "text2video", t2v())


async def test_200_concurrent_status_reads(frozen: Sandbox) -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=frozen.base_url, limits=limits, timeout=30) as http:
        ids = [(await create(http, "text2video", t2v()))["id"] for _ in range(4)]
        started = time.monotonic()
        responses = await asyncio.gather(
            *(
                http.get(f"/v1/videos/text2video/{ids[i % 4]}", headers=auth(TEAM))
                for i in range(200)
            )
        )
        elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 200
    assert {r.json()["status"] for r in responses} == {"queued"}
    assert len({r.headers["x-request-id"] for r in responses}) == 200
    assert frozen.stats()["status_reads"] == 200
    assert elapsed < 10
