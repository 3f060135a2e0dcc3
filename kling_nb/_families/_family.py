"""The `Family` record: what one WorldRouter video family is, as data plus a small adapter.

A family names its models, its create and status routes, how a response becomes a `Task`,
which error codes mean which exception, and how a request's local images are uploaded. The
client reads these and never branches on a family's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import quote

from .._exceptions import APIError
from .._models import Status, Task

__all__ = [
    "Family",
    "Uploader",
    "VideoRequest",
    "parse_created",
    "parse_status",
]

Uploader = Literal["images", "assets"]
"""How local images are uploaded: `images` is `POST /v1/images/uploads` (contract.md);
`assets` is an asset group then its assets (contract-families.md, Seedance)."""


class VideoRequest(Protocol):
    """What the client needs of any request: its route key, model and JSON body."""

    @property
    def route(self) -> str:
        """The route key (a family's create route)."""
        ...

    @property
    def model(self) -> str:
        """The model name sent in the body."""
        ...

    def to_body(self) -> dict[str, Any]:
        """The JSON body for the create route."""
        ...


R = TypeVar("R")


def _keep_raw(task: Task, body: Mapping[str, Any]) -> Task:
    # raw keeps the server's body as it came, not the defaults filled in to parse it.
    return replace(task, raw=dict(body))


def parse_created(body: Mapping[str, Any], route: str, request_id: str | None, model: str) -> Task:
    """A create response as a queued Task, filling what a terse family leaves out.

    contract-families.md: Seedance's create answers only `id` and `requestId`, Grok's "a task
    id": a task just created is queued, on the model that was asked for.
    """
    filled = {"status": Status.QUEUED.value, "model": model, **body}
    task = Task.from_response(filled, route, request_id=request_id, from_status_route=False)
    return _keep_raw(task, body)


def parse_status(body: Mapping[str, Any], route: str, request_id: str | None, task_id: str) -> Task:
    """A status response as a Task (`content.video_url`, the normalised states).

    A body without an `id` is about the task asked for (the client rejects one naming another).
    """
    task = Task.from_response({"id": task_id, **body}, route, request_id=request_id)
    return _keep_raw(task, body)


def _kling_created(body: Mapping[str, Any], route: str, request_id: str | None, model: str) -> Task:
    del model  # Kling's create answers its model (contract.md): keep the answer as it is
    return Task.from_response(body, route, request_id=request_id, from_status_route=False)


CreatedParser = Callable[[Mapping[str, Any], str, "str | None", str], Task]
StatusParser = Callable[[Mapping[str, Any], str, "str | None", str], Task]


def _no_local_images(request: Any) -> tuple[Path, ...]:
    return ()


def _unchanged(request: R, urls: Sequence[str]) -> R:
    return request


@dataclass(frozen=True)
class Family:
    """One video family: routes, models, parsing, error codes and uploads, as data.

    `create` maps each route key to its create path; `status` maps it to a status path with a
    `{task_id}` placeholder (the id is percent-encoded). `status_has_id` says the status body
    names its task (the client then rejects a body about another task); where that is unknown
    the client only checks an id that is present.
    """

    name: str
    models: Mapping[str, tuple[str, ...]]
    create: Mapping[str, str]
    status: Mapping[str, str]
    error_codes: Mapping[str, type[APIError]] = field(default_factory=dict)
    uploader: Uploader = "images"
    status_has_id: bool = True
    created_parser: CreatedParser = parse_created
    status_parser: StatusParser = parse_status
    local_images: Callable[[Any], tuple[Path, ...]] = _no_local_images
    with_uploads: Callable[[Any, Sequence[str]], Any] = _unchanged

    @property
    def routes(self) -> tuple[str, ...]:
        """The family's route keys."""
        return tuple(self.create)

    def create_path(self, route: str) -> str:
        """The create path of `route`."""
        return self.create[route]

    def status_path(self, route: str, task_id: str) -> str:
        """The status path of task `task_id`, created on `route`."""
        return self.status[route].replace("{task_id}", quote(task_id, safe=""))


KLING_CREATED: CreatedParser = _kling_created
