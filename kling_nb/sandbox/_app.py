"""The sandbox's HTTP surface: WorldRouter's Kling routes, uploads, and the media it serves."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._models import ROUTES, Status
from .._models import Route as TaskRoute
from ._config import KEYS, SandboxConfig
from ._family_routes import FamilyHandlers
from ._http import (
    InjectedResetError,
    RequestIdMiddleware,
    authenticate,
    base_url,
    json_body,
    media_url,
    own_netlocs,
    read_image_form,
    request_id,
    status_fault,
)
from ._images import SAMPLE_NAMES, sample_images
from ._media import VideoCache, bytes_response, etag_for, served_range, trickled
from ._problems import SandboxHTTPError, problem_response
from ._state import SandboxState
from ._validate import ACTION_FAMILY, parse_create

__all__ = ["InjectedResetError", "create_app", "sandbox_state"]


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """Build the sandbox as a Starlette app (serve it with uvicorn, or use httpx.ASGITransport).

    The app's `state.sandbox` is its `SandboxState` (see `sandbox_state`).
    """
    state = SandboxState(config or SandboxConfig())
    videos = VideoCache(state)
    h = _Handlers(state, videos)
    f = FamilyHandlers(state, videos)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        videos.close()
        state.close()

    app = Starlette(
        routes=[
            # Grok's routes first: /v1/videos/generations would otherwise match Kling's {route}.
            Route("/v1/videos/generations", f.grok_create, methods=["POST"]),
            Route("/v1/videos/generations", f.list_tasks, methods=["GET"]),
            Route("/v1/videos/generations/{task_id}", f.grok_status, methods=["GET"]),
            Route(_SEEDANCE, f.seedance_create, methods=["POST"]),
            Route(_SEEDANCE, f.list_tasks, methods=["GET"]),
            Route(_SEEDANCE + "/{task_id}", f.seedance_status, methods=["GET"]),
            Route("/v1/asset-groups", f.create_asset_group, methods=["POST"]),
            Route("/v1/asset-groups/{group_id}", f.asset_group, methods=["GET"]),
            Route("/v1/asset-groups/{group_id}/assets", f.add_asset, methods=["POST"]),
            Route("/assets/{name}", f.asset_file, methods=["GET"]),
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
        middleware=[Middleware(RequestIdMiddleware, state=state)],
        exception_handlers={SandboxHTTPError: _on_problem, HTTPException: _on_http_exception},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.videos = videos
    return app


_SEEDANCE = "/api/v3/contents/generations/tasks"


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
        key = authenticate(self.state, request)
        route = _route(request)
        spec = parse_create(route, await json_body(request))
        image = None
        if spec.image_url is not None:
            image = self.state.resolve_image_url(spec.image_url, own_netlocs(request))
        rid = request_id(request)
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
        authenticate(self.state, request)
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
        key = authenticate(self.state, request)
        route = _route(request)
        injected = await status_fault(self.state)
        if injected is not None:
            return injected
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
            body["content"] = {"video_url": media_url(self.state, request, task.id)}
        elif status is Status.RUNNING and task.outcome == Status.SUCCEEDED.value:
            self.videos.prewarm(task)
        elif status.terminal:
            body["error"] = {"code": task.error_code, "message": task.error_message}
        return JSONResponse(body)

    # -- uploads ---------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        authenticate(self.state, request)
        data, content_type, (width, height) = await read_image_form(request, ("image",))
        upload = self.state.add_upload(content_type, data, width, height)
        ttl = upload.expires_at - int(upload.created_at)
        url = (
            f"{base_url(request)}/uploads/{upload.id}.{upload.extension}"
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
        response = bytes_response(request, data, "video/mp4", etag=etag_for(data))
        first, last = served_range(response, len(data))
        self.state.count_media_read(task_id, first, last)
        return trickled(response, self.state.faults.media_chunk_seconds)

    # -- for people and tests --------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        base = base_url(request)
        return JSONResponse(
            {
                "service": "kling_nb sandbox: a local WorldRouter server (Kling, Seedance, Grok)",
                "base_url": base,
                "keys": {key: spec.purpose for key, spec in KEYS.items()},
                "create": [f"POST {base}/v1/videos/{route}" for route in ROUTES],
                "status": [f"GET {base}/v1/videos/{route}/{{task_id}}" for route in ROUTES],
                "uploads": f"POST {base}/v1/images/uploads (multipart field 'image')",
                "seedance": [f"POST {base}{_SEEDANCE}", f"GET {base}{_SEEDANCE}/{{task_id}}"],
                "grok": [
                    f"POST {base}/v1/videos/generations",
                    f"GET {base}/v1/videos/generations/{{task_id}}",
                ],
                "asset_groups": [
                    f"POST {base}/v1/asset-groups",
                    f"GET {base}/v1/asset-groups/{{group_id}}",
                    f"POST {base}/v1/asset-groups/{{group_id}}/assets (multipart field 'file')",
                ],
                "samples": [f"{base}/samples/{name}" for name in SAMPLE_NAMES],
                "stats": f"{base}/_sandbox/stats",
            }
        )

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.state.stats())


def _route(request: Request) -> TaskRoute:
    route = str(request.path_params["route"])
    if route not in ROUTES:
        raise SandboxHTTPError(
            404, "not_found", f"no route /v1/videos/{route[:40]}; use one of {', '.join(ROUTES)}"
        )
    return route
