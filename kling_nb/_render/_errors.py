"""`plain_error`: one sentence saying what went wrong and what to do, from a job's error data.

A job snapshot carries its error as data: `error_type` (the exception's class name),
`error_status` (HTTP status or None), `error_code` (the server's code or None),
`error_details` (the error body's other fields) and `error` (the text). The words are chosen
by type, then code, then status; the text is only read for snapshots without `error_type`
(ledgers written before errors were kept as data), and then only for its `HTTP <status>
<code>:` prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .._states import JobState
from ._html import Snapshot, num, state_of
from ._words import credits_from_nano, format_amount

__all__ = ["ErrorInfo", "download_reason", "plain_error"]

_HTTP_PREFIX = re.compile(r"^HTTP (\d{3})(?: ([A-Za-z0-9_.-]+))?:")


@dataclass(frozen=True)
class ErrorInfo:
    """A snapshot's error fields, normalised (what the word functions read)."""

    state: JobState | None
    type: str | None = None
    status: int | None = None
    code: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    text: str | None = None

    @classmethod
    def of(cls, snapshot: Snapshot) -> ErrorInfo:
        """The error data of `snapshot`; old snapshots get status/code from their text."""
        text = snapshot.get("error")
        text = str(text) if text else None
        kind = snapshot.get("error_type")
        status = num(snapshot.get("error_status"))
        code = snapshot.get("error_code")
        details = snapshot.get("error_details")
        if not kind and text:  # an old ledger row: only the text was kept
            found = _HTTP_PREFIX.match(text)
            if found:
                status = status or float(found[1])
                code = code or found[2]
        return cls(
            state=state_of(snapshot),
            type=str(kind) if kind else None,
            status=int(status) if status is not None else None,
            code=str(code) if code else None,
            details=details if isinstance(details, Mapping) else {},
            text=text,
        )


Words = Callable[[ErrorInfo], str]

_DOWNLOAD_REASONS: Final[Mapping[str, str]] = {
    "disk": "the disk is full or not writable",
    "media": "the media host refused or failed",
    "deadline": "the download did not finish before the deadline",
    "corrupt": "the file arrived cut short or damaged",
}


def download_reason(info: ErrorInfo) -> str:
    """Why a download failed, in words ('the disk is full or not writable', ...)."""
    reason = info.details.get("reason") or info.code
    return _DOWNLOAD_REASONS.get(str(reason), "the download failed")


def _balance(info: ErrorInfo) -> str:
    needs = credits_from_nano(info.details.get("required_available_nano"))
    has = credits_from_nano(info.details.get("available_nano"))
    amounts = ""
    if needs is not None and has is not None:
        amounts = f": needs {format_amount(needs)}, has {format_amount(has)}"
    return (
        f"Not enough credit — team balance too low{amounts}. "
        "Recharge the team on WorldRouter, then generate again."
    )


def _upstream(info: ErrorInfo) -> str:
    upstream = info.details.get("upstream_status")
    said = f" (the provider answered {upstream})" if upstream is not None else ""
    return (
        f"The upstream provider failed (424){said}: no task was created and nothing was "
        "billed. Try again shortly, or change the parameter it names."
    )


def _task_ended(info: ErrorInfo) -> str:
    return _STATE_WORDS.get(info.state or JobState.FAILED, "The task failed upstream.")


def _const(text: str) -> Words:
    return lambda _info: text


_TEAM = _const("This API key is not team-scoped (403): Kling needs a team key with credit.")
_ACCESS = _const(
    "This task belongs to another key, team or account (403), so this key cannot read it."
)
_FORBIDDEN = _const("The router refused this key (403).")
_AUTH = _const("The API key was not accepted (401): check WORLDROUTER_API_KEY.")
_BAD_REQUEST = _const("The router rejected the request (400): fix the field it names.")
_NOT_FOUND = _const("The router does not know this task on this route (404).")
_PENDING = _const(
    "Too many pending tasks (429): wait for a running task to finish, then generate again."
)
_SERVER = _const("The router had a server error (5xx): try again shortly.")
_UNKNOWN = _const(
    "The create request may have been created without an answer: it was not re-sent "
    "(that could bill twice). Check your WorldRouter usage before generating again."
)
_STOPPED = _const(
    "Stopped locally (job.cancel()). The remote task, if created, runs on and may bill."
)
_TIMEOUT = _const(
    "Still running remotely after the local deadline; studio.resume() follows it again."
)
_DETACHED = _const(
    "Not followed by this Studio (closed, or created with other settings); resume() with "
    "the settings it was created with picks it up."
)

