"""Error mapping: every troubleshooting row, in every envelope, becomes its typed exception."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

import kling_nb as kn
from kling_nb._errors import error_from_response, parse_error_body


@dataclass(frozen=True)
class Row:
    """One row of the guide's troubleshooting table (plus 401, 404 and 5xx)."""

    name: str
    status: int
    code: str
    message: str
    cls: type[kn.APIError]
    extra: dict[str, Any] = field(default_factory=dict)
    known: bool = True  # a code kling_nb recognises even when it only appears in the text


ROWS = [
    Row(
        "400-unsupported",
        400,
        "unsupported_model",
        "unsupported model kling-v3-omni on text2video",
        kn.UnsupportedModelError,
    ),
    Row(
        "401",
        401,
        "invalid_api_key",
        "the API key is missing or unknown",
        kn.AuthenticationError,
        known=False,
    ),
    Row(
        "402-balance",
        402,
        "kling_balance_too_low",
        "team balance too low",
        kn.InsufficientBalanceError,
        {"required_available_nano": 350000000, "available_nano": 1200},
    ),
    Row(
        "403-team",
        403,
        "kling_team_required",
        "Kling needs a team-scoped API key",
        kn.TeamRequiredError,
    ),
    Row(
        "403-owner",
        403,
        "media_resource_access_denied",
        "the task belongs to another owner",
        kn.AccessDeniedError,
    ),
    Row(
        "404", 404, "task_not_found", "no task job-1 on image2video", kn.NotFoundError, known=False
    ),
    Row(
        "424-upstream",
        424,
        "upstream_error",
        "the video provider timed out",
        kn.UpstreamError,
        {"upstream_status": 504, "upstream_code": "upstream_timeout"},
        known=False,
    ),
    Row(
        "429-pending",
        429,
        "kling_too_many_pending_tasks",
        "too many pending Kling tasks",
        kn.TooManyPendingTasksError,
    ),
    Row("500", 500, "internal_error", "the router failed", kn.ServerError, known=False),
    Row("502", 502, "bad_gateway", "bad gateway", kn.ServerError, known=False),
    Row("503", 503, "unavailable", "try again later", kn.ServerError, known=False),
]

RID = "req-abc-123"


@dataclass(frozen=True)
class Envelope:
    """How a body carries code/message/request id; `structured` bodies name the code apart."""

    name: str
    build: Callable[[Row], httpx.Response]
    structured: bool
    json: bool = True


