"""Real, small H.264 MP4s drawn from the request: prompt colours, moving shapes, the prompt text.

Rendering is synchronous and CPU-bound: callers run it in a worker thread.
"""

from __future__ import annotations

import colorsys
import contextlib
import hashlib
import io
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = ["RATIO_SIZES", "VideoSpec", "render_mp4", "size_for_image", "size_for_ratio"]

RATIO_SIZES: Final[Mapping[str, tuple[int, int]]] = {
    "16:9": (320, 180),
    "9:16": (180, 320),
    "1:1": (240, 240),
}
_LONG_SIDE: Final = 320
_ZOOM: Final = 0.15
_X264_OPTIONS: Final[Mapping[str, str]] = {"preset": "veryfast", "crf": "28"}

RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class VideoSpec:
    """What to render: the request's fields, the output size, and an optional first frame."""

    prompt: str
    model: str
    mode: str
    duration: int
    width: int
    height: int
    fps: int = 12
    first_frame: bytes | None = field(default=None, repr=False)


def size_for_ratio(ratio: str) -> tuple[int, int]:
    """The output size for one of the router's aspect ratios."""
    return RATIO_SIZES[ratio]


def size_for_image(width: int, height: int) -> tuple[int, int]:
    """The output size that keeps an image's ratio (clamped to 2.5:1 either way), even sides.

    An image within 2% of a standard ratio gets that ratio's usual size.
    """
    ratio = min(max(width / height, 0.4), 2.5)
    for w_std, h_std in RATIO_SIZES.values():
        if abs(ratio / (w_std / h_std) - 1) < 0.02:
            return w_std, h_std
    long_side = float(_LONG_SIDE)
    w, h = (long_side, long_side / ratio) if ratio >= 1 else (long_side * ratio, long_side)
    return max(2, round(w / 2) * 2), max(2, round(h / 2) * 2)


def render_mp4(spec: VideoSpec) -> bytes:
    """Encode `spec` as an H.264/yuv420p MP4 of exactly `spec.duration` seconds."""
    fd, path = tempfile.mkstemp(prefix="kling-sandbox-", suffix=".mp4")
    os.close(fd)
    try:
        # +faststart (moov before mdat, so browsers play while downloading) needs a real
        # seekable file: the muxer rewrites it, which a BytesIO target cannot do.
        with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
            container.metadata["comment"] = "kling_nb sandbox"
            stream = container.add_stream("libx264", rate=spec.fps, options=dict(_X264_OPTIONS))
            stream.width = spec.width
            stream.height = spec.height
            stream.pix_fmt = "yuv420p"
            time_base = Fraction(1, spec.fps)
            for index, image in enumerate(_frames(spec)):
                frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
                frame.pts = index
                frame.time_base = time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


@dataclass(frozen=True)
class _Shape:
    colour: RGB
    radius: float
    orbit: float
    turns: float
    phase: float
    square: bool


class _Look:
    """Everything about a video's appearance that the prompt's hash decides."""

    def __init__(self, spec: VideoSpec) -> None:
        digest = hashlib.sha256(spec.prompt.encode("utf-8")).digest()
        hue = digest[0] / 255
        self.colours: tuple[RGB, RGB, RGB] = (
            _hsv(hue, 0.55, 0.35),
            _hsv((hue + 0.18 + digest[1] / 2048) % 1, 0.6, 0.8),
            _hsv((hue + 0.5) % 1, 0.5, 0.55),
        )
        scale = min(spec.width, spec.height) / 180
        count = 3 + digest[2] % 3
        self.shapes = [
            _Shape(
                colour=_hsv((hue + 0.33 + digest[3 + i] / 512) % 1, 0.75, 1.0),
                radius=(8 + digest[8 + i] % 18) * scale,
                orbit=(20 + digest[13 + i] % 50) * scale,
                turns=(0.4 + digest[18 + i] / 160) * (1 if digest[23 + i] % 2 else -1),
                phase=digest[28 + i % 4] / 255 * 2 * math.pi,
                square=bool(digest[3 + i] % 2),
            )
            for i in range(count)
        ]


