"""Seedance's create body: lowercase fields, the prompt and references in a `content[]` list.

contract-families.md documents the route, the lowercase casing, the `content[]` list of parts,
the two models, asset-only image references and the error codes; the copy of the request-field
table is cut. Assumed here (ByteDance's own task API, which this route mirrors):

- a part is `{"type": "text", "text"}`, `{"type": "image_url", "image_url": {"url"}, "role"}`
  or `{"type": "video_url", "video_url": {"url"}, "role": "reference_video"}`; at most one text
  part, 9 images and 3 videos;
- image roles are `first_frame`, `last_frame` (needs a first frame) or `reference_image`
  (frames and reference images do not mix); one image without a role is the first frame;
- `duration` is 4 to 15 whole seconds (default 5), `resolution` `480p` or `720p` (default
  `720p`; anything else is a 400, unlike Grok), `ratio` one of `RATIOS` or `adaptive` (default:
  the first image's ratio, 16:9 without one);
- a reference video is fetched like a Kling ImageUrl: one this sandbox cannot reach fails the
  task when it starts (`video_fetch_failed`); only the sandbox's own video URLs are reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ._families import SEEDANCE_PRICE_NANO_PER_SECOND, TaskPlan, size_for_resolution
from ._problems import invalid, lowercase_model
from ._tasks import shorten
from ._uploads import ResolvedImage
from ._validate import MAX_PROMPT_CHARS, MAX_URL_CHARS

__all__ = ["RATIOS", "SeedanceSpec", "parse_seedance", "seedance_plan"]

MODELS: Final = tuple(SEEDANCE_PRICE_NANO_PER_SECOND)
DURATIONS: Final = range(4, 16)
RESOLUTIONS: Final = ("480p", "720p")
RATIOS: Final[Mapping[str, float]] = {
    "16:9": 16 / 9,
    "9:16": 9 / 16,
    "1:1": 1.0,
    "4:3": 4 / 3,
    "3:4": 3 / 4,
    "21:9": 21 / 9,
}
IMAGE_ROLES: Final = ("first_frame", "last_frame", "reference_image")
MAX_IMAGES: Final = 9
MAX_VIDEOS: Final = 3
FPS_FOR_TOKENS: Final = 24


@dataclass(frozen=True)
class SeedanceSpec:
    """A validated Seedance create: images are `(url, role, field)`, videos `(url, field)`."""

    model: str
    prompt: str
    duration: int
    resolution: str
    ratio: str
    images: tuple[tuple[str, str, str], ...]
    videos: tuple[tuple[str, str], ...]


def parse_seedance(body: object) -> SeedanceSpec:
    """Validate a Seedance create body: 400 `unsupported_model` or `invalid_request`."""
    body, model = lowercase_model(body, MODELS, "/api/v3/contents/generations/tasks")
    prompt, images, videos = _content(body.get("content"))
    return SeedanceSpec(
        model=str(model),
        prompt=prompt,
        duration=_duration(body.get("duration")),
        resolution=_choice("resolution", body.get("resolution", "720p"), RESOLUTIONS),
        ratio=_choice("ratio", body.get("ratio", "adaptive"), (*RATIOS, "adaptive")),
        images=images,
        videos=videos,
    )


def _content(
    value: object,
) -> tuple[str, tuple[tuple[str, str, str], ...], tuple[tuple[str, str], ...]]:
    if not isinstance(value, list) or not value:
        raise invalid("content", 'is required: a list of parts, e.g. [{"type": "text", ...}]')
    texts: list[str] = []
    images: list[tuple[str, str | None, str]] = []
    videos: list[tuple[str, str]] = []
    for i, part in enumerate(value):
        where = f"content[{i}]"
        if not isinstance(part, Mapping):
            raise invalid(where, "must be an object with a type")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid(f"{where}.text", "must be a string")
            texts.append(text)
        elif kind == "image_url":
            role = part.get("role")
            if role is not None and role not in IMAGE_ROLES:
                raise invalid(f"{where}.role", f"must be one of {', '.join(IMAGE_ROLES)}")
            images.append((_url(part, "image_url", where), role, f"{where}.image_url.url"))
        elif kind == "video_url":
            if part.get("role", "reference_video") != "reference_video":
                raise invalid(f"{where}.role", 'must be "reference_video"')
            videos.append((_url(part, "video_url", where), f"{where}.video_url.url"))
        else:
            raise invalid(f"{where}.type", 'must be "text", "image_url" or "video_url"')
    if len(texts) > 1:
        raise invalid("content", "takes at most one text part")
    prompt = texts[0] if texts else ""
    if len(prompt) > MAX_PROMPT_CHARS:
        raise invalid(
            "content", f"the text is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}"
        )
    if not prompt.strip() and not images and not videos:
        raise invalid("content", "needs a non-empty text part or a reference")
    if len(images) > MAX_IMAGES or len(videos) > MAX_VIDEOS:
        raise invalid("content", f"takes at most {MAX_IMAGES} images and {MAX_VIDEOS} videos")
    return prompt, _roles(images), tuple(videos)


def _roles(images: list[tuple[str, str | None, str]]) -> tuple[tuple[str, str, str], ...]:
    default = "first_frame" if len(images) == 1 else "reference_image"
    done = tuple((url, role or default, field) for url, role, field in images)
    roles = [role for _, role, _ in done]
    frames = [role for role in roles if role != "reference_image"]
    if frames and len(frames) != len(roles):
        raise invalid("content", "first/last frames and reference images cannot be mixed")
    if roles.count("first_frame") > 1 or roles.count("last_frame") > 1:
        raise invalid("content", "takes one first_frame and one last_frame at most")
    if "last_frame" in roles and "first_frame" not in roles:
        raise invalid("content", "a last_frame needs a first_frame")
    return done


def _url(part: Mapping[str, object], kind: str, where: str) -> str:
    inner = part.get(kind)
    url = inner.get("url") if isinstance(inner, Mapping) else None
    if not isinstance(url, str) or not url:
        raise invalid(f"{where}.{kind}.url", f'is required: {{"{kind}": {{"url": "https://..."}}}}')
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_CHARS:
        raise invalid(f"{where}.{kind}.url", "must be an http(s) URL")
    return url


def _duration(value: object) -> int:
    if value is None:
        return 5
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value in DURATIONS:
        return value
    raise invalid("duration", f"must be whole seconds from 4 to 15, got {value!r:.40}")


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise invalid(field, f"must be one of {', '.join(allowed)}, got {value!r:.40}")
    return value


def seedance_plan(
    spec: SeedanceSpec,
    resolve_image: Callable[[str, str], ResolvedImage],
    video_reachable: Callable[[str], bool],
) -> TaskPlan:
    """The task plan: every image must resolve to the caller's asset (else 400 / 403)."""
    resolved = [resolve_image(url, field) for url, _, field in spec.images]
    first = resolved[0] if resolved else None
    if spec.ratio != "adaptive":
        ratio = RATIOS[spec.ratio]
    else:
        ratio = first.width / first.height if first is not None else RATIOS["16:9"]
    width, height = size_for_resolution(spec.resolution, ratio)
    missing = next((url for url, _ in spec.videos if not video_reachable(url)), None)
    fetch_error = None
    if missing is not None:
        fetch_error = ("video_fetch_failed", f"failed to fetch video_url {shorten(missing)}")
    return TaskPlan(
        family="seedance",
        route="seedance",
        model=spec.model,
        prompt=spec.prompt,
        duration=spec.duration,
        mode=spec.resolution,
        resolution=spec.resolution,
        aspect_ratio=spec.ratio,
        width=width,
        height=height,
        cost_nano=SEEDANCE_PRICE_NANO_PER_SECOND[spec.model][spec.resolution] * spec.duration,
        image_url=spec.images[0][0] if spec.images else None,
        image=first,
        fetch_error=fetch_error,
    )


def output_tokens(width: int, height: int, duration: int) -> int:
    """Seedance's reported `usage.output_tokens` (ByteDance's formula, assumed):
    width x height x 24 fps x seconds / 1024."""
    return width * height * FPS_FOR_TOKENS * duration // 1024
