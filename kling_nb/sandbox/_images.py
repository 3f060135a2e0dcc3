"""Image helpers: content sniffing, decoding sizes, and the bundled sample first frames."""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageDraw

from .._requests import sniff_image_type

__all__ = [
    "EXTENSIONS",
    "SAMPLE_NAMES",
    "ImageBlob",
    "image_size",
    "sample_images",
    "sniff",
    "type_from_filename",
]

EXTENSIONS: Final[Mapping[str, str]] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}
"""Accepted upload types and the file extension each is served under."""

_EXTENSION_TYPES: Final[Mapping[str, str]] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}


def sniff(data: bytes) -> str | None:
    """Return the image MIME type named by `data`'s magic bytes, or None if it is not one."""
    return sniff_image_type(data[:16])


def type_from_filename(filename: str | None) -> str | None:
    """The image type a file name claims through its extension (None: no image extension)."""
    if not filename or "." not in filename:
        return None
    return _EXTENSION_TYPES.get(filename.rsplit(".", 1)[1].lower())


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an encoded image; raises ValueError if it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception as exc:
        raise ValueError(f"cannot decode image: {exc}") from exc
    if width < 1 or height < 1:
        raise ValueError("image has no pixels")
    return int(width), int(height)


@dataclass(frozen=True)
class ImageBlob:
    """An encoded image with its type and size."""

    data: bytes
    content_type: str
    width: int
    height: int


SAMPLE_NAMES: Final = ("first-frame.png", "portrait.jpg")


@functools.lru_cache(maxsize=1)
def sample_images() -> Mapping[str, ImageBlob]:
    """The sample first frames served at `/samples/<name>` (drawn once, deterministically)."""
    landscape = _scene(640, 360)
    portrait = _scene(360, 640)
    png = io.BytesIO()
    landscape.save(png, format="PNG", optimize=True)
    jpg = io.BytesIO()
    portrait.save(jpg, format="JPEG", quality=85)
    return {
        "first-frame.png": ImageBlob(png.getvalue(), "image/png", 640, 360),
        "portrait.jpg": ImageBlob(jpg.getvalue(), "image/jpeg", 360, 640),
    }


def _scene(width: int, height: int) -> Image.Image:
    """A sunset over hills: simple, recognisable, and easy to see zooming in a video."""
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top = np.array([38, 52, 120], dtype=np.float32)
    bottom = np.array([250, 160, 90], dtype=np.float32)
    sky = (top * (1 - t) + bottom * t).repeat(width, axis=1)
    img = Image.fromarray(sky.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    r = min(width, height) // 7
    cx, cy = width * 2 // 3, height * 11 // 20
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 214, 110))
    far = [(0, height * 3 // 5), (width // 3, height // 2), (width * 3 // 4, height * 13 // 20)]
    draw.polygon(
        [*far, (width, height * 11 // 20), (width, height), (0, height)], fill=(70, 60, 110)
    )
    near = [(0, height * 4 // 5), (width // 2, height * 2 // 3), (width, height * 17 // 20)]
    draw.polygon([*near, (width, height), (0, height)], fill=(35, 40, 70))
    return img
