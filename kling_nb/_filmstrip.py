"""A picture of every video: a poster frame and a small filmstrip, written beside the video.

`make_pictures(video)` decodes the video once with PyAV and writes `<stem>.poster.jpg` (one
frame from a third of the way in) and `<stem>.strip.jpg` (N evenly spaced frames side by side).
Static outputs show these where the video file is absent (a fresh clone, GitHub); `data_uri`
inlines such a small image into a saved notebook's HTML. Videos are never inlined here.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
from PIL import Image

from ._errors import KlingError

__all__ = [
    "POSTER_MAX_WIDTH",
    "PictureError",
    "Pictures",
    "data_uri",
    "make_pictures",
    "picture_paths",
]

_SHARED = 0o644

POSTER_MAX_WIDTH: Final = 640
POSTER_AT: Final = 1 / 3
# Measured on sandbox videos (see tests/test_filmstrip.py): 5 frames of 160 px at quality 70
# stay within a few tens of KB even for 9:16, where each frame is 284 px tall.
_STRIP_QUALITY: Final = 70
_POSTER_QUALITY: Final = 78

_IMAGE_MAGIC: Final[Sequence[tuple[bytes, str]]] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class PictureError(KlingError):
    """A video could not be read into pictures, or an image could not be embedded."""


@dataclass(frozen=True)
class Pictures:
    """Where a video's poster frame and filmstrip are (both JPEG, beside the video)."""

    poster: Path
    filmstrip: Path


def picture_paths(video: str | os.PathLike[str]) -> Pictures:
    """Where `make_pictures(video)` writes (whether or not the files exist yet)."""
    path = Path(video)
    return Pictures(
        poster=path.with_name(f"{path.stem}.poster.jpg"),
        filmstrip=path.with_name(f"{path.stem}.strip.jpg"),
    )


def make_pictures(video: str | os.PathLike[str], *, frames: int = 5, width: int = 160) -> Pictures:
    """Write the poster (capped at 640 px wide) and a `frames`-frame filmstrip beside `video`.

    Each filmstrip frame is `width` px wide. Both files are written atomically (temp file, then
    rename), so a reader never sees half a JPEG. Raises `PictureError` when the video cannot be
    opened or decoded, and ValueError for a non-positive `frames` or `width`.
    """
    if frames < 1 or width < 1:
        raise ValueError(f"frames={frames} and width={width} must both be at least 1")
    path = Path(video)
    try:
        poster, strip = _grab(path, frames)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise PictureError(f"cannot read video {path.name!r}: {exc}") from exc
    out = picture_paths(path)
    poster = _fit_width(poster, min(poster.width, POSTER_MAX_WIDTH))
    _write_jpeg(poster, out.poster, _POSTER_QUALITY)
    _write_jpeg(_side_by_side(strip, width), out.filmstrip, _STRIP_QUALITY)
    return out


def data_uri(path: str | os.PathLike[str], *, max_bytes: int) -> str:
    """`data:image/...;base64,...` for a small image file (JPEG, PNG or GIF, by its bytes).

    Raises `PictureError` when the file is missing, larger than `max_bytes`, or not an image:
    this is for pictures in saved notebooks, never for videos.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise PictureError(f"{file.name!r} is {size} bytes, over the {max_bytes}-byte limit")
        data = file.read_bytes()
    except OSError as exc:
        raise PictureError(f"cannot read image {file.name!r}: {exc}") from exc
    kind = next((mime for magic, mime in _IMAGE_MAGIC if data.startswith(magic)), None)
    if kind is None:
        raise PictureError(f"{file.name!r} is not a JPEG, PNG or GIF image")
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


# -- decoding -----------------------------------------------------------------------------------


def _grab(path: Path, count: int) -> tuple[Image.Image, list[Image.Image]]:
    """The poster frame and `count` strip frames, from one forward pass over the video."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise PictureError(f"{path.name!r} has no video stream")
        duration = _duration(container)
    if duration is None or duration <= 0:
        duration = _last_frame_time(path)
    strip_at = [duration * (i + 0.5) / count for i in range(count)]
    targets = sorted([duration * POSTER_AT, *strip_at])
    picked = _frames_at(path, targets)
    by_time = dict(zip(targets, picked, strict=True))
    return by_time[duration * POSTER_AT], [by_time[t] for t in strip_at]


def _duration(container: Any) -> float | None:
    stream = container.streams.video[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(Fraction(container.duration, av.time_base))
    return None


def _open_video(path: Path) -> tuple[Any, Any]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _last_frame_time(path: Path) -> float:
    """The video's length when its header does not say: the end of its last decoded frame."""
    container, stream = _open_video(path)
    with container:
        last = None
        for frame in container.decode(stream):
            last = frame.time
    if last is None:
        raise PictureError(f"{path.name!r} has no decodable frames")
    return float(last) + 1e-3


def _frames_at(path: Path, targets: Sequence[float]) -> list[Image.Image]:
    """For each time in ascending `targets`, the first frame at or after it (else the last)."""
    container, stream = _open_video(path)
    picked: list[Image.Image] = []
    previous = None
    with container:
        for frame in container.decode(stream):
            previous = frame
            time = frame.time if frame.time is not None else 0.0
            while len(picked) < len(targets) and time + 1e-6 >= targets[len(picked)]:
                picked.append(_display_image(frame, stream))
            if len(picked) == len(targets):
                break
        if previous is None:
            raise PictureError(f"{path.name!r} has no decodable frames")
        # Inside the `with`: a closed container's stream reads freed memory (a garbage
        # aspect ratio made a resize ask for gigabytes).
        while len(picked) < len(targets):  # targets past the last frame take the last frame
            picked.append(_display_image(previous, stream))
    return picked


def _display_image(frame: Any, stream: Any) -> Image.Image:
    """The frame as RGB at its display size (non-square pixels stretched to square)."""
    image: Image.Image = frame.to_image()
    sar = stream.sample_aspect_ratio
    if sar and sar != 1:
        shown = max(1, round(image.width * float(sar)))
        image = image.resize((shown, image.height), Image.Resampling.BILINEAR)
    return image


# -- images -------------------------------------------------------------------------------------


def _fit_width(image: Image.Image, width: int) -> Image.Image:
    if image.width == width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _side_by_side(images: Sequence[Image.Image], width: int) -> Image.Image:
    tiles = [_fit_width(image, width) for image in images]
    height = max(tile.height for tile in tiles)
    strip = Image.new("RGB", (width * len(tiles), height), (0, 0, 0))
    for index, tile in enumerate(tiles):
        strip.paste(tile, (index * width, (height - tile.height) // 2))
    return strip


def _write_jpeg(image: Image.Image, dest: Path, quality: int) -> None:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=".tmp", dir=dest.parent)
    os.chmod(tmp, _SHARED)  # mkstemp makes 0600: a shared page or picture must be readable
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
