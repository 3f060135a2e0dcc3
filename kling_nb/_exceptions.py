"""The exception classes of kling_nb; `kling_nb.errors` exports them and draws their tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Task

__all__ = [
    "DOWNLOAD_REASONS",
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
