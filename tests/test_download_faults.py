"""Downloads against hostile media hosts and disks: deadlines, stalls, stale parts, bad lengths,
broken files, full disks, redirect loops, refused connections."""

from __future__ import annotations

import asyncio
import os
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from _mock import MEDIA_HOST, ClientFactory, FakeAPI, fake_mp4, streamed

import kling_nb as kn
from kling_nb._download import mp4_structure_ok
from kling_nb.sandbox._video import VideoSpec, render_mp4


def _done(fake: FakeAPI, task_id: str = "task-1") -> kn.Task:
    return kn.Task(
        task_id, "text2video", status=kn.Status.SUCCEEDED, video_url=fake.video_url(task_id)
    )


class Drip(httpx.AsyncByteStream):
    """A body that yields one byte every `gap` seconds: it never stalls, it never ends."""

    def __init__(self, data: bytes, gap: float) -> None:
        self.data = data
        self.gap = gap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(len(self.data)):
            await asyncio.sleep(self.gap)
            yield self.data[i : i + 1]


# -- the MP4 check --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_mp4() -> bytes:
    return render_mp4(VideoSpec("a red kite", "kling-v3", "std", 1, 64, 36, fps=4))


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _wide_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 1) + kind + struct.pack(">Q", 16 + len(payload)) + payload


FTYP = _box(b"ftyp", b"isom\0\0\2\0isomiso2")
MOOV = _box(b"moov", b"\0" * 20)


@pytest.mark.parametrize(
    ("data", "ok"),
    [
        pytest.param(FTYP + MOOV + _box(b"mdat", b"x" * 100), True, id="32-bit"),
        pytest.param(FTYP + MOOV + _wide_box(b"mdat", b"x" * 100), True, id="64-bit"),
        pytest.param(FTYP + MOOV + b"\0\0\0\0mdat" + b"x" * 100, True, id="size-0-to-eof"),
        pytest.param(FTYP + _box(b"mdat", b"x" * 10) + MOOV, True, id="moov-last"),
        pytest.param(FTYP + MOOV + _box(b"mdat", b"x" * 100)[:-1], False, id="truncated"),
        pytest.param(FTYP + MOOV + _box(b"mdat", b"x" * 100) + b"junk", False, id="trailing"),
        pytest.param(FTYP + _box(b"mdat", b"x" * 100), False, id="no-moov"),
        pytest.param(MOOV + _box(b"mdat", b"x" * 100), False, id="no-ftyp"),
        pytest.param(FTYP + MOOV, False, id="no-mdat"),
        pytest.param(FTYP + MOOV + struct.pack(">I", 4) + b"mdat", False, id="size-under-header"),
        pytest.param(FTYP + MOOV + struct.pack(">I", 1) + b"mdat" + b"\0" * 4, False, id="cut-64"),
        pytest.param(FTYP + MOOV + _box(b"md\x00t", b"x"), False, id="binary-type"),
        pytest.param(b"<html><body>Access denied</body></html>", False, id="html"),
        pytest.param(b"", False, id="empty"),
        pytest.param(os.urandom(4096), False, id="random"),
    ],
)
def test_mp4_structure_ok(tmp_path: Path, data: bytes, ok: bool) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    assert mp4_structure_ok(path) is ok


def test_a_real_h264_mp4_passes_and_a_cut_one_fails(tmp_path: Path, real_mp4: bytes) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(real_mp4)
    assert mp4_structure_ok(path)
    path.write_bytes(real_mp4[:-1])
    assert not mp4_structure_ok(path)
    assert not mp4_structure_ok(tmp_path / "missing.mp4")


# -- deadlines and stalls -------------------------------------------------------------------


