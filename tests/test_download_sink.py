"""The download engine's disk side: `FileSink` (writer thread, 1 MiB buffers) and wider
socket reads, on bodies of several buffers, cut, cancelled and failing."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path

import httpx
import pytest
from _mock import MEDIA_HOST, FakeAPI, cut_body, fake_mp4

import kling_nb as kn
from kling_nb._media import BUFFER_SIZE, READ_SIZE, FileSink, widen_reads

BIG = 5 * BUFFER_SIZE + 12_345


def _chunks(data: bytes, size: int = 65_536) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def test_a_body_of_many_buffers_lands_whole_with_its_hash(tmp_path: Path) -> None:
    data = fake_mp4(BIG)
    digest = hashlib.sha256()
    with (tmp_path / "v.part").open("wb") as handle, FileSink(handle, digest) as sink:
        for chunk in _chunks(data):
            await sink.add(chunk)
        await sink.drain()
    assert (tmp_path / "v.part").read_bytes() == data
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


async def test_a_small_body_starts_no_thread(tmp_path: Path) -> None:
    digest = hashlib.sha256()
    with (tmp_path / "v.part").open("wb") as handle, FileSink(handle, digest) as sink:
        await sink.add(b"x" * 1000)
        await sink.drain()
        assert sink._executor is None
    assert (tmp_path / "v.part").read_bytes() == b"x" * 1000


async def test_a_cancelled_body_keeps_every_byte_it_was_given(tmp_path: Path) -> None:
    data = fake_mp4(BIG)
    given = 0

    async def feed(sink: FileSink) -> None:
        nonlocal given
        for chunk in _chunks(data):
            await sink.add(chunk)
            given += len(chunk)
            await asyncio.sleep(0)
            if given >= 3 * BUFFER_SIZE + 100_000:
                await asyncio.sleep(10)  # cut here by the deadline below

    with (
        (tmp_path / "v.part").open("wb") as handle,
        FileSink(handle, hashlib.sha256()) as sink,
        pytest.raises((TimeoutError, asyncio.TimeoutError)),
    ):
        await asyncio.wait_for(feed(sink), 1.0)
    assert (tmp_path / "v.part").read_bytes() == data[:given]


class _FailsSecondWrite(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def write(self, data: object) -> int:
        self.calls += 1
        if self.calls == 2:
            raise OSError(28, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


async def test_after_a_failed_write_no_later_write_leaves_a_gap() -> None:
    handle = _FailsSecondWrite()
    sink = FileSink(handle, hashlib.sha256(), depth=8)
    for chunk in _chunks(bytes(4 * BUFFER_SIZE)):
        await sink.add(chunk)
    with pytest.raises(OSError, match="No space"):
        sink.close()
    assert handle.getvalue() == bytes(BUFFER_SIZE)  # the first buffer only, no gap after it
    assert handle.calls == 2


async def test_a_big_body_cut_mid_buffer_resumes_at_the_exact_byte(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    fake.video = fake_mp4(BIG)
    cut = 3 * BUFFER_SIZE + 54_321  # three buffers went to the writer, a partial one did not
    fake.inject("GET", MEDIA_HOST, cut_body(fake.video, cut))
    task = kn.Task("big", "text2video", status=kn.Status.SUCCEEDED, video_url=fake.video_url("big"))
    result = await client.download_file(task, tmp_path)
    assert fake.media_calls()[1].headers["range"] == f"bytes={cut}-"
    assert result.path.read_bytes() == fake.video
    assert result.sha256 == hashlib.sha256(fake.video).hexdigest() == _sha(result.path)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_reads_are_widened_on_a_real_plain_http_connection() -> None:
    body = b"z" * (3 * BUFFER_SIZE)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with (
            httpx.AsyncClient() as http,
            http.stream("GET", f"http://127.0.0.1:{port}/v.mp4") as response,
        ):
            # Fails if httpx/httpcore moved the attributes widen_reads walks through.
            assert widen_reads(response) is True
            sizes = [len(chunk) async for chunk in response.aiter_raw()]
    finally:
        server.close()
    assert sum(sizes) == len(body)
    assert max(sizes) > 65_536  # more than httpcore's default read
    assert READ_SIZE >= BUFFER_SIZE


async def test_reads_are_left_alone_without_httpcore_or_over_tls() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"ok"))
    async with httpx.AsyncClient(transport=transport) as http:
        for url in ("http://media.test/v.mp4", "https://media.test/v.mp4"):
            async with http.stream("GET", url) as response:
                assert widen_reads(response) is False
