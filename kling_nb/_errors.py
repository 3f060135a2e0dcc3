"""Exceptions raised by kling_nb.

The tree::

    KlingError
    ├── ValidationError (ValueError)      bad input, caught before any request
    ├── ConfigurationError                no key, bad base URL
    ├── APIError                          .status_code .code .message .request_id .body
    │   ├── BadRequestError (400)
    │   │   └── UnsupportedModelError
    │   ├── AuthenticationError (401)
    │   ├── InsufficientBalanceError (402)
    │   ├── PermissionDeniedError (403)
    │   │   ├── TeamRequiredError
    │   │   └── AccessDeniedError
    │   ├── NotFoundError (404)
    │   ├── UpstreamError (424)           .upstream_status .upstream_code
    │   ├── TooManyPendingTasksError (429)
    │   ├── ServerError (5xx)
    │   └── InvalidResponseError          a 2xx whose body breaks the contract
    ├── APIConnectionError                .sent (False: provably never reached the server)
    │   └── APITimeoutError
    ├── CreateOutcomeUnknownError         .cause  (the create may have reached the server)
    ├── TaskFailedError                   .task  (failed / cancelled / expired)
    ├── TaskTimeoutError                  .task  (local deadline passed; the remote task runs on)
    ├── JobStoppedError                   job.cancel(): local work stopped, the remote task runs on
    └── DownloadError                     .reason (disk / media / deadline / corrupt) .retryable

`error_fields(exc)` flattens any exception to JSON-safe fields (for a ledger row) and
`error_from_fields(fields)` rebuilds a typed exception from them.

No exception text ever contains the API key: messages are built from the server's body and
our own words only, and request objects (which carry headers) are never attached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Task

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AccessDeniedError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "CreateOutcomeUnknownError",
    "DownloadError",
    "InsufficientBalanceError",
    "InvalidResponseError",
    "JobStoppedError",
    "KlingError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServerError",
    "TaskFailedError",
    "TaskTimeoutError",
    "TeamRequiredError",
    "TooManyPendingTasksError",
    "UnsupportedModelError",
    "UpstreamError",
    "ValidationError",
    "error_fields",
    "error_from_fields",
    "error_from_response",
    "parse_error_body",
]


class KlingError(Exception):
    """Base class of every kling_nb error."""


class ValidationError(KlingError, ValueError):
    """A request is invalid; raised at construction, before anything is sent.

    `field`, `value` and `allowed` say what was wrong and what would be accepted.
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}={shown} is not valid: {allowed}")


class ConfigurationError(KlingError):
    """The client cannot be set up: no API key, or a bad base URL."""


class APIError(KlingError):
    """The server answered with an error status.

    Attributes: `status_code`, `code` (the server's error code, if any), `message`
    (the server's words), `request_id`, `body` (the parsed body, or the raw text) and
    `details` (every other field of the error object, e.g. `available_nano`).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        body: object = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body = body
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [f"HTTP {self.status_code}"]
        if self.code:
            parts.append(self.code)
        text = " ".join(parts) + f": {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class BadRequestError(APIError):
    """400: the server rejected the request."""


class UnsupportedModelError(BadRequestError):
    """400 unsupported model: the model does not belong on this route."""


class AuthenticationError(APIError):
    """401: the API key is missing or unknown."""


class InsufficientBalanceError(APIError):
    """402 kling_balance_too_low: the team lacks credit. Recharge, then retry."""

    @property
    def required(self) -> object:
        """What the task would have needed, if the server said so."""
        return self.details.get("required_available_nano", self.details.get("required"))

    @property
    def available(self) -> object:
        """What the team has, if the server said so."""
        return self.details.get("available_nano", self.details.get("available"))


class PermissionDeniedError(APIError):
    """403: the key may not do this."""


class TeamRequiredError(PermissionDeniedError):
    """403 kling_team_required: the key is not scoped to a team."""


class AccessDeniedError(PermissionDeniedError):
    """403 media_resource_access_denied: the task belongs to another owner."""


class NotFoundError(APIError):
    """404: no such task on this route (status reads must use the create route)."""


class UpstreamError(APIError):
    """424: the upstream provider failed or timed out; no task was created, nothing billed."""

    @property
    def upstream_status(self) -> int | None:
        """The upstream provider's HTTP status, if the body kept it."""
        value = self.details.get("upstream_status")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def upstream_code(self) -> str | None:
        """The upstream provider's error code, if the body kept it."""
        for key in ("upstream_code", "upstream_error_code", "upstream_error"):
            value = self.details.get(key)
            if isinstance(value, Mapping):
                value = value.get("code")
            if value is not None:
                return str(value)
        # The guide: "the body keeps the upstream error code": with no separate field,
        # the body's own code is the upstream's.
        return self.code


class TooManyPendingTasksError(APIError):
    """429 kling_too_many_pending_tasks: wait for a running task to finish, then create again."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait, if it said."""
        value = self.details.get("_retry_after")
        return float(value) if isinstance(value, (int, float)) else None


