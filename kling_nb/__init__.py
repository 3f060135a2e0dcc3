"""kling_nb: Kling video generation through WorldRouter, made for Jupyter.

    import kling_nb as kn
    kn.panel()                                   # the widget UI (sandbox when no key is set)
    job = kn.Studio().submit(kn.TextToVideo("a paper boat on a river"))

The notebook layer (`Studio`, `Job`, `panel`) is imported on first use, so `import kling_nb`
stays cheap for scripts that only need the async client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _errors as errors
from . import _views
from ._client import AsyncClient
from ._errors import (
    AccessDeniedError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    CreateOutcomeUnknownError,
    DownloadError,
    InsufficientBalanceError,
    InvalidResponseError,
    JobStoppedError,
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
from ._families import GrokVideo, SeedanceVideo
from ._models import Status, Task
from ._policy import PollSchedule
from ._requests import ImageToVideo, OmniVideo, TextToVideo
from ._states import JobState
from ._version import __version__

if TYPE_CHECKING:
    from ._jobs import Job
    from ._ledger import Ledger
    from ._pricing import RateCard
    from ._studio import Studio, panel
    from ._sweep import Sweep

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AccessDeniedError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "CreateOutcomeUnknownError",
    "DownloadError",
    "GrokVideo",
    "ImageToVideo",
    "InsufficientBalanceError",
    "InvalidResponseError",
    "Job",
    "JobState",
    "JobStoppedError",
    "KlingError",
    "Ledger",
    "NotFoundError",
    "OmniVideo",
    "PermissionDeniedError",
    "PollSchedule",
    "RateCard",
    "SeedanceVideo",
    "ServerError",
    "Status",
    "Studio",
    "Sweep",
    "Task",
    "TaskFailedError",
    "TaskTimeoutError",
    "TeamRequiredError",
    "TextToVideo",
    "TooManyPendingTasksError",
    "UnsupportedModelError",
    "UpstreamError",
    "ValidationError",
    "__version__",
    "errors",
    "panel",
]

# The facade sits above every layer, so it may tell the lower ones where the views live
# (kling_nb._views): the widgets are imported on the first display, not at `import kling_nb`.
_views.set_loader(lambda: importlib.import_module(".widgets", __name__))

_LAZY = {
    "Job": "._jobs",
    "Ledger": "._ledger",
    "RateCard": "._pricing",
    "Studio": "._studio",
    "Sweep": "._sweep",
    "panel": "._studio",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kling_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
