"""Seedance against the live sandbox: routes, lowercase content parts, assets, owners, errors."""

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

from ._family_helpers import GROK, SEEDANCE, new_asset, post_ok, seedance_body, wait_done
from ._sandbox_helpers import (
    BROKE,
    SOLO,
    TEAM,
    TEAM2,
    assert_problem,
    auth,
    image_bytes,
    probe_mp4,
    t2v,
)
from .conftest import SandboxFactory


def image_part(url: str, role: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    if role is not None:
        part["role"] = role
    return part


async def test_text_task_end_to_end(http: httpx.AsyncClient) -> None:
    response = await http.post(SEEDANCE, json=seedance_body(), headers=auth(TEAM))
    assert response.status_code == 200, response.text
    created = response.json()
    # contract-families.md: the create answers only the id and the request id.
    assert set(created) == {"id", "requestId"}
    assert created["requestId"] == response.headers["x-request-id"]
    done = await wait_done(http, SEEDANCE, created["id"])
    assert done["status"] == "succeeded"
    assert done["id"] == created["id"]
    assert done["model"] == "seedance-2.0"
    assert done["resolution"] == "480p"
    assert done["duration"] == 4
    assert done["usage"] == {"output_tokens": 854 * 480 * 24 * 4 // 1024}
    video = await http.get(done["content"]["video_url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    info = probe_mp4(video.content)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height) == (854, 480)
    assert info.duration == pytest.approx(4, abs=0.15)


async def test_status_before_success_has_no_content(frozen_http: httpx.AsyncClient) -> None:
    created = await post_ok(frozen_http, SEEDANCE, seedance_body(model="seedance-2.0-fast"))
    response = await frozen_http.get(f"{SEEDANCE}/{created['id']}", headers=auth(TEAM))
    body = response.json()
    assert body["status"] == "queued"
    assert body["model"] == "seedance-2.0-fast"
    assert "content" not in body
    assert "usage" not in body


async def test_asset_reference_sets_the_frame(http: httpx.AsyncClient) -> None:
    portrait = image_bytes("PNG", size=(90, 160), colour="orange")
    asset = await new_asset(http, portrait, "p.png")
    assert asset["object"] == "asset"
    assert asset["id"].startswith("asset_")
    assert (asset["content_type"], asset["width"], asset["height"]) == ("image/png", 90, 160)
    assert asset["size_bytes"] == len(portrait)
    served = await http.get(asset["url"])
    assert served.status_code == 200
    assert served.content == portrait
    body = seedance_body(resolution="720p")
    body["content"].append(image_part(asset["url"], "first_frame"))
    created = await post_ok(http, SEEDANCE, body)
    done = await wait_done(http, SEEDANCE, created["id"])
    assert done["status"] == "succeeded", done
    assert done["resolution"] == "720p"
    info = probe_mp4((await http.get(done["content"]["video_url"])).content)
    # ratio "adaptive" (the default) follows the first frame: 9:16 at 720p.
    assert (info.width, info.height) == (720, 1280)


async def test_group_lists_its_assets_and_is_owner_scoped(http: httpx.AsyncClient) -> None:
    asset = await new_asset(http, image_bytes("JPEG"), "a.jpg")
    group = await http.get(f"/v1/asset-groups/{asset['group_id']}", headers=auth(TEAM))
    assert group.status_code == 200
    assert group.json()["object"] == "asset_group"
    assert [a["id"] for a in group.json()["assets"]] == [asset["id"]]
    other = await http.get(f"/v1/asset-groups/{asset['group_id']}", headers=auth(TEAM2))
    assert_problem(other, 403, "media_resource_access_denied", AccessDeniedError)
    stranger = await http.post(
        f"/v1/asset-groups/{asset['group_id']}/assets",
        files={"file": ("b.png", image_bytes("PNG"), "image/png")},
        headers=auth(TEAM2),
    )
    assert_problem(stranger, 403, "media_resource_access_denied", AccessDeniedError)
    missing = await http.get("/v1/asset-groups/ag_nope", headers=auth(TEAM))
    assert_problem(missing, 404, "not_found", NotFoundError)
    body = seedance_body()
    body["content"].append(image_part(asset["url"]))
    used = await http.post(SEEDANCE, json=body, headers=auth(TEAM2))
    assert_problem(used, 403, "media_resource_access_denied", AccessDeniedError)


async def test_asset_upload_is_checked(http: httpx.AsyncClient) -> None:
    group = await post_ok(http, "/v1/asset-groups", {})
    assert group["id"].startswith("ag_")
    bad = await http.post(
        f"/v1/asset-groups/{group['id']}/assets",
        files={"file": ("x.png", b"not an image", "image/png")},
        headers=auth(TEAM),
    )
    assert_problem(bad, 400, "invalid_image", BadRequestError)
    tampered = (await new_asset(http, image_bytes("PNG"), "a.png"))["url"] + "0"
    assert (await http.get(tampered)).status_code == 403


async def test_public_image_urls_are_rejected(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    for url in ("https://example.com/cat.png", f"{sandbox.base_url}/samples/first-frame.png"):
        body = seedance_body()
        body["content"].append(image_part(url))
        response = await http.post(SEEDANCE, json=body, headers=auth(TEAM))
        error = assert_problem(response, 400, "invalid_request", BadRequestError)
        assert response.json()["detail"]["field"] == "content[1].image_url.url", error
        assert "public image URLs are not accepted" in error.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"content": None}, "content"),
        ({"content": []}, "content"),
        ({"content": [{"type": "audio_url"}]}, "content[0].type"),
        ({"content": [{"type": "text", "text": 5}]}, "content[0].text"),
        ({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "content"),
        ({"content": [{"type": "text", "text": "  "}]}, "content"),
        ({"content": [{"type": "image_url", "image_url": {}}]}, "content[0].image_url.url"),
        ({"content": [image_part("https://x/a.png", "side")]}, "content[0].role"),
        ({"content": [image_part("https://x/a.png", "last_frame")]}, "content"),
        ({"duration": 3}, "duration"),
        ({"duration": 16}, "duration"),
        ({"duration": "five"}, "duration"),
        ({"resolution": "1080p"}, "resolution"),
        ({"ratio": "2:1"}, "ratio"),
        ({"model": None}, "model"),
    ],
)
async def test_invalid_requests(
    http: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    body = seedance_body()
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = await http.post(SEEDANCE, json=body, headers=auth(TEAM))
    assert_problem(response, 400, "invalid_request", BadRequestError)
    assert response.json()["detail"]["field"] == field


async def test_defaults_and_string_duration(frozen_http: httpx.AsyncClient) -> None:
    body = seedance_body(duration="6")
    del body["resolution"]
    created = await post_ok(frozen_http, SEEDANCE, body)
    status = (await frozen_http.get(f"{SEEDANCE}/{created['id']}", headers=auth(TEAM))).json()
    assert (status["duration"], status["resolution"]) == (6, "720p")


async def test_errors_by_key_and_model(http: httpx.AsyncClient) -> None:
    wrong = await http.post(SEEDANCE, json=seedance_body(model="kling-v3"), headers=auth(TEAM))
    assert_problem(wrong, 400, "unsupported_model", UnsupportedModelError)
    broke = await http.post(SEEDANCE, json=seedance_body(), headers=auth(BROKE))
    detail = assert_problem(broke, 402, "seedance_balance_too_low", InsufficientBalanceError)
    assert detail.body["detail"]["available_nano"] == 0
    assert detail.body["detail"]["required_available_nano"] == 60_000_000 * 4
    solo = await http.post(SEEDANCE, json=seedance_body(), headers=auth(SOLO))
    assert_problem(solo, 403, "seedance_team_required", PermissionDeniedError)
    anon = await http.post(SEEDANCE, json=seedance_body())
    assert_problem(anon, 401, "invalid_api_key", AuthenticationError)
    listed = await http.get(SEEDANCE, headers=auth(TEAM))
    assert_problem(listed, 405, "list_not_supported", APIError)


async def test_reads_are_owner_and_route_scoped(http: httpx.AsyncClient) -> None:
    created = await post_ok(http, SEEDANCE, seedance_body())
    other = await http.get(f"{SEEDANCE}/{created['id']}", headers=auth(TEAM2))
    assert_problem(other, 403, "media_resource_access_denied", AccessDeniedError)
    for path in (GROK, "/v1/videos/text2video"):
        wrong = await http.get(f"{path}/{created['id']}", headers=auth(TEAM))
        assert_problem(wrong, 404, "not_found", NotFoundError)
    kling = await post_ok(http, "/v1/videos/text2video", t2v())
    stray = await http.get(f"{SEEDANCE}/{kling['id']}", headers=auth(TEAM))
    assert_problem(stray, 404, "not_found", NotFoundError)


async def test_pending_cap_is_per_family(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(time_scale=1.0, pending_caps={"seedance": 2})
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as client:
        for _ in range(2):
            await post_ok(client, SEEDANCE, seedance_body())
        over = await client.post(SEEDANCE, json=seedance_body(), headers=auth(TEAM))
        error = assert_problem(
            over, 429, "seedance_too_many_pending_tasks", TooManyPendingTasksError
        )
        assert (error.body["detail"]["pending"], error.body["detail"]["limit"]) == (2, 2)
        # Kling's cap (4) counts only Kling tasks; the other team has its own Seedance cap.
        await post_ok(client, "/v1/videos/text2video", t2v())
        await post_ok(client, SEEDANCE, seedance_body(), key=TEAM2)
    stats = sandbox.stats()
    assert stats["pending_caps"] == {"kling": 4, "seedance": 2, "grok": 4}
    assert stats["pending_by_family"]["team-sandbox/seedance"] == 2
    assert stats["balances"]["team-sandbox"]["held_nano"] == 2 * 60_000_000 * 4 + 70_000_000 * 5


async def test_billing_settles_per_second(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    before = sandbox.stats()["balances"]["team-sandbox"]["balance_nano"]
    created = await post_ok(http, SEEDANCE, seedance_body(model="seedance-2.0-fast"))
    await wait_done(http, SEEDANCE, created["id"])
    after = sandbox.stats()["balances"]["team-sandbox"]
    assert before - after["balance_nano"] == 36_000_000 * 4
    assert after["held_nano"] == 0


async def test_faults_apply(make_sandbox: SandboxFactory) -> None:
    upstream = make_sandbox(faults=Faults(upstream_424=1.0))
    failing = make_sandbox(faults=Faults(task_fail=1.0))
    async with httpx.AsyncClient(base_url=upstream.base_url, timeout=10) as client:
        response = await client.post(SEEDANCE, json=seedance_body(), headers=auth(TEAM))
        error = assert_problem(response, 424, "seedance_upstream_error", UpstreamError)
        assert error.body["detail"]["upstream_status"] in (500, 504)
    async with httpx.AsyncClient(base_url=failing.base_url, timeout=10) as client:
        created = await post_ok(client, SEEDANCE, seedance_body())
        done = await wait_done(client, SEEDANCE, created["id"])
        assert done["status"] == "failed"
        assert done["error"]["code"] == "seedance_task_failed"
        assert "content" not in done


async def test_reference_videos_skip_assets(http: httpx.AsyncClient) -> None:
    first = await wait_done(http, SEEDANCE, (await post_ok(http, SEEDANCE, seedance_body()))["id"])
    own = first["content"]["video_url"]
    for url, outcome in ((own, "succeeded"), ("https://example.com/clip.mp4", "failed")):
        body = seedance_body()
        body["content"].append(
            {"type": "video_url", "video_url": {"url": url}, "role": "reference_video"}
        )
        done = await wait_done(http, SEEDANCE, (await post_ok(http, SEEDANCE, body))["id"])
        assert done["status"] == outcome, done
    assert done["error"]["code"] == "video_fetch_failed"
