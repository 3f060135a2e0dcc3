"""A faithful local WorldRouter Kling server that makes real MP4s.

Real HTTP on 127.0.0.1 (Starlette + uvicorn), used by the tests, the demo notebooks and by
`Studio()` when no API key is configured. It implements the contract (``contract.md``):
team-scoped, team-less and broke keys; owner-scoped status reads on the create route;
the pending cap (429); 402 / 403 / 424 answers in the router's ``{"detail": {...}}``
envelope; image uploads with content sniffing; presigned-looking media URLs with HTTP
Range; unreachable image URLs failing the task; queued -> running -> succeeded timing
drawn from a seeded RNG and scaled by ``time_scale``; per-second billing held at create and
settled at a terminal status; failure injection; and real H.264 MP4s of the requested
duration and aspect ratio, drawn from the prompt.

Sandbox choices where the contract is silent:

- ``GET /v1/videos/<route>`` (the list route) answers 405 ``list_not_supported``.
- image2video ignores ``AspectRatio`` (the ratio comes from the first frame).
- Create checks run in this order: 401 key, 400 body, 403 team, 429 pending cap,
  402 balance, then the injected 424.
- Only images this sandbox serves (its samples and live uploads) are reachable: it makes
  no outbound requests, so every other ``ImageUrl`` fails the task when it starts running.
- Prices are `PRICE_NANO_PER_SECOND` (nano-credits per generated second, by Mode).

Errors (``{"detail": {"code", "message", ...extra}}``, parsed by
`kling_nb._errors.error_from_response`)::

    400 unsupported_model             model not valid for the route ("unsupported model ...")
    400 invalid_request               a bad field; extra "field" names it (Duration, ImageList, ...)
    400 invalid_image                 upload not PNG/JPEG/WebP/GIF, mislabeled, empty or undecodable
    401 invalid_api_key               missing or unknown key (never echoed)
    402 kling_balance_too_low         extra required_available_nano, available_nano (integers)
    403 kling_team_required           create with a key that is not team-scoped
    403 media_resource_access_denied  status read of another team's task
    403 signature_mismatch / request_expired   bad or expired presigned media/upload URL
    404 not_found                     no such task on this route, or no such path
    405 list_not_supported            GET /v1/videos/<route> without a task id
    413 image_too_large               upload over 10 MiB; extra max_bytes
    416 range_not_satisfiable         with Content-Range: bytes */size
    424 kling_upstream_error          injected; extra upstream_status (500|504), upstream_code
    429 kling_too_many_pending_tasks  extra pending, limit
    500/502/503 internal_error / bad_gateway / unavailable   injected on status reads

Failed or expired tasks carry ``"error": {"code", "message"}`` in the status body, with codes
``image_fetch_failed``, ``kling_task_failed`` or ``kling_task_expired``.

For people and tests the app also serves ``GET /`` (an index with the keys) and
``GET /_sandbox/stats`` (the same dict as `Sandbox.stats`).

Run it from a shell with ``python -m kling_nb.sandbox`` (or ``kling-nb sandbox``).
"""

from __future__ import annotations

from ._app import create_app, sandbox_state
from ._config import (
    DEFAULT_KEY,
    DEFAULT_TIME_SCALE,
    KEYS,
    MAX_UPLOAD_BYTES,
    NANO,
    PRICE_NANO_PER_SECOND,
    KeySpec,
    SandboxConfig,
)
from ._faults import Faults
from ._images import SAMPLE_NAMES
from ._server import Sandbox
from ._state import SandboxState
from ._video import VideoSpec, render_mp4

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_TIME_SCALE",
    "KEYS",
    "MAX_UPLOAD_BYTES",
    "NANO",
    "PRICE_NANO_PER_SECOND",
    "SAMPLE_NAMES",
    "Faults",
    "KeySpec",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "VideoSpec",
    "create_app",
    "render_mp4",
    "sandbox_state",
]
