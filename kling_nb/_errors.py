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

The classes live in `_exceptions`, the body parsing and field (de)serialisation in
`_error_parse`; this module is the one place that gathers them (`kn.errors`).
"""

from __future__ import annotations

from ._error_parse import error_fields, error_from_fields, error_from_response, parse_error_body
from ._exceptions import (
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
