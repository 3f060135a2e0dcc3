"""Create routes: body rules, auth, and the troubleshooting rows answered at create time."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from kling_nb._errors import (
    AuthenticationError,
    BadRequestError,
    InsufficientBalanceError,
    TeamRequiredError,
    TooManyPendingTasksError,
    UnsupportedModelError,
    UpstreamError,
)
from kling_nb.sandbox import PRICE_NANO_PER_SECOND, Faults, Sandbox

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
)

ROUTE_MODELS = {
    "text2video": ["kling-v2-6", "kling-v3"],
    "image2video": ["kling-v2-6", "kling-v3"],
    "omni-video": ["kling-v3-omni"],
}
FAMILY = {"text2video": "text", "image2video": "image", "omni-video": "omni"}


def body_for(route: str, sandbox: Sandbox, **changes: Any) -> dict[str, Any]:
    if route == "text2video":
        return t2v(**changes)
    if route == "image2video":
        return i2v(sandbox.sample_url(), **changes)
    return omni(**changes)


@pytest.mark.parametrize(
    ("route", "model"), [(r, m) for r, models in ROUTE_MODELS.items() for m in models]
)
async def test_create_answers_the_documented_shape(
    http: httpx.AsyncClient, sandbox: Sandbox, route: str, model: str
) -> None:
    response = await http.post(
        f"/v1/videos/{route}", json=body_for(route, sandbox, Model=model), headers=auth(TEAM)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "model", "status", "kling_action_family", "requestId"}
    assert body["id"].startswith("task_")
    assert body["model"] == model
    assert body["status"] == "queued"
    assert body["kling_action_family"] == FAMILY[route]
    assert body["requestId"] == response.headers["x-request-id"]
    assert "content" not in body  # the video URL only ever comes from a status read


async def test_task_ids_are_unique(frozen_http: httpx.AsyncClient) -> None:
    ids = {(await create(frozen_http, "text2video", t2v()))["id"] for _ in range(4)}
    assert len(ids) == 4


@pytest.mark.parametrize(
    ("route", "model"),
    [
        ("text2video", "kling-v3-omni"),
        ("image2video", "kling-v3-omni"),
        ("omni-video", "kling-v3"),
        ("omni-video", "kling-v2-6"),
        ("text2video", "seedance-1"),
        ("text2video", 3),
    ],
)
async def test_row_400_unsupported_model(
    http: httpx.AsyncClient, sandbox: Sandbox, route: str, model: object
) -> None:
    response = await http.post(
        f"/v1/videos/{route}", json=body_for(route, sandbox, Model=model), headers=auth(TEAM)
    )
    error = assert_problem(response, 400, "unsupported_model", UnsupportedModelError)
    assert error.message.startswith("unsupported model")
    assert isinstance(error, BadRequestError)


@pytest.mark.parametrize(
    ("field", "value", "route"),
    [
        ("Model", None, "text2video"),
        ("Prompt", None, "text2video"),
        ("Prompt", "   ", "text2video"),
        ("Prompt", 42, "text2video"),
        ("Prompt", "x" * 2501, "text2video"),
        ("Prompt", None, "omni-video"),
        ("Duration", "7", "text2video"),
        ("Duration", 7, "text2video"),
        ("Duration", 5.5, "text2video"),
        ("Duration", True, "text2video"),
        ("Duration", "five", "omni-video"),
        ("Mode", "turbo", "text2video"),
        ("Mode", "STD", "image2video"),
        ("AspectRatio", "4:3", "text2video"),
        ("AspectRatio", "16x9", "omni-video"),
    ],
)
async def test_400_invalid_field_is_named(
    http: httpx.AsyncClient, sandbox: Sandbox, field: str, value: object, route: str
) -> None:
    body = body_for(route, sandbox)
    if value is None:
        body.pop(field)
    else:
        body[field] = value
    response = await http.post(f"/v1/videos/{route}", json=body, headers=auth(TEAM))
    error = assert_problem(response, 400, "invalid_request", BadRequestError)
    assert field in error.message
    assert error.details["field"] == field


async def test_text2video_rejects_an_image_list(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    body = t2v(ImageList=[{"ImageUrl": sandbox.sample_url(), "Type": "first_frame"}])
    response = await http.post("/v1/videos/text2video", json=body, headers=auth(TEAM))
    error = assert_problem(response, 400, "invalid_request", BadRequestError)
    assert "ImageList" in error.message
    assert "image2video" in error.message


@pytest.mark.parametrize(
    ("image_list", "field"),
    [
        (None, "ImageList"),
        ([], "ImageList"),
        ("https://example.com/a.png", "ImageList"),
        ([{"ImageUrl": "https://a.test/1.png"}, {"ImageUrl": "https://a.test/2.png"}], "ImageList"),
        (["https://example.com/a.png"], "ImageList[0]"),
        ([{"Type": "first_frame"}], "ImageList[0].ImageUrl"),
        ([{"ImageUrl": "ftp://example.com/a.png"}], "ImageList[0].ImageUrl"),
        ([{"ImageUrl": "/local/file.png"}], "ImageList[0].ImageUrl"),
        ([{"ImageUrl": "https://example.com/a.png", "Type": "last_frame"}], "ImageList[0].Type"),
    ],
)
async def test_image2video_image_list_rules(
    http: httpx.AsyncClient, image_list: object, field: str
) -> None:
    body = i2v("https://example.com/a.png")
    if image_list is None:
        body.pop("ImageList")
    else:
        body["ImageList"] = image_list
    response = await http.post("/v1/videos/image2video", json=body, headers=auth(TEAM))
    error = assert_problem(response, 400, "invalid_request", BadRequestError)
    assert field in error.message


async def test_omni_image_list_is_optional_but_checked(
    frozen_http: httpx.AsyncClient, frozen: Sandbox
) -> None:
    await create(frozen_http, "omni-video", omni())
    await create(frozen_http, "omni-video", omni(ImageList=[]))
    with_frame = omni(ImageList=[{"ImageUrl": frozen.sample_url(), "Type": "first_frame"}])
    await create(frozen_http, "omni-video", with_frame)
    bad = omni(ImageList=[{"ImageUrl": "file:///etc/passwd"}])
    response = await frozen_http.post("/v1/videos/omni-video", json=bad, headers=auth(TEAM))
    assert_problem(response, 400, "invalid_request", BadRequestError)


@pytest.mark.parametrize("duration", ["5", "10", 5, 10, " 5 "])
async def test_duration_string_or_number_is_accepted(
    frozen_http: httpx.AsyncClient, frozen: Sandbox, duration: object
) -> None:
    await create(frozen_http, "text2video", t2v(Duration=duration))
    state = frozen.state
    (task,) = state.tasks()
    assert task.duration == int(str(duration))
    assert task.cost_nano == PRICE_NANO_PER_SECOND["std"] * task.duration


async def test_defaults_mode_std_duration_5_ratio_16_9(
    frozen_http: httpx.AsyncClient, frozen: Sandbox
) -> None:
    await create(frozen_http, "text2video", {"Model": "kling-v3", "Prompt": "defaults"})
    (task,) = frozen.state.tasks()
    assert (task.mode, task.duration, task.aspect_ratio) == ("std", 5, "16:9")
    assert (task.width, task.height) == (320, 180)


async def test_unknown_pascal_case_fields_are_accepted_and_ignored(
    frozen_http: httpx.AsyncClient,
) -> None:
    # contract.md assumption 10: extra upstream fields pass through unchanged.
    body = t2v(NegativePrompt="blur", CfgScale=0.5, Sound="on", CameraControl={"Type": "simple"})
    await create(frozen_http, "text2video", body)


async def test_image2video_ignores_aspect_ratio(
    frozen_http: httpx.AsyncClient, frozen: Sandbox
) -> None:
    body = i2v(frozen.sample_url("portrait.jpg"), AspectRatio="16:9")
    await create(frozen_http, "image2video", body)
    (task,) = frozen.state.tasks()
    assert (task.width, task.height) == (180, 320)  # from the 9:16 image, not the field


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[1, 2]", b'"Model"', b"", b'{"Model": "kling-v3", "Prompt": '],
)
async def test_400_body_not_a_json_object(http: httpx.AsyncClient, content: bytes) -> None:
    response = await http.post(
        "/v1/videos/text2video",
        content=content,
        headers={**auth(TEAM), "Content-Type": "application/json"},
    )
    error = assert_problem(response, 400, "invalid_request", BadRequestError)
    assert "body" in error.message


async def test_lowercase_fields_are_not_the_pascal_case_ones(http: httpx.AsyncClient) -> None:
    body = {"model": "kling-v3", "prompt": "x", "duration": "5"}
    response = await http.post("/v1/videos/text2video", json=body, headers=auth(TEAM))
    error = assert_problem(response, 400, "invalid_request", BadRequestError)
    assert "Model" in error.message


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk-not-a-real-key"},
        {"Authorization": "Bearer"},
        {"Authorization": "sk-sandbox-team"},
        {"Authorization": "Basic sk-sandbox-team"},
    ],
)
async def test_row_401_missing_or_unknown_key(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post("/v1/videos/text2video", json=t2v(), headers=headers)
    error = assert_problem(response, 401, "invalid_api_key", AuthenticationError)
    assert "sk-not-a-real-key" not in response.text  # an unknown key is never echoed
    assert "sk-not-a-real-key" not in str(error)
    assert response.headers["www-authenticate"] == "Bearer"
    status = await http.get("/v1/videos/text2video/task_x", headers=headers)
    assert_problem(status, 401, "invalid_api_key", AuthenticationError)


async def test_bearer_scheme_is_case_insensitive(frozen_http: httpx.AsyncClient) -> None:
    response = await frozen_http.post(
        "/v1/videos/text2video", json=t2v(), headers={"Authorization": f"bearer {TEAM}"}
    )
    assert response.status_code == 200


async def test_row_403_key_not_team_scoped(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    for route in ROUTE_MODELS:
        response = await http.post(
            f"/v1/videos/{route}", json=body_for(route, sandbox), headers=auth(SOLO)
        )
        assert_problem(response, 403, "kling_team_required", TeamRequiredError)
    assert sandbox.stats()["tasks"] == 0


async def test_row_402_balance_too_low(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    response = await http.post("/v1/videos/text2video", json=t2v(Mode="pro"), headers=auth(BROKE))
    error = assert_problem(response, 402, "kling_balance_too_low", InsufficientBalanceError)
    detail = response.json()["detail"]
    needed = PRICE_NANO_PER_SECOND["pro"] * 5
    assert detail["required_available_nano"] == needed
    assert detail["available_nano"] == 0
    assert isinstance(detail["required_available_nano"], int)
    assert isinstance(detail["available_nano"], int)
    assert f"needs {needed}" in detail["message"]
    assert "has 0" in detail["message"]
    assert isinstance(error, InsufficientBalanceError)
    assert error.required == needed
    assert error.available == 0
    assert sandbox.stats()["tasks"] == 0


async def test_row_402_when_holds_use_up_the_balance(make_sandbox: Any) -> None:
    price = PRICE_NANO_PER_SECOND["std"] * 5
    sandbox = make_sandbox(time_scale=1.0, team_credit_nano=2 * price + 1, pending_cap=10)
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        await create(http, "text2video", t2v())
        await create(http, "text2video", t2v())
        response = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(TEAM))
        error = assert_problem(response, 402, "kling_balance_too_low", InsufficientBalanceError)
        assert error.details["available_nano"] == 1
        assert error.details["required_available_nano"] == price


async def test_row_429_pending_cap_per_team(make_sandbox: Any) -> None:
    sandbox = make_sandbox(time_scale=1.0, pending_cap=3)
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        for _ in range(3):
            await create(http, "text2video", t2v())
        response = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(TEAM))
        error = assert_problem(
            response, 429, "kling_too_many_pending_tasks", TooManyPendingTasksError
        )
        assert error.details["limit"] == 3
        # Another route counts against the same cap; another team has its own.
        response = await http.post("/v1/videos/omni-video", json=omni(), headers=auth(TEAM))
        assert response.status_code == 429
        await create(http, "text2video", t2v(), key=TEAM2)
    stats = sandbox.stats()
    assert stats["creates_by_team"] == {"team-sandbox": 3, "team-sandbox-2": 1}
    assert stats["creates_by_key"] == {TEAM: 3, TEAM2: 1}
    assert stats["create_attempts"] == {TEAM: 5, TEAM2: 1}
    assert stats["too_many_pending"] == 2
    assert stats["max_pending"] == {"team-sandbox": 3, "team-sandbox-2": 1}
    assert stats["pending"]["team-sandbox"] == 3
    assert stats["tasks"] == 4


async def test_pending_slot_frees_when_a_task_finishes(make_sandbox: Any) -> None:
    sandbox = make_sandbox(pending_cap=2)
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        first = await create(http, "text2video", t2v())
        await create(http, "text2video", t2v())
        response = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(TEAM))
        assert response.status_code == 429
        # Terminal tasks no longer count, even if nobody polled them to the end.
        state = sandbox.state
        deadline = max(t.finished_at for t in state.tasks())
        await asyncio.sleep(max(0.0, deadline - state.now()) + 0.01)
        await create(http, "text2video", t2v())
        response = await http.get(f"/v1/videos/text2video/{first['id']}", headers=auth(TEAM))
        assert response.json()["status"] == "succeeded"
    assert sandbox.stats()["max_pending"]["team-sandbox"] == 2


async def test_row_424_upstream_error_creates_nothing(make_sandbox: Any) -> None:
    sandbox = make_sandbox(faults=Faults(upstream_424=1.0, seed=3))
    seen: set[int] = set()
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        for _ in range(12):
            response = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(TEAM))
            error = assert_problem(response, 424, "kling_upstream_error", UpstreamError)
            assert isinstance(error, UpstreamError)
            assert error.upstream_status in (500, 504)
            assert error.upstream_code
            seen.add(response.json()["detail"]["upstream_status"])
    assert seen == {500, 504}
    stats = sandbox.stats()
    assert stats["tasks"] == 0
    assert stats["faults"]["upstream_424"] == 12
    assert stats["balances"]["team-sandbox"]["held_nano"] == 0
    assert stats["balances"]["team-sandbox"]["balance_nano"] == sandbox.config.team_credit_nano


async def test_424_fault_after_local_checks(make_sandbox: Any) -> None:
    # A 424 is an upstream answer: the router's own checks (400/403/402/429) come first.
    sandbox = make_sandbox(faults=Faults(upstream_424=1.0))
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        r = await http.post("/v1/videos/text2video", json=t2v(Model="x"), headers=auth(TEAM))
        assert r.status_code == 400
        r = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(SOLO))
        assert r.status_code == 403
        r = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(BROKE))
        assert r.status_code == 402


async def test_424_rate_is_seeded_and_partial(make_sandbox: Any) -> None:
    outcomes = []
    for _ in range(2):
        sandbox = make_sandbox(time_scale=0, faults=Faults(upstream_424=0.5, seed=11))
        async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
            codes = [
                (
                    await http.post("/v1/videos/text2video", json=t2v(), headers=auth(TEAM))
                ).status_code
                for _ in range(16)
            ]
        outcomes.append(codes)
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 424}


async def test_unknown_route_is_404(http: httpx.AsyncClient) -> None:
    from kling_nb._errors import NotFoundError

    response = await http.post("/v1/videos/grok-video", json=t2v(), headers=auth(TEAM))
    assert_problem(response, 404, "not_found", NotFoundError)
    response = await http.get("/v1/nothing-here", headers=auth(TEAM))
    assert_problem(response, 404, "not_found", NotFoundError)
