"""Kling, the seed family: its three create routes, as the client has always spoken them.

contract.md: create `POST /v1/videos/{text2video,image2video,omni-video}`, status on the same
route plus `/{task_id}`, PascalCase bodies (built by `kling_nb._requests`), local images
uploaded through `/v1/images/uploads`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from .._exceptions import (
    AccessDeniedError,
    InsufficientBalanceError,
    TeamRequiredError,
    TooManyPendingTasksError,
    UnsupportedModelError,
)
from .._models import MODELS, ROUTES, Task
from ._family import KLING_CREATED, Family

__all__ = ["KLING"]


def _local_images(request: Any) -> tuple[Path, ...]:
    path = request.local_image
    return (path,) if isinstance(path, Path) else ()


def _with_uploads(request: Any, urls: Sequence[str]) -> Any:
    return request.with_image_url(urls[0]) if urls else request


def _status(body: Any, route: str, request_id: str | None, task_id: str) -> Task:
    del task_id  # contract.md: Kling's status body names its task; the client checks it
    return Task.from_response(body, route, request_id=request_id)


KLING: Final = Family(
    name="kling",
    models=MODELS,
    create={route: f"/v1/videos/{route}" for route in ROUTES},
    status={route: f"/v1/videos/{route}/{{task_id}}" for route in ROUTES},
    error_codes={
        "unsupported_model": UnsupportedModelError,
        "kling_balance_too_low": InsufficientBalanceError,
        "kling_team_required": TeamRequiredError,
        "media_resource_access_denied": AccessDeniedError,
        "kling_too_many_pending_tasks": TooManyPendingTasksError,
    },
    uploader="images",
    status_has_id=True,
    created_parser=KLING_CREATED,
    status_parser=_status,
    local_images=_local_images,
    with_uploads=_with_uploads,
)