async def test_a_dripping_media_host_is_cut_at_the_deadline(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    data = fake.video
    fake.inject(
        "GET",
        MEDIA_HOST,
        httpx.Response(
            200,
            headers={"Content-Length": str(len(data)), "ETag": fake.etag},
            stream=Drip(data, 0.2),
        ),
    )
    started = time.monotonic()
    with pytest.raises(kn.DownloadError) as info:
        await client.download(_done(fake), tmp_path, timeout=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.6
    assert (info.value.reason, info.value.retryable) == ("deadline", True)
    part = tmp_path / "task-1.mp4.part"
    kept = part.stat().st_size
    assert 2 <= kept <= 6  # kept for the next try
    assert not (tmp_path / "task-1.mp4").exists()
    # the next call resumes from what the .part holds
    path = await client.download(_done(fake), tmp_path, timeout=10)
    assert path.read_bytes() == data
    assert fake.media_calls()[-1].headers["range"] == f"bytes={kept}-"


class _StallingHost:
    """A real HTTP server on 127.0.0.1: the first GET sends half the body and then goes silent;
    a Range GET gets the rest. Records each request's head."""

    def __init__(self, data: bytes, etag: str) -> None:
        self.data = data
        self.etag = etag
        self.heads: list[str] = []
        self.server: asyncio.AbstractServer | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        self.heads.append(head)
        start = 0
        for line in head.split("\r\n"):
            if line.lower().startswith("range: bytes="):
                start = int(line.split("=", 1)[1].rstrip("-"))
        body = self.data[start:]
        status = "206 Partial Content" if start else "200 OK"
        extra = f"Content-Range: bytes {start}-{len(self.data) - 1}/{len(self.data)}\r\n"
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nETag: {self.etag}\r\n"
            f"{extra if start else ''}Connection: close\r\n\r\n".encode()
        )
        if start:
            writer.write(body)
        else:
            writer.write(body[: len(body) // 2])
            await writer.drain()
            await asyncio.sleep(30)  # silent: the client must cut and resume
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v.mp4"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:  # the silent handler still holds its socket
            writer.close()


async def test_a_silent_body_is_cut_after_stall_timeout_and_resumed(
    make_client: ClientFactory, tmp_path: Path, real_mp4: bytes
) -> None:
    host = _StallingHost(real_mp4, '"v1"')
    async with host as url:
        task = kn.Task("t", "text2video", status=kn.Status.SUCCEEDED, video_url=url)
        client = make_client(transport=None)
        started = time.monotonic()
        result = await client.download_file(task, tmp_path, stall_timeout=0.3, timeout=20)
    assert time.monotonic() - started < 5
    assert result.path.read_bytes() == real_mp4
    assert len(host.heads) == 2
    assert f"range: bytes={len(real_mp4) // 2}-" in host.heads[1].lower()
    assert 'if-range: "v1"' in host.heads[1].lower()


# -- validators, lengths, broken files ------------------------------------------------------


async def test_a_part_without_a_validator_is_never_appended_to(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    # a stale .part from another file (say, an older video of the same name)
    (tmp_path / "task-1.mp4.part").write_bytes(fake_mp4(50_000, seed=b"another video"))
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == fake.video
    assert "range" not in fake.media_calls()[0].headers


async def test_a_cut_body_without_a_validator_restarts_from_scratch(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    data = fake.video
    short = streamed(200, data[:70_000])  # no ETag, no Last-Modified
    short.headers["Content-Length"] = str(len(data))
    fake.inject("GET", MEDIA_HOST, short)
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == data
    assert [c.headers.get("range") for c in fake.media_calls()] == [None, None]


async def test_last_modified_is_a_validator_too(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    data = fake.video
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    short = streamed(200, data[:70_000], {"Last-Modified": stamp, "ETag": 'W/"weak"'})
    short.headers["Content-Length"] = str(len(data))
    fake.inject("GET", MEDIA_HOST, short)
    fake.inject(
        "GET",
        MEDIA_HOST,
        lambda r: streamed(
            206,
            data[70_000:],
            {"Content-Range": f"bytes 70000-{len(data) - 1}/{len(data)}"},
        ),
    )
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == data
    second = fake.media_calls()[1]
    assert (second.headers["range"], second.headers["if-range"]) == ("bytes=70000-", stamp)


async def test_a_206_for_the_wrong_range_restarts(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    data = fake.video
    (tmp_path / "task-1.mp4.part").write_bytes(data[:1000])
    (tmp_path / "task-1.mp4.part.validator").write_text(fake.etag)
    wrong = streamed(206, data[500:], {"Content-Range": f"bytes 500-{len(data) - 1}/{len(data)}"})
    fake.inject("GET", MEDIA_HOST, wrong)
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == data
    assert [c.headers.get("range") for c in fake.media_calls()] == ["bytes=1000-", None]


async def test_a_body_longer_than_announced_is_corrupt_and_fetched_again(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    data = fake.video
    long = streamed(200, data + b"extra")
    long.headers["Content-Length"] = str(len(data))
    fake.inject("GET", MEDIA_HOST, long)
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == data
    assert len(fake.media_calls()) == 2


async def test_no_announced_length_is_accepted_only_for_a_whole_mp4(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    def unannounced(body: bytes) -> httpx.Response:
        response = streamed(200, body, {"ETag": fake.etag})
        del response.headers["Content-Length"]
        return response

    fake.inject("GET", MEDIA_HOST, unannounced(fake.video))
    path = await client.download(_done(fake), tmp_path / "a")
    assert path.read_bytes() == fake.video
    cut = fake.video[:-10]
    fake.inject("GET", MEDIA_HOST, unannounced(cut), unannounced(cut))
    with pytest.raises(kn.DownloadError) as info:
        await client.download(_done(fake), tmp_path / "b")
    assert (info.value.reason, info.value.retryable) == ("corrupt", False)
    assert not list((tmp_path / "b").iterdir())  # the .part is removed


async def test_an_error_page_served_as_200_is_corrupt_after_one_more_try(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    page = b"<html><body>Please log in</body></html>"
    fake.inject("GET", MEDIA_HOST, streamed(200, page), streamed(200, page))
    with pytest.raises(kn.DownloadError) as info:
        await client.download(_done(fake), tmp_path)
    assert info.value.reason == "corrupt"
    assert len(fake.media_calls()) == 2
    assert list(tmp_path.iterdir()) == []


# -- the disk -------------------------------------------------------------------------------


@pytest.fixture
def dev_full() -> Path:
    path = Path("/dev/full")
    if not path.exists():
        pytest.skip("no /dev/full here")
    return path


async def test_a_full_disk_is_a_disk_error_not_an_oserror(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, dev_full: Path
) -> None:
    # /dev/full fails every write with ENOSPC, like a disk with no space left.
    (tmp_path / "task-1.mp4.part").symlink_to(dev_full)
    (tmp_path / "task-1.mp4.part.validator").write_text(fake.etag)
    with pytest.raises(kn.DownloadError) as info:
        await client.download(_done(fake), tmp_path)
    assert (info.value.reason, info.value.retryable) == ("disk", True)
    assert "No space left on device" in str(info.value)
    assert info.value.path is not None
    assert "task-1.mp4.part" in info.value.path


async def test_a_parent_that_cannot_be_made_is_a_disk_error(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(kn.DownloadError) as info:
        await client.download(_done(fake), blocker / "sub" / "v.mp4")
    assert info.value.reason == "disk"
    assert fake.media_calls() == []


# -- the media host -------------------------------------------------------------------------


async def test_a_redirect_loop_is_a_media_error(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    loop_url = f"https://{MEDIA_HOST}/kling/loop.mp4"
    fake.inject(
        "GET",
        "loop",
        *[httpx.Response(302, headers={"Location": loop_url}) for _ in range(100)],
    )
    task = kn.Task("t", "text2video", status=kn.Status.SUCCEEDED, video_url=loop_url)
    with pytest.raises(kn.DownloadError) as info:
        await client.download(task, tmp_path)
    assert info.value.reason == "media"


async def test_a_refused_media_connection_rereads_the_status_once(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    fake.default_plan = ["succeeded"]
    task = await client.get(await client.create(kn.TextToVideo("x")))
    fake.inject("GET", MEDIA_HOST, httpx.ConnectError("connection refused"))
    path = await client.download(task, tmp_path)
    assert path.read_bytes() == fake.video
    assert [str(c.url).rsplit("=", 1)[1] for c in fake.media_calls()] == ["1", "2"]


async def test_the_deadline_also_bounds_backoff_between_attempts(
    make_client: ClientFactory, fake: FakeAPI, tmp_path: Path
) -> None:
    client = make_client(max_retries=10)
    fake.inject("GET", MEDIA_HOST, *[httpx.Response(503) for _ in range(100)])
    started = time.monotonic()
    with pytest.raises(kn.DownloadError) as info:
        await client.download(_done(fake), tmp_path, timeout=0.8)
    assert info.value.reason == "deadline"
    assert time.monotonic() - started < 1.5