class ServerError(APIError):
    """5xx: the router failed."""


class InvalidResponseError(APIError):
    """A 2xx answer whose body is not what the contract says (not JSON, not an object, a
    missing or invalid task id, or the id of another task)."""


class APIConnectionError(KlingError):
    """The request did not get an answer (connection refused, reset, DNS failure)."""

    def __init__(self, message: str, *, sent: bool | None = None) -> None:
        self.sent = sent
        super().__init__(message)


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class TaskFailedError(KlingError):
    """The task ended failed, cancelled or expired. `task` holds its last state."""

    def __init__(self, task: Task) -> None:
        self.task = task
        reason = f": {task.error}" if task.error else ""
        super().__init__(f"task {task.id} on {task.route} ended {task.status}{reason}")


class TaskTimeoutError(KlingError):
    """The local deadline passed before the task finished; the remote task runs on."""

    def __init__(self, task: Task, timeout: float) -> None:
        self.task = task
        self.timeout = timeout
        super().__init__(
            f"task {task.id} on {task.route} still {task.status} after {timeout:g} s "
            "(stopped waiting locally; the remote task runs on)"
        )


class CreateOutcomeUnknownError(KlingError):
    """A create may have reached the server but no usable answer came (a read timeout, a reset,
    a 5xx, an unreadable 2xx). It is never re-sent: a task may exist and be billed.

    `cause` is the typed error behind it (never an httpx object, which carries headers).
    """

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        self.cause = cause
        super().__init__(message)


class JobStoppedError(KlingError):
    """`job.cancel()` stopped the local work; a task already created runs on remotely."""

    def __init__(self, message: str = "stopped locally; a created task runs on remotely") -> None:
        super().__init__(message)


DOWNLOAD_REASONS = ("disk", "media", "deadline", "corrupt")


class DownloadError(KlingError):
    """A video download failed. `reason`: "disk" (a local OSError: full, read-only, no
    permission), "media" (the media host failed after retries), "deadline" (cut by its
    deadline; the `.part` file is kept) or "corrupt" (the file failed its checks).

    `retryable` says whether trying again later may help; `path` is the local file involved
    and `status_code` the media host's HTTP status, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        retryable: bool,
        path: str | None = None,
        status_code: int | None = None,
    ) -> None:
        if reason not in DOWNLOAD_REASONS:
            raise ValueError(f"reason={reason!r} is not one of {DOWNLOAD_REASONS}")
        self.reason = reason
        self.retryable = retryable
        self.path = path
        self.status_code = status_code
        super().__init__(message)


def parse_error_body(body: object) -> tuple[str | None, str | None, dict[str, Any]]:
    """Return `(code, message, details)` from an error body in any of the known envelopes.

    contract.md assumption 1: a live WorldRouter error was `{"detail": {"code", "message", ...}}`;
    other clients assume `{"error": {"code", "message"}}`; some bodies put `code`/`message` at
    the top. `detail` may also be a plain string. Every other field lands in `details`.
    """
    if isinstance(body, str):
        return None, body.strip() or None, {}
    if not isinstance(body, Mapping):
        return None, None, {}
    for key in ("detail", "error"):
        inner = body.get(key)
        if isinstance(inner, Mapping):
            details = {k: v for k, v in inner.items() if k not in ("code", "message")}
            details.update({k: v for k, v in body.items() if k != key and k not in details})
            code = inner.get("code") or inner.get("type")
            message = inner.get("message") or inner.get("msg")
            return _opt_str(code), _opt_str(message), details
        if isinstance(inner, str) and inner.strip():
            details = {k: v for k, v in body.items() if k != key}
            return _opt_str(body.get("code")), inner.strip(), details
        if isinstance(inner, list) and inner:
            # FastAPI-style validation lists: keep them whole, summarise the first.
            first = inner[0]
            message = first.get("msg") if isinstance(first, Mapping) else str(first)
            return None, _opt_str(message), {key: inner}
    details = {k: v for k, v in body.items() if k not in ("code", "message")}
    return _opt_str(body.get("code")), _opt_str(body.get("message")), details


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    424: UpstreamError,
    429: TooManyPendingTasksError,
}

_BY_CODE: dict[str, type[APIError]] = {
    "unsupported_model": UnsupportedModelError,
    "kling_balance_too_low": InsufficientBalanceError,
    "kling_team_required": TeamRequiredError,
    "media_resource_access_denied": AccessDeniedError,
    "kling_too_many_pending_tasks": TooManyPendingTasksError,
}


def error_from_response(
    status_code: int,
    text: str,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Build the typed exception for an error response (status code plus body text)."""
    try:
        body: object = json.loads(text) if text else None
    except ValueError:
        body = text
    code, message, details = parse_error_body(body)
    if retry_after is not None:
        details["_retry_after"] = retry_after
    if request_id is None and isinstance(body, Mapping):
        rid = (
            body.get("requestId")
            or body.get("request_id")
            or details.get("requestId")
            or details.get("request_id")
        )
        request_id = str(rid) if rid else None
    if code is None and message:
        # A `{"detail": "<code>..."}` or plain-text body names its code only in its words.
        code = next((known for known in _BY_CODE if known in message), None)
    cls = _BY_STATUS.get(status_code, ServerError if status_code >= 500 else APIError)
    by_code = _BY_CODE.get(code or "")
    words = f"{code or ''} {message or ''}".lower().replace("_", " ")
    if by_code is not None and issubclass(by_code, cls):
        cls = by_code
    elif status_code == 400 and "unsupported model" in words:
        cls = UnsupportedModelError
    if not message:
        message = code or (text[:500] if text else "") or f"HTTP {status_code} with an empty body"
    if cls is InsufficientBalanceError:
        message = _balance_message(message, details)
    return cls(
        message,
        status_code=status_code,
        code=code,
        request_id=request_id,
        body=body,
        details=details,
    )


