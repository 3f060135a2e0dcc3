"""`AsyncClient` over `httpx.MockTransport` for Seedance's and Grok's envelopes.

The transport here answers with the shapes contract-families.md documents (and, where it is
cut, the shapes kling_nb assumes); every request the client sends is recorded and checked.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mock import FAST, write_png

import kling_nb as kn
from kling_nb._families import KLING
from kling_nb._wire import retype

KEY = "sk-families-test"
BASE = "https://api.families.test"
TASKS = "/api/v3/contents/generations/tasks"
VIDEO = "https://media.families.test/v.mp4"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A scripted server: `routes[(method, path)]` answers; every request is kept."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Handler | list[httpx.Response]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"detail": {"code": "not_found", "message": "no"}})
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer(request)

    @property
    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


def ok(body: dict[str, Any]) -> list[httpx.Response]:
    return [httpx.Response(200, json=body)]


def multipart_fields(request: httpx.Request) -> dict[str, bytes]:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    return {
        str(part.get_param("name", header="content-disposition")): part.get_payload(decode=True)
        for part in message.iter_parts()
    }


@pytest.fixture
def server() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(server: Recorder) -> AsyncIterator[kn.AsyncClient]:
    async with kn.AsyncClient(
        KEY, base_url=BASE + "/v1", transport=httpx.MockTransport(server)
    ) as client:
        yield client


# -- Seedance ----------------------------------------------------------------------------------


async def test_seedance_create_is_sent_once_under_api_v3_and_read_as_queued(
    client: kn.AsyncClient, server: Recorder
) -> None:
    server.routes["POST", TASKS] = ok({"id": "cgt-1", "requestId": "req-1"})
    task = await client.create(kn.SeedanceVideo("a heron lands", ratio="16:9"))
    assert server.calls == [("POST", TASKS)]
    sent = server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(sent.content) == {
        "model": "seedance-2.0",
        "content": [{"type": "text", "text": "a heron lands"}],
        "ratio": "16:9",
    }
    assert (task.id, task.route, task.model) == ("cgt-1", "seedance", "seedance-2.0")
    assert task.status is kn.Status.QUEUED
    assert task.request_id == "req-1"
    assert dict(task.raw) == {"id": "cgt-1", "requestId": "req-1"}  # as the server said it


async def test_seedance_status_is_read_from_its_own_route(
    client: kn.AsyncClient, server: Recorder
) -> None:
    status = {
        "id": "cgt-1",
        "model": "seedance-2.0",
        "status": "succeeded",
        "content": {"video_url": VIDEO},
        "resolution": "720p",
        "duration": 5,
        "usage": {"output_tokens": 108900},
    }
    server.routes["GET", f"{TASKS}/cgt-1"] = ok(status)
    task = await client.get(kn.Task(id="cgt-1", route="seedance"))
    assert task.succeeded
    assert task.video_url == VIDEO
    assert task.raw["usage"] == {"output_tokens": 108900}
    by_id = await client.get("cgt-1", route="seedance")
    assert by_id.video_url == VIDEO


async def test_seedance_local_images_become_assets_of_one_group_before_create(
    client: kn.AsyncClient, server: Recorder, tmp_path: Path
) -> None:
    first, second = write_png(tmp_path / "a.png"), write_png(tmp_path / "b.png", (8, 8))
    server.routes["POST", "/v1/asset-groups"] = ok({"id": "grp-1", "name": "kling-nb"})
    server.routes["POST", "/v1/asset-groups/grp-1/assets"] = [
        httpx.Response(200, json={"id": "as-1", "url": "https://assets.families.test/as-1"}),
        httpx.Response(200, json={"id": "as-2", "url": "https://assets.families.test/as-2"}),
    ]
    server.routes["POST", TASKS] = ok({"id": "cgt-2", "requestId": "req-2"})
    await client.create(kn.SeedanceVideo("two refs", images=[first, second]))
    assert server.calls == [
        ("POST", "/v1/asset-groups"),
        ("POST", "/v1/asset-groups/grp-1/assets"),
        ("POST", "/v1/asset-groups/grp-1/assets"),
        ("POST", TASKS),
    ]
    assert json.loads(server.requests[0].content) == {"name": "kling-nb"}
    assert multipart_fields(server.requests[1])["file"] == first.read_bytes()
    assert multipart_fields(server.requests[2])["file"] == second.read_bytes()
    parts = json.loads(server.requests[3].content)["content"]
    assert [p["image_url"]["url"] for p in parts[1:]] == [
        "https://assets.families.test/as-1",
        "https://assets.families.test/as-2",
    ]


async def test_a_text_only_seedance_request_skips_the_asset_step(
    client: kn.AsyncClient, server: Recorder
) -> None:
    server.routes["POST", TASKS] = ok({"id": "cgt-3"})
    await client.create(kn.SeedanceVideo("no refs", images=["asset://as-9"]))
    assert server.calls == [("POST", TASKS)]


async def test_a_failed_asset_upload_never_sends_the_create(
    client: kn.AsyncClient, server: Recorder, tmp_path: Path
) -> None:
    server.routes["POST", "/v1/asset-groups"] = ok({"id": "grp-1"})
    server.routes["POST", "/v1/asset-groups/grp-1/assets"] = ok({"id": "as-1"})  # no url
    with pytest.raises(kn.APIConnectionError) as info:
        await client.create(kn.SeedanceVideo("x", images=[write_png(tmp_path / "a.png")]))
    assert info.value.sent is False
    assert ("POST", TASKS) not in server.calls


@pytest.mark.parametrize(
    ("status", "detail", "cls"),
    [
        (
            402,
            {
                "code": "seedance_balance_too_low",
                "message": "Insufficient balance",
                "required_available_nano": 10000000000,
                "available_nano": 999892001,
            },
            kn.InsufficientBalanceError,
        ),
        (
            429,
            {"code": "seedance_too_many_pending_tasks", "message": "wait"},
            kn.TooManyPendingTasksError,
        ),
        (400, {"code": "invalid_request", "message": "public image URL"}, kn.BadRequestError),
        (400, {"code": "unsupported_model", "message": "no"}, kn.UnsupportedModelError),
        (403, {"code": "seedance_team_required", "message": "team key"}, kn.TeamRequiredError),
    ],
)
async def test_seedance_error_envelopes_are_typed(
    client: kn.AsyncClient,
    server: Recorder,
    status: int,
    detail: dict[str, Any],
    cls: type[kn.APIError],
) -> None:
    server.routes["POST", TASKS] = [httpx.Response(status, json={"detail": detail})]
    with pytest.raises(kn.APIError) as info:
        await client.create(kn.SeedanceVideo("x"))
    assert type(info.value) is cls
    assert info.value.code == detail["code"]
    assert server.calls == [("POST", TASKS)]  # a create is never re-sent
    if cls is kn.InsufficientBalanceError:
        assert info.value.details["available_nano"] == 999892001
        assert "needs 10000000000, has 999892001" in info.value.message


async def test_a_family_code_named_only_in_words_is_still_typed(
    client: kn.AsyncClient, server: Recorder
) -> None:
    server.routes["POST", TASKS] = [
        httpx.Response(403, json={"detail": "seedance_team_required: use a team key"})
    ]
    with pytest.raises(kn.TeamRequiredError) as info:
        await client.create(kn.SeedanceVideo("x"))
    assert info.value.code == "seedance_team_required"


async def test_another_owners_seedance_task_is_access_denied(
    client: kn.AsyncClient, server: Recorder
) -> None:
    server.routes["GET", f"{TASKS}/cgt-9"] = [
        httpx.Response(403, json={"detail": {"code": "media_resource_access_denied"}})
    ]
    with pytest.raises(kn.AccessDeniedError):
        await client.get("cgt-9", route="seedance")
    assert len(server.requests) == 1  # not transient: no retry


async def test_a_seedance_create_without_an_id_is_an_unknown_outcome(
    client: kn.AsyncClient, server: Recorder
) -> None:
    server.routes["POST", TASKS] = ok({"requestId": "req-1"})
    with pytest.raises(kn.CreateOutcomeUnknownError):
        await client.create(kn.SeedanceVideo("x"))


# -- Grok --------------------------------------------------------------------------------------


async def test_grok_create_get_and_wait(client: kn.AsyncClient, server: Recorder) -> None:
    server.routes["POST", "/v1/videos/generations"] = ok({"id": "vid-1"})
    server.routes["GET", "/v1/videos/generations/vid-1"] = [
        httpx.Response(200, json={"id": "vid-1", "status": "queued"}),
        httpx.Response(200, json={"id": "vid-1", "status": "running"}),
        httpx.Response(200, json={"status": "succeeded", "content": {"video_url": VIDEO}}),
    ]
    task = await client.create(kn.GrokVideo("a comet", duration=10, resolution="480p"))
    assert json.loads(server.requests[0].content) == {
        "model": "grok-imagine-video",
        "prompt": "a comet",
        "duration": 10,
        "resolution": "480p",
    }
    assert (task.id, task.route, task.status) == ("vid-1", "grok", kn.Status.QUEUED)
    seen: list[str] = []
    done = await client.wait(task, schedule=FAST, on_update=lambda t: seen.append(str(t.status)))
    assert seen == ["queued", "running", "succeeded"]
    # The last status body named no task: it is the one asked for.
    assert (done.id, done.video_url) == ("vid-1", VIDEO)


async def test_a_grok_status_about_another_task_is_invalid(
    client: kn.AsyncClient, server: Recorder
) -> None:
    server.routes["GET", "/v1/videos/generations/vid-1"] = ok({"id": "vid-2", "status": "running"})
    with pytest.raises(kn.InvalidResponseError):
        await client.get("vid-1", route="grok")


async def test_a_grok_failure_ends_the_wait(client: kn.AsyncClient, server: Recorder) -> None:
    server.routes["GET", "/v1/videos/generations/vid-1"] = ok(
        {"id": "vid-1", "status": "failed", "error": {"code": "moderation", "message": "blocked"}}
    )
    with pytest.raises(kn.TaskFailedError) as info:
        await client.wait(kn.Task(id="vid-1", route="grok"), schedule=FAST)
    assert info.value.task.error == "blocked"


async def test_a_grok_local_image_goes_through_the_uploads_route(
    client: kn.AsyncClient, server: Recorder, tmp_path: Path
) -> None:
    image = write_png(tmp_path / "frame.png")
    server.routes["POST", "/v1/images/uploads"] = ok(
        {"object": "image.upload", "id": "up-1", "url": "https://up.families.test/frame.png"}
    )
    server.routes["POST", "/v1/videos/generations"] = ok({"id": "vid-3"})
    model = "grok-imagine-video-1.5-preview"
    task = await client.create(kn.GrokVideo("move", model=model, image=image))
    assert server.calls == [("POST", "/v1/images/uploads"), ("POST", "/v1/videos/generations")]
    assert multipart_fields(server.requests[0])["image"] == image.read_bytes()
    body = json.loads(server.requests[1].content)
    assert body["image_url"] == "https://up.families.test/frame.png"
    assert task.model == model


async def test_grok_402_is_typed_by_its_status(client: kn.AsyncClient, server: Recorder) -> None:
    server.routes["POST", "/v1/videos/generations"] = [
        httpx.Response(402, json={"error": {"code": "grok_balance_too_low", "message": "low"}})
    ]
    with pytest.raises(kn.InsufficientBalanceError):
        await client.create(kn.GrokVideo("x"))


# -- shared ------------------------------------------------------------------------------------


async def test_an_unknown_route_is_refused_before_any_request(
    client: kn.AsyncClient, server: Recorder
) -> None:
    with pytest.raises(kn.ValidationError):
        await client.get(kn.Task(id="t-1", route="pixverse"))
    assert server.requests == []


async def test_the_key_never_reaches_a_family_task(
    client: kn.AsyncClient, server: Recorder
) -> None:
    server.routes["POST", TASKS] = ok({"id": "cgt-1", "echo": f"Bearer {KEY}"})
    task = await client.create(kn.SeedanceVideo("x"))
    assert KEY not in json.dumps(dict(task.raw))


def test_retype_leaves_klings_errors_as_they_are() -> None:
    exc = kn.TeamRequiredError("team key", status_code=403, code="kling_team_required")
    assert retype(exc, KLING.error_codes) is exc
    plain = kn.PermissionDeniedError("no", status_code=403, code="something_else")
    assert retype(plain, KLING.error_codes) is plain