def _json(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


ENVELOPES = [
    Envelope(
        "detail-object",
        lambda r: _json(
            r.status,
            {"detail": {"code": r.code, "message": r.message, **r.extra}, "requestId": RID},
        ),
        structured=True,
    ),
    Envelope(
        "detail-string",
        lambda r: _json(
            r.status, {"detail": f"{r.code}: {r.message}", **r.extra}, **{"x-request-id": RID}
        ),
        structured=False,
    ),
    Envelope(
        "error-object",
        lambda r: _json(
            r.status,
            {"error": {"code": r.code, "message": r.message, "request_id": RID, **r.extra}},
        ),
        structured=True,
    ),
    Envelope(
        "top-level",
        lambda r: _json(
            r.status, {"code": r.code, "message": r.message, "requestId": RID, **r.extra}
        ),
        structured=True,
    ),
    Envelope(
        "text",
        lambda r: httpx.Response(
            r.status,
            text=f"{r.code}: {r.message}",
            headers={"x-request-id": RID, "content-type": "text/plain"},
        ),
        structured=False,
        json=False,
    ),
]


def _expected_message(row: Row, envelope: Envelope) -> str:
    return row.message if envelope.structured else f"{row.code}: {row.message}"


@pytest.mark.parametrize("envelope", ENVELOPES, ids=lambda e: e.name)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
async def test_every_row_in_every_envelope(
    row: Row, envelope: Envelope, sleeps: list[float]
) -> None:
    response = envelope.build(row)
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return response

    transport = httpx.MockTransport(handler)
    async with kn.AsyncClient(
        "sk-test", base_url="https://api.test", transport=transport
    ) as client:
        with pytest.raises(kn.KlingError) as info:
            await client.create(kn.TextToVideo("a fox"))
    error = info.value
    assert len(sent) == 1  # a create is never re-sent after an answer
    if row.status >= 500:
        # A 5xx may have created the task: the outcome is unknown; the 5xx is its cause.
        assert type(error) is kn.CreateOutcomeUnknownError
        error = error.cause
    assert isinstance(error, kn.APIError)

    assert type(error) is row.cls
    assert isinstance(error, kn.KlingError)
    assert error.status_code == row.status
    if envelope.structured or row.known:
        assert error.code == row.code
    else:
        assert error.code is None
    assert error.request_id == RID
    if envelope.json:
        assert isinstance(error.body, dict)
        assert error.body == json.loads(response.content)
    else:
        assert error.body == f"{row.code}: {row.message}"  # the raw text is kept
    assert _expected_message(row, envelope) in error.message
    text = str(error)
    assert f"HTTP {row.status}" in text
    assert row.message in text
    assert RID in text

    if row.cls is kn.InsufficientBalanceError:
        assert isinstance(error, kn.InsufficientBalanceError)
        if envelope.json:
            assert error.required == 350000000
            assert error.available == 1200
            assert "needs 350000000" in error.message
            assert "has 1200" in error.message
        else:
            assert error.required is None
    if row.cls is kn.UpstreamError:
        assert isinstance(error, kn.UpstreamError)
        if envelope.json:
            assert error.upstream_status == 504
            assert error.upstream_code == "upstream_timeout"
        else:
            assert error.upstream_status is None


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_parent_classes(row: Row) -> None:
    error = error_from_response(
        row.status, json.dumps({"detail": {"code": row.code, "message": row.message}})
    )
    parent = {
        400: kn.BadRequestError,
        401: kn.AuthenticationError,
        402: kn.InsufficientBalanceError,
        403: kn.PermissionDeniedError,
        404: kn.NotFoundError,
        424: kn.UpstreamError,
        429: kn.TooManyPendingTasksError,
    }.get(row.status, kn.ServerError)
    assert isinstance(error, parent)
    assert isinstance(error, kn.APIError)


def test_unsupported_model_recognised_from_words_alone() -> None:
    error = error_from_response(400, json.dumps({"detail": "Unsupported model: kling-v3"}))
    assert type(error) is kn.UnsupportedModelError
    assert error.code is None
    error = error_from_response(400, json.dumps({"error": {"code": "kling_unsupported_model"}}))
    assert type(error) is kn.UnsupportedModelError
    assert error.message == "kling_unsupported_model"


def test_other_400_is_a_plain_bad_request() -> None:
    error = error_from_response(400, json.dumps({"detail": {"code": "invalid_request"}}))
    assert type(error) is kn.BadRequestError


def test_a_403_with_another_code_stays_permission_denied() -> None:
    error = error_from_response(403, json.dumps({"detail": {"code": "forbidden", "message": "no"}}))
    assert type(error) is kn.PermissionDeniedError


def test_a_code_on_the_wrong_status_does_not_pick_an_unrelated_class() -> None:
    # kling_team_required belongs under 403; on a 500 it must stay a ServerError.
    error = error_from_response(500, json.dumps({"detail": {"code": "kling_team_required"}}))
    assert type(error) is kn.ServerError
    assert error.code == "kling_team_required"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (418, kn.APIError),
        (409, kn.APIError),
        (410, kn.APIError),
        (501, kn.ServerError),
        (599, kn.ServerError),
    ],
)
def test_other_statuses(status: int, cls: type[kn.APIError]) -> None:
    error = error_from_response(status, "")
    assert type(error) is cls
    assert error.status_code == status
    assert error.message == f"HTTP {status} with an empty body"
    assert error.body is None


def test_upstream_code_in_other_shapes() -> None:
    nested = error_from_response(
        424,
        json.dumps(
            {
                "detail": {
                    "code": "upstream_error",
                    "upstream_status": "502",
                    "upstream_error": {"code": "E42"},
                }
            }
        ),
    )
    assert isinstance(nested, kn.UpstreamError)
    assert nested.upstream_status == 502
    assert nested.upstream_code == "E42"
    # "the body keeps the upstream error code": with no separate field the code is the upstream's
    plain = error_from_response(
        424, json.dumps({"detail": {"code": "Kling.Timeout", "upstream_status": 504}})
    )
    assert isinstance(plain, kn.UpstreamError)
    assert plain.upstream_code == "Kling.Timeout"
    odd = error_from_response(424, json.dumps({"detail": {"code": "x", "upstream_status": "n/a"}}))
    assert isinstance(odd, kn.UpstreamError)
    assert odd.upstream_status is None


def test_balance_message_without_numbers_is_left_alone() -> None:
    error = error_from_response(
        402, json.dumps({"detail": {"code": "kling_balance_too_low", "message": "top up"}})
    )
    assert isinstance(error, kn.InsufficientBalanceError)
    assert error.message == "top up"
    assert error.required is None
    assert error.available is None


def test_retry_after_is_kept_on_429() -> None:
    error = error_from_response(
        429, json.dumps({"detail": {"code": "kling_too_many_pending_tasks"}}), retry_after=12.0
    )
    assert isinstance(error, kn.TooManyPendingTasksError)
    assert error.retry_after == 12.0
    assert error_from_response(429, "").retry_after is None  # type: ignore[attr-defined]


