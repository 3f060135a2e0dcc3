"""The API key never shows: not in a log record, a repr, an exception's text, body or args."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mock import BASE_URL, FAST, MEDIA_HOST, Account, FakeAPI, cut_body, problem

import kling_nb as kn

CANARY = "sk-CANARY-5f0c9e2d7b1a4c3e"
LOGGERS = ("kling_nb", "httpx", "httpcore")


@pytest.fixture
def canary_api() -> FakeAPI:
    return FakeAPI(keys={CANARY: Account("team-canary")})


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
async def canary(canary_api: FakeAPI) -> AsyncIterator[kn.AsyncClient]:
    async with kn.AsyncClient(CANARY, base_url=BASE_URL, transport=canary_api.transport) as c:
        yield c


def _texts(obj: object) -> list[str]:
    return [str(obj), repr(obj)]


def assert_clean_exception(error: BaseException) -> None:
    """Nothing reachable from an exception (text, args, body, details, chain) holds the key."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for text in _texts(current):
            assert CANARY not in text
        for arg in current.args:
            assert CANARY not in repr(arg)
        for attr in ("body", "details", "message", "task", "value", "allowed"):
            if hasattr(current, attr):
                assert CANARY not in repr(getattr(current, attr))
        cause = getattr(current, "cause", None)  # CreateOutcomeUnknownError.cause
        if isinstance(cause, BaseException):
            assert_clean_exception(cause)
        current = current.__cause__ or current.__context__
    assert CANARY not in "".join(traceback.format_exception(error))


