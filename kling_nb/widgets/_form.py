"""The generate form's logic without widgets: route fields, requests, messages, uploads."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Final

from .._download import safe_name
from .._errors import ValidationError
from .._models import ASPECT_RATIOS, MODELS, MODES, Route
from .._requests import (
    MAX_IMAGE_BYTES,
    ImageToVideo,
    OmniVideo,
    Request,
    TextToVideo,
    sniff_image_type,
)

__all__ = [
    "ROUTE_FIELDS",
    "ROUTE_OPTIONS",
    "UPLOADS_FOLDER",
    "RouteFields",
    "aspect_options",
    "build_request",
    "mode_options",
    "models_for",
    "parse_tags",
    "save_upload",
    "validation_text",
]

UPLOADS_FOLDER: Final = "kling_uploads"
"""Uploaded first frames are saved under `studio.root / UPLOADS_FOLDER`."""

ROUTE_OPTIONS: Final[tuple[tuple[str, Route], ...]] = (
    ("text → video", "text2video"),
    ("image → video", "image2video"),
    ("omni", "omni-video"),
)

AUTO: Final = ""
"""The option value meaning "let the server choose" (None in the request)."""


@dataclass(frozen=True)
class RouteFields:
    """Which inputs a create route accepts (contract.md: image2video takes no aspect ratio)."""

    first_frame: bool
    first_frame_required: bool
    aspect_ratio: bool
    optional_mode: bool
    default_model: str


ROUTE_FIELDS: Final[Mapping[Route, RouteFields]] = {
    "text2video": RouteFields(False, False, True, False, "kling-v3"),
    "image2video": RouteFields(True, True, False, False, "kling-v3"),
    "omni-video": RouteFields(True, False, True, True, "kling-v3-omni"),
}

_EXTENSIONS: Final[Mapping[str, str]] = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}


def models_for(route: Route) -> list[str]:
    """The models the route accepts, in `MODELS` order."""
    return [name for name, routes in MODELS.items() if route in routes]


def mode_options(route: Route) -> list[tuple[str, str]]:
    """(label, value) pairs for the mode toggle; omni adds "auto" (no Mode sent)."""
    options = [(mode, mode) for mode in MODES]
    return [("auto", AUTO), *options] if ROUTE_FIELDS[route].optional_mode else options


def aspect_options(route: Route) -> list[tuple[str, str]]:
    """(label, value) pairs for the aspect ratio; omni adds "auto" (no AspectRatio sent)."""
    options = [(ratio, ratio) for ratio in ASPECT_RATIOS]
    return [("auto", AUTO), *options] if ROUTE_FIELDS[route].optional_mode else options


def build_request(
    route: Route,
    *,
    prompt: str,
    model: str,
    mode: str,
    duration: int,
    aspect_ratio: str,
    image: str | Path | None,
) -> Request:
    """The validated request the form describes; raises `ValidationError` like the classes do."""
    first_frame = image if image not in (None, "") else None
    if route == "text2video":
        return TextToVideo(
            prompt, model=model, mode=mode, duration=duration, aspect_ratio=aspect_ratio
        )
    if route == "image2video":
        if first_frame is None:
            raise ValidationError(
                "image", "", "a first-frame image: choose a file or paste an http(s) URL"
            )
        return ImageToVideo(first_frame, prompt, model=model, mode=mode, duration=duration)
    return OmniVideo(
        prompt,
        first_frame=first_frame,
        model=model,
        mode=mode or None,
        duration=duration,
        aspect_ratio=aspect_ratio or None,
    )


def validation_text(error: ValidationError) -> str:
    """'field: must be <allowed> (got <value>)', short enough for a one-line label."""
    text = f"{error.field}: must be {error.allowed}"
    if error.field != "prompt" and error.value not in (None, ""):
        shown = repr(error.value)
        text += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    return text


def parse_tags(text: str) -> tuple[str, ...]:
    """Comma-separated tags, trimmed, empty ones dropped."""
    return tuple(tag.strip() for tag in text.split(",") if tag.strip())


def save_upload(content: bytes, name: str, folder: Path) -> Path:
    """Save uploaded image bytes under `folder` with a sanitized name; return the path.

    The name is built from the upload's sanitized stem, a content hash and the extension of
    the sniffed type (never the uploaded extension or any directory part), so the same
    image saved twice lands on one file.
    """
    kind = sniff_image_type(content[:16])
    if kind is None:
        raise ValidationError("image", name, "a PNG, JPEG, WebP or GIF image")
    if len(content) > MAX_IMAGE_BYTES:
        raise ValidationError("image", name, f"an image of at most 10 MiB ({len(content)} bytes)")
    stem = safe_name(PurePath(name.replace("\\", "/")).stem, default="image", limit=60)
    digest = hashlib.sha256(content).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{digest}{_EXTENSIONS[kind]}"
    if not path.is_file():
        part = path.with_name(path.name + ".part")
        part.write_bytes(content)
        part.replace(path)
    return path