def test_header_request_id_wins_over_the_body() -> None:
    error = error_from_response(500, json.dumps({"requestId": "body-id"}), request_id="header-id")
    assert error.request_id == "header-id"


def test_every_other_field_lands_in_details() -> None:
    error = error_from_response(
        402,
        json.dumps(
            {
                "detail": {
                    "code": "kling_balance_too_low",
                    "message": "m",
                    "team": "t1",
                    "available_nano": 3,
                },
                "trace": "abc",
            }
        ),
    )
    assert error.details["team"] == "t1"
    assert error.details["trace"] == "abc"
    assert error.details["available_nano"] == 3
    assert "code" not in error.details
    assert "message" not in error.details


def test_non_object_json_bodies() -> None:
    as_list = error_from_response(500, json.dumps([1, 2]))
    assert as_list.body == [1, 2]
    assert as_list.message == "[1, 2]"
    as_string = error_from_response(502, json.dumps("gateway down"))
    assert as_string.message == "gateway down"
    html = "<html><body>502 Bad Gateway</body></html>"
    error = error_from_response(502, html)
    assert error.body == html
    assert error.message == html


def test_fastapi_validation_list() -> None:
    body = {"detail": [{"loc": ["body", "Prompt"], "msg": "field required", "type": "missing"}]}
    error = error_from_response(422, json.dumps(body))
    assert error.message == "field required"
    assert error.details["detail"] == body["detail"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"detail": {"code": "c", "message": "m", "x": 1}}, ("c", "m", {"x": 1})),
        ({"detail": {"type": "c", "msg": "m"}}, ("c", "m", {"type": "c", "msg": "m"})),
        ({"detail": "text", "code": "c"}, ("c", "text", {"code": "c"})),
        (
            {"error": {"code": "c", "message": "m"}, "requestId": "r"},
            ("c", "m", {"requestId": "r"}),
        ),
        ({"code": "c", "message": "m", "y": 2}, ("c", "m", {"y": 2})),
        ({"detail": ""}, (None, None, {"detail": ""})),
        ("  raw  ", (None, "raw", {})),
        (None, (None, None, {})),
        (42, (None, None, {})),
    ],
)
def test_parse_error_body(body: object, expected: tuple[Any, ...]) -> None:
    assert parse_error_body(body) == expected


def test_error_tree_matches_the_design() -> None:
    api = [
        kn.BadRequestError,
        kn.AuthenticationError,
        kn.InsufficientBalanceError,
        kn.PermissionDeniedError,
        kn.NotFoundError,
        kn.UpstreamError,
        kn.TooManyPendingTasksError,
        kn.ServerError,
    ]
    for cls in api:
        assert issubclass(cls, kn.APIError)
    assert issubclass(kn.UnsupportedModelError, kn.BadRequestError)
    assert issubclass(kn.TeamRequiredError, kn.PermissionDeniedError)
    assert issubclass(kn.AccessDeniedError, kn.PermissionDeniedError)
    assert issubclass(kn.APITimeoutError, kn.APIConnectionError)
    for cls in (
        kn.ValidationError,
        kn.ConfigurationError,
        kn.APIError,
        kn.APIConnectionError,
        kn.TaskFailedError,
        kn.TaskTimeoutError,
    ):
        assert issubclass(cls, kn.KlingError)
    assert issubclass(kn.ValidationError, ValueError)
    assert not issubclass(kn.APIError, ValueError)
    assert not issubclass(kn.APIConnectionError, kn.APIError)
    assert kn.errors.KlingError is kn.KlingError
    assert "KlingError" in (kn.errors.__doc__ or "")


def test_task_errors_carry_the_task() -> None:
    task = kn.Task("job-9", "text2video", status=kn.Status.FAILED, error="content policy")
    failed = kn.TaskFailedError(task)
    assert failed.task is task
    assert "job-9" in str(failed)
    assert "failed" in str(failed)
    assert "content policy" in str(failed)
    timeout = kn.TaskTimeoutError(kn.Task("job-9", "omni-video", status="running"), 12.5)
    assert timeout.timeout == 12.5
    assert "12.5 s" in str(timeout)
    assert "runs on" in str(timeout)


def test_validation_error_attributes_and_long_values() -> None:
    error = kn.ValidationError("prompt", "z" * 500, "at most 2500 characters")
    assert error.field == "prompt"
    assert error.value == "z" * 500
    assert error.allowed == "at most 2500 characters"
    assert len(str(error)) < 200
    assert str(error).startswith("prompt='zzz")