def assert_clean_logs(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records  # the loggers really were at DEBUG and did log
    for record in caplog.records:
        assert CANARY not in record.getMessage()
        assert CANARY not in repr(record.args)
        assert CANARY not in str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            assert_clean_exception(record.exc_info[1])
    assert CANARY not in caplog.text


async def test_reprs_never_show_the_key(canary: kn.AsyncClient, canary_api: FakeAPI) -> None:
    for text in _texts(canary):
        assert CANARY not in text
        assert "hidden" in text
    task = await canary.create(kn.TextToVideo("x"))
    for obj in (task, kn.TextToVideo("x"), kn.OmniVideo("x"), kn.ImageToVideo("https://h/a.png")):
        for text in _texts(obj):
            assert CANARY not in text
    assert CANARY not in repr(canary._auth)


async def test_happy_path_at_debug_leaks_nothing(
    canary: kn.AsyncClient,
    canary_api: FakeAPI,
    debug_logs: pytest.LogCaptureFixture,
    png_path: Path,
    tmp_path: Path,
) -> None:
    seen: list[kn.Task] = []
    url = await canary.upload_image(png_path)
    for request in (
        kn.TextToVideo("a boat"),
        kn.ImageToVideo(png_path, "go"),
        kn.ImageToVideo(url),
        kn.OmniVideo("a kite", first_frame=png_path),
    ):
        task = await canary.create(request)
        await canary.get(task)
        await canary.get(task.id, route=task.route)
        final = await canary.wait(task, schedule=FAST, timeout=10, on_update=seen.append)
        path = await canary.download(final, tmp_path)
        assert CANARY.encode() not in path.read_bytes()
        for text in _texts(final):
            assert CANARY not in text
    # the fake did get the key, so the check above is not vacuous
    assert any(CANARY in c.headers.get("authorization", "") for c in canary_api.api_calls())
    for call in canary_api.media_calls():
        assert "authorization" not in call.headers
    for task in seen:
        assert CANARY not in repr(task)
        assert CANARY not in repr(dict(task.raw))
    assert_clean_logs(debug_logs)


async def test_every_kind_of_error_leaks_nothing(
    canary: kn.AsyncClient,
    canary_api: FakeAPI,
    debug_logs: pytest.LogCaptureFixture,
    tmp_path: Path,
    sleeps: list[float],
) -> None:
    errors: list[BaseException] = []

    async def expect(kind: type[BaseException], action: Callable[[], Awaitable[Any]]) -> None:
        with pytest.raises(kind) as info:
            await action()
        errors.append(info.value)

    text = kn.TextToVideo("x")
    post = r"/v1/videos/[a-z0-9-]+$"
    get = r"/v1/videos/[a-z0-9-]+/"
    api_rows: list[tuple[type[kn.APIError], Callable[[], httpx.Response]]] = [
        (kn.UnsupportedModelError, lambda: problem(400, "unsupported_model", "unsupported model")),
        (kn.AuthenticationError, lambda: problem(401, "invalid_api_key", f"unknown key {CANARY}")),
        (kn.AuthenticationError, lambda: httpx.Response(401, text=f"Bearer {CANARY} is not valid")),
        (
            kn.InsufficientBalanceError,
            lambda: problem(402, "kling_balance_too_low", "low", available_nano=1),
        ),
        (
            kn.TeamRequiredError,
            lambda: problem(403, "kling_team_required", f"{CANARY} has no team"),
        ),
        (kn.AccessDeniedError, lambda: problem(403, "media_resource_access_denied", "not yours")),
        (kn.NotFoundError, lambda: problem(404, "task_not_found", "no such task")),
        (kn.UpstreamError, lambda: problem(424, "upstream_error", "down", upstream_status=502)),
        (kn.TooManyPendingTasksError, lambda: problem(429, "kling_too_many_pending_tasks", "cap")),
        (kn.ServerError, lambda: httpx.Response(500, json={"error": {"message": f"key={CANARY}"}})),
    ]
    for kind, make in api_rows:
        canary_api.inject("POST", post, make())
        # a 5xx answer to a create leaves its outcome unknown (the 5xx is its cause)
        on_create = kn.CreateOutcomeUnknownError if kind is kn.ServerError else kind
        await expect(on_create, lambda: canary.create(text))
        canary_api.inject("GET", get, *[make() for _ in range(3)])
        await expect(kind, lambda: canary.get("task-x", route="text2video"))
        canary_api.clear_injections()

    unknown = kn.CreateOutcomeUnknownError
    for make_exc, kind, on_create in (
        (lambda: httpx.ConnectError("refused"), kn.APIConnectionError, kn.APIConnectionError),
        (lambda: httpx.ReadTimeout("slow"), kn.APITimeoutError, unknown),
        (lambda: httpx.RemoteProtocolError("reset"), kn.APIConnectionError, unknown),
    ):
        canary_api.inject("POST", post, *[make_exc() for _ in range(3)])
        await expect(on_create, lambda: canary.create(text))
        canary_api.inject("GET", get, *[make_exc() for _ in range(3)])
        await expect(kind, lambda: canary.get("task-x", route="omni-video"))
        canary_api.clear_injections()

    # validation, on requests and on the client's own arguments
    await expect(kn.ValidationError, lambda: canary.get("", route="text2video"))
    await expect(kn.ValidationError, lambda: canary.upload_image(tmp_path / "missing.png"))
    with pytest.raises(kn.ValidationError) as info:
        kn.TextToVideo("x", extra={"ApiKey": object()})
    errors.append(info.value)

    # configuration
    with pytest.raises(kn.ConfigurationError) as config_info:
        kn.AsyncClient(CANARY, base_url="ftp://nope.example")
    errors.append(config_info.value)

    # task outcomes
    canary_api.default_plan = ["queued", {"status": "failed", "error": "policy"}]
    task = await canary.create(text)
    await expect(kn.TaskFailedError, lambda: canary.wait(task, schedule=FAST, timeout=5))
    canary_api.default_plan = ["running"]
    task = await canary.create(text)
    await expect(kn.TaskTimeoutError, lambda: canary.wait(task, schedule=FAST, timeout=0.05))

    # downloads: a cut body given up on, a refused media URL, a bad URL
    done = kn.Task(
        "t", "text2video", status=kn.Status.SUCCEEDED, video_url=canary_api.video_url("t")
    )
    canary_api.inject("GET", MEDIA_HOST, *[cut_body(canary_api.video, 1000) for _ in range(3)])
    await expect(kn.DownloadError, lambda: canary.download(done, tmp_path))
    canary_api.inject("GET", MEDIA_HOST, httpx.Response(403), httpx.Response(403))
    canary_api.inject("GET", get, problem(403, "media_resource_access_denied", "nope"))
    await expect(kn.AccessDeniedError, lambda: canary.download(done, tmp_path / "b"))
    bad = kn.Task("t", "text2video", status=kn.Status.SUCCEEDED, video_url="ftp://x/y.mp4")
    await expect(kn.ValidationError, lambda: canary.download(bad, tmp_path))

    assert len(errors) >= 35
    for error in errors:
        assert_clean_exception(error)
    assert_clean_logs(debug_logs)


async def test_a_key_in_the_environment_does_not_leak(
    monkeypatch: pytest.MonkeyPatch, canary_api: FakeAPI, debug_logs: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WORLDROUTER_API_KEY", CANARY)
    async with kn.AsyncClient(base_url=BASE_URL, transport=canary_api.transport) as client:
        assert CANARY not in repr(client)
        task = await client.create(kn.TextToVideo("x"))
        await client.wait(task, schedule=FAST, timeout=5)
    assert_clean_logs(debug_logs)


async def test_a_key_echoed_in_2xx_bodies_never_reaches_the_task(
    canary: kn.AsyncClient, canary_api: FakeAPI, debug_logs: pytest.LogCaptureFixture
) -> None:
    echo = {"echo": f"Bearer {CANARY}", "note": {"key": CANARY}}
    canary_api.inject(
        "POST",
        r"/v1/videos/text2video$",
        httpx.Response(200, json={"id": "task-e", "status": "queued", **echo}),
    )
    created = await canary.create(kn.TextToVideo("x"))
    assert created.id == "task-e"
    assert "<hidden>" in repr(dict(created.raw))
    canary_api.inject(
        "GET",
        r"/v1/videos/text2video/task-e",
        httpx.Response(200, json={"id": "task-e", "status": "running", **echo}),
    )
    read = await canary.get(created)
    for task in (created, read):
        assert CANARY not in repr(dict(task.raw))
        for text in _texts(task):
            assert CANARY not in text
    assert_clean_logs(debug_logs)


async def test_a_key_echoed_in_a_garbled_2xx_never_reaches_the_error(
    canary: kn.AsyncClient, canary_api: FakeAPI
) -> None:
    canary_api.inject(
        "POST", r"/v1/videos/", httpx.Response(200, text=f"<html>key {CANARY}</html>")
    )
    with pytest.raises(kn.CreateOutcomeUnknownError) as info:
        await canary.create(kn.TextToVideo("x"))
    assert_clean_exception(info.value)
    assert isinstance(info.value.cause, kn.InvalidResponseError)
    assert "<hidden>" in str(info.value.cause.body)
    canary_api.inject("GET", r"/v1/videos/", httpx.Response(200, json=[CANARY]))
    with pytest.raises(kn.InvalidResponseError) as read_info:
        await canary.get("task-1", route="text2video")
    assert_clean_exception(read_info.value)
