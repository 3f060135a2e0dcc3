"""Grok Imagine (`grok-imagine-video`, `grok-imagine-video-1.5-preview`): `GrokVideo`.

contract-families.md documents: create `POST /v1/videos/generations`, status
`GET /v1/videos/generations/{task_id}`, a lowercase body of `model`, `prompt`, `duration`
(example 6) and `resolution` (480p or 720p; anything else falls back to 720p without an error),
a create answer carrying a task `id`, and `content.video_url`. Unknown: the image field of the
image-guided model, the duration range, the error codes. Each assumption is marked below.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Final

from .._errors import ValidationError
from .._exceptions import (
    AccessDeniedError,
    InsufficientBalanceError,
    TeamRequiredError,
    TooManyPendingTasksError,
    UnsupportedModelError,
)
from ._checks import check_extra, check_image, check_int, check_model, check_prompt
from ._family import Family

__all__ = ["GROK", "GrokVideo"]

ROUTE: Final = "grok"
TEXT_MODEL: Final = "grok-imagine-video"
IMAGE_MODEL: Final = "grok-imagine-video-1.5-preview"
MODELS: Final = (TEXT_MODEL, IMAGE_MODEL)
GENERATIONS: Final = "/v1/videos/generations"
RESOLUTIONS: Final = ("480p", "720p")

# Assumed: the guide shows duration 6 but no range; 1 to 15 s is the upstream's published one.
DURATION_RANGE: Final = (1, 15)

IMAGE_FIELD: Final = "image_url"
"""Assumed name of the image-guided model's image field: *unknown* in contract-families.md's
copy of the guide. One constant, so fixing it is one line (or pass `extra` meanwhile)."""

_RESERVED: Final = frozenset({"model", "prompt", "duration", "resolution", IMAGE_FIELD})


@dataclass(frozen=True)
class GrokVideo:
    """A Grok Imagine request (`POST /v1/videos/generations`).

    `resolution` must be 480p or 720p: the router silently turns any other value into 720p,
    so it is refused here. `image` (an http(s) URL, or a local file uploaded first through
    `/v1/images/uploads`) needs the image-guided model, which needs an image.
    """

    route: ClassVar[str] = ROUTE
    prompt: str
    model: str = TEXT_MODEL
    duration: int = 6
    resolution: str = "720p"
    image: str | Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _set = object.__setattr__
        _set(self, "prompt", check_prompt(self.prompt))
        _set(self, "model", check_model(self.model, MODELS, "Grok"))
        duration = check_int("duration", self.duration, *DURATION_RANGE)
        if duration is None:
            raise ValidationError("duration", None, "whole seconds from 1 to 15")
        _set(self, "duration", duration)
        if self.resolution not in RESOLUTIONS:
            raise ValidationError("resolution", self.resolution, "480p or 720p")
        if self.image is not None:
            _set(self, "image", check_image("image", self.image))
        # contract-families.md: grok-imagine-video is the text model, the 1.5 preview the
        # image-guided one.
        if self.image is not None and self.model != IMAGE_MODEL:
            raise ValidationError("model", self.model, f"{IMAGE_MODEL} for an image")
        if self.image is None and self.model == IMAGE_MODEL:
            raise ValidationError("image", None, f"an image: {IMAGE_MODEL} is image-guided")
        _set(self, "extra", check_extra(self.extra, _RESERVED))

    @property
    def local_images(self) -> tuple[Path, ...]:
        """The local image still to upload, if any."""
        return (self.image,) if isinstance(self.image, Path) else ()

    def with_uploads(self, urls: Sequence[str]) -> GrokVideo:
        """A copy whose local image is its uploaded URL."""
        return replace(self, image=urls[0]) if self.local_images else self

    def to_body(self) -> dict[str, Any]:
        """The lowercase JSON body; a local image must be uploaded first."""
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": self.prompt,
            "duration": self.duration,
            "resolution": self.resolution,
        }
        if isinstance(self.image, Path):
            raise ValidationError(
                "image",
                str(self.image),
                "an uploaded URL here: a local file is uploaded first (AsyncClient.create)",
            )
        if self.image is not None:
            body[IMAGE_FIELD] = self.image
        body.update(copy.deepcopy(dict(self.extra)))
        return body


GROK: Final = Family(
    name="grok",
    models=dict.fromkeys(MODELS, (ROUTE,)),
    create={ROUTE: GENERATIONS},
    status={ROUTE: GENERATIONS + "/{task_id}"},
    # contract-families.md: Grok's codes are unknown beyond the shared pattern, so the
    # `grok_` ones are assumed to follow Kling's `<family>_<suffix>` (the status codes type
    # them anyway: 402, 429).
    error_codes={
        "unsupported_model": UnsupportedModelError,
        "media_resource_access_denied": AccessDeniedError,
        "grok_balance_too_low": InsufficientBalanceError,
        "grok_team_required": TeamRequiredError,
        "grok_too_many_pending_tasks": TooManyPendingTasksError,
    },
    # Assumed: an image for the image-guided model goes through the same uploads route as
    # Kling's (its presigned URL is public); the guide's copy does not say.
    uploader="images",
    status_has_id=False,
    local_images=lambda request: request.local_images,
    with_uploads=lambda request, urls: request.with_uploads(urls),
)
