"""`error_fields` / `error_from_fields`: a job's error survives a ledger row, typed."""

from __future__ import annotations

import json

import pytest

import kling_nb as kn
from kling_nb._errors import error_fields, error_from_fields

TASK = kn.Task("task-9", "text2video", status=kn.Status.FAILED, error="unreachable image")

ERRORS: list[kn.KlingError] = [
    kn.KlingError("plain"),
    kn.ConfigurationError("no key"),
    kn.ValidationError("prompt", "", "a non-empty prompt"),
    kn.InsufficientBalanceError(
        "team balance too low",
        status_code=402,
        code="kling_balance_too_low",
        request_id="req-1",
        details={"required_available_nano": 700_000_000, "available_nano": 5},
    ),
    kn.UpstreamError(
        "provider timeout", status_code=424, code="up", details={"upstream_status": 504}
    ),
    kn.TooManyPendingTasksError("cap", status_code=429, code="kling_too_many_pending_tasks"),
    kn.AccessDeniedError("not yours", status_code=403, code="media_resource_access_denied"),
    kn.ServerError("oops", status_code=502),
    kn.InvalidResponseError("not JSON", status_code=200),
    kn.APIConnectionError("refused", sent=False),
    kn.APITimeoutError("read timeout", sent=True),
    kn.CreateOutcomeUnknownError("maybe", cause=kn.ServerError("x", status_code=500)),
    kn.JobStoppedError(),
    kn.TaskFailedError(TASK),
    kn.TaskTimeoutError(TASK, 90.0),
    kn.DownloadError("disk full", reason="disk", retryable=True, path="/v/a.mp4"),
    kn.DownloadError("gone", reason="media", retryable=False, status_code=404),
    kn.DownloadError("late", reason="deadline", retryable=True),
    kn.DownloadError("broken", reason="corrupt", retryable=False),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: f"{type(e).__name__}-{e}"[:40])
def test_round_trip_through_json_keeps_class_status_code_and_text(error: kn.KlingError) -> None:
    fields = json.loads(json.dumps(error_fields(error)))  # what a ledger column would keep
    assert fields["error_type"] == type(error).__name__
    again = error_from_fields(fields)
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert error_fields(again) == fields
    if isinstance(error, kn.APIError):
        assert isinstance(again, kn.APIError)
        assert (again.status_code, again.code, again.message) == (
            error.status_code,
            error.code,
            error.message,
        )


def test_fields_of_a_balance_error() -> None:
    fields = error_fields(ERRORS[3])
    assert fields == {
        "error_type": "InsufficientBalanceError",
        "error_status": 402,
        "error_code": "kling_balance_too_low",
        "error_message": "team balance too low",
        "error_details": {
            "required_available_nano": 700_000_000,
            "available_nano": 5,
            "request_id": "req-1",
        },
    }
    again = error_from_fields(fields)
    assert isinstance(again, kn.InsufficientBalanceError)
    assert again.required == 700_000_000
    assert again.request_id == "req-1"


def test_download_fields_keep_reason_and_retryable() -> None:
    fields = error_fields(ERRORS[15])
    assert fields["error_details"] == {"reason": "disk", "retryable": True, "path": "/v/a.mp4"}
    again = error_from_fields(fields)
    assert isinstance(again, kn.DownloadError)
    assert (again.reason, again.retryable, again.path) == ("disk", True, "/v/a.mp4")


def test_upstream_status_survives() -> None:
    again = error_from_fields(error_fields(ERRORS[4]))
    assert isinstance(again, kn.UpstreamError)
    assert again.upstream_status == 504


def test_details_that_are_not_json_are_dropped() -> None:
    error = kn.APIError("m", status_code=418, details={"ok": [1, "a"], "obj": object(), "_x": 1})
    assert error_fields(error)["error_details"] == {"ok": [1, "a"]}


def test_foreign_exceptions_flatten_and_come_back_as_kling_errors() -> None:
    fields = error_fields(OSError(28, "No space left on device"))
    assert fields["error_type"] == "OSError"
    assert fields["error_status"] is None
    again = error_from_fields(fields)
    assert type(again) is kn.KlingError
    assert "No space left" in str(again)


@pytest.mark.parametrize(
    "name", ["", "OSError", "error_fields", "Mapping", "__builtins__", "Task", None]
)
def test_only_error_classes_of_the_module_are_rebuilt(name: object) -> None:
    again = error_from_fields({"error_type": name, "error_message": "m"})
    assert type(again) is kn.KlingError
    assert str(again) == "m"


def test_a_bad_stored_reason_still_rebuilds() -> None:
    again = error_from_fields(
        {"error_type": "DownloadError", "error_message": "m", "error_details": {"reason": "??"}}
    )
    assert isinstance(again, kn.DownloadError)
    assert again.reason == "media"


def test_download_error_refuses_an_unknown_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        kn.DownloadError("m", reason="network", retryable=True)


def test_the_cause_of_an_unknown_outcome_survives() -> None:
    again = error_from_fields(json.loads(json.dumps(error_fields(ERRORS[11]))))
    assert isinstance(again, kn.CreateOutcomeUnknownError)
    assert isinstance(again.cause, kn.ServerError)
    assert again.cause.status_code == 500
