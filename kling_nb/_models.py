"""The vocabulary of the WorldRouter Kling API: routes, models, statuses and the Task record.

Everything here is data (no I/O), shared by the client, the Studio and the sandbox.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_BASE_URL",
    "DURATIONS",
    "MODELS",
    "MODES",
    "ROUTES",
    "TERMINAL_STATUSES",
    "Route",
    "Status",
    "Task",
]

DEFAULT_BASE_URL: Final = "https://inference-api-pre-d80ca3.worldrouter.ai"
"""The origin named by the user's guide (its Quickstart)."""

Route = Literal["text2video", "image2video", "omni-video"]
ROUTES: Final[tuple[Route, ...]] = ("text2video", "image2video", "omni-video")

MODELS: Final[Mapping[str, tuple[Route, ...]]] = {
    "kling-v2-6": ("text2video", "image2video"),
    "kling-v3": ("text2video", "image2video"),
    "kling-v3-omni": ("omni-video",),
}
"""Which create routes accept which model (the guide's "Supported models" table)."""

DURATIONS: Final[tuple[int, ...]] = (5, 10)
MODES: Final[tuple[str, ...]] = ("std", "pro")
ASPECT_RATIOS: Final[tuple[str, ...]] = ("16:9", "9:16", "1:1")


class Status(str, enum.Enum):
    """WorldRouter's normalized task states."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value

    @property
    def terminal(self) -> bool:
        """True for succeeded, failed, cancelled and expired."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: Final = frozenset(
    {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.EXPIRED}
)


def as_route(value: object) -> Route:
    """`value` as a Route, or ValueError."""
    for route in ROUTES:
        if value == route:
            return route
    raise ValueError(f"route={value!r} is not one of {', '.join(ROUTES)}")


def parse_status(value: object) -> Status | str:
    """Map a raw status string to `Status`; keep an unknown value as a plain string.

    contract.md assumption 4: unknown statuses are not terminal and are kept raw.
    """
    text = str(value).strip().lower() if value is not None else ""
    try:
        return Status(text)
    except ValueError:
        return text or "unknown"


def _failure_reason(body: Mapping[str, Any]) -> str | None:
    # contract.md assumption 3: the failure reason of a failed/expired task is undocumented,
    # so look in every place a router tends to put it.
    for key in ("error", "failure_reason", "message", "reason"):
        value = body.get(key)
        if isinstance(value, Mapping):
            message = value.get("message") or value.get("detail") or value.get("code")
            if message:
                return str(message)
        elif value:
            return str(value)
    return None


@dataclass(frozen=True)
class Task:
    """One remote task (of any family) as last seen by the client.

    `route` is the route key it was created on: a Kling route (`Route`) or another family's
    key (`"seedance"`, `"grok"`; see `kling_nb._families`). `raw` keeps the whole response
    body; `video_url` is only ever read from a status response
    (the guide: never from the create response).
    """

    id: str
    route: Route | str
    model: str = ""
    status: Status | str = Status.QUEUED
    video_url: str | None = None
    error: str | None = None
    request_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """True once the task is in a terminal state."""
        return isinstance(self.status, Status) and self.status.terminal

    @property
    def succeeded(self) -> bool:
        """True when the task succeeded and carries a video URL."""
        return self.status is Status.SUCCEEDED and bool(self.video_url)

    @classmethod
    def from_response(
        cls,
        body: Mapping[str, Any],
        route: Route | str,
        *,
        request_id: str | None = None,
        from_status_route: bool = True,
    ) -> Task:
        """Build a Task from a create or status response body."""
        content = body.get("content")
        video_url = None
        if from_status_route and isinstance(content, Mapping):
            url = content.get("video_url")
            # Only an http(s) URL is a video to fetch; anything else (file:, javascript:, a
            # relative path) counts as "no URL yet", like contract.md assumption 5.
            if isinstance(url, str) and urlsplit(url.strip()).scheme in ("http", "https"):
                video_url = url.strip()
        status = parse_status(body.get("status"))
        error = _failure_reason(body) if status not in (Status.QUEUED, Status.RUNNING) else None
        if status is Status.SUCCEEDED:
            error = None
        rid = body.get("requestId") or body.get("request_id") or request_id
        return cls(
            id=str(body.get("id", "")),
            route=route,
            model=str(body.get("model", "")),
            status=status,
            video_url=video_url,
            error=error,
            request_id=str(rid) if rid else None,
            raw=dict(body),
        )
