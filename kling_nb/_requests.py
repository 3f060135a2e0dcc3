"""Validated, immutable video requests: `TextToVideo`, `ImageToVideo`, `OmniVideo`.

Each one checks its input at construction and raises `ValidationError` (a `ValueError`) naming the
field, the bad value and what is allowed, so nothing invalid ever reaches the network.
`.route` names the create route and `.to_body()` returns the PascalCase JSON body.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Final, TypeAlias
from urllib.parse import urlsplit

from ._errors import ValidationError
from ._models import ASPECT_RATIOS, DURATIONS, MODELS, MODES, Route

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_PROMPT_CHARS",
    "ImageToVideo",
    "OmniVideo",
    "Request",
    "TextToVideo",
    "request_fields",
    "request_from_row",
    "sniff_image_type",
]

MAX_PROMPT_CHARS: Final = 2500
MAX_IMAGE_BYTES: Final = 10 * 1024 * 1024
"""The uploads route's limit (contract.md: at most 10 MiB)."""

DOCUMENTED_FIELDS: Final = frozenset(
    {"Model", "Prompt", "Duration", "Mode", "AspectRatio", "ImageList"}
)
_PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def sniff_image_type(head: bytes) -> str | None:
    """Return the MIME type of an image from its first bytes, or None if it is not one we accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def _check_model(model: object, route: Route) -> str:
    allowed = [name for name, routes in MODELS.items() if route in routes]
    if not isinstance(model, str) or model not in allowed:
        others = (
            f" ({model} belongs on {', '.join(MODELS[model])})"
            if isinstance(model, str) and model in MODELS
            else ""
        )
        raise ValidationError("model", model, f"one of {', '.join(allowed)} on {route}{others}")
    return model


def _check_duration(duration: object) -> int:
    value: int | None = None
    if isinstance(duration, int) and not isinstance(duration, bool):
        value = duration
    elif isinstance(duration, str) and duration.strip().isdecimal():
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        value = int(duration.strip())
    if value not in DURATIONS:
        raise ValidationError("duration", duration, "5 or 10 (seconds, int or string)")
    return value


def _check_choice(name: str, value: object, allowed: tuple[str, ...], optional: bool) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or value not in allowed:
        extra = " or None" if optional else ""
        raise ValidationError(name, value, f"one of {', '.join(allowed)}{extra}")
    return value


def _check_prompt(prompt: object, required: bool) -> str:
    if not isinstance(prompt, str):
        raise ValidationError("prompt", prompt, "a string")
    if required and not prompt.strip():
        raise ValidationError("prompt", prompt, "a non-empty description of the video")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValidationError(
            "prompt",
            prompt,
            f"at most {MAX_PROMPT_CHARS} characters (got {len(prompt)})",
        )
    return prompt


def _check_image(name: str, image: object) -> str | Path:
    """Return the URL string, or the resolved local Path, of an image input."""
    # A one-letter scheme is a Windows drive ("C:\\img.png"), not a URL.
    if isinstance(image, str) and len(urlsplit(image).scheme) > 1:
        parts = urlsplit(image)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValidationError(name, image, "an http(s) URL or the path of a local image file")
        if any(ch.isspace() for ch in image):
            raise ValidationError(name, image, "a URL without spaces (percent-encode them)")
        return image
    if not isinstance(image, (str, os.PathLike)) or isinstance(image, bytes):
        raise ValidationError(name, image, "an http(s) URL or the path of a local image file")
    # Resolved now, so a later change of working directory cannot break the upload.
    path = Path(image).expanduser().resolve()
    if not path.is_file():
        raise ValidationError(name, str(image), "an http(s) URL or an existing local image file")
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise ValidationError(
            name, str(image), f"an image of at most 10 MiB (this is {size} bytes)"
        )
    with path.open("rb") as handle:
        kind = sniff_image_type(handle.read(16))
    if kind is None:
        raise ValidationError(name, str(image), "a PNG, JPEG, WebP or GIF image")
    return path


def _check_extra(extra: object) -> Mapping[str, Any]:
    if extra is None:
        return MappingProxyType({})
    if not isinstance(extra, Mapping):
        raise ValidationError("extra", extra, "a mapping of extra PascalCase fields, or None")
    for key in extra:
        if not isinstance(key, str) or not _PASCAL.match(key):
            raise ValidationError(
                "extra", key, "PascalCase field names (e.g. NegativePrompt, CfgScale)"
            )
        if key in DOCUMENTED_FIELDS:
            raise ValidationError(
                "extra",
                key,
                f"fields other than {', '.join(sorted(DOCUMENTED_FIELDS))} "
                "(set those through their own arguments)",
            )
    try:
        json.dumps(dict(extra), allow_nan=False)  # NaN/Infinity are not JSON
    except (TypeError, ValueError):
        raise ValidationError("extra", dict(extra), "JSON-serializable values") from None
    # A deep copy: the caller's nested lists/dicts must not change a frozen request later.
    return MappingProxyType(copy.deepcopy(dict(extra)))


def _image_list(url: str) -> list[dict[str, str]]:
    return [{"ImageUrl": url, "Type": "first_frame"}]


@dataclass(frozen=True)
class _Base:
    route: ClassVar[Route]

    def _common_body(
        self, prompt: str, model: str, duration: int, mode: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"Model": model}
        if prompt.strip():
            body["Prompt"] = prompt
        body["Duration"] = str(duration)
        if mode is not None:
            body["Mode"] = mode
        return body

    @property
    def local_image(self) -> Path | None:
        """The local image file that must be uploaded before create, if any."""
        return None

    def with_image_url(self, url: str) -> Request:
        """Return a copy whose image is `url` (used after uploading a local file)."""
        raise ValidationError("image", url, f"no image on a {self.route} request")


@dataclass(frozen=True)
class TextToVideo(_Base):
    """A text-to-video request (`POST /v1/videos/text2video`; kling-v2-6 or kling-v3)."""

    route: ClassVar[Route] = "text2video"
    prompt: str
    model: str = "kling-v3"
    duration: int = 5
    mode: str = "std"
    aspect_ratio: str = "16:9"
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _set = object.__setattr__
        _set(self, "prompt", _check_prompt(self.prompt, required=True))
        _set(self, "model", _check_model(self.model, self.route))
        _set(self, "duration", _check_duration(self.duration))
        _set(self, "mode", _check_choice("mode", self.mode, MODES, optional=False))
        ratio = _check_choice("aspect_ratio", self.aspect_ratio, ASPECT_RATIOS, optional=False)
        _set(self, "aspect_ratio", ratio)
        _set(self, "extra", _check_extra(self.extra))

    def to_body(self) -> dict[str, Any]:
        """The PascalCase JSON body for the create route."""
        body = self._common_body(self.prompt, self.model, self.duration, self.mode)
        body["AspectRatio"] = self.aspect_ratio
        body.update(copy.deepcopy(dict(self.extra)))
        return body


@dataclass(frozen=True)
class ImageToVideo(_Base):
    """An image-to-video request (`POST /v1/videos/image2video`; kling-v2-6 or kling-v3).

    `image` is an http(s) URL the upstream can fetch, or a local file that the client uploads
    first through `/v1/images/uploads`. There is no aspect ratio: it comes from the image.
    """

    route: ClassVar[Route] = "image2video"
    image: str | Path
    prompt: str = ""
    model: str = "kling-v3"
    duration: int = 5
    mode: str = "std"
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _set = object.__setattr__
        _set(self, "image", _check_image("image", self.image))
        _set(self, "prompt", _check_prompt(self.prompt, required=False))
        _set(self, "model", _check_model(self.model, self.route))
        _set(self, "duration", _check_duration(self.duration))
        _set(self, "mode", _check_choice("mode", self.mode, MODES, optional=False))
        _set(self, "extra", _check_extra(self.extra))

    @property
    def local_image(self) -> Path | None:
        """The local image file that must be uploaded before create, if any."""
        return self.image if isinstance(self.image, Path) else None

    def with_image_url(self, url: str) -> ImageToVideo:
        """Return a copy whose image is `url` (used after uploading a local file)."""
        return replace(self, image=url)

    def to_body(self) -> dict[str, Any]:
        """The PascalCase JSON body; a local image must be uploaded first."""
        body = self._common_body(self.prompt, self.model, self.duration, self.mode)
        body["ImageList"] = _image_list(_require_url("image", self.image))
        body.update(copy.deepcopy(dict(self.extra)))
        return body


@dataclass(frozen=True)
class OmniVideo(_Base):
    """An omni request (`POST /v1/videos/omni-video`; kling-v3-omni), first frame optional."""

    route: ClassVar[Route] = "omni-video"
    prompt: str
    first_frame: str | Path | None = None
    model: str = "kling-v3-omni"
    duration: int = 5
    mode: str | None = None
    aspect_ratio: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _set = object.__setattr__
        _set(self, "prompt", _check_prompt(self.prompt, required=True))
        if self.first_frame is not None:
            _set(self, "first_frame", _check_image("first_frame", self.first_frame))
        _set(self, "model", _check_model(self.model, self.route))
        _set(self, "duration", _check_duration(self.duration))
        _set(self, "mode", _check_choice("mode", self.mode, MODES, optional=True))
        ratio = _check_choice("aspect_ratio", self.aspect_ratio, ASPECT_RATIOS, optional=True)
        _set(self, "aspect_ratio", ratio)
        _set(self, "extra", _check_extra(self.extra))

    @property
    def local_image(self) -> Path | None:
        """The local image file that must be uploaded before create, if any."""
        return self.first_frame if isinstance(self.first_frame, Path) else None

    def with_image_url(self, url: str) -> OmniVideo:
        """Return a copy whose first frame is `url` (used after uploading a local file)."""
        return replace(self, first_frame=url)

    def to_body(self) -> dict[str, Any]:
        """The PascalCase JSON body; a local first frame must be uploaded first."""
        body = self._common_body(self.prompt, self.model, self.duration, self.mode)
        if self.aspect_ratio is not None:
            body["AspectRatio"] = self.aspect_ratio
        if self.first_frame is not None:
            body["ImageList"] = _image_list(_require_url("first_frame", self.first_frame))
        body.update(copy.deepcopy(dict(self.extra)))
        return body


def _require_url(name: str, image: str | Path) -> str:
    if isinstance(image, Path):
        raise ValidationError(
            name,
            str(image),
            "an uploaded URL here: a local file is uploaded first (AsyncClient.create does it)",
        )
    return image


Request: TypeAlias = "TextToVideo | ImageToVideo | OmniVideo"


def request_from_row(row: Mapping[str, Any]) -> Request:
    """Rebuild a request from a ledger row (used by `Studio.resume`).

    The row's columns give the documented fields; any extra PascalCase fields come from the
    body that was recorded. A first frame not uploaded yet is the row's local `image` path.
    """
    body = row.get("request") or {}
    extra = {key: value for key, value in body.items() if key not in DOCUMENTED_FIELDS} or None
    images = body.get("ImageList") or []
    sent_url = images[0].get("ImageUrl") if images and isinstance(images[0], Mapping) else None
    image = sent_url or row.get("image")
    common: dict[str, Any] = {"model": row["model"], "duration": row["duration"], "extra": extra}
    route = row["route"]
    if route == "text2video":
        return TextToVideo(
            row["prompt"], mode=row["mode"], aspect_ratio=row["aspect_ratio"], **common
        )
    if route == "image2video":
        if image is None:
            raise ValidationError("image", None, "the image2video row's first frame")
        return ImageToVideo(image, row["prompt"], mode=row["mode"], **common)
    if route == "omni-video":
        return OmniVideo(
            row["prompt"],
            first_frame=image,
            mode=row["mode"],
            aspect_ratio=row["aspect_ratio"],
            **common,
        )
    raise ValidationError("route", route, "one of text2video, image2video, omni-video")


def request_fields(request: Request) -> dict[str, Any]:
    """The ledger's view of a request: route, model, mode, duration, aspect ratio, prompt, image."""
    image = getattr(request, "image", None) or getattr(request, "first_frame", None)
    return {
        "route": request.route,
        "model": request.model,
        "mode": request.mode,
        "duration": request.duration,
        "aspect_ratio": getattr(request, "aspect_ratio", None),
        "prompt": request.prompt,
        "image": str(image) if image is not None else None,
    }
