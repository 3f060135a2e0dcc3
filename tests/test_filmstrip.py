"""Posters and filmstrips of real sandbox MP4s: sizes, byte budget, atomic writes, bad input."""

from __future__ import annotations

import base64
import statistics
import time
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from kling_nb._errors import KlingError
from kling_nb._filmstrip import PictureError, Pictures, data_uri, make_pictures, picture_paths
from kling_nb.sandbox import VideoSpec, render_mp4

# A saved notebook carries the filmstrip base64-encoded: 4/3 of these bytes (issue 14: ≤ 40 KB).
STRIP_BUDGET = 30_000
POSTER_BUDGET = 60_000


def _video(folder: Path, *, width: int, height: int, duration: int, name: str = "clip") -> Path:
    spec = VideoSpec(
        prompt="A lighthouse at night, waves breaking on the rocks",
        model="kling-v3",
        mode="std",
        duration=duration,
        width=width,
        height=height,
    )
    path = folder / f"{name}.mp4"
    path.write_bytes(render_mp4(spec))
    return path


@pytest.mark.parametrize(
    ("width", "height", "duration"),
    [(320, 180, 5), (320, 180, 10), (180, 320, 5), (180, 320, 10)],
)
def test_pictures_are_jpegs_of_the_expected_sizes_within_budget(
    tmp_path: Path, width: int, height: int, duration: int
) -> None:
    video = _video(tmp_path, width=width, height=height, duration=duration)

    pictures = make_pictures(video)

    assert pictures == picture_paths(video)
    assert pictures.poster == tmp_path / "clip.poster.jpg"
    assert pictures.filmstrip == tmp_path / "clip.strip.jpg"
    with Image.open(pictures.poster) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (width, height)  # under 640 px wide: the video's own size
    with Image.open(pictures.filmstrip) as strip:
        assert strip.format == "JPEG"
        assert strip.size == (5 * 160, round(160 * height / width))
    assert 1_000 < pictures.filmstrip.stat().st_size <= STRIP_BUDGET
    assert 1_000 < pictures.poster.stat().st_size <= POSTER_BUDGET
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clip.mp4",
        "clip.poster.jpg",
        "clip.strip.jpg",
    ]  # no temp files left behind


def test_filmstrip_tiles_are_the_frames_at_evenly_spaced_times(tmp_path: Path) -> None:
    video = _video(tmp_path, width=320, height=180, duration=5)  # 12 fps: 60 frames
    strip = Image.open(make_pictures(video, frames=4, width=200).filmstrip).convert("RGB")
    assert strip.size == (800, 112)
    with av.open(str(video)) as container:
        decoded = [frame.to_image() for frame in container.decode(video=0)]
    assert len(decoded) == 60

    def distance(tile: int, frame: int) -> float:
        crop = strip.crop((tile * 200, 0, tile * 200 + 200, 112))
        expected = decoded[frame].resize((200, 112), Image.Resampling.LANCZOS)
        return float(ImageStat.Stat(ImageChops.difference(crop, expected)).mean[0])

    # Tiles sit at the middles of four equal spans: 0.625 s, 1.875 s, 3.125 s, 4.375 s.
    for tile, frame in enumerate([8, 23, 38, 53]):
        here = distance(tile, frame)
        assert here < 6, (tile, here)
        assert here < distance(tile, (frame + 30) % 60), tile


def test_poster_is_capped_at_640_px_wide(tmp_path: Path) -> None:
    video = _video(tmp_path, width=1280, height=720, duration=5)
    with Image.open(make_pictures(video).poster) as poster:
        assert poster.size == (640, 360)


def test_a_10_s_video_takes_well_under_a_second(tmp_path: Path) -> None:
    video = _video(tmp_path, width=320, height=180, duration=10)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        make_pictures(video)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.5, times


def test_remaking_overwrites_in_place(tmp_path: Path) -> None:
    video = _video(tmp_path, width=320, height=180, duration=5)
    first = make_pictures(video)
    narrow = make_pictures(video, frames=3, width=100)
    assert narrow == first
    with Image.open(narrow.filmstrip) as strip:
        assert strip.size == (300, 56)


@pytest.mark.parametrize(
    "content", [b"", b"not a video at all", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200]
)
def test_an_unreadable_video_raises_picture_error(tmp_path: Path, content: bytes) -> None:
    video = tmp_path / "broken.mp4"
    video.write_bytes(content)
    with pytest.raises(PictureError, match=r"broken\.mp4") as info:
        make_pictures(video)
    assert isinstance(info.value, KlingError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]


def test_a_missing_video_raises_picture_error(tmp_path: Path) -> None:
    with pytest.raises(PictureError, match=r"gone\.mp4"):
        make_pictures(tmp_path / "gone.mp4")


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="frames=0"):
        make_pictures(tmp_path / "x.mp4", frames=0)


def test_data_uri_inlines_a_small_jpeg(tmp_path: Path) -> None:
    pictures: Pictures = make_pictures(_video(tmp_path, width=320, height=180, duration=5))
    uri = data_uri(pictures.filmstrip, max_bytes=STRIP_BUDGET)
    prefix = "data:image/jpeg;base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix) :]) == pictures.filmstrip.read_bytes()
    assert len(uri) <= 40_000  # issue 14: saved-notebook bytes per finished job


def test_data_uri_refuses_big_files_videos_and_missing_files(tmp_path: Path) -> None:
    video = _video(tmp_path, width=320, height=180, duration=5)
    strip = make_pictures(video).filmstrip
    with pytest.raises(PictureError, match="over the 100-byte limit"):
        data_uri(strip, max_bytes=100)
    with pytest.raises(PictureError, match="not a JPEG, PNG or GIF"):
        data_uri(video, max_bytes=10**7)
    with pytest.raises(PictureError, match="cannot read image"):
        data_uri(tmp_path / "missing.jpg", max_bytes=10**7)


def test_no_frame_is_read_through_a_closed_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 1 fps clip: the last strip targets lie past its last frame, so they take that frame.
    # Read after the container closed, the stream's aspect ratio was freed memory: now and
    # then a garbage ratio made the resize ask for gigabytes (the team test's OOM kills).
    path = tmp_path / "slow.mp4"
    spec = VideoSpec("a slow clip", "kling-v2-6", "std", 3, 320, 180, fps=1)
    path.write_bytes(render_mp4(spec))
    from kling_nb import _filmstrip

    opened = _filmstrip._open_video
    closed: list[bool] = []

    class Guarded:
        def __init__(self, stream: object) -> None:
            self._stream = stream

        def __getattr__(self, name: str) -> object:
            assert not closed, f"stream.{name} read after its container closed"
            return getattr(self._stream, name)

        def __setattr__(self, name: str, value: object) -> None:
            if name == "_stream":
                object.__setattr__(self, name, value)
            else:
                setattr(self._stream, name, value)

    def guarded_open(video: Path) -> tuple[object, object]:
        container, stream = opened(video)
        close = container.close

        def close_and_mark() -> None:
            closed.append(True)
            close()

        class Box:
            def __enter__(self) -> object:
                return container.__enter__()

            def __exit__(self, *exc: object) -> None:
                close_and_mark()

            def decode(self, stream: Guarded) -> object:
                return container.decode(stream._stream)

        return Box(), Guarded(stream)

    monkeypatch.setattr(_filmstrip, "_open_video", guarded_open)
    closed.clear()
    frames = _filmstrip._frames_at(path, [0.0, 2.5, 2.9])
    assert [image.size for image in frames] == [(320, 180)] * 3
