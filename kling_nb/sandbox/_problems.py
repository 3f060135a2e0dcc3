"""Error answers in the router's envelope: `{"detail": {"code", "message", ...extra}}`.

contract.md assumption 1: a live WorldRouter 402 used this envelope, so every sandbox error
does, and `kling_nb._errors.error_from_response` parses each into its typed exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["SandboxHTTPError", "invalid", "lowercase_model", "problem_response"]


class SandboxHTTPError(Exception):
    """An HTTP error answer: raise it anywhere in a handler, the app turns it into JSON."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of this answer."""
        return {"detail": {"code": self.code, "message": self.message, **self.extra}}


def problem_response(problem: SandboxHTTPError) -> JSONResponse:
    """Render an `SandboxHTTPError` as a JSON response."""
    return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers)


def invalid(field: str, message: str) -> SandboxHTTPError:
    """A 400 `invalid_request` naming the offending field."""
    return SandboxHTTPError(400, "invalid_request", f"{field}: {message}", extra={"field": field})


def lowercase_model(
    body: object, models: Sequence[str], route: str
) -> tuple[Mapping[str, Any], str]:
    """A lowercase family body (Seedance, Grok) and its `model`, checked against `models`.

    400 `invalid_request` for a body that is not an object or has no model; 400
    `unsupported_model` naming the route for a model this family does not serve.
    """
    if not isinstance(body, Mapping):
        raise invalid("body", "must be a JSON object with lowercase fields")
    model = body.get("model")
    if model is None:
        raise invalid("model", f"is required; use {' or '.join(models)}")
    if model not in models:
        raise SandboxHTTPError(
            400,
            "unsupported_model",
            f"unsupported model {model!r:.80} on {route}: use {' or '.join(models)}",
            extra={"field": "model"},
        )
    return body, str(model)
