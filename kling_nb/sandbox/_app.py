"""The sandbox's HTTP surface: WorldRouter's Kling routes, uploads, and the media it serves."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._models import ROUTES, Status
from .._models import Route as TaskRoute
from ._config import KEYS, MAX_UPLOAD_BYTES, SandboxConfig
from ._images import SAMPLE_NAMES, image_size, sample_images, sniff, type_from_filename
from ._lifecycle import TaskRecord
from ._media import VideoCache, bytes_response, etag_for
from ._problems import SandboxHTTPError, invalid, problem_response
from ._state import SandboxState
from ._validate import ACTION_FAMILY, parse_create

__all__ = ["InjectedResetError", "create_app", "sandbox_state"]

logger = logging.getLogger("kling_nb.sandbox")

_LOCAL_ALIASES = frozenset({"127.0.0.1", "localhost", "[::1]"})
_JPEG_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


class InjectedResetError(ConnectionResetError):
    """Raised after a partial response to abort the connection (the `status_reset` fault)."""


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """Build the sandbox as a Starlette app (serve it with uvicorn, or use httpx.ASGITransport).

    The app's `state.sandbox` is its `SandboxState` (see `sandbox_state`).
    """
    state = SandboxState(config or SandboxConfig())
    videos = VideoCache(state)
    h = _Handlers(state, videos)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        videos.close()
        state.close()

    app = Starlette(
        routes=[
            Route("/v1/videos/{route}", h.create, methods=["POST"]),
            Route("/v1/videos/{route}", h.list_tasks, methods=["GET"]),
            Route("/v1/videos/{route}/{task_id}", h.status, methods=["GET"]),
            Route("/v1/images/uploads", h.upload, methods=["POST"]),
            Route("/uploads/{name}", h.uploaded_image, methods=["GET"]),
            Route("/samples/{name}", h.sample_image, methods=["GET"]),
            Route("/media/{name}", h.media, methods=["GET"]),
            Route("/_sandbox/stats", h.stats, methods=["GET"]),
            Route("/", h.index, methods=["GET"]),
        ],
        middleware=[Middleware(_RequestIdMiddleware, state=state)],
        exception_handlers={SandboxHTTPError: _on_problem, HTTPException: _on_http_exception},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.videos = videos
    return app


def sandbox_state(app: Starlette) -> SandboxState:
    """The `SandboxState` behind an app built by `create_app`."""
    return cast(SandboxState, app.state.sandbox)


async def _on_problem(request: Request, exc: Exception) -> Response:
    return problem_response(cast(SandboxHTTPError, exc))


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    http = cast(HTTPException, exc)
    code = {404: "not_found", 405: "method_not_allowed"}.get(http.status_code, "invalid_request")
    message = http.detail
    if http.status_code in (404, 405):
        message = f"{message}: {request.url.path}"
    return problem_response(SandboxHTTPError(http.status_code, code, message, headers=http.headers))


class _Handlers:
    def __init__(self, state: SandboxState, videos: VideoCache) -> None:
        self.state = state
        self.videos = videos

    # -- Kling task routes -----------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        key = self._auth(request)
        route = _route(request)
        spec = parse_create(route, await _json_body(request))
        image = None
        if spec.image_url is not None:
            image = self.state.resolve_image_url(spec.image_url, _own_netlocs(request))
        rid = _request_id(request)
        task = self.state.create_task(key, spec, image, request_id=rid)
        return JSONResponse(
            {
                "id": task.id,
                "model": task.model,
                "status": Status.QUEUED.value,
                "kling_action_family": ACTION_FAMILY[route],
                "requestId": rid,
            }
        )

    async def list_tasks(self, request: Request) -> Response:
        self._auth(request)
        route = _route(request)
        # The guide: list routes are disabled. 405 (with Allow) says the path exists for POST.
        raise SandboxHTTPError(
            405,
            "list_not_supported",
            f"list routes are disabled: GET /v1/videos/{route} needs a task id "
            f"(GET /v1/videos/{route}/{{task_id}})",
            headers={"Allow": "POST"},
        )

    async def status(self, request: Request) -> Response:
        key = self._auth(request)
        route = _route(request)
        fault = self.state.status_fault()
        if fault is not None:
            if fault.kind == "reset":
                return _ResetResponse()
            if fault.kind == "5xx":
                raise SandboxHTTPError(
                    fault.status,
                    {500: "internal_error", 502: "bad_gateway"}.get(fault.status, "unavailable"),
                    f"sandbox fault injection: status read answered {fault.status}",
                    headers={"Retry-After": "1"} if fault.status == 503 else None,
                )
            await asyncio.sleep(fault.delay)
        task, status = self.state.read_task(key, route, request.path_params["task_id"])
        body: dict[str, Any] = {
            "id": task.id,
            "model": task.model,
            "status": status.value,
            "kling_action_family": ACTION_FAMILY[route],
        }
        if status is Status.SUCCEEDED:
            # Succeeded means the file exists: render (once) before saying so.
            await self.videos.get(task)
            body["content"] = {"video_url": self._media_url(request, task)}
        elif status is Status.RUNNING and task.outcome == Status.SUCCEEDED.value:
            self.videos.prewarm(task)
        elif status.terminal:
            body["error"] = {"code": task.error_code, "message": task.error_message}
        return JSONResponse(body)

    # -- uploads ---------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        self._auth(request)
        declared_length = request.headers.get("content-length", "")
        if declared_length.isdigit() and int(declared_length) > MAX_UPLOAD_BYTES + 64 * 1024:
            raise _too_large()
        try:
            form = await request.form(max_files=4, max_fields=16)
        except Exception as exc:
            raise invalid("image", "send multipart/form-data with a file field 'image'") from exc
        try:
            item = form.get("image")
            if not isinstance(item, UploadFile):
                raise invalid("image", "send multipart/form-data with a file field 'image'")
            data = await item.read(MAX_UPLOAD_BYTES + 1)
            declared = (item.content_type or "").split(";")[0].strip().lower()
            filename = item.filename
        finally:
            await form.close()
        if len(data) > MAX_UPLOAD_BYTES:
            raise _too_large()
        content_type = _check_image(data, _JPEG_ALIASES.get(declared, declared), filename)
        try:
            width, height = image_size(data)
        except ValueError as exc:
            raise _bad_image(f"the {content_type} image could not be decoded") from exc
        upload = self.state.add_upload(content_type, data, width, height)
        ttl = upload.expires_at - int(upload.created_at)
        url = (
            f"{_base(request)}/uploads/{upload.id}.{upload.extension}"
            f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={ttl}"
            f"&X-Amz-Signature={self.state.sign('upload', upload.id)}"
        )
        return JSONResponse(
            {
                "object": "image.upload",
                "id": upload.id,
                "url": url,
                "content_type": upload.content_type,
                "size_bytes": upload.size_bytes,
                "expires_at": upload.expires_at,
            }
        )

    # -- served media (no auth: these are the "public" URLs) ------------------------------

    async def uploaded_image(self, request: Request) -> Response:
        upload_id, _, ext = str(request.path_params["name"]).partition(".")
        found = self.state.upload(upload_id)
        if found is None or found[0].extension != ext:
            raise SandboxHTTPError(404, "not_found", "no such upload")
        record, data = found
        if not self.state.verify("upload", upload_id, request.query_params.get("X-Amz-Signature")):
            raise SandboxHTTPError(
                403, "signature_mismatch", "the URL signature is missing or wrong"
            )
        if self.state.now() > record.expires_at:
            raise SandboxHTTPError(403, "request_expired", "this presigned URL has expired")
        return bytes_response(request, data, record.content_type)

    async def sample_image(self, request: Request) -> Response:
        blob = sample_images().get(str(request.path_params["name"]))
        if blob is None:
            raise SandboxHTTPError(
                404, "not_found", f"no such sample; try {', '.join(SAMPLE_NAMES)}"
            )
        return bytes_response(
            request, blob.data, blob.content_type, cache_control="public, max-age=86400"
        )

    async def media(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        task_id = name.removesuffix(".mp4")
        if not name.endswith(".mp4") or not self.state.verify(
            "media", task_id, request.query_params.get("sig")
        ):
            raise SandboxHTTPError(
                403, "signature_mismatch", "the URL signature is missing or wrong"
            )
        task = self.state.succeeded_task(task_id)
        if task is None:
            raise SandboxHTTPError(404, "not_found", "no video for this task (yet)")
        data = await self.videos.get(task)
        self.state.count_media_read()
        return bytes_response(request, data, "video/mp4", etag=etag_for(data))

    # -- for people and tests --------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        base = _base(request)
        return JSONResponse(
            {
                "service": "kling_nb sandbox: a local WorldRouter Kling server",
                "base_url": base,
                "keys": {key: spec.purpose for key, spec in KEYS.items()},
                "create": [f"POST {base}/v1/videos/{route}" for route in ROUTES],
                "status": [f"GET {base}/v1/videos/{route}/{{task_id}}" for route in ROUTES],
                "uploads": f"POST {base}/v1/images/uploads (multipart field 'image')",
                "samples": [f"{base}/samples/{name}" for name in SAMPLE_NAMES],
                "stats": f"{base}/_sandbox/stats",
            }
        )

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.state.stats())

    # -- helpers ---------------------------------------------------------------------------

    def _auth(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        token = key.strip() if scheme.lower() == "bearer" else ""
        self.state.authenticate(token)
        return token

    def _media_url(self, request: Request, task: TaskRecord) -> str:
        sig = self.state.sign("media", task.id)
        return f"{_base(request)}/media/{quote(task.id)}.mp4?sig={sig}"


def _route(request: Request) -> TaskRoute:
    route = str(request.path_params["route"])
    if route not in ROUTES:
        raise SandboxHTTPError(
            404, "not_found", f"no route /v1/videos/{route[:40]}; use one of {', '.join(ROUTES)}"
        )
    return route


async def _json_body(request: Request) -> object:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError as exc:
        raise invalid("body", "is not valid JSON") from exc


def _check_image(data: bytes, declared: str, filename: str | None) -> str:
    if not data:
        raise _bad_image("the uploaded file is empty")
    sniffed = sniff(data)
    if sniffed is None:
        raise _bad_image("not a PNG, JPEG, WebP or GIF image (checked from its content)")
    if declared.startswith("image/") and declared != sniffed:
        raise _bad_image(f"mislabeled image: declared {declared} but the content is {sniffed}")
    by_name = type_from_filename(filename)
    if by_name is not None and by_name != sniffed:
        raise _bad_image(f"mislabeled image: the name says {by_name} but the content is {sniffed}")
    return sniffed


def _bad_image(message: str) -> SandboxHTTPError:
    return SandboxHTTPError(400, "invalid_image", message, extra={"field": "image"})


def _too_large() -> SandboxHTTPError:
    return SandboxHTTPError(
        413,
        "image_too_large",
        f"the image is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB",
        extra={"max_bytes": MAX_UPLOAD_BYTES},
    )


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _own_netlocs(request: Request) -> frozenset[str]:
    """The host:port spellings under which this server reaches itself."""
    netloc = request.url.netloc.lower()
    host, sep, port = netloc.rpartition(":")
    if not sep or not port.isdigit():
        return frozenset({netloc})
    if host in _LOCAL_ALIASES:
        return frozenset({netloc} | {f"{alias}:{port}" for alias in _LOCAL_ALIASES})
    return frozenset({netloc})


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


class _ResetResponse(Response):
    """Starts a 200, sends a fragment, then aborts: the client sees a broken connection."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"256")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})
        raise InjectedResetError("sandbox fault injection: connection reset")


class _RequestIdMiddleware:
    """Adds `x-request-id` to every response, counts statuses, and keeps errors in JSON."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = "req_" + secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = rid
        started = False
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                MutableHeaders(scope=message).append("x-request-id", rid)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                self.state.count_response(status)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if started:
                raise
            logger.exception("kling_nb sandbox: unexpected error")
            response = problem_response(
                SandboxHTTPError(500, "internal_error", "the sandbox failed unexpectedly")
            )
            await response(scope, receive, send_with_id)
