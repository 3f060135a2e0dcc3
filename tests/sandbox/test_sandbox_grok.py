"""Grok against the live sandbox: routes, lowercase fields, the 720p fallback, owners, errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kling_nb._errors import (
    AccessDeniedError,
    APIError,
    AuthenticationError,
    BadRequestError,
    InsufficientBalanceError,
    NotFoundError,
    PermissionDeniedError,
    TooManyPendingTasksError,
    UnsupportedModelError,
    UpstreamError,
)
from kling_nb.sandbox import Faults, Sandbox

from ._family_helpers import GROK, SEEDANCE, grok_body, post_ok, wait_done
from ._sandbox_helpers import (
    BROKE,
    SOLO,
    TEAM,
    TEAM2,
    assert_problem,
    auth,
    probe_mp4,
)
from .conftest import SandboxFactory

PREVIEW = "grok-imagine-video-1.5-preview"


async def test_text_task_end_to_end(http: httpx.AsyncClient) -> None:
    response = await http.post(GROK, json=grok_body(), headers=auth(TEAM))
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"id", "model", "status", "requestId"}
    assert (created["model"], created["status"]) == ("grok-imagine-video", "queued")
    assert created["requestId"] == response.headers["x-request-id"]
    done = await wait_done(http, GROK, created["id"])
    assert done["status"] == "succeeded"
    assert (done["id"], done["resolution"], done["duration"]) == (created["id"], "480p", 2)
    video = await http.get(done["content"]["video_url"])
    assert video.headers["content-type"] == "video/mp4"
    info = probe_mp4(video.content)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height) == (854, 480)
    assert info.duration == pytest.approx(2, abs=0.15)


@pytest.mark.parametrize("resolution", [None, "1080p", "720P", 480, ""])
async def test_resolution_falls_back_to_720p(
    frozen_http: httpx.AsyncClient, resolution: object
) -> None:
    body = grok_body(resolution=resolution)
    if resolution is None:
        del body["resolution"]
    created = await post_ok(frozen_http, GROK, body)
    status = (await frozen_http.get(f"{GROK}/{created['id']}", headers=auth(TEAM))).json()
    assert status["status"] == "queued"
    assert status["resolution"] == "720p"
    assert "content" not in status


async def test_720p_video_and_default_duration(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    created = await post_ok(http, GROK, grok_body(duration=1, resolution="720p"))
    done = await wait_done(http, GROK, created["id"])
    info = probe_mp4((await http.get(done["content"]["video_url"])).content)
    assert (info.width, info.height) == (1280, 720)
    assert info.duration == pytest.approx(1, abs=0.15)
    body = grok_body()
    del body["duration"]
    default = await post_ok(http, GROK, body)
    status = (await http.get(f"{GROK}/{default['id']}", headers=auth(TEAM))).json()
    assert status["duration"] == 6  # the documented example


async def test_image_guided_model(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    body = grok_body(model=PREVIEW, image_url=f"{sandbox.base_url}/samples/portrait.jpg")
    done = await wait_done(http, GROK, (await post_ok(http, GROK, body))["id"])
    assert (done["status"], done["model"]) == ("succeeded", PREVIEW)
    info = probe_mp4((await http.get(done["content"]["video_url"])).content)
    assert (info.width, info.height) == (480, 854)  # the image's 9:16 at 480p
    unreachable = grok_body(model=PREVIEW, image_url="https://example.com/a.png", prompt="")
    failed = await wait_done(http, GROK, (await post_ok(http, GROK, unreachable))["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "image_fetch_failed"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"prompt": None}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": 7}, "prompt"),
        ({"duration": 0}, "duration"),
        ({"duration": 16}, "duration"),
        ({"duration": True}, "duration"),
        ({"model": None}, "model"),
        ({"image_url": "https://example.com/a.png"}, "image_url"),
        ({"model": PREVIEW}, "image_url"),
        ({"model": PREVIEW, "image_url": "ftp://x/a.png"}, "image_url"),
    ],
)
async def test_invalid_requests(
    http: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    body = grok_body()
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = await http.post(GROK, json=body, headers=auth(TEAM))
    assert_problem(response, 400, "invalid_request", BadRequestError)
    assert response.json()["detail"]["field"] == field


async def test_errors_by_key_and_model(http: httpx.AsyncClient) -> None:
    wrong = await http.post(GROK, json=grok_body(model="seedance-2.0"), headers=auth(TEAM))
    assert_problem(wrong, 400, "unsupported_model", UnsupportedModelError)
    broke = await http.post(GROK, json=grok_body(), headers=auth(BROKE))
    error = assert_problem(broke, 402, "grok_balance_too_low", InsufficientBalanceError)
    assert error.body["detail"]["required_available_nano"] == 50_000_000 * 2
    solo = await http.post(GROK, json=grok_body(), headers=auth(SOLO))
    assert_problem(solo, 403, "grok_team_required", PermissionDeniedError)
    anon = await http.post(GROK, json=grok_body(), headers=auth("sk-nope"))
    assert_problem(anon, 401, "invalid_api_key", AuthenticationError)
    assert "sk-nope" not in anon.text
    listed = await http.get(GROK, headers=auth(TEAM))
    assert_problem(listed, 405, "list_not_supported", APIError)


async def test_reads_are_owner_and_route_scoped(http: httpx.AsyncClient) -> None:
    created = await post_ok(http, GROK, grok_body())
    other = await http.get(f"{GROK}/{created['id']}", headers=auth(TEAM2))
    assert_problem(other, 403, "media_resource_access_denied", AccessDeniedError)
    for path in (SEEDANCE, "/v1/videos/text2video"):
        wrong = await http.get(f"{path}/{created['id']}", headers=auth(TEAM))
        assert_problem(wrong, 404, "not_found", NotFoundError)


async def test_pending_cap_and_billing(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(time_scale=1.0, pending_caps={"grok": 1})
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as client:
        await post_ok(client, GROK, grok_body(resolution="720p", duration=3))
        over = await client.post(GROK, json=grok_body(), headers=auth(TEAM))
        assert_problem(over, 429, "grok_too_many_pending_tasks", TooManyPendingTasksError)
    balances = sandbox.stats()["balances"]["team-sandbox"]
    assert balances["held_nano"] == 80_000_000 * 3


async def test_faults_apply(make_sandbox: SandboxFactory) -> None:
    upstream = make_sandbox(faults=Faults(upstream_424=1.0))
    expiring = make_sandbox(faults=Faults(task_expire=1.0))
    flaky = make_sandbox(faults=Faults(status_5xx=1.0))
    async with httpx.AsyncClient(base_url=upstream.base_url, timeout=10) as client:
        response = await client.post(GROK, json=grok_body(), headers=auth(TEAM))
        assert_problem(response, 424, "grok_upstream_error", UpstreamError)
    async with httpx.AsyncClient(base_url=expiring.base_url, timeout=10) as client:
        done = await wait_done(client, GROK, (await post_ok(client, GROK, grok_body()))["id"])
        assert (done["status"], done["error"]["code"]) == ("expired", "grok_task_expired")
    async with httpx.AsyncClient(base_url=flaky.base_url, timeout=10) as client:
        created = await post_ok(client, GROK, grok_body())
        response = await client.get(f"{GROK}/{created['id']}", headers=auth(TEAM))
        assert response.status_code in (500, 502, 503)


async def test_family_tasks_survive_a_restart(tmp_path: Any) -> None:
    path = tmp_path / "state.sqlite"
    with Sandbox(time_scale=1.0, state_path=path) as first:
        port = first.port
        async with httpx.AsyncClient(base_url=first.base_url, timeout=10) as client:
            created = await post_ok(client, GROK, grok_body(resolution="720p"))
    with Sandbox(time_scale=1.0, state_path=path, port=port) as second:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=10) as client:
            status = await client.get(f"{GROK}/{created['id']}", headers=auth(TEAM))
            assert status.json()["resolution"] == "720p"
            assert status.json()["status"] in ("queued", "running")
            index = (await client.get("/")).json()
            assert index["grok"][0].endswith("/v1/videos/generations")
        assert second.stats()["pending_by_family"]["team-sandbox/grok"] == 1
