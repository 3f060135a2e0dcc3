"""Grok's create body: lowercase `model`, `prompt`, `duration`, `resolution`.

contract-families.md documents the route, those four fields (duration example 6), the two
models and the resolution rule: `480p` or `720p`; any other or missing value falls back to
`720p` with no error. Assumed here (the copy is cut):

- `grok-imagine-video-1.5-preview` is image-guided and takes its image as a top-level
  `image_url` string (the real field is *unknown*); it needs one, and `grok-imagine-video`
  (text) rejects one. The image is fetched like a Kling ImageUrl: a public URL the sandbox
  cannot reach fails the task when it starts. Its prompt may be empty.
- `duration` is 1 to 15 whole seconds (default 6, the documented example).
- The frame is 16:9, or the image's ratio when image-guided.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ._families import GROK_PRICE_NANO_PER_SECOND, TaskPlan, size_for_resolution
from ._problems import invalid, lowercase_model
from ._tasks import shorten
from ._uploads import ResolvedImage
from ._validate import MAX_PROMPT_CHARS, MAX_URL_CHARS

__all__ = ["GrokSpec", "grok_plan", "parse_grok"]

MODELS: Final = tuple(GROK_PRICE_NANO_PER_SECOND)
IMAGE_MODEL: Final = "grok-imagine-video-1.5-preview"
DURATIONS: Final = range(1, 16)
RESOLUTIONS: Final = ("480p", "720p")


@dataclass(frozen=True)
class GrokSpec:
    """A validated Grok create."""

    model: str
    prompt: str
    duration: int
    resolution: str
    image_url: str | None


def parse_grok(body: object) -> GrokSpec:
    """Validate a Grok create body; 400 `unsupported_model` / `invalid_request` (field named)."""
    body, model = lowercase_model(body, MODELS, "/v1/videos/generations")
    prompt = body.get("prompt", "")
    if prompt is None:
        prompt = ""
    if not isinstance(prompt, str):
        raise invalid("prompt", "must be a string")
    if not prompt.strip() and model != IMAGE_MODEL:
        raise invalid("prompt", f"is required on {model} and must not be empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise invalid("prompt", f"is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}")
    resolution = body.get("resolution")
    # Documented: any other or missing resolution falls back to 720p, with no error.
    chosen = resolution if isinstance(resolution, str) and resolution in RESOLUTIONS else "720p"
    return GrokSpec(
        model=str(model),
        prompt=prompt,
        duration=_duration(body.get("duration")),
        resolution=chosen,
        image_url=_image_url(str(model), body.get("image_url")),
    )


def _duration(value: object) -> int:
    if value is None:
        return 6
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value in DURATIONS:
        return value
    raise invalid("duration", f"must be whole seconds from 1 to 15, got {value!r:.40}")


def _image_url(model: str, value: object) -> str | None:
    if model != IMAGE_MODEL:
        if value is not None:
            raise invalid("image_url", f"{model} is text-only; use {IMAGE_MODEL} with an image")
        return None
    if not isinstance(value, str) or not value:
        raise invalid("image_url", f"is required on {IMAGE_MODEL}: a public http(s) image URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > MAX_URL_CHARS:
        raise invalid("image_url", "must be a publicly reachable http(s) URL")
    return value


def grok_plan(spec: GrokSpec, resolve: Callable[[str], ResolvedImage | None]) -> TaskPlan:
    """The task plan (`resolve`: what a public image URL points at, None if unreachable)."""
    image = resolve(spec.image_url) if spec.image_url is not None else None
    ratio = image.width / image.height if image is not None else 16 / 9
    width, height = size_for_resolution(spec.resolution, ratio)
    fetch_error = None
    if spec.image_url is not None and image is None:
        fetch_error = (
            "image_fetch_failed",
            f"failed to fetch image_url {shorten(spec.image_url)}: not reachable",
        )
    return TaskPlan(
        family="grok",
        route="grok",
        model=spec.model,
        prompt=spec.prompt,
        duration=spec.duration,
        mode=spec.resolution,
        resolution=spec.resolution,
        aspect_ratio=None,
        width=width,
        height=height,
        cost_nano=GROK_PRICE_NANO_PER_SECOND[spec.model][spec.resolution] * spec.duration,
        image_url=spec.image_url,
        image=image,
        fetch_error=fetch_error,
    )
