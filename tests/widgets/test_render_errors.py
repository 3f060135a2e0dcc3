"""`plain_error` reads the error as data (type, status, code, details), not its text."""

from __future__ import annotations

import html
from typing import Any

import pytest
from _widget_helpers import snapshot

import kling_nb as kn
from kling_nb import _errors
from kling_nb._render import job_card_html, plain_error
from kling_nb._render._errors import _BY_TYPE


def errored(exc: BaseException, status: str = "error", **extra: Any) -> dict[str, Any]:
    """A snapshot carrying `exc` the way `Job.snapshot()` keeps an error: as data."""
    fields: dict[str, Any] = {
        "status": status,
        "error": str(exc),
        "error_type": type(exc).__name__,
        "error_status": getattr(exc, "status_code", None),
        "error_code": getattr(exc, "code", None),
        "error_details": dict(getattr(exc, "details", {}) or {}),
    }
    fields.update(extra)
    return snapshot(**fields)


def balance_error(required: object, available: object) -> kn.InsufficientBalanceError:
    return kn.InsufficientBalanceError(
        "team balance too low",
        status_code=402,
        code="kling_balance_too_low",
        details={"required_available_nano": required, "available_nano": available},
    )


def test_402_converts_nano_credits_to_credits() -> None:
    words = plain_error(errored(balance_error(350_000_000, 1000)))
    assert words == (
        "Not enough credit — team balance too low: needs 0.35 credits, has 0.00 credits. "
        "Recharge the team on WorldRouter, then generate again."
    )


def test_402_without_amounts_still_reads() -> None:
    words = plain_error(errored(balance_error(None, None)))
    assert words is not None
    assert words.startswith("Not enough credit — team balance too low. Recharge")


def test_402_card_shows_words_over_the_raw_text() -> None:
    card = html.unescape(job_card_html(errored(balance_error(2_500_000_000, 10**9))))
    assert "needs 2.50 credits, has 1.00 credits" in card
    assert "HTTP 402 kling_balance_too_low: team balance too low" in card


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (
            kn.TeamRequiredError("no team", status_code=403, code="kling_team_required"),
            "not team-scoped (403)",
        ),
        (
            kn.AccessDeniedError("nope", status_code=403, code="media_resource_access_denied"),
            "another key, team or account (403)",
        ),
        (kn.PermissionDeniedError("no", status_code=403), "refused this key (403)"),
        (kn.AuthenticationError("bad key", status_code=401), "not accepted (401)"),
        (
            kn.TooManyPendingTasksError("busy", status_code=429),
            "Too many pending tasks (429): wait for a running task to finish",
        ),
        (
            kn.UpstreamError("slow", status_code=424, details={"upstream_status": 504}),
            "(424) (the provider answered 504): no task was created and nothing was billed",
        ),
        (kn.BadRequestError("bad", status_code=400), "rejected the request (400)"),
        (kn.ServerError("down", status_code=503), "server error (5xx)"),
        (kn.APITimeoutError("slow"), "did not answer in time"),
        (
            _errors.CreateOutcomeUnknownError("no answer"),
            "may have been created without an answer: it was not re-sent",
        ),
        (_errors.JobStoppedError("stopped"), "Stopped locally (job.cancel())"),
    ],
)
def test_each_error_type_has_its_words(exc: BaseException, words: str) -> None:
    assert words in (plain_error(errored(exc)) or "")


def test_the_type_wins_over_misleading_text() -> None:
    snap = errored(kn.UpstreamError("x", status_code=424), error="HTTP 401: looks like auth")
    assert "nothing was billed" in (plain_error(snap) or "")


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        ("kling_team_required", 403, "not team-scoped"),
        ("media_resource_access_denied", 403, "another key, team or account"),
        ("seedance_balance_too_low", 402, "team balance too low"),
        (None, 424, "nothing was billed"),
        (None, 502, "server error"),
    ],
)
def test_a_generic_type_dispatches_on_code_then_status(
    code: str | None, status: int, words: str
) -> None:
    snap = snapshot(
        status="error", error="x", error_type="APIError", error_status=status, error_code=code
    )
    assert words in (plain_error(snap) or "")


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("disk", "the disk is full or not writable"),
        ("media", "the media host refused or failed"),
        ("deadline", "the download did not finish before the deadline"),
        ("corrupt", "the file arrived cut short or damaged"),
        ("mystery", "the download failed"),
    ],
)
def test_fetch_failed_names_the_download_reason(reason: str, words: str) -> None:
    snap = snapshot(
        status="fetch_failed",
        error="download failed",
        error_type="DownloadError",
        error_details={"reason": reason},
    )
    assert plain_error(snap) == f"Video not downloaded: {words}; studio.resume() fetches it."
    by_code = snapshot(status="fetch_failed", error_type="DownloadError", error_code=reason)
    assert plain_error(by_code) == plain_error(snap)


def test_timeout_invalid_response_and_task_failed() -> None:
    timeout = snapshot(status="timeout", error="late", error_type="TaskTimeoutError")
    assert plain_error(timeout) == (
        "Still running remotely after the local deadline; studio.resume() follows it again."
    )
    invalid = snapshot(status="error", error="?", error_type="InvalidResponseError")
    assert "could not read" in (plain_error(invalid) or "")
    for status, words in [("failed", "failed upstream"), ("expired", "expired before")]:
        snap = snapshot(status=status, error="task ended", error_type="TaskFailedError")
        assert words in (plain_error(snap) or "")


def test_every_named_type_is_a_real_exception_class() -> None:
    modules = (_errors,)
    known = {name for name in _BY_TYPE if any(hasattr(m, name) for m in modules)}
    assert set(_BY_TYPE) == known
