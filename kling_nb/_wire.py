"""The client's wire helpers: base URL, bearer auth, task references and error mapping."""

from __future__ import annotations

import os
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    InvalidResponseError,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from ._models import DEFAULT_BASE_URL, ROUTES, Route, Task
from ._policy import RETRYABLE_STATUS

__all__ = [
    "ENV_BASE_URL",
    "ENV_KEY",
    "Bearer",
    "connection_error",
    "resolve_base_url",
    "task_ref",
    "transient",
    "valid_task_id",
]

ENV_KEY: Final = "WORLDROUTER_API_KEY"
ENV_BASE_URL: Final = "WORLDROUTER_BASE_URL"


def resolve_base_url(base_url: str | None) -> str:
    """The API origin: the argument, else `$WORLDROUTER_BASE_URL`, else the guide's origin.

    contract.md assumption 11: dashboards show the base URL with `/v1`; strip it (and any
    trailing slash) since every route here starts with `/v1`.
    """
    url = (base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"base_url={url!r} is not valid: an http(s) origin such as {DEFAULT_BASE_URL}"
        )
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


class Bearer(httpx.Auth):
    """Adds the key per request; its repr never shows it."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "Bearer(<hidden>)"


def task_ref(task: Task | str, route: Route | str | None) -> tuple[str, Route]:
    task_id = task.id if isinstance(task, Task) else task
    wanted = route or (task.route if isinstance(task, Task) else None)
    if not task_id or task_id.strip(".") == "":
        raise ValidationError("task", task_id, "a task id (list routes are disabled)")
    for known in ROUTES:
        if wanted == known:
            return task_id, known
    raise ValidationError("route", wanted, f"the create route: one of {', '.join(ROUTES)}")


def transient(exc: KlingError) -> bool:
    if isinstance(exc, (APIConnectionError, InvalidResponseError)):
        # One garbled reply (HTML from a proxy, another task's body) must not end a wait.
        return True
    if isinstance(exc, (NotFoundError, PermissionDeniedError)):
        return False
    return isinstance(exc, APIError) and (
        exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    )


# Failures before a connection existed: the request provably never left.
_UNSENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def valid_task_id(value: object) -> bool:
    """A server task id we accept: a short printable string, no whitespace, no path parts."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 200
        and value.isprintable()
        and not any(c.isspace() or c in "/\\" for c in value)
        and value not in (".", "..")
    )


def connection_error(method: str, path: str, exc: httpx.RequestError) -> APIConnectionError:
    sent = not isinstance(exc, _UNSENT)
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    note = "" if sent else " (the request never reached the server)"
    message = f"{method} {path} {what}: {type(exc).__name__}{note}"
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(message, sent=sent)
    return APIConnectionError(message, sent=sent)
