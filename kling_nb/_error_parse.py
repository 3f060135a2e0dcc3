"""Error bodies to typed exceptions, and exceptions to JSON-safe fields and back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import _exceptions
from ._exceptions import (
    DOWNLOAD_REASONS,
    AccessDeniedError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    CreateOutcomeUnknownError,
    DownloadError,
    InsufficientBalanceError,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    TaskFailedError,
    TaskTimeoutError,
    TeamRequiredError,
    TooManyPendingTasksError,
    UnsupportedModelError,
    UpstreamError,
    ValidationError,
)

__all__ = ["error_fields", "error_from_fields", "error_from_response", "parse_error_body"]


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
    found = getattr(_exceptions, name, None) if name in _exceptions.__all__ else None
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
