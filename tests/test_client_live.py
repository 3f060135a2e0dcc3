"""The same client flows as `test_client.py`, over real HTTP against the live sandbox.

Each test gets its own `kling_nb.sandbox.Sandbox` on 127.0.0.1 (a real uvicorn server making
real H.264 MP4s), so pending tasks and balances never leak between tests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from _flows import Backend, ClientFlows, is_mp4
from _mock import TEAM_KEY

import kling_nb as kn
from kling_nb.sandbox import Faults, Sandbox
from kling_nb.sandbox._media import etag_for

TIME_SCALE = 0.01  # a 5 s std video is ready in about a second
LIVE_SCHEDULE = kn.PollSchedule(median=0.5, min_delay=0.02, max_delay=0.15)
LIVE_TIMEOUT = 60.0


class _Recording(httpx.AsyncHTTPTransport):
    """A real HTTP transport that remembers each request and the status it got."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[httpx.Request, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.seen.append((request, response.status_code))
        return response


@pytest.fixture
def sandboxes() -> Iterator[list[Any]]:
    """Every sandbox a test starts; all are stopped afterwards."""
    started: list[Any] = []
    yield started
    for sandbox in started:
        sandbox.stop()


def _start(sandboxes: list[Any], **faults: float) -> Any:
    sandbox = Sandbox(
        time_scale=TIME_SCALE, faults=Faults(seed=7, **faults) if faults else None
    ).start()
    sandboxes.append(sandbox)
    return sandbox


def _backend(sandbox: Any, faults: Any) -> Backend:
    return Backend(
        name="sandbox",
        base_url=sandbox.base_url,
        transport=None,  # real HTTP
        schedule=LIVE_SCHEDULE,
        wait_timeout=LIVE_TIMEOUT,
        faults=faults,
    )


@pytest.fixture
async def backend(sandboxes: list[Any]) -> AsyncIterator[Backend]:
    @asynccontextmanager
    async def faults(**rates: float) -> AsyncIterator[Backend]:
        faulty = _backend(_start(sandboxes, **rates), faults)
        try:
            yield faulty
        finally:
            await faulty.aclose()

    live = _backend(_start(sandboxes), faults)
    yield live
    await live.aclose()


class TestFlowsOverRealHTTP(ClientFlows):
    """`ClientFlows` against the live sandbox."""

    async def test_the_mp4_is_a_real_video_of_the_requested_length(
        self, backend: Backend, tmp_path: Path
    ) -> None:
        import av

        client = backend.client()
        task = await client.create(kn.TextToVideo("a red ball bouncing", aspect_ratio="9:16"))
        final = await client.wait(task, timeout=LIVE_TIMEOUT, schedule=LIVE_SCHEDULE)
        path = await client.download(final, tmp_path)
        data = path.read_bytes()
        assert is_mp4(data)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert stream.codec_context.height > stream.codec_context.width  # 9:16
            seconds = float(container.duration) / 1_000_000
        assert 4.0 <= seconds <= 6.0

    async def test_nothing_leaks_over_real_http_at_debug(
        self, backend: Backend, caplog: pytest.LogCaptureFixture, png_path: Path, tmp_path: Path
    ) -> None:
        # The demo key plays the canary here: it must reach the server and nothing else.
        caplog.set_level(logging.DEBUG)
        for name in ("kling_nb", "httpx", "httpcore"):
            caplog.set_level(logging.DEBUG, logger=name)
        client = backend.client(TEAM_KEY)
        task = await client.create(kn.OmniVideo("a kite", first_frame=png_path))
        final = await client.wait(task, timeout=LIVE_TIMEOUT, schedule=LIVE_SCHEDULE)
        await client.download(final, tmp_path)
        with pytest.raises(kn.NotFoundError) as not_found:
            await client.get(task.id, route="text2video")
        canary = "sk-CANARY-live-0001"
        with pytest.raises(kn.AuthenticationError) as refused:
            await backend.client(canary).create(kn.TextToVideo("x"))
        # (the sandbox's 401 lists its public demo keys, so only the refused key is checked there)
        for error, key in ((not_found.value, TEAM_KEY), (refused.value, canary)):
            for text in (str(error), repr(error), repr(error.body), repr(error.args)):
                assert key not in text
        client_records = [
            r
            for r in caplog.records
            if r.name == "kling_nb" or r.name.startswith(("kling_nb._", "httpx", "httpcore"))
        ]
        assert any(r.name.startswith("httpcore") for r in client_records)  # really at DEBUG
        for record in client_records:
            assert TEAM_KEY not in record.getMessage()
            assert canary not in record.getMessage()

    async def test_a_partial_download_is_resumed_with_range(
        self, backend: Backend, tmp_path: Path
    ) -> None:
        transport = _Recording()
        client = backend.client(transport=transport)
        task = await client.create(kn.TextToVideo("a slow river"))
        final = await client.wait(task, timeout=LIVE_TIMEOUT, schedule=LIVE_SCHEDULE)
        whole = (await client.download(final, tmp_path / "first.mp4")).read_bytes()
        half = len(whole) // 2
        (tmp_path / "second.mp4.part").write_bytes(whole[:half])
        # A .part is only resumed under the validator it was fetched with (the sandbox's ETag).
        (tmp_path / "second.mp4.part.validator").write_text(etag_for(whole))
        result = await client.download_file(final, tmp_path / "second.mp4")
        assert result.path.read_bytes() == whole
        assert result.size == len(whole)
        assert not (tmp_path / "second.mp4.part").exists()
        request, status = transport.seen[-1]
        assert request.headers["range"] == f"bytes={half}-"
        assert status == 206
        assert "authorization" not in request.headers
