"""Served media: Range requests, and the MP4s themselves (codec, duration, ratio, content)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pytest

from kling_nb._errors import APIError, PermissionDeniedError
from kling_nb.sandbox import Sandbox, VideoSpec, render_mp4

from ._sandbox_helpers import (
    assert_problem,
    create,
    frame_at,
    omni,
    probe_mp4,
    t2v,
    wait_terminal,
)


async def video_for(http: httpx.AsyncClient, route: str, body: dict[str, Any]) -> tuple[str, bytes]:
    task = await create(http, route, body)
    final = await wait_terminal(http, route, task["id"])
    assert final["status"] == "succeeded", final
    url = final["content"]["video_url"]
    response = await http.get(url)
    assert response.status_code == 200
    return url, response.content


@pytest.fixture
async def video(http: httpx.AsyncClient) -> tuple[str, bytes]:
    return await video_for(http, "text2video", t2v())


async def test_media_is_a_plain_get_with_ranges(
    http: httpx.AsyncClient, video: tuple[str, bytes]
) -> None:
    url, data = video
    size = len(data)
    full = await http.get(url)
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-length"] == str(size)
    assert full.headers["content-type"] == "video/mp4"
    etag = full.headers["etag"]

    cases = {
        "bytes=0-99": (0, 99),
        "bytes=100-": (100, size - 1),
        "bytes=-50": (size - 50, size - 1),
        f"bytes=10-{size * 2}": (10, size - 1),
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),
    }
    for header, (start, end) in cases.items():
        part = await http.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert part.headers["content-length"] == str(end - start + 1)
        assert part.content == data[start : end + 1]

    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        bad = await http.get(url, headers={"Range": header})
        assert_problem(bad, 416, "range_not_satisfiable", APIError)
        assert bad.headers["content-range"] == f"bytes */{size}"

    # Malformed or multi-range headers are ignored, as object stores do: the whole body.
    for header in ("bytes=abc", "items=0-10", "bytes=0-10,20-30", "bytes=50-10"):
        whole = await http.get(url, headers={"Range": header})
        assert whole.status_code == 200, header
        assert whole.content == data

    # If-Range with a stale ETag serves the whole (new) object.
    stale = await http.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200
    fresh = await http.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206

    head = await http.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(size)
    assert head.content == b""


async def test_media_url_checks_signature_and_state(
    http: httpx.AsyncClient, frozen_http: httpx.AsyncClient, video: tuple[str, bytes]
) -> None:
    url, _ = video
    base, _, _ = url.partition("?")
    assert_problem(await http.get(base), 403, "signature_mismatch", PermissionDeniedError)
    assert (await http.get(base + "?sig=" + "0" * 64)).status_code == 403
    assert (await http.get("/media/task_nothing.webm?sig=x")).status_code == 403


async def test_mp4_is_h264_in_mp4_with_exact_duration(http: httpx.AsyncClient) -> None:
    for duration in ("5", "10"):
        _, data = await video_for(http, "text2video", t2v(Duration=duration))
        info = probe_mp4(data)
        assert "mp4" in info.format
        assert info.codec == "h264"
        assert info.pix_fmt == "yuv420p"
        assert abs(info.duration - int(duration)) <= 0.2
        assert info.frames == round(info.fps * int(duration))
        assert 5_000 < len(data) < 200_000  # small: tens of KB
        assert data.find(b"moov") < data.find(b"mdat")  # +faststart: playable while loading


@pytest.mark.parametrize(
    ("ratio", "size"), [("16:9", (320, 180)), ("9:16", (180, 320)), ("1:1", (240, 240))]
)
async def test_mp4_has_the_requested_aspect_ratio(
    http: httpx.AsyncClient, ratio: str, size: tuple[int, int]
) -> None:
    _, data = await video_for(http, "omni-video", omni(AspectRatio=ratio))
    info = probe_mp4(data)
    assert (info.width, info.height) == size


async def test_image2video_takes_the_ratio_of_its_first_frame(
    http: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    from ._sandbox_helpers import i2v

    _, data = await video_for(http, "image2video", i2v(sandbox.sample_url("portrait.jpg")))
    assert (probe_mp4(data).width, probe_mp4(data).height) == (180, 320)
    # omni with a first frame and an explicit ratio: the ratio wins.
    body = omni(AspectRatio="1:1", ImageList=[{"ImageUrl": sandbox.sample_url()}])
    _, data = await video_for(http, "omni-video", body)
    assert (probe_mp4(data).width, probe_mp4(data).height) == (240, 240)


async def test_frames_differ_for_different_prompts(http: httpx.AsyncClient) -> None:
    _, fox = await video_for(http, "text2video", t2v(Prompt="a fox in snow"))
    _, boat = await video_for(http, "text2video", t2v(Prompt="a paper boat on a river"))
    _, fox_again = await video_for(http, "text2video", t2v(Prompt="a fox in snow"))
    a, b, c = frame_at(fox, 20), frame_at(boat, 20), frame_at(fox_again, 20)
    assert float(np.abs(a - b).mean()) > 10  # visibly different pictures
    assert float(np.abs(a - c).mean()) < 1  # and deterministic for one prompt
    # The picture moves: early and late frames differ.
    assert float(np.abs(frame_at(fox, 0) - frame_at(fox, 50)).mean()) > 1


async def test_each_video_is_rendered_once(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    task = await create(http, "text2video", t2v())
    final = await wait_terminal(http, "text2video", task["id"])
    for _ in range(3):
        await http.get(final["content"]["video_url"])
        await wait_terminal(http, "text2video", task["id"])
    stats = sandbox.stats()
    assert stats["renders"] == 1
    assert stats["media_reads"] == 3


@pytest.mark.parametrize("duration", [5, 10])
def test_rendering_is_fast(duration: int) -> None:
    render_mp4(VideoSpec("warm up", "kling-v3", "std", 5, 320, 180))
    started = time.perf_counter()
    data = render_mp4(VideoSpec("timing " * 20, "kling-v3", "pro", duration, 320, 180))
    elapsed = time.perf_counter() - started
    assert abs(probe_mp4(data).duration - duration) <= 0.2
    assert elapsed < 3.0  # about 0.1-0.2 s on a laptop; generous for slow CI


def test_render_handles_odd_prompts() -> None:
    for prompt in ("", "😀 emoji and 中文", "x" * 2500, "a\nb\tc"):
        data = render_mp4(VideoSpec(prompt, "kling-v3", "std", 5, 240, 240))
        assert probe_mp4(data).codec == "h264"


def test_render_survives_an_undecodable_first_frame() -> None:
    spec = VideoSpec("p", "kling-v3", "std", 5, 320, 180, first_frame=b"\x89PNG\r\n\x1a\nbroken")
    assert probe_mp4(render_mp4(spec)).width == 320
