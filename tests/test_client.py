"""`AsyncClient` over `httpx.MockTransport`: config, create/get, retry rules, wait, uploads.

The end-to-end flows (`ClientFlows`) are shared with `test_client_live.py`, which runs them
against the live sandbox over real HTTP.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from _flows import Backend, ClientFlows
from _mock import (
    API_HOST,
    BASE_URL,
    FAST,
    TEAM_KEY,
    ClientFactory,
    FakeAPI,
    problem,
    write_png,
)

import kling_nb as kn
from kling_nb._models import DEFAULT_BASE_URL, parse_status
from kling_nb._policy import CreateDecision, create_decision

# -- the shared flows, against the in-memory fake -------------------------------------------


@pytest.fixture
async def backend(mock_api: FakeAPI, sleeps: list[float]) -> AsyncIterator[Backend]:
    @asynccontextmanager
    async def faults(
        *, upstream_424: float = 0.0, task_fail: float = 0.0, status_5xx: float = 0.0
    ) -> AsyncIterator[Backend]:
        if upstream_424:
            body = problem(
                424,
                "upstream_error",
                "the video provider timed out",
                upstream_status=504,
                upstream_code="upstream_timeout",
            )
            mock_api.inject("POST", r"/v1/videos/[a-z0-9-]+$", *[body] * 20)
        if task_fail:
            mock_api.default_plan = [
                "queued",
                "running",
                {"status": "failed", "error": {"code": "fetch_failed", "message": "unreachable"}},
            ]
        if status_5xx:
            mock_api.inject(
                "GET",
                r"/v1/videos/[a-z0-9-]+/",
                httpx.Response(503),
                httpx.ReadTimeout("slow"),
                httpx.Response(502),
                httpx.RemoteProtocolError("reset"),
            )
        yield be

    be = Backend(
        name="mock",
        base_url=BASE_URL,
        transport=mock_api.transport,
        schedule=FAST,
        wait_timeout=10.0,
        faults=faults,
    )
    yield be
    await be.aclose()


class TestFlowsOverMockTransport(ClientFlows):
    """The same flows as the live sandbox runs, over the in-memory fake."""

    async def test_status_reads_use_the_create_route(
        self, backend: Backend, mock_api: FakeAPI, png_path: Path
    ) -> None:
        client = backend.client()
        for request in (
            kn.TextToVideo("a"),
            kn.ImageToVideo(png_path),
            kn.OmniVideo("c"),
        ):
            task = await client.create(request)
            await client.wait(task, schedule=FAST, timeout=10)
            gets = mock_api.calls_to("GET", f"/{task.id}$")
            assert len(gets) == 3
            assert {g.url.path for g in gets} == {f"/v1/videos/{request.route}/{task.id}"}


# -- configuration --------------------------------------------------------------------------


def test_missing_key_is_a_clear_configuration_error() -> None:
    with pytest.raises(kn.ConfigurationError) as info:
        kn.AsyncClient()
    message = str(info.value)
    assert "WORLDROUTER_API_KEY" in message
    assert "api_key" in message


@pytest.mark.parametrize("key", ["", "   ", "\n"])
def test_blank_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(kn.ConfigurationError):
        kn.AsyncClient(key)


async def test_env_key_and_base_url_are_honoured(
    monkeypatch: pytest.MonkeyPatch, mock_api: FakeAPI
) -> None:
    monkeypatch.setenv("WORLDROUTER_API_KEY", TEAM_KEY)
    monkeypatch.setenv("WORLDROUTER_BASE_URL", f"https://{API_HOST}/v1/")
    async with kn.AsyncClient(transport=mock_api.transport) as client:
        assert client.base_url == BASE_URL
        await client.create(kn.TextToVideo("x"))
    (call,) = mock_api.calls
    assert call.headers["authorization"] == f"Bearer {TEAM_KEY}"
    assert str(call.url) == f"{BASE_URL}/v1/videos/text2video"


async def test_explicit_arguments_win_over_env(
    monkeypatch: pytest.MonkeyPatch, mock_api: FakeAPI
) -> None:
    monkeypatch.setenv("WORLDROUTER_API_KEY", "sk-from-env")
    monkeypatch.setenv("WORLDROUTER_BASE_URL", "https://elsewhere.example")
    async with kn.AsyncClient(TEAM_KEY, base_url=BASE_URL, transport=mock_api.transport) as c:
        await c.create(kn.TextToVideo("x"))
    assert mock_api.calls[0].headers["authorization"] == f"Bearer {TEAM_KEY}"
    assert mock_api.calls[0].url.host == API_HOST


async def test_default_base_url_is_the_guides_origin() -> None:
    async with kn.AsyncClient("sk-x") as client:
        assert client.base_url == DEFAULT_BASE_URL
        assert DEFAULT_BASE_URL == "https://inference-api-pre-d80ca3.worldrouter.ai"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://h.example", "https://h.example"),
        ("https://h.example/", "https://h.example"),
        ("https://h.example/v1", "https://h.example"),
        ("https://h.example/v1/", "https://h.example"),
        ("  https://h.example/v1  ", "https://h.example"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
        ("https://h.example/proxy/v1", "https://h.example/proxy"),
    ],
)
async def test_base_url_suffixes_are_stripped(given: str, expected: str) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"id": "t1", "status": "queued"})

    async with kn.AsyncClient("sk-x", base_url=given, transport=httpx.MockTransport(handler)) as c:
        assert c.base_url == expected
        await c.create(kn.TextToVideo("x"))
    assert str(seen[0]) == f"{expected}/v1/videos/text2video"


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://h.example",
        "h.example",
        "localhost:8000",
        "file:///tmp/x",
        "https://",
        "javascript:alert(1)",
    ],
)
def test_non_http_base_url_is_rejected(bad: str) -> None:
    with pytest.raises(kn.ConfigurationError) as info:
        kn.AsyncClient("sk-x", base_url=bad)
    assert "base_url" in str(info.value)
    assert "http" in str(info.value)


def test_bad_env_base_url_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLDROUTER_BASE_URL", "ftp://nope.example")
    with pytest.raises(kn.ConfigurationError):
        kn.AsyncClient("sk-x")


async def test_context_manager_closes() -> None:
    async with kn.AsyncClient("sk-x") as client:
        assert not client.is_closed
    assert client.is_closed


# -- create and get -------------------------------------------------------------------------


async def test_create_sends_the_body_once_with_auth(client: kn.AsyncClient, fake: FakeAPI) -> None:
    request = kn.TextToVideo("a fox", duration="10", mode="pro", extra={"NegativePrompt": "blur"})
    task = await client.create(request)
    (call,) = fake.calls
    assert call.method == "POST"
    assert call.url.path == "/v1/videos/text2video"
    assert json.loads(call.content) == request.to_body()
    assert json.loads(call.content)["Duration"] == "10"
    assert call.headers["content-type"] == "application/json"
    assert call.headers["authorization"] == f"Bearer {TEAM_KEY}"
    assert call.headers["user-agent"].startswith("kling-nb/")
    assert task.id == "task-1"
    assert task.status is kn.Status.QUEUED
    assert task.request_id == "req-task-1"
    assert task.raw["kling_action_family"] == "text"


async def test_create_never_reads_a_video_url_from_the_create_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"id": "j", "status": "succeeded", "content": {"video_url": "https://m/x.mp4"}},
            headers={"x-request-id": "hdr-1"},
        )

    async with kn.AsyncClient("k", base_url=BASE_URL, transport=httpx.MockTransport(handler)) as c:
        task = await c.create(kn.TextToVideo("x"))
    assert task.video_url is None
    assert not task.succeeded
    assert task.request_id == "hdr-1"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"status": "queued"}),
        httpx.Response(200, json={"id": "", "status": "queued"}),
        httpx.Response(200, json={"id": 42, "status": "queued"}),
        httpx.Response(200, json={"id": "a b", "status": "queued"}),
        httpx.Response(200, json={"id": "../x", "status": "queued"}),
        httpx.Response(200, json={"id": "a\\b", "status": "queued"}),
        httpx.Response(200, json={"id": "..", "status": "queued"}),
        httpx.Response(200, json={"id": "x" * 201, "status": "queued"}),
        httpx.Response(200, json={"id": "bell\u0007", "status": "queued"}),
        httpx.Response(200, text="<html>ok</html>"),
        httpx.Response(200, json=["j"]),
        httpx.Response(201, text=""),
    ],
)
async def test_create_without_a_valid_task_id_has_an_unknown_outcome(
    response: httpx.Response,
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return response

    transport = httpx.MockTransport(handler)
    async with kn.AsyncClient("k", base_url=BASE_URL, transport=transport) as client:
        with pytest.raises(kn.CreateOutcomeUnknownError) as info:
            await client.create(kn.TextToVideo("x"))
    # the server answered 2xx, so a task may exist: the cause says what was wrong
    assert isinstance(info.value.cause, kn.InvalidResponseError)
    assert info.value.cause.status_code == response.status_code
    assert len(calls) == 1


async def test_the_longest_printable_task_id_is_accepted() -> None:
    task_id = "t-" + "x" * 198
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"id": task_id}))
    async with kn.AsyncClient("k", base_url=BASE_URL, transport=transport) as client:
        assert (await client.create(kn.TextToVideo("x"))).id == task_id


async def test_get_quotes_the_task_id() -> None:
    paths: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path)
        return httpx.Response(200, json={"id": "a/b c?d", "status": "running"})

    async with kn.AsyncClient("k", base_url=BASE_URL, transport=httpx.MockTransport(handler)) as c:
        task = await c.get("a/b c?d", route="omni-video")
    assert paths == [b"/v1/videos/omni-video/a%2Fb%20c%3Fd"]
    assert task.status is kn.Status.RUNNING
    assert task.route == "omni-video"


@pytest.mark.parametrize(
    ("ref", "route", "field"),
    [("task-1", None, "route"), ("task-1", "videos", "route"), ("", "text2video", "task")],
)
async def test_get_refuses_a_bad_reference_without_sending(
    client: kn.AsyncClient, fake: FakeAPI, ref: str, route: str | None, field: str
) -> None:
    with pytest.raises(kn.ValidationError) as info:
        await client.get(ref, route=route)
    assert info.value.field == field
    assert fake.calls == []


async def test_get_route_argument_overrides_the_tasks_route(
    client: kn.AsyncClient, fake: FakeAPI
) -> None:
    task = await client.create(kn.TextToVideo("x"))
    with pytest.raises(kn.NotFoundError):
        await client.get(task, route="omni-video")
    assert fake.calls[-1].url.path == f"/v1/videos/omni-video/{task.id}"


def test_task_from_status_response() -> None:
    body = {
        "id": "job-123",
        "model": "kling-v3",
        "status": "succeeded",
        "kling_action_family": "text",
        "content": {"video_url": "https://media.example.com/kling/output.mp4"},
    }
    task = kn.Task.from_response(body, "text2video")
    assert task.video_url == "https://media.example.com/kling/output.mp4"
    assert task.done
    assert task.succeeded
    assert task.error is None
    assert task.raw == body
    assert "raw" not in repr(task)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", kn.Status.QUEUED),
        ("RUNNING", kn.Status.RUNNING),
        (" succeeded ", kn.Status.SUCCEEDED),
        ("cancelled", kn.Status.CANCELLED),
        ("expired", kn.Status.EXPIRED),
        ("warming_up", "warming_up"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_parse_status(raw: object, expected: object) -> None:
    assert parse_status(raw) == expected


def test_status_enum() -> None:
    assert [s.value for s in kn.Status] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "expired",
    ]
    assert str(kn.Status.SUCCEEDED) == "succeeded"
    assert kn.Status.SUCCEEDED == "succeeded"
    assert {s for s in kn.Status if s.terminal} == {
        kn.Status.SUCCEEDED,
        kn.Status.FAILED,
        kn.Status.CANCELLED,
        kn.Status.EXPIRED,
    }
    assert not kn.Task("x", "text2video", status="warming_up").done


# -- retry rules ----------------------------------------------------------------------------

ALWAYS = 20  # more injected failures than any client will retry


def _status_path(fake: FakeAPI) -> str:
    fake.tasks.clear()
    return r"/v1/videos/text2video/task-1$"


GET_RETRYABLE_ERRORS: list[tuple[str, Any, type[kn.KlingError]]] = [
    ("connect-error", lambda: httpx.ConnectError("refused"), kn.APIConnectionError),
    ("connect-timeout", lambda: httpx.ConnectTimeout("slow"), kn.APITimeoutError),
    ("read-timeout", lambda: httpx.ReadTimeout("slow"), kn.APITimeoutError),
    ("read-error", lambda: httpx.ReadError("reset"), kn.APIConnectionError),
    ("remote-protocol", lambda: httpx.RemoteProtocolError("reset"), kn.APIConnectionError),
    ("408", lambda: httpx.Response(408), kn.APIError),
    (
        "429",
        lambda: problem(429, "kling_too_many_pending_tasks", "busy"),
        kn.TooManyPendingTasksError,
    ),
    ("500", lambda: httpx.Response(500, text="oops"), kn.ServerError),
    ("502", lambda: httpx.Response(502), kn.ServerError),
    ("503", lambda: problem(503, "unavailable", "later"), kn.ServerError),
    ("504", lambda: httpx.Response(504), kn.ServerError),
]


@pytest.mark.parametrize(
    ("make", "raised"),
    [pytest.param(m, r, id=i) for i, m, r in GET_RETRYABLE_ERRORS],
)
@pytest.mark.parametrize("max_retries", [0, 2, 4])
async def test_get_retries_transient_failures_then_raises_typed(
    make_client: ClientFactory,
    fake: FakeAPI,
    sleeps: list[float],
    make: Any,
    raised: type[kn.KlingError],
    max_retries: int,
) -> None:
    client = make_client(max_retries=max_retries)
    fake.inject("GET", "/v1/videos/", *[make() for _ in range(ALWAYS)])
    with pytest.raises(raised):
        await client.get("task-1", route="text2video")
    assert len(fake.calls) == max_retries + 1
    assert len(sleeps) == max_retries
    for attempt, delay in enumerate(sleeps):
        base = min(0.5 * 2**attempt, 8.0)
        assert 0.75 * base <= delay <= base


@pytest.mark.parametrize(
    "make",
    [pytest.param(m, id=i) for i, m, _ in GET_RETRYABLE_ERRORS],
)
async def test_get_recovers_after_transient_failures(
    client: kn.AsyncClient, fake: FakeAPI, sleeps: list[float], make: Any
) -> None:
    task = await client.create(kn.TextToVideo("x"))
    fake.inject("GET", "/v1/videos/", make(), make())
    read = await client.get(task)
    assert read.status is kn.Status.QUEUED
    assert len(fake.calls_to("GET")) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("status", "code", "raised"),
    [
        (400, "invalid_request", kn.BadRequestError),
        (401, "invalid_api_key", kn.AuthenticationError),
        (402, "kling_balance_too_low", kn.InsufficientBalanceError),
        (403, "kling_team_required", kn.TeamRequiredError),
        (403, "media_resource_access_denied", kn.AccessDeniedError),
        (404, "task_not_found", kn.NotFoundError),
        (410, "gone", kn.APIError),
        (424, "upstream_error", kn.UpstreamError),
        (501, "not_implemented", kn.ServerError),
    ],
)
async def test_get_never_retries_client_errors(
    client: kn.AsyncClient,
    fake: FakeAPI,
    sleeps: list[float],
    status: int,
    code: str,
    raised: type[kn.APIError],
) -> None:
    fake.inject("GET", "/v1/videos/", *[problem(status, code, "no") for _ in range(ALWAYS)])
    with pytest.raises(raised) as info:
        await client.get("task-1", route="text2video")
    assert type(info.value) is raised
    assert len(fake.calls) == 1
    assert sleeps == []


CREATE_ANSWERS = [
    ("408", lambda: httpx.Response(408), kn.APIError),
    (
        "429",
        lambda: problem(429, "kling_too_many_pending_tasks", "cap"),
        kn.TooManyPendingTasksError,
    ),
    ("424", lambda: problem(424, "upstream_error", "x", upstream_status=500), kn.UpstreamError),
]


@pytest.mark.parametrize(
    ("make", "raised"), [pytest.param(m, r, id=i) for i, m, r in CREATE_ANSWERS]
)
async def test_create_is_sent_exactly_once_when_answered(
    client: kn.AsyncClient,
    fake: FakeAPI,
    sleeps: list[float],
    make: Any,
    raised: type[kn.APIError],
) -> None:
    fake.inject("POST", "/v1/videos/", *[make() for _ in range(ALWAYS)])
    with pytest.raises(raised):
        await client.create(kn.TextToVideo("x"))
    assert len(fake.calls) == 1
    assert sleeps == []


CREATE_MAYBE_SENT = [
    ("read-timeout", lambda: httpx.ReadTimeout("no answer"), kn.APITimeoutError),
    ("write-timeout", lambda: httpx.WriteTimeout("half sent"), kn.APITimeoutError),
    ("remote-protocol", lambda: httpx.RemoteProtocolError("reset"), kn.APIConnectionError),
    ("read-error", lambda: httpx.ReadError("reset"), kn.APIConnectionError),
    ("write-error", lambda: httpx.WriteError("broken pipe"), kn.APIConnectionError),
    ("500", lambda: httpx.Response(500), kn.ServerError),
    ("502", lambda: httpx.Response(502), kn.ServerError),
    ("503", lambda: httpx.Response(503, headers={"Retry-After": "1"}), kn.ServerError),
]


@pytest.mark.parametrize(
    ("make", "cause"), [pytest.param(m, r, id=i) for i, m, r in CREATE_MAYBE_SENT]
)
async def test_create_that_may_have_arrived_is_never_resent(
    make_client: ClientFactory,
    fake: FakeAPI,
    sleeps: list[float],
    make: Any,
    cause: type[kn.KlingError],
) -> None:
    client = make_client(max_retries=5)
    fake.inject("POST", "/v1/videos/", *[make() for _ in range(ALWAYS)])
    with pytest.raises(kn.CreateOutcomeUnknownError) as info:
        await client.create(kn.TextToVideo("x"))
    assert type(info.value.cause) is cause
    if isinstance(info.value.cause, kn.APIConnectionError):
        assert info.value.cause.sent is True
    assert "not sent again" in str(info.value)
    assert create_decision(info.value, attempt=0) is CreateDecision.UNKNOWN
    assert len(fake.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: httpx.ConnectError("refused"),
        lambda: httpx.ConnectTimeout("no route"),
        lambda: httpx.PoolTimeout("no free connection"),
    ],
)
async def test_create_that_never_left_raises_unsent_after_one_try(
    client: kn.AsyncClient, fake: FakeAPI, sleeps: list[float], make: Any
) -> None:
    fake.inject("POST", "/v1/videos/", make())
    with pytest.raises(kn.APIConnectionError) as info:
        await client.create(kn.TextToVideo("x"))
    assert info.value.sent is False
    assert "never reached the server" in str(info.value)
    assert create_decision(info.value, attempt=0) is CreateDecision.RETRY
    assert len(fake.calls) == 1
    assert sleeps == []
    # the caller owns the retry: the next call is a fresh single send
    assert (await client.create(kn.TextToVideo("x"))).id == "task-1"
    assert len(fake.calls) == 2


async def test_a_refused_connection_makes_exactly_one_post_per_create(
    make_client: ClientFactory, sleeps: list[float]
) -> None:
    posts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        raise httpx.ConnectError("connection refused")

    client = make_client(max_retries=5, transport=httpx.MockTransport(refuse))
    for calls in (1, 2, 3):
        with pytest.raises(kn.APIConnectionError):
            await client.create(kn.TextToVideo("x"))
        assert len(posts) == calls
    assert sleeps == []


async def test_a_refused_port_on_loopback_is_unsent_and_tried_once() -> None:
    # A real socket: nothing listens on the port we just closed.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with kn.AsyncClient("k", base_url=f"http://127.0.0.1:{port}", max_retries=3) as c:
        started = time.monotonic()
        with pytest.raises(kn.APIConnectionError) as info:
            await c.create(kn.TextToVideo("x"))
    assert info.value.sent is False
    assert time.monotonic() - started < 0.4  # no backoff: one attempt


async def test_retry_after_seconds_is_honoured(
    client: kn.AsyncClient, fake: FakeAPI, sleeps: list[float]
) -> None:
    fake.inject("GET", "/v1/videos/", httpx.Response(503, headers={"Retry-After": "2"}))
    fake.inject("GET", "/v1/videos/", problem(404, "task_not_found", "gone"))
    with pytest.raises(kn.NotFoundError):
        await client.get("task-1", route="text2video")
    assert sleeps == [2.0]


async def test_retry_after_ms_is_honoured_and_wins(
    client: kn.AsyncClient, fake: FakeAPI, sleeps: list[float]
) -> None:
    fake.inject(
        "GET",
        "/v1/videos/",
        httpx.Response(429, headers={"retry-after-ms": "1500", "Retry-After": "9"}),
        httpx.Response(503, headers={"retry-after-ms": "250"}),
        problem(404, "task_not_found", "gone"),
    )
    with pytest.raises(kn.NotFoundError):
        await client.get("task-1", route="text2video")
    assert sleeps == [1.5, 0.25]


async def test_retry_after_http_date_is_honoured(
    client: kn.AsyncClient, fake: FakeAPI, sleeps: list[float]
) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    fake.inject("GET", "/v1/videos/", httpx.Response(503, headers={"Retry-After": when}))
    fake.inject("GET", "/v1/videos/", problem(404, "task_not_found", "gone"))
    with pytest.raises(kn.NotFoundError):
        await client.get("task-1", route="text2video")
    (delay,) = sleeps
    assert 3.0 <= delay <= 5.0


async def test_an_absurd_retry_after_falls_back_to_backoff(
    client: kn.AsyncClient, fake: FakeAPI, sleeps: list[float]
) -> None:
    fake.inject("GET", "/v1/videos/", httpx.Response(503, headers={"Retry-After": "86400"}))
    fake.inject("GET", "/v1/videos/", problem(404, "task_not_found", "gone"))
    with pytest.raises(kn.NotFoundError):
        await client.get("task-1", route="text2video")
    (delay,) = sleeps
    assert 0.375 <= delay <= 0.5


async def test_create_429_keeps_retry_after_on_the_error(
    client: kn.AsyncClient, fake: FakeAPI
) -> None:
    fake.inject(
        "POST",
        "/v1/videos/",
        httpx.Response(
            429,
            json={"detail": {"code": "kling_too_many_pending_tasks", "message": "cap"}},
            headers={"Retry-After": "7"},
        ),
    )
    with pytest.raises(kn.TooManyPendingTasksError) as info:
        await client.create(kn.TextToVideo("x"))
    assert info.value.retry_after == 7.0
    assert len(fake.calls) == 1


async def test_error_body_echoing_the_key_is_redacted(
    make_client: ClientFactory, fake: FakeAPI
) -> None:
    key = "sk-echoed-0123456789"
    client = make_client(key)
    fake.inject("POST", "/v1/videos/", problem(401, "invalid_api_key", f"unknown key {key}"))
    with pytest.raises(kn.AuthenticationError) as info:
        await client.create(kn.TextToVideo("x"))
    assert key not in str(info.value)
    assert key not in repr(info.value.body)
    assert "<hidden>" in info.value.message


# -- wait -----------------------------------------------------------------------------------


async def test_wait_polls_through_transient_errors(
    make_client: ClientFactory, fake: FakeAPI, sleeps: list[float]
) -> None:
    client = make_client(max_retries=0)
    task = await client.create(kn.TextToVideo("x"))
    fake.inject(
        "GET",
        "/v1/videos/",
        httpx.Response(500),
        httpx.ReadTimeout("slow"),
        httpx.Response(503),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("reset"),
        problem(429, "kling_too_many_pending_tasks", "slow down"),
        httpx.Response(408),
    )
    final = await client.wait(task, schedule=FAST, timeout=10)
    assert final.succeeded
    assert len(fake.calls_to("GET")) == 7 + 3


async def test_wait_uses_get_retries_too(
    client: kn.AsyncClient, fake: FakeAPI, sleeps: list[float]
) -> None:
    task = await client.create(kn.TextToVideo("x"))
    fake.inject("GET", "/v1/videos/", *[httpx.Response(502) for _ in range(5)])
    final = await client.wait(task, schedule=FAST, timeout=10)
    assert final.succeeded
    assert len(fake.calls_to("GET")) == 5 + 3


async def test_wait_honours_retry_after_on_a_status_read(
    make_client: ClientFactory, fake: FakeAPI, sleeps: list[float]
) -> None:
    client = make_client(max_retries=0)
    task = await client.create(kn.TextToVideo("x"))
    fake.inject("GET", "/v1/videos/", httpx.Response(429, headers={"Retry-After": "0.5"}))
    await client.wait(task, schedule=FAST, timeout=10)
    assert sleeps[0] == 0.5
    assert all(d <= 0.03 for d in sleeps[1:])


async def test_wait_keeps_polling_unknown_statuses_and_urlless_success(
    client: kn.AsyncClient, fake: FakeAPI
) -> None:
    fake.default_plan = [
        "queued",
        "warming_up",
        {"status": "succeeded", "content": {}},
        {"status": "succeeded", "content": {"video_url": None}},
        {"status": "succeeded"},
        "running",
        "succeeded",
    ]
    task = await client.create(kn.TextToVideo("x"))
    seen: list[kn.Status | str] = []
    final = await client.wait(
        task, schedule=FAST, timeout=10, on_update=lambda t: seen.append(t.status)
    )
    assert final.succeeded
    assert final.video_url == fake.video_url(task.id)
    assert seen == [
        kn.Status.QUEUED,
        "warming_up",
        kn.Status.SUCCEEDED,
        kn.Status.SUCCEEDED,
        kn.Status.SUCCEEDED,
    ]


@pytest.mark.parametrize(
    ("final", "status", "reason"),
    [
        (
            {
                "status": "failed",
                "error": {"code": "fetch_failed", "message": "image URL unreachable"},
            },
            kn.Status.FAILED,
            "image URL unreachable",
        ),
        (
            {"status": "failed", "error": {"code": "content_policy"}},
            kn.Status.FAILED,
            "content_policy",
        ),
        (
            {"status": "failed", "error": "the upstream refused the prompt"},
            kn.Status.FAILED,
            "the upstream refused the prompt",
        ),
        (
            {"status": "cancelled", "error": "cancelled by the operator"},
            kn.Status.CANCELLED,
            "cancelled by the operator",
        ),
        (
            {"status": "expired", "failure_reason": "no slot within 24 h"},
            kn.Status.EXPIRED,
            "no slot within 24 h",
        ),
        ({"status": "failed", "message": "boom"}, kn.Status.FAILED, "boom"),
        ({"status": "failed"}, kn.Status.FAILED, None),
    ],
)
async def test_wait_raises_task_failed_with_the_reason(
    client: kn.AsyncClient,
    fake: FakeAPI,
    final: dict[str, Any],
    status: kn.Status,
    reason: str | None,
) -> None:
    fake.default_plan = ["queued", "running", final]
    task = await client.create(kn.TextToVideo("x"))
    with pytest.raises(kn.TaskFailedError) as info:
        await client.wait(task, schedule=FAST, timeout=10)
    failed = info.value.task
    assert failed.id == task.id
    assert failed.status is status
    assert failed.error == reason
    assert failed.raw["status"] == status.value
    assert str(status) in str(info.value)
    if reason:
        assert reason in str(info.value)
    assert len(fake.calls_to("GET")) == 3  # stops at the terminal status


async def test_wait_raises_task_timeout_at_the_deadline(
    client: kn.AsyncClient, fake: FakeAPI
) -> None:
    fake.default_plan = ["queued", "running"]
    task = await client.create(kn.TextToVideo("x"))
    started = time.monotonic()
    with pytest.raises(kn.TaskTimeoutError) as info:
        await client.wait(task, schedule=FAST, timeout=0.2)
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 2.0
    assert info.value.task.status is kn.Status.RUNNING
    assert info.value.task.id == task.id
    assert info.value.timeout == 0.2
    assert len(fake.calls_to("GET")) >= 5  # it kept polling until then


async def test_wait_times_out_even_when_every_read_fails(
    make_client: ClientFactory, fake: FakeAPI
) -> None:
    client = make_client(max_retries=0)
    task = await client.create(kn.TextToVideo("x"))
    fake.inject("GET", "/v1/videos/", *[httpx.Response(503) for _ in range(1000)])
    with pytest.raises(kn.TaskTimeoutError) as info:
        await client.wait(task, schedule=FAST, timeout=0.15)
    assert info.value.task.status is kn.Status.QUEUED  # the last known state


@pytest.mark.parametrize(
    ("status", "code", "raised"),
    [
        (403, "media_resource_access_denied", kn.AccessDeniedError),
        (403, "kling_team_required", kn.TeamRequiredError),
        (404, "task_not_found", kn.NotFoundError),
        (401, "invalid_api_key", kn.AuthenticationError),
        (400, "invalid_request", kn.BadRequestError),
    ],
)
async def test_wait_raises_at_once_on_permanent_errors(
    client: kn.AsyncClient,
    fake: FakeAPI,
    sleeps: list[float],
    status: int,
    code: str,
    raised: type[kn.APIError],
) -> None:
    task = await client.create(kn.TextToVideo("x"))
    fake.inject("GET", "/v1/videos/", *[problem(status, code, "no") for _ in range(ALWAYS)])
    with pytest.raises(raised):
        await client.wait(task, schedule=FAST, timeout=10)
    assert len(fake.calls_to("GET")) == 1


async def test_wait_calls_sync_and_async_on_update(client: kn.AsyncClient, fake: FakeAPI) -> None:
    task = await client.create(kn.TextToVideo("x"))
    sync_seen: list[kn.Task] = []
    await client.wait(task, schedule=FAST, timeout=10, on_update=sync_seen.append)
    assert [t.status for t in sync_seen] == [
        kn.Status.QUEUED,
        kn.Status.RUNNING,
        kn.Status.SUCCEEDED,
    ]

    task2 = await client.create(kn.OmniVideo("y"))
    async_seen: list[kn.Task] = []

    async def on_update(t: kn.Task) -> None:
        async_seen.append(t)

    final = await client.wait(task2, schedule=FAST, timeout=10, on_update=on_update)
    assert [t.status for t in async_seen] == [
        kn.Status.QUEUED,
        kn.Status.RUNNING,
        kn.Status.SUCCEEDED,
    ]
    assert async_seen[-1] is final
    assert all(t.route == "omni-video" for t in async_seen)


async def test_wait_on_an_already_finished_task_reads_once(
    client: kn.AsyncClient, fake: FakeAPI
) -> None:
    fake.default_plan = ["succeeded"]
    task = await client.create(kn.TextToVideo("x"))
    final = await client.wait(task, schedule=FAST, timeout=10)
    assert final.succeeded
    assert len(fake.calls_to("GET")) == 1


# -- uploads --------------------------------------------------------------------------------


async def test_upload_image_sends_multipart_field_image(
    client: kn.AsyncClient, fake: FakeAPI, png_path: Path
) -> None:
    url = await client.upload_image(png_path)
    (call,) = fake.calls
    assert call.method == "POST"
    assert call.url.path == "/v1/images/uploads"
    assert call.headers["content-type"].startswith("multipart/form-data")
    assert call.headers["authorization"] == f"Bearer {TEAM_KEY}"
    (upload,) = fake.uploads.values()
    assert upload["data"] == png_path.read_bytes()
    assert upload["type"] == "image/png"
    assert upload["filename"].endswith(".png")
    assert "/" not in upload["filename"]
    assert " " not in upload["filename"]
    assert url.startswith("https://")
    assert "/uploads/" in url


async def test_upload_names_the_type_it_sniffed(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    from PIL import Image

    path = tmp_path / "photo.png"  # a JPEG behind a misleading suffix
    Image.new("RGB", (8, 8)).save(path, format="JPEG")
    await client.upload_image(path)
    (upload,) = fake.uploads.values()
    assert upload["type"] == "image/jpeg"
    assert upload["filename"].endswith(".jpeg")


@pytest.mark.parametrize(
    ("request_kind", "route"), [("image", "image2video"), ("omni", "omni-video")]
)
async def test_create_with_a_local_image_uploads_first(
    client: kn.AsyncClient, fake: FakeAPI, png_path: Path, request_kind: str, route: str
) -> None:
    request: kn.ImageToVideo | kn.OmniVideo = (
        kn.ImageToVideo(png_path, "go")
        if request_kind == "image"
        else kn.OmniVideo("go", first_frame=png_path)
    )
    task = await client.create(request)
    upload_call, create_call = fake.calls
    assert upload_call.url.path == "/v1/images/uploads"
    assert create_call.url.path == f"/v1/videos/{route}"
    upload_id = next(iter(fake.uploads))
    body = json.loads(create_call.content)
    assert body["ImageList"] == [
        {
            "ImageUrl": f"https://media.kling.test/uploads/{upload_id}.png?sig=abc",
            "Type": "first_frame",
        }
    ]
    assert task.route == route
    assert request.local_image == png_path  # the caller's request is untouched


async def test_upload_refuses_non_images_and_missing_files_without_sending(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    text = tmp_path / "a.png"
    text.write_text("not really")
    with pytest.raises(kn.ValidationError) as info:
        await client.upload_image(text)
    assert info.value.field == "image"
    with pytest.raises(kn.ValidationError) as info:
        await client.upload_image(tmp_path / "missing.png")
    assert info.value.field == "image"
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(10 * 1024 * 1024 + 1)
    with pytest.raises(kn.ValidationError):
        await client.upload_image(big)
    assert fake.calls == []


async def test_upload_errors_are_typed(
    client: kn.AsyncClient, fake: FakeAPI, png_path: Path
) -> None:
    fake.inject("POST", "/v1/images/uploads", problem(413, "payload_too_large", "too big"))
    with pytest.raises(kn.APIError) as info:
        await client.upload_image(png_path)
    assert info.value.status_code == 413
    fake.inject("POST", "/v1/images/uploads", httpx.Response(200, json={"id": "x"}))
    with pytest.raises(kn.APIError, match="no url"):
        await client.upload_image(png_path)


async def test_upload_is_retried_on_5xx_since_it_is_not_billed(
    client: kn.AsyncClient, fake: FakeAPI, png_path: Path, sleeps: list[float]
) -> None:
    fake.inject("POST", "/v1/images/uploads", httpx.Response(503))
    url = await client.upload_image(png_path)
    assert url
    assert len(fake.calls) == 2


async def test_a_failed_upload_sends_no_create_and_says_it_was_unsent(
    client: kn.AsyncClient, fake: FakeAPI, png_path: Path, sleeps: list[float]
) -> None:
    fake.inject("POST", "/v1/images/uploads", *[httpx.Response(500) for _ in range(ALWAYS)])
    with pytest.raises(kn.APIConnectionError) as info:
        await client.create(kn.ImageToVideo(png_path))
    assert info.value.sent is False
    assert isinstance(info.value.__cause__, kn.ServerError)
    assert create_decision(info.value, attempt=0) is CreateDecision.RETRY
    assert fake.calls_to("POST", "/v1/videos/") == []


async def test_a_refused_upload_is_raised_as_is(
    client: kn.AsyncClient, fake: FakeAPI, png_path: Path
) -> None:
    fake.inject("POST", "/v1/images/uploads", problem(413, "payload_too_large", "too big"))
    with pytest.raises(kn.APIError) as info:
        await client.create(kn.ImageToVideo(png_path))
    assert info.value.status_code == 413
    assert create_decision(info.value, attempt=0) is CreateDecision.FAIL
    assert fake.calls_to("POST", "/v1/videos/") == []


async def test_png_helper_makes_real_pngs(tmp_path: Path) -> None:
    path = write_png(tmp_path / "x.png", (16, 9))
    assert path.read_bytes().startswith(b"\x89PNG")