def _balance_message(message: str, details: Mapping[str, Any]) -> str:
    required = details.get("required_available_nano", details.get("required"))
    available = details.get("available_nano", details.get("available"))
    if required is None or available is None or "needs" in message:
        return message
    return f"{message} (team balance too low: needs {required}, has {available})"


def error_fields(exc: BaseException) -> dict[str, Any]:
    """Flatten an exception to JSON-safe fields a ledger row can keep.

    Returns `error_type` (the class name), `error_status`, `error_code`, `error_message` and
    `error_details` (JSON-safe extras such as `available_nano`, `upstream_status`, `reason`).
    `error_from_fields` turns them back into an exception of the same class.
    """
    status: int | None = None
    code: str | None = None
    message = str(exc)
    details: dict[str, Any] = {}
    if isinstance(exc, APIError):
        status, code, message = exc.status_code, exc.code, exc.message
        details = {k: v for k, v in exc.details.items() if not k.startswith("_")}
        if exc.request_id:
            details["request_id"] = exc.request_id
    elif isinstance(exc, DownloadError):
        status = exc.status_code
        details = {"reason": exc.reason, "retryable": exc.retryable, "path": exc.path}
    elif isinstance(exc, APIConnectionError):
        details = {"sent": exc.sent}
    elif isinstance(exc, CreateOutcomeUnknownError) and exc.cause is not None:
        details = {"cause": error_fields(exc.cause)}
    elif isinstance(exc, ValidationError):
        details = {"field": exc.field, "allowed": exc.allowed}
    elif isinstance(exc, TaskTimeoutError):
        details = {"timeout": exc.timeout}
    return {
        "error_type": type(exc).__name__,
        "error_status": status,
        "error_code": code,
        "error_message": message,
        "error_details": {k: v for k, v in details.items() if _json_safe(v)},
    }


def _json_safe(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def error_from_fields(fields: Mapping[str, Any]) -> KlingError:
    """Rebuild the exception `error_fields` described: same class, status, code and message.

    Only classes of this module are rebuilt (by name); an unknown name gives a `KlingError`.
    Errors that held a live object (`TaskFailedError.task`) come back without it (`None`).
    """
    name = str(fields.get("error_type") or "")
    found = globals().get(name) if name in __all__ else None
    cls: type[KlingError] = (
        found if isinstance(found, type) and issubclass(found, KlingError) else KlingError
    )
    message = str(fields.get("error_message") or "")
    status = fields.get("error_status")
    code = fields.get("error_code")
    raw = fields.get("error_details")
    details: dict[str, Any] = dict(raw) if isinstance(raw, Mapping) else {}
    if issubclass(cls, APIError):
        request_id = details.pop("request_id", None)
        return cls(
            message,
            status_code=int(status) if isinstance(status, int) else 0,
            code=str(code) if code is not None else None,
            request_id=str(request_id) if request_id else None,
            details=details,
        )
    if issubclass(cls, DownloadError):
        reason = details.get("reason")
        return cls(
            message,
            reason=reason if reason in DOWNLOAD_REASONS else "media",
            retryable=bool(details.get("retryable", False)),
            path=details.get("path"),
            status_code=status if isinstance(status, int) else None,
        )
    if issubclass(cls, CreateOutcomeUnknownError):
        cause = details.get("cause")
        return cls(message, cause=error_from_fields(cause) if isinstance(cause, Mapping) else None)
    if issubclass(cls, APIConnectionError):
        sent = details.get("sent")
        return cls(message, sent=sent if isinstance(sent, bool) else None)
    if issubclass(cls, (ValidationError, TaskFailedError, TaskTimeoutError)):
        # Their constructors format a message from live objects: restore the text as it was.
        exc = cls.__new__(cls)
        Exception.__init__(exc, message)
        for attr in ("task", "field", "value", "allowed", "timeout"):
            setattr(exc, attr, details.get(attr))
        return exc
    return cls(message)