def _frames(spec: VideoSpec) -> Iterator[Image.Image]:
    look = _Look(spec)
    total = spec.duration * spec.fps
    base = _first_frame(spec)
    gradients = None if base is not None else _gradients(spec, look)
    overlay = _overlay(spec)
    w, h = spec.width, spec.height
    for index in range(total):
        t = index / max(total - 1, 1)
        if base is not None:
            image = _zoomed(base, w, h, 1 + _ZOOM * t)
        else:
            assert gradients is not None
            mix = 0.5 - 0.5 * math.cos(2 * math.pi * t)
            image = Image.fromarray(
                (gradients[0] * (1 - mix) + gradients[1] * mix).astype(np.uint8), "RGB"
            )
        draw = ImageDraw.Draw(image)
        for shape in look.shapes if base is None else look.shapes[:2]:
            angle = shape.phase + 2 * math.pi * shape.turns * t
            cx = w / 2 + shape.orbit * 1.6 * math.cos(angle)
            cy = h * 0.42 + shape.orbit * math.sin(angle)
            box = (cx - shape.radius, cy - shape.radius, cx + shape.radius, cy + shape.radius)
            if shape.square:
                draw.rectangle(box, fill=shape.colour)
            else:
                draw.ellipse(box, fill=shape.colour)
        image.paste(overlay, (0, 0), overlay)
        draw.rectangle((0, h - 3, round(w * (index + 1) / total), h), fill=look.colours[1])
        yield image


def _gradients(
    spec: VideoSpec, look: _Look
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    t = np.linspace(0.0, 1.0, spec.height, dtype=np.float32)[:, None, None]
    a, b, c = (np.array(colour, dtype=np.float32) for colour in look.colours)
    first = (a * (1 - t) + b * t).repeat(spec.width, axis=1)
    second = (b * (1 - t) + c * t).repeat(spec.width, axis=1)
    return first, second


def _first_frame(spec: VideoSpec) -> Image.Image | None:
    if spec.first_frame is None:
        return None
    try:
        with Image.open(io.BytesIO(spec.first_frame)) as img:
            rgb = img.convert("RGB")
    except Exception:
        # Uploads were decoded once already; if this one still fails, draw the plain look.
        return None
    # Twice the output size, so the zoom crops stay sharp.
    return ImageOps.fit(rgb, (spec.width * 2, spec.height * 2), Image.Resampling.BILINEAR)


def _zoomed(base: Image.Image, width: int, height: int, zoom: float) -> Image.Image:
    bw, bh = base.size
    cw, ch = bw / zoom, bh / zoom
    x0, y0 = (bw - cw) / 2, (bh - ch) / 2
    return base.resize((width, height), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))


def _overlay(spec: VideoSpec) -> Image.Image:
    """The still text layer: model/mode/duration at the top, the wrapped prompt at the bottom."""
    w, h = spec.width, spec.height
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    small = _font(10)
    draw.text((6, 5), f"{spec.model} · {spec.mode} · {spec.duration}s", font=small, fill="white")
    font = _font(13 if w >= 240 else 11)
    lines = _wrap(spec.prompt or "(no prompt)", font, w - 12, max_lines=3)
    line_h = 16 if w >= 240 else 14
    top = h - 8 - line_h * len(lines)
    draw.rectangle((0, top - 4, w, h), fill=(0, 0, 0, 120))
    for i, line in enumerate(lines):
        draw.text((6, top + i * line_h), line, font=font, fill=(255, 255, 255, 255))
    return overlay


def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except Exception:  # Pillow built without FreeType: fall back to the bitmap font.
        return ImageFont.load_default()


def _wrap(text: str, font: Font, width: int, *, max_lines: int) -> list[str]:
    words = " ".join(text.split()).split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines:  # more text than room: mark the cut
            lines[-1] = lines[-1].rstrip(".") + "…"
            break
    else:
        lines.append(current)
    return [_clip(line, font, width) for line in lines]


def _clip(line: str, font: Font, width: int) -> str:
    if font.getlength(line) <= width:
        return line
    low, high = 0, len(line)  # the longest prefix that fits with an ellipsis
    while low < high:
        mid = (low + high + 1) // 2
        if font.getlength(line[:mid] + "…") <= width:
            low = mid
        else:
            high = mid - 1
    return line[:low] + "…"


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return round(r * 255), round(g * 255), round(b * 255)