_BY_TYPE: Final[Mapping[str, Words]] = {
    "InsufficientBalanceError": _balance,
    "TeamRequiredError": _TEAM,
    "AccessDeniedError": _ACCESS,
    "PermissionDeniedError": _FORBIDDEN,
    "AuthenticationError": _AUTH,
    "BadRequestError": _BAD_REQUEST,
    "UnsupportedModelError": _const(
        "This model does not belong on this route (400): pick a model the route lists."
    ),
    "NotFoundError": _NOT_FOUND,
    "UpstreamError": _upstream,
    "TooManyPendingTasksError": _PENDING,
    "ServerError": _SERVER,
    "APIConnectionError": _const("The router did not answer (connection failed)."),
    "APITimeoutError": _const("The router did not answer in time."),
    "CreateOutcomeUnknownError": _UNKNOWN,
    "JobStoppedError": _STOPPED,
    "TaskTimeoutError": _TIMEOUT,
    "TaskFailedError": _task_ended,
    "DownloadError": lambda info: (
        f"Video not downloaded: {download_reason(info)}; studio.resume() fetches it."
    ),
    "InvalidResponseError": _const(
        "The router sent an answer kling_nb could not read; nothing was re-sent."
    ),
    "ValidationError": _const("The request was not valid: fix the field it names."),
}
_BY_CODE: Final[Mapping[str, Words]] = {
    "kling_balance_too_low": _balance,
    "kling_team_required": _TEAM,
    "media_resource_access_denied": _ACCESS,
    "kling_too_many_pending_tasks": _PENDING,
}
_BY_STATUS: Final[Mapping[int, Words]] = {
    400: _BAD_REQUEST,
    401: _AUTH,
    402: _balance,
    403: _FORBIDDEN,
    404: _NOT_FOUND,
    424: _upstream,
    429: _PENDING,
}
_STATE_WORDS: Final[Mapping[JobState, str]] = {
    JobState.FAILED: "The task failed upstream.",
    JobState.CANCELLED: "The task was cancelled upstream.",
    JobState.EXPIRED: "The task expired before it finished.",
    JobState.TIMEOUT: _TIMEOUT(ErrorInfo(None)),
    JobState.DETACHED: _DETACHED(ErrorInfo(None)),
    JobState.STOPPED: _STOPPED(ErrorInfo(None)),
    JobState.UNKNOWN: _UNKNOWN(ErrorInfo(None)),
    JobState.ERROR: "The job could not run.",
}


def _words_for_error(info: ErrorInfo) -> str | None:
    by_type = _BY_TYPE.get(info.type or "")
    if by_type is not None:
        return by_type(info)
    if info.code is not None:
        if info.code in _BY_CODE:
            return _BY_CODE[info.code](info)
        if info.code.endswith("_balance_too_low"):  # other families' 402 (contract-families.md)
            return _balance(info)
    if info.status is not None:
        if info.status in _BY_STATUS:
            return _BY_STATUS[info.status](info)
        if 500 <= info.status < 600:
            return _SERVER(info)
    return None


def plain_error(snapshot: Snapshot) -> str | None:
    """What went wrong with the job in `snapshot` and what to do, or None if nothing did.

    Parked states say how `resume()` picks them up; other states take the words of their
    error's type, code or status, then of the state itself.
    """
    info = ErrorInfo.of(snapshot)
    state = info.state
    if state is JobState.SUCCEEDED or (state is not None and state.active and not info.text):
        return None
    if state is JobState.FETCH_FAILED:
        return f"Video not downloaded: {download_reason(info)}; studio.resume() fetches it."
    if state is not None and state.parked:
        return _STATE_WORDS[state]
    words = _words_for_error(info)
    if words is not None:
        return words
    if state is not None and state in _STATE_WORDS:
        return _STATE_WORDS[state]
    return "Something went wrong." if info.text else None
