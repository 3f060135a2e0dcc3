"""A server that lies: garbled 2xx status reads, wrong ids, bad video URLs, hanging reads."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from _mock import FAST, ClientFactory, FakeAPI

import kling_nb as kn

GARBLED = [
    pytest.param(lambda: httpx.Response(200, text="<html>proxy login</html>"), id="html"),
    pytest.param(lambda: httpx.Response(200, json=[]), id="array"),
    pytest.param(lambda: httpx.Response(200, text="{not json"), id="not-json"),
    pytest.param(lambda: httpx.Response(200, json={"id": "task-999", "status": "failed"}), id="id"),
    pytest.param(lambda: httpx.Response(200, json={"status": "failed"}), id="no-id"),
]


@pytest.mark.parametrize("make", GARBLED)
async def test_a_garbled_status_read_is_an_invalid_response(
    client: kn.AsyncClient, fake: FakeAPI, make: object
) -> None:
    task = await client.create(kn.TextToVideo("x"))
    assert callable(make)
    fake.inject("GET", "/v1/videos/", make())
    with pytest.raises(kn.InvalidResponseError) as info:
        await client.get(task)
    assert info.value.status_code == 200


async def test_garbled_replies_in_a_row_never_end_a_wait(
    client: kn.AsyncClient, fake: FakeAPI
) -> None:
    fake.default_plan = ["succeeded"]
    task = await client.create(kn.TextToVideo("x"))
    fake.inject(
        "GET",
        "/v1/videos/",
        httpx.Response(200, text="<!doctype html><p>gateway</p>"),
        httpx.Response(200, json=[]),
        # another task's body, and it says failed: must not fail this wait
        httpx.Response(200, json={"id": "task-999", "status": "failed", "error": "no"}),
    )
    final = await client.wait(task, schedule=FAST, timeout=10)
    assert final.succeeded
    assert final.id == task.id
    assert len(fake.calls_to("GET", "/v1/videos/")) == 4


async def test_garbled_replies_until_the_deadline_time_out(
    client: kn.AsyncClient, fake: FakeAPI
) -> None:
    task = await client.create(kn.TextToVideo("x"))
    fake.inject("GET", "/v1/videos/", *[httpx.Response(200, json=[]) for _ in range(10_000)])
    with pytest.raises(kn.TaskTimeoutError):
        await client.wait(task, schedule=FAST, timeout=0.2)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "/relative.mp4", "ftp://h/x.mp4", 7]
)
async def test_a_video_url_that_is_not_http_means_not_finished(
    client: kn.AsyncClient, fake: FakeAPI, url: object
) -> None:
    fake.default_plan = [{"status": "succeeded", "content": {"video_url": url}}, "succeeded"]
    task = await client.create(kn.TextToVideo("x"))
    first = await client.get(task)
    assert first.video_url is None
    assert not first.succeeded
    final = await client.wait(task, schedule=FAST, timeout=10)
    assert final.video_url is not None
    assert final.video_url.startswith("https://")


async def test_a_status_read_hanging_past_the_deadline_is_a_task_timeout(
    make_client: ClientFactory, fake: FakeAPI
) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(500)

    client = make_client()
    task = await client.create(kn.TextToVideo("x"))
    hanging = make_client(transport=httpx.MockTransport(hang))
    started = time.monotonic()
    # Python 3.10: asyncio.wait_for raises asyncio.TimeoutError, which is not TimeoutError
    with pytest.raises(kn.TaskTimeoutError):
        await hanging.wait(task, schedule=FAST, timeout=0.3)
    assert time.monotonic() - started < 2.0
