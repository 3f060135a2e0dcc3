"""The client's wire helpers: base URL, bearer auth, task references and error mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
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
from ._families import Family, family_of
from ._models import DEFAULT_BASE_URL, Route, Task
from ._policy import RETRYABLE_STATUS

__all__ = [
    "ENV_BASE_URL",
    "ENV_KEY",
    "Bearer",
    "connection_error",
    "resolve_base_url",
    "retype",
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


def task_ref(task: Task | str, route: Route | str | None) -> tuple[str, str, Family]:
    """The task id, its route key and the family owning that route (ValidationError if none)."""
    task_id = task.id if isinstance(task, Task) else task
    wanted = route or (task.route if isinstance(task, Task) else None)
    if not task_id or task_id.strip(".") == "":
        raise ValidationError("task", task_id, "a task id (list routes are disabled)")
    family = family_of(wanted)
    assert isinstance(wanted, str)
    return task_id, wanted, family


def retype(exc: APIError, codes: Mapping[str, type[APIError]]) -> APIError:
    """`exc` as the class its family gives its code, when that narrows the status's class.

    `error_from_response` knows Kling's codes; a family's own (`seedance_balance_too_low`,
    ...) are matched here, in the code field or, failing that, in the message's words.
    """
    code = exc.code or next((known for known in codes if known in (exc.message or "")), None)
    if code is None:
        return exc
    mapped = codes.get(code)
    cls = mapped if mapped is not None and issubclass(mapped, type(exc)) else type(exc)
    if cls is type(exc) and code == exc.code:
        return exc
    return cls(
        exc.message,
        status_code=exc.status_code,
        code=code,
        request_id=exc.request_id,
        body=exc.body,
        details=exc.details,
    )


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
