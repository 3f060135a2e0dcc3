"""Any family's request as a ledger row and back: what the Studio records and `resume()` rebuilds.

The ledger has one set of columns for every family (`family`, `route`, `model`, `mode`,
`duration`, `aspect_ratio`, `prompt`, `image`). Kling fills them as `kling_nb._requests` says.
For Seedance and Grok, which have no Mode, the `mode` column holds the *resolution* (the tier
that sets their price and render time, as the sandbox's `TaskPlan.mode` does), `aspect_ratio`
holds Seedance's `ratio`, and `duration` is the length that will be rendered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypeAlias

from .._requests import ImageToVideo, OmniVideo, Request, TextToVideo
from .._requests import request_fields as kling_fields
from .._requests import request_from_row as kling_from_row
from . import _grok, _seedance
from ._grok import GrokVideo
from ._seedance import SeedanceVideo

__all__ = [
    "REQUEST_TYPES",
    "SEEDANCE_DEFAULT_DURATION",
    "SEEDANCE_DEFAULT_RESOLUTION",
    "AnyRequest",
    "family_name",
    "request_duration",
    "request_fields",
    "request_from_row",
    "request_kind",
    "request_tier",
]

AnyRequest: TypeAlias = "Request | SeedanceVideo | GrokVideo"
REQUEST_TYPES: Final = (
    TextToVideo,
    ImageToVideo,
    OmniVideo,
    SeedanceVideo,
    GrokVideo,
)

# Assumed (contract-families.md: Seedance's request fields were cut from our copy): a request
# that leaves `duration` / `resolution` unset gets the upstream's defaults, 5 s at 720p (the
# sandbox's defaults too). Only used to estimate cost and time; nothing extra is sent.
SEEDANCE_DEFAULT_DURATION: Final = 5
SEEDANCE_DEFAULT_RESOLUTION: Final = "720p"


def family_name(request: object) -> str:
    """`kling`, `seedance` or `grok` for a request of that family."""
    if isinstance(request, SeedanceVideo):
        return "seedance"
    if isinstance(request, GrokVideo):
        return "grok"
    return "kling"


def request_tier(request: object) -> str | None:
    """Kling's Mode, or the resolution of a Seedance/Grok request (what prices a second)."""
    if isinstance(request, SeedanceVideo):
        return request.resolution or SEEDANCE_DEFAULT_RESOLUTION
    if isinstance(request, GrokVideo):
        return request.resolution
    value = getattr(request, "mode", None)
    return str(value) if value is not None else None


def request_duration(request: object) -> int:
    """The length in seconds the request will render (Seedance's assumed default if unset)."""
    if isinstance(request, SeedanceVideo):
        return request.duration or SEEDANCE_DEFAULT_DURATION
    return int(getattr(request, "duration", 0) or 0)


def request_kind(request: object) -> tuple[str, str | None, int]:
    """(model, tier, seconds): what prices a request and what its render time is learned by."""
    return (str(getattr(request, "model", "")), request_tier(request), request_duration(request))


def _image_column(images: tuple[str | Path, ...]) -> str | None:
    # One image is its URL or path, as for Kling; several (Seedance) are a JSON list.
    if not images:
        return None
    if len(images) == 1:
        return str(images[0])
    return json.dumps([str(image) for image in images])


def request_fields(request: AnyRequest) -> dict[str, Any]:
    """The ledger's columns for a request of any family (`family` included)."""
    if isinstance(request, (SeedanceVideo, GrokVideo)):
        images = (
            tuple(request.images)
            if isinstance(request, SeedanceVideo)
            else ((request.image,) if request.image is not None else ())
        )
        return {
            "family": family_name(request),
            "route": request.route,
            "model": request.model,
            "mode": request_tier(request),
            "duration": request_duration(request),
            "aspect_ratio": request.ratio if isinstance(request, SeedanceVideo) else None,
            "prompt": request.prompt,
            "image": _image_column(images),
        }
    return {"family": "kling", **kling_fields(request)}


def _row_images(value: object) -> list[str]:
    if not isinstance(value, str) or not value:
        return []
    if value.startswith("["):
        try:
            listed = json.loads(value)
        except ValueError:
            return [value]
        return [str(item) for item in listed] if isinstance(listed, list) else [value]
    return [value]


def _extra(body: Mapping[str, Any], reserved: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in reserved}


def _seedance_from_row(row: Mapping[str, Any], body: Mapping[str, Any]) -> SeedanceVideo:
    parts = body.get("content")
    if isinstance(parts, list):  # the body that was planned or sent: its references are URLs
        images = [
            part["image_url"]["url"]
            for part in parts
            if isinstance(part, Mapping) and isinstance(part.get("image_url"), Mapping)
        ]
        return SeedanceVideo(
            row["prompt"],
            model=row["model"],
            images=images,
            duration=body.get("duration"),
            ratio=body.get("ratio"),
            resolution=body.get("resolution"),
            extra=_extra(body, _seedance._RESERVED),
        )
    # No body yet (local images not uploaded): the row's effective length and tier.
    return SeedanceVideo(
        row["prompt"],
        model=row["model"],
        images=_row_images(row.get("image")),
        duration=row.get("duration"),
        ratio=row.get("aspect_ratio"),
        resolution=row.get("mode"),
    )


def _grok_from_row(row: Mapping[str, Any], body: Mapping[str, Any]) -> GrokVideo:
    images = _row_images(row.get("image"))
    image = body.get(_grok.IMAGE_FIELD) or (images[0] if images else None)
    return GrokVideo(
        row["prompt"],
        model=row["model"],
        duration=row["duration"],
        resolution=row.get("mode") or "720p",
        image=image,
        extra=_extra(body, _grok._RESERVED),
    )


def request_from_row(row: Mapping[str, Any]) -> AnyRequest:
    """Rebuild a request of any family from its ledger row (used by `Studio.resume`)."""
    route = row["route"]
    body = row.get("request") or {}
    if route == _seedance.ROUTE:
        return _seedance_from_row(row, body)
    if route == _grok.ROUTE:
        return _grok_from_row(row, body)
    return kling_from_row(row)
