"""The public surface: every name in `kling_nb.__all__` resolves; the error tree is the design's."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import kling_nb as kn

DESIGN_NAMES = {
    # requests
    "TextToVideo",
    "ImageToVideo",
    "OmniVideo",
    "SeedanceVideo",
    "GrokVideo",
    # client and models
    "AsyncClient",
    "Task",
    "Status",
    "PollSchedule",
    # notebook layer
    "Studio",
    "Job",
    "Ledger",
    "RateCard",
    "panel",
    # errors
    "KlingError",
    "ValidationError",
    "ConfigurationError",
    "APIError",
    "BadRequestError",
    "UnsupportedModelError",
    "AuthenticationError",
    "InsufficientBalanceError",
    "PermissionDeniedError",
    "TeamRequiredError",
    "AccessDeniedError",
    "NotFoundError",
    "UpstreamError",
    "TooManyPendingTasksError",
    "ServerError",
    "APIConnectionError",
    "APITimeoutError",
    "TaskFailedError",
    "TaskTimeoutError",
    "CreateOutcomeUnknownError",
    "InvalidResponseError",
    "JobStoppedError",
    "DownloadError",
    "errors",
    "__version__",
}


def test_all_has_the_designs_names() -> None:
    assert set(kn.__all__) >= DESIGN_NAMES
    assert len(kn.__all__) == len(set(kn.__all__))
    assert kn.__all__ == sorted(kn.__all__, key=str)


@pytest.mark.parametrize("name", kn.__all__)
def test_every_name_in_all_resolves(name: str) -> None:
    assert getattr(kn, name) is not None
    assert name in dir(kn)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = kn.no_such_name  # type: ignore[attr-defined]


def test_errors_module_exports_every_error() -> None:
    for name in kn.errors.__all__:
        assert hasattr(kn.errors, name)
    for name in kn.__all__:
        if name.endswith("Error"):
            assert getattr(kn, name) is getattr(kn.errors, name)
            assert name in kn.errors.__all__


def test_error_tree_matches_the_design() -> None:
    tree: dict[type[Exception], type[Exception]] = {
        kn.ValidationError: kn.KlingError,
        kn.ConfigurationError: kn.KlingError,
        kn.APIError: kn.KlingError,
        kn.BadRequestError: kn.APIError,
        kn.UnsupportedModelError: kn.BadRequestError,
        kn.AuthenticationError: kn.APIError,
        kn.InsufficientBalanceError: kn.APIError,
        kn.PermissionDeniedError: kn.APIError,
        kn.TeamRequiredError: kn.PermissionDeniedError,
        kn.AccessDeniedError: kn.PermissionDeniedError,
        kn.NotFoundError: kn.APIError,
        kn.UpstreamError: kn.APIError,
        kn.TooManyPendingTasksError: kn.APIError,
        kn.ServerError: kn.APIError,
        kn.InvalidResponseError: kn.APIError,
        kn.APIConnectionError: kn.KlingError,
        kn.APITimeoutError: kn.APIConnectionError,
        kn.CreateOutcomeUnknownError: kn.KlingError,
        kn.TaskFailedError: kn.KlingError,
        kn.TaskTimeoutError: kn.KlingError,
        kn.JobStoppedError: kn.KlingError,
        kn.DownloadError: kn.KlingError,
    }
    for cls, parent in tree.items():
        assert cls.__mro__[1] is parent, f"{cls.__name__} should derive from {parent.__name__}"
    assert issubclass(kn.KlingError, Exception)
    assert issubclass(kn.ValidationError, ValueError)
    error_names = {n for n in kn.__all__ if n.endswith("Error")}
    assert error_names == {c.__name__ for c in tree} | {"KlingError"}
    # the tree is drawn in the errors module's docstring
    doc = kn.errors.__doc__ or ""
    for cls in tree:
        assert cls.__name__ in doc


def test_api_errors_have_the_documented_attributes() -> None:
    error = kn.UpstreamError("m", status_code=424, code="c", request_id="r", body={"x": 1})
    for attr in ("status_code", "code", "message", "request_id", "body"):
        assert hasattr(error, attr)
    assert hasattr(error, "upstream_status")
    assert hasattr(error, "upstream_code")
    task = kn.Task("t", "text2video")
    assert kn.TaskFailedError(task).task is task
    assert kn.TaskTimeoutError(task, 1.0).task is task


def test_task_has_the_documented_fields() -> None:
    task = kn.Task("t", "text2video")
    for attr in (
        "id",
        "route",
        "model",
        "status",
        "video_url",
        "error",
        "request_id",
        "raw",
        "done",
    ):
        assert hasattr(task, attr)


def test_version_is_a_string() -> None:
    assert isinstance(kn.__version__, str)
    assert kn.__version__[0].isdigit()


def test_import_is_cheap_and_lazy() -> None:
    # the notebook layer (widgets, pandas) is imported on first use only
    code = (
        "import sys, kling_nb; "
        "heavy = [m for m in ('ipywidgets', 'pandas', 'kling_nb._studio') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_private_modules_import() -> None:
    for module in (
        "_models",
        "_errors",
        "_exceptions",
        "_error_parse",
        "_requests",
        "_policy",
        "_client",
        "_wire",
        "_download",
        "_fetchfile",
        "_media",
    ):
        importlib.import_module(f"kling_nb.{module}")
