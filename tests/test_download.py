"""Downloads: `.part` then rename, safe names, Range resume, fresh URLs, no key to media."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from _mock import (
    BASE_URL,
    MEDIA_HOST,
    ClientFactory,
    FakeAPI,
    cut_body,
    fake_mp4,
    problem,
    streamed,
)

import kling_nb as kn
from kling_nb._download import safe_name


def _done(fake: FakeAPI, task_id: str = "task-1", version: int = 1) -> kn.Task:
    return kn.Task(
        task_id,
        "text2video",
        model="kling-v3",
        status=kn.Status.SUCCEEDED,
        video_url=fake.video_url(task_id, version),
    )


async def _created_and_done(client: kn.AsyncClient, fake: FakeAPI) -> kn.Task:
    fake.default_plan = ["succeeded"]
    return await client.get(await client.create(kn.TextToVideo("x")))


def _no_key_to_media(fake: FakeAPI) -> None:
    media = fake.media_calls()
    assert media
    for call in media:
        assert "authorization" not in call.headers
        assert "sk-" not in str(call.headers)


async def test_download_into_a_folder(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    task = await _created_and_done(client, fake)
    path = await client.download(task, tmp_path)
    assert path == tmp_path / "task-1.mp4"
    assert path.read_bytes() == fake.video
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task-1.mp4"]
    _no_key_to_media(fake)


async def test_download_streams_to_part_then_renames(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    task = _done(fake)
    target = tmp_path / "clip.mp4"
    part = tmp_path / "clip.mp4.part"
    progress: list[tuple[int, int | None]] = []

    def on_progress(received: int, total: int | None) -> None:
        assert part.exists()
        assert not target.exists()
        progress.append((received, total))

    result = await client.download_file(task, target, on_progress=on_progress)
    assert target.read_bytes() == fake.video
    assert not part.exists()
    assert len(progress) > 3  # streamed in chunks, not read at once
    assert [r for r, _ in progress] == sorted(r for r, _ in progress)
    assert progress[-1] == (len(fake.video), len(fake.video))
    assert result.size == len(fake.video)
    assert result.sha256 == hashlib.sha256(fake.video).hexdigest()
    assert result.path == target


async def test_download_to_a_file_in_a_new_folder(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    target = tmp_path / "a" / "b" / "out.mp4"
    assert await client.download(_done(fake), target) == target
    assert target.read_bytes() == fake.video


async def test_download_to_a_new_folder_given_with_a_trailing_slash(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    folder = str(tmp_path / "videos") + os.sep
    path = await client.download(_done(fake), folder)
    assert path == tmp_path / "videos" / "task-1.mp4"


async def test_download_to_a_new_name_without_extension_is_a_folder(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    path = await client.download(_done(fake), tmp_path / "videos")
    assert path == tmp_path / "videos" / "task-1.mp4"


@pytest.mark.parametrize(
    ("task_id", "name"),
    [
        ("../../etc/passwd", "etc_passwd.mp4"),
        ("..", "task.mp4"),
        ("a/b c", "a_b_c.mp4"),
        ("a\\b", "a_b.mp4"),
        (".hidden", "hidden.mp4"),
        ("job 1 (retry)", "job_1_retry.mp4"),
        ("/abs/path", "abs_path.mp4"),
        ("x" * 300, "x" * 96 + ".mp4"),
        ("日本", "task.mp4"),
    ],
)
async def test_server_ids_never_escape_the_folder(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, task_id: str, name: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    task = kn.Task(
        task_id, "text2video", status=kn.Status.SUCCEEDED, video_url=fake.video_url("weird")
    )
    path = await client.download(task, folder)
    assert path.parent == folder
    assert path.name == name
    assert path.resolve().parent == folder.resolve()
    assert [p.name for p in folder.iterdir()] == [name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task-1", "task-1"),
        ("../../etc/passwd", "etc_passwd"),
        ("", "task"),
        ("...", "task"),
        ("a.b_c-d", "a.b_c-d"),
        ("con\x00trol", "con_trol"),
    ],
)
def test_safe_name(text: str, expected: str) -> None:
    assert safe_name(text) == expected


async def test_a_cut_body_is_resumed_with_range(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    data = fake.video
    fake.inject("GET", MEDIA_HOST, cut_body(data, 100_000))
    result = await client.download_file(_done(fake), tmp_path)
    assert result.path.read_bytes() == data
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    first, second = fake.media_calls()
    assert "range" not in first.headers
    assert second.headers["range"] == "bytes=100000-"
    assert not list(tmp_path.glob("*.part"))
    _no_key_to_media(fake)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("peer closed"),
        httpx.ReadTimeout("stall"),
    ],
)
async def test_every_kind_of_cut_is_resumed(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float], error: Exception
) -> None:
    fake.inject("GET", MEDIA_HOST, cut_body(fake.video, 50_000, error))
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == fake.video


async def test_a_body_shorter_than_its_length_is_resumed(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    data = fake.video
    short = streamed(200, data[:70_000], {"ETag": fake.etag})
    short.headers["Content-Length"] = str(len(data))
    fake.inject("GET", MEDIA_HOST, short)
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == data
    assert fake.media_calls()[1].headers["range"] == "bytes=70000-"


async def test_two_cuts_are_resumed_twice(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    data = fake.video

    def cut_range(request: httpx.Request) -> httpx.Response:
        start = int(request.headers["range"].removeprefix("bytes=").rstrip("-"))
        response = cut_body(data[start:], 40_000)
        response.status_code = 206
        response.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        return response

    fake.inject("GET", MEDIA_HOST, cut_body(data, 40_000), cut_range)
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == data
    assert [c.headers.get("range") for c in fake.media_calls()] == [
        None,
        "bytes=40000-",
        "bytes=80000-",
    ]
    assert len(sleeps) == 2


async def test_too_many_cuts_raise_and_keep_the_part_for_next_time(
    make_client: ClientFactory, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    client = make_client(max_retries=0)
    data = fake.video
    fake.inject("GET", MEDIA_HOST, cut_body(data, 32_768))
    with pytest.raises(kn.DownloadError) as info:
        await client.download(_done(fake), tmp_path)
    assert "task-1" in str(info.value)
    assert (info.value.reason, info.value.retryable) == ("media", True)
    part = tmp_path / "task-1.mp4.part"
    assert part.read_bytes() == data[:32_768]
    assert not (tmp_path / "task-1.mp4").exists()
    # the next call picks up where the last one stopped
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == data
    assert fake.media_calls()[-1].headers["range"] == "bytes=32768-"


async def test_a_server_ignoring_range_restarts_cleanly(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    data = fake.video
    fake.inject("GET", MEDIA_HOST, cut_body(data, 60_000), streamed(200, data))
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == data


async def test_a_stale_whole_part_file_is_restarted_on_416(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    (tmp_path / "task-1.mp4.part").write_bytes(fake.video + b"stale extra bytes")
    (tmp_path / "task-1.mp4.part.validator").write_text(fake.etag)
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == fake.video
    ranges = [c.headers.get("range") for c in fake.media_calls()]
    assert ranges == [f"bytes={len(fake.video) + 17}-", None]


async def test_a_whole_part_file_is_finished_on_416_not_fetched_again(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    # A process killed between its last byte and the rename leaves the whole video in .part.
    (tmp_path / "task-1.mp4.part").write_bytes(fake.video)
    (tmp_path / "task-1.mp4.part.validator").write_text(fake.etag)
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == fake.video
    ranges = [c.headers.get("range") for c in fake.media_calls()]
    assert ranges == [f"bytes={len(fake.video)}-"]
    assert not (tmp_path / "task-1.mp4.part").exists()


@pytest.mark.parametrize("status", [403, 404, 410])
async def test_an_expired_media_url_triggers_one_status_reread(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, status: int
) -> None:
    task = await _created_and_done(client, fake)
    assert task.video_url is not None
    assert task.video_url.endswith("sig=1")
    fake.inject("GET", MEDIA_HOST, httpx.Response(status, text="AccessDenied: expired"))
    status_reads_before = len(fake.calls_to("GET", "/v1/videos/"))
    path = await client.download(task, tmp_path)
    assert path.read_bytes() == fake.video
    assert len(fake.calls_to("GET", "/v1/videos/")) == status_reads_before + 1
    media = fake.media_calls()
    assert [str(c.url).rsplit("=", 1)[1] for c in media] == ["1", "2"]  # the fresh URL
    _no_key_to_media(fake)


async def test_a_fresh_url_that_also_fails_raises_after_one_reread(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    task = await _created_and_done(client, fake)
    fake.inject("GET", MEDIA_HOST, *[httpx.Response(403) for _ in range(5)])
    before = len(fake.calls_to("GET", "/v1/videos/"))
    with pytest.raises(kn.DownloadError) as info:
        await client.download(task, tmp_path)
    assert (info.value.reason, info.value.retryable, info.value.status_code) == (
        "media",
        False,
        403,
    )
    assert len(fake.calls_to("GET", "/v1/videos/")) == before + 1
    assert len(fake.media_calls()) == 2
    assert not list(tmp_path.iterdir())


async def test_media_5xx_is_retried(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    fake.inject("GET", MEDIA_HOST, httpx.Response(503), httpx.Response(502))
    path = await client.download(_done(fake), tmp_path)
    assert path.read_bytes() == fake.video
    assert len(sleeps) == 2
    assert len(fake.media_calls()) == 3


async def test_media_5xx_gives_up_after_max_retries(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, sleeps: list[float]
) -> None:
    fake.inject("GET", MEDIA_HOST, *[httpx.Response(500) for _ in range(10)])
    with pytest.raises(kn.DownloadError) as info:
        await client.download(_done(fake), tmp_path)
    assert (info.value.reason, info.value.retryable, info.value.status_code) == (
        "media",
        True,
        500,
    )
    assert len(fake.media_calls()) == 3


async def test_media_on_the_api_host_still_gets_no_key(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/redirect":
            return httpx.Response(302, headers={"Location": f"{BASE_URL}/media/v.mp4"})
        return streamed(200, fake_mp4(2000))

    async with kn.AsyncClient(
        "sk-secret-abc", base_url=BASE_URL, transport=httpx.MockTransport(handler)
    ) as client:
        for url in (f"{BASE_URL}/media/v.mp4", f"{BASE_URL}/redirect"):
            task = kn.Task("t", "text2video", status=kn.Status.SUCCEEDED, video_url=url)
            await client.download(task, tmp_path / "x.mp4")
    assert len(seen) == 3
    assert all("authorization" not in r.headers for r in seen)


@pytest.mark.parametrize(
    "task",
    [
        kn.Task("t", "text2video", status=kn.Status.RUNNING),
        kn.Task("t", "text2video", status=kn.Status.SUCCEEDED),
        kn.Task("t", "text2video", status=kn.Status.FAILED, video_url="https://m/x.mp4"),
        kn.Task("t", "text2video", status=kn.Status.SUCCEEDED, video_url="file:///etc/passwd"),
        kn.Task("t", "text2video", status=kn.Status.SUCCEEDED, video_url="javascript:alert(1)"),
    ],
)
async def test_download_refuses_tasks_without_a_usable_url(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path, task: kn.Task
) -> None:
    with pytest.raises(kn.ValidationError):
        await client.download(task, tmp_path)
    assert fake.calls == []
    assert not list(tmp_path.iterdir())


async def test_download_of_a_status_error_body_is_typed(
    client: kn.AsyncClient, fake: FakeAPI, tmp_path: Path
) -> None:
    task = await _created_and_done(client, fake)
    fake.inject("GET", MEDIA_HOST, httpx.Response(403))
    fake.inject("GET", "/v1/videos/", problem(404, "task_not_found", "gone"))
    with pytest.raises(kn.NotFoundError):
        await client.download(task, tmp_path)


async def test_a_part_file_from_another_version_is_not_appended_to(tmp_path: Path) -> None:
    from kling_nb._download import stream_to_file

    new_body = fake_mp4(10_000, seed=b"new")
    seen_if_range: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_if_range.append(request.headers.get("if-range"))
        # A server honouring If-Range: the validator does not match, so send it all.
        return streamed(200, new_body, {"etag": '"v2"'})

    dest = tmp_path / "clip.mp4"
    (tmp_path / "clip.mp4.part").write_bytes(b"OLD-" * 100)
    (tmp_path / "clip.mp4.part.validator").write_text('"v1"')
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        result = await stream_to_file(http, "http://127.0.0.1/media/clip.mp4", dest)
    assert seen_if_range == ['"v1"']
    assert dest.read_bytes() == new_body
    assert result.sha256 == hashlib.sha256(new_body).hexdigest()
    assert not (tmp_path / "clip.mp4.part.validator").exists()
