"""The generate form's logic without widgets: family and route fields, requests, uploads.

The form's "route" is a route key (`kling_nb._families`): Kling's three create routes, or
`seedance` / `grok`, each of which is its family's only route.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Final

from .._download import safe_name
from .._errors import ValidationError
from .._families import AnyRequest, GrokVideo, SeedanceVideo, family_of
from .._models import ASPECT_RATIOS, MODELS, MODES
from .._pricing import RateCard
from .._render import format_rate
from .._requests import (
    MAX_IMAGE_BYTES,
    ImageToVideo,
    OmniVideo,
    TextToVideo,
    sniff_image_type,
)

__all__ = [
    "FAMILY_OPTIONS",
    "ROUTE_FIELDS",
    "ROUTE_OPTIONS",
    "UPLOADS_FOLDER",
    "RouteFields",
    "aspect_options",
    "build_request",
    "duration_options",
    "estimate_parts",
    "form_route",
    "mode_options",
    "models_for",
    "parse_tags",
    "save_upload",
    "validation_text",
]

UPLOADS_FOLDER: Final = "kling_uploads"
"""Uploaded first frames are saved under `studio.root / UPLOADS_FOLDER`."""

FAMILY_OPTIONS: Final[tuple[tuple[str, str], ...]] = (
    ("Kling", "kling"),
    ("Seedance", "seedance"),
    ("Grok", "grok"),
)
ROUTE_OPTIONS: Final[tuple[tuple[str, str], ...]] = (
    ("text → video", "text2video"),
    ("image → video", "image2video"),
    ("omni", "omni-video"),
)
"""Kling's routes (the route toggle shows for Kling only)."""

RESOLUTIONS: Final = ("480p", "720p")
"""What the form offers Seedance and Grok (Grok's documented two; Seedance's 1080p has no
placeholder price, so it is left to `kn.SeedanceVideo`)."""

AUTO: Final = ""
"""The option value meaning "let the server choose" (None in the request)."""


@dataclass(frozen=True)
class RouteFields:
    """Which inputs a route accepts (contract.md: image2video takes no aspect ratio).

    For Seedance and Grok the mode toggle picks the resolution, and the first frame is
    Seedance's reference image or Grok's image (which needs its image-guided model).
    """

    first_frame: bool
    first_frame_required: bool
    aspect_ratio: bool
    optional_mode: bool
    default_model: str


ROUTE_FIELDS: Final[Mapping[str, RouteFields]] = {
    "text2video": RouteFields(False, False, True, False, "kling-v3"),
    "image2video": RouteFields(True, True, False, False, "kling-v3"),
    "omni-video": RouteFields(True, False, True, True, "kling-v3-omni"),
    "seedance": RouteFields(True, False, True, True, "seedance-2.0"),
    "grok": RouteFields(True, False, False, False, "grok-imagine-video"),
}

_EXTENSIONS: Final[Mapping[str, str]] = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}


def form_route(family: str, kling_route: str) -> str:
    """The route key the form describes: Kling's chosen route, or the family's only one."""
    return kling_route if family == "kling" else family_of(family).routes[0]


def models_for(route: str) -> list[str]:
    """The models the route accepts, in its family's order."""
    return [name for name, routes in family_of(route).models.items() if route in routes]


def mode_options(route: str) -> list[tuple[str, str]]:
    """(label, value) pairs for the mode toggle (Seedance/Grok: the resolution).

    Omni and Seedance add "auto" (nothing sent: the server's default).
    """
    kling = family_of(route).name == "kling"
    options = [(mode, mode) for mode in (MODES if kling else RESOLUTIONS)]
    if not kling:  # 720p first: Grok's documented fallback, Seedance's assumed default
        options.reverse()
    return [("auto", AUTO), *options] if ROUTE_FIELDS[route].optional_mode else options


def duration_options(route: str) -> list[tuple[str, int]]:
    """(label, seconds) pairs: Kling's 5 or 10; Seedance and Grok also take 15."""
    seconds = (5, 10) if family_of(route).name == "kling" else (5, 10, 15)
    return [(f"{n} s", n) for n in seconds]


def aspect_options(route: str) -> list[tuple[str, str]]:
    """(label, value) pairs for the aspect ratio; omni and Seedance add "auto" (none sent)."""
    options = [(ratio, ratio) for ratio in ASPECT_RATIOS]
    return [("auto", AUTO), *options] if ROUTE_FIELDS[route].optional_mode else options


def build_request(
    route: str,
    *,
    prompt: str,
    model: str,
    mode: str,
    duration: int,
    aspect_ratio: str,
    image: str | Path | None,
) -> AnyRequest:
    """The validated request the form describes; raises `ValidationError` like the classes do."""
    first_frame = image if image not in (None, "") else None
    if route == "seedance":
        images = [first_frame] if first_frame is not None else []
        return SeedanceVideo(
            prompt,
            model=model,
            images=images,
            duration=duration,
            ratio=aspect_ratio or None,
            resolution=mode or None,
        )
    if route == "grok":
        return GrokVideo(prompt, model=model, duration=duration, resolution=mode, image=first_frame)
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


def estimate_parts(
    pricing: RateCard, model: str, tier: str | None, duration: object
) -> tuple[str, str]:
    """The form's estimate as text, and how it was reached (seconds × rate, tier)."""
    seconds = int(str(duration))
    rate = pricing.rate(model, tier)
    shown = tier or ("std" if model in MODELS else "720p")  # the card's default tier
    if rate is None:
        return pricing.format(None), f"no rate for {model} {shown} on the rate card"
    amount = pricing.format(pricing.estimate(model, tier, seconds))
    return amount, f"{seconds} s × {format_rate(rate, pricing.unit)} ({shown})"


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
