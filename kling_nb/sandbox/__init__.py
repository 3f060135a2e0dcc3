"""A faithful local WorldRouter video server (Kling, Seedance, Grok) that makes real MP4s.

Real HTTP on 127.0.0.1 (Starlette + uvicorn), used by the tests, the demo notebooks and by
`Studio()` when no API key is configured. It implements the contract (``contract.md``):
team-scoped, team-less and broke keys; owner-scoped status reads on the create route;
the pending cap (429); 402 / 403 / 424 answers in the router's ``{"detail": {...}}``
envelope; image uploads with content sniffing; presigned-looking media URLs with HTTP
Range; unreachable image URLs failing the task; queued -> running -> succeeded timing
drawn from a seeded RNG and scaled by ``time_scale``; per-second billing held at create and
settled at a terminal status; failure injection; and real H.264 MP4s of the requested
duration and aspect ratio, drawn from the prompt.

Beside Kling it serves the two other async families of ``contract-families.md``:

- Seedance: ``POST /api/v3/contents/generations/tasks`` (lowercase; prompt and references in
  ``content[]``; answers only ``{"id", "requestId"}``) and ``GET .../tasks/{task_id}`` (with
  ``resolution``, ``duration``, ``usage.output_tokens``); models ``seedance-2.0`` and
  ``seedance-2.0-fast``; 4-15 s at 480p/720p. Reference images must be assets:
  ``POST /v1/asset-groups``, ``POST /v1/asset-groups/{id}/assets`` (multipart ``file``),
  ``GET /v1/asset-groups/{id}``, all owner-scoped; the asset ``url`` goes into an
  ``image_url`` part. See ``_seedance`` and ``_assets`` for the assumed part shapes.
- Grok: ``POST /v1/videos/generations`` (``model``, ``prompt``, ``duration`` 1-15 s,
  ``resolution`` 480p/720p, anything else 720p) and ``GET /v1/videos/generations/{task_id}``;
  ``grok-imagine-video`` (text) and ``grok-imagine-video-1.5-preview`` (image-guided, through
  an assumed top-level ``image_url``).

Every family shares the demo keys and teams, owner-scoped reads, the normalised states, the
faults, per-second billing (placeholder prices in ``_families``) and the media route; each has
its own pending cap per team (``pending_caps``) and error-code prefix (``<family>_...``).

Sandbox choices where the contract is silent:

- ``GET /v1/videos/<route>`` (the list route) answers 405 ``list_not_supported``; so do
  ``GET /v1/videos/generations`` and ``GET /api/v3/contents/generations/tasks``.
- image2video ignores ``AspectRatio`` (the ratio comes from the first frame).
- Create checks run in this order: 401 key, 400 body, 403 team, 429 pending cap,
  402 balance, then the injected 424.
- Only images this sandbox serves (its samples and live uploads) are reachable: it makes
  no outbound requests, so every other ``ImageUrl`` fails the task when it starts running.
- Prices are `PRICE_NANO_PER_SECOND` (nano-credits per generated second, by Mode).

Errors (``{"detail": {"code", "message", ...extra}}``, parsed by
`kling_nb._errors.error_from_response`)::

    400 unsupported_model             model not valid for the route ("unsupported model ...")
    400 invalid_request               a bad field; extra "field" names it (Duration, ImageList,
                                      content[1].image_url.url, ...); also a Seedance image
                                      part whose URL is not an asset URL (public URLs)
    400 invalid_image                 upload/asset not PNG/JPEG/WebP/GIF, mislabeled, empty, bad
    401 invalid_api_key               missing or unknown key (never echoed)
    402 <family>_balance_too_low      extra required_available_nano, available_nano (integers)
    403 <family>_team_required        create with a key that is not team-scoped
    403 media_resource_access_denied  another owner's task, asset group or asset
    403 signature_mismatch / request_expired   bad or expired presigned media/upload/asset URL
    404 not_found                     no such task on this route, no such asset group or path
    405 list_not_supported            a create route read without a task id
    413 image_too_large               upload over 10 MiB; extra max_bytes
    416 range_not_satisfiable         with Content-Range: bytes */size
    424 <family>_upstream_error       injected; extra upstream_status (500|504), upstream_code
    429 <family>_too_many_pending_tasks   extra pending, limit (per team and family)
    500/502/503 internal_error / bad_gateway / unavailable   injected on status reads

``<family>`` is ``kling``, ``seedance`` or ``grok``. Documented: every Kling code,
``seedance_balance_too_low`` and ``seedance_too_many_pending_tasks``; the other Seedance and
all Grok family codes are assumed to follow the same pattern (contract-families.md).

Failed or expired tasks carry ``"error": {"code", "message"}`` in the status body, with codes
``image_fetch_failed``, ``video_fetch_failed`` (Seedance reference video), or
``<family>_task_failed`` / ``<family>_task_expired``.

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
from ._families import FAMILIES, GROK_PRICE_NANO_PER_SECOND, SEEDANCE_PRICE_NANO_PER_SECOND
from ._faults import Faults
from ._images import SAMPLE_NAMES
from ._server import Sandbox
from ._state import SandboxState
from ._video import VideoSpec, render_mp4

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_TIME_SCALE",
    "FAMILIES",
    "GROK_PRICE_NANO_PER_SECOND",
    "KEYS",
    "MAX_UPLOAD_BYTES",
    "NANO",
    "PRICE_NANO_PER_SECOND",
    "SAMPLE_NAMES",
    "SEEDANCE_PRICE_NANO_PER_SECOND",
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
