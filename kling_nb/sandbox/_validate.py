"""The create-body rules of the three Kling routes (PascalCase fields, the guide's limits)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from .._models import ASPECT_RATIOS, DURATIONS, MODELS, MODES, Route
from ._problems import SandboxHTTPError, invalid

__all__ = ["ACTION_FAMILY", "MAX_PROMPT_CHARS", "CreateSpec", "parse_create"]

ACTION_FAMILY: Final[Mapping[Route, str]] = {
    "text2video": "text",
    "image2video": "image",
    "omni-video": "omni",
}

# Kling's own prompt limit; the router documents none, so this is an assumption.
MAX_PROMPT_CHARS: Final = 2500
MAX_URL_CHARS: Final = 4096


@dataclass(frozen=True)
class CreateSpec:
    """A validated create request. `aspect_ratio` None means: derive it from the first frame."""

    route: Route
    model: str
    prompt: str
    duration: int
    mode: str
    aspect_ratio: str | None
    image_url: str | None


def parse_create(route: Route, body: object) -> CreateSpec:
    """Validate a create body for `route`; raise `SandboxHTTPError` (400) naming the bad field.

    Unknown fields are accepted and ignored (contract.md assumption 10: extra upstream
    fields pass through). On image2video `AspectRatio` is ignored rather than rejected:
    the guide says to omit it because the ratio comes from the image.
    """
    if not isinstance(body, Mapping):
        raise invalid("body", "must be a JSON object with PascalCase fields")
    model = _model(route, body.get("Model"))
    prompt = _prompt(route, body.get("Prompt"))
    duration = _duration(body.get("Duration"))
    mode = _mode(body.get("Mode"))
    image_url = _image_list(route, body)
    aspect_ratio: str | None = None
    if route != "image2video":
        aspect_ratio = _aspect_ratio(body.get("AspectRatio"))
        if aspect_ratio is None and (route == "text2video" or image_url is None):
            aspect_ratio = "16:9"
    return CreateSpec(route, model, prompt, duration, mode, aspect_ratio, image_url)


def _model(route: Route, value: object) -> str:
    allowed = [name for name, routes in MODELS.items() if route in routes]
    if value is None:
        raise invalid("Model", f"is required; use {' or '.join(allowed)}")
    if not isinstance(value, str) or route not in MODELS.get(value, ()):
        shown = repr(value)[:80]
        raise SandboxHTTPError(
            400,
            "unsupported_model",
            f"unsupported model {shown} on /v1/videos/{route}: use {' or '.join(allowed)}",
            extra={"field": "Model"},
        )
    return value


def _prompt(route: Route, value: object) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid("Prompt", "must be a string")
    if not value.strip() and route != "image2video":
        raise invalid("Prompt", f"is required on {route} and must not be empty")
    if len(value) > MAX_PROMPT_CHARS:
        raise invalid("Prompt", f"is {len(value)} characters; at most {MAX_PROMPT_CHARS}")
    return value


def _duration(value: object) -> int:
    if value is None:
        return 5
    # The guide: send "5"; a numeric 5 is coerced to a string before it reaches the upstream.
    if isinstance(value, int) and not isinstance(value, bool) and value in DURATIONS:
        return value
    if isinstance(value, str) and value.strip() in {str(d) for d in DURATIONS}:
        return int(value.strip())
    raise invalid("Duration", f'must be "5" or "10" (seconds), got {value!r:.40}')


def _mode(value: object) -> str:
    if value is None:
        return "std"
    if value not in MODES:
        raise invalid("Mode", f'must be "std" or "pro", got {value!r:.40}')
    return str(value)


def _aspect_ratio(value: object) -> str | None:
    if value is None:
        return None
    if value not in ASPECT_RATIOS:
        raise invalid(
            "AspectRatio", f"must be one of {', '.join(ASPECT_RATIOS)}, got {value!r:.40}"
        )
    return str(value)


def _image_list(route: Route, body: Mapping[str, object]) -> str | None:
    value = body.get("ImageList")
    if route == "text2video":
        if value is not None:
            raise invalid(
                "ImageList",
                "text2video does not accept an ImageList; "
                "send first-frame images to /v1/videos/image2video",
            )
        return None
    if value is None or value == []:
        if route == "image2video":
            raise invalid(
                "ImageList",
                'is required on image2video: [{"ImageUrl": "https://...", "Type": "first_frame"}]',
            )
        return None
    if not isinstance(value, list):
        raise invalid("ImageList", "must be a list of {ImageUrl, Type} objects")
    if len(value) > 1:
        raise invalid("ImageList", 'takes one image, of Type "first_frame"')
    item = value[0]
    if not isinstance(item, Mapping):
        raise invalid("ImageList[0]", "must be an object with ImageUrl and Type")
    kind = item.get("Type", "first_frame")
    if kind != "first_frame":
        raise invalid("ImageList[0].Type", f'must be "first_frame", got {kind!r:.40}')
    url = item.get("ImageUrl")
    if not isinstance(url, str) or not url:
        raise invalid("ImageList[0].ImageUrl", "is required: a publicly reachable http(s) URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_CHARS:
        raise invalid("ImageList[0].ImageUrl", "must be a publicly reachable http(s) URL")
    return url
