"""Seedance (`seedance-2.0`, `seedance-2.0-fast`): `SeedanceVideo` and its family record.

contract-families.md documents: create `POST /api/v3/contents/generations/tasks` (not under
`/v1`), status `GET .../tasks/{task_id}`, a lowercase body whose prompt and references go in a
`content[]` list of parts, a create answer of only `id` and `requestId`, the normalised states,
`content.video_url`, reference images uploaded as assets first (public URLs are rejected with
400 `invalid_request`), and the error codes below. The rest is assumed, and said so where used.
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
    BadRequestError,
    InsufficientBalanceError,
    TeamRequiredError,
    TooManyPendingTasksError,
    UnsupportedModelError,
)
from ._checks import (
    check_choice,
    check_extra,
    check_image,
    check_int,
    check_model,
    check_prompt,
    is_asset_ref,
)
from ._family import Family

__all__ = ["SEEDANCE", "SeedanceVideo"]

ROUTE: Final = "seedance"
MODELS: Final = ("seedance-2.0", "seedance-2.0-fast")
TASKS: Final = "/api/v3/contents/generations/tasks"

# Assumed (contract-families.md: "see the guide's request fields", cut from our copy): the
# option fields are the upstream's top-level lowercase `duration` (whole seconds), `ratio` and
# `resolution`, the names the status response echoes (`resolution`, `duration`). The ranges
# are the upstream's published ones. Each is sent only when set, so by default the body holds
# only the documented `model` and `content`.
DURATION_RANGE: Final = (4, 15)
RATIOS: Final = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive")
RESOLUTIONS: Final = ("480p", "720p", "1080p")
MAX_IMAGES: Final = 9
_RESERVED: Final = frozenset({"model", "content", "duration", "ratio", "resolution"})


def _check_reference(index: int, image: object) -> str | Path:
    if is_asset_ref(image):
        return str(image)
    # A public URL is accepted here only because an uploaded asset's URL is one too: the
    # router rejects any other with 400 invalid_request (contract-families.md), before a task.
    return check_image(f"images[{index}]", image)


@dataclass(frozen=True)
class SeedanceVideo:
    """A Seedance request (`POST /api/v3/contents/generations/tasks`).

    `images` are reference images: local files (uploaded as assets by `AsyncClient.create`,
    as the router requires) or asset URLs already returned by `AsyncClient.upload_assets`.
    `duration`, `ratio` and `resolution` are sent only when set (their names are assumed);
    `extra` adds other lowercase fields unchanged.
    """

    route: ClassVar[str] = ROUTE
    prompt: str
    model: str = "seedance-2.0"
    images: Sequence[str | Path] = ()
    duration: int | None = None
    ratio: str | None = None
    resolution: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _set = object.__setattr__
        _set(self, "prompt", check_prompt(self.prompt))
        _set(self, "model", check_model(self.model, MODELS, "Seedance"))
        if isinstance(self.images, (str, Path)) or not isinstance(self.images, Sequence):
            raise ValidationError("images", self.images, "a list of images (files or asset URLs)")
        if len(self.images) > MAX_IMAGES:
            raise ValidationError("images", len(self.images), f"at most {MAX_IMAGES} images")
        _set(self, "images", tuple(_check_reference(i, im) for i, im in enumerate(self.images)))
        _set(self, "duration", check_int("duration", self.duration, *DURATION_RANGE))
        _set(self, "ratio", check_choice("ratio", self.ratio, RATIOS))
        _set(self, "resolution", check_choice("resolution", self.resolution, RESOLUTIONS))
        _set(self, "extra", check_extra(self.extra, _RESERVED))

    @property
    def local_images(self) -> tuple[Path, ...]:
        """The local files still to upload as assets, in order."""
        return tuple(image for image in self.images if isinstance(image, Path))

    def with_uploads(self, urls: Sequence[str]) -> SeedanceVideo:
        """A copy whose local images are replaced, in order, by their asset URLs."""
        pending = iter(urls)
        images = [next(pending) if isinstance(im, Path) else im for im in self.images]
        return replace(self, images=tuple(images))

    def to_body(self) -> dict[str, Any]:
        """The lowercase JSON body; local images must be uploaded first."""
        # Assumed part shapes (the upstream's, which the router's `content[]` follows):
        # a text part, then one `image_url` part per reference with role reference_image.
        content: list[dict[str, Any]] = [{"type": "text", "text": self.prompt}]
        for index, image in enumerate(self.images):
            if isinstance(image, Path):
                raise ValidationError(
                    f"images[{index}]",
                    str(image),
                    "an asset URL here: local files are uploaded first (AsyncClient.create)",
                )
            content.append(
                {"type": "image_url", "image_url": {"url": image}, "role": "reference_image"}
            )
        body: dict[str, Any] = {"model": self.model, "content": content}
        for name in ("duration", "ratio", "resolution"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        body.update(copy.deepcopy(dict(self.extra)))
        return body


SEEDANCE: Final = Family(
    name="seedance",
    models=dict.fromkeys(MODELS, (ROUTE,)),
    create={ROUTE: TASKS},
    status={ROUTE: TASKS + "/{task_id}"},
    error_codes={
        "unsupported_model": UnsupportedModelError,
        "invalid_request": BadRequestError,
        "seedance_balance_too_low": InsufficientBalanceError,
        "media_resource_access_denied": AccessDeniedError,
        "seedance_too_many_pending_tasks": TooManyPendingTasksError,
        # Assumed, following Kling's `<family>_team_required` (not in contract-families.md).
        "seedance_team_required": TeamRequiredError,
    },
    uploader="assets",
    # Unknown whether the status body repeats the id (contract-families.md lists only the
    # result fields): a present id must match, a missing one is the task asked for.
    status_has_id=False,
    local_images=lambda request: request.local_images,
    with_uploads=lambda request, urls: request.with_uploads(urls),
)
