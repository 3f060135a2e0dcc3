"""Seedance and Grok task routes, and Seedance's asset groups (see contract-families.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._models import Status
from ._assets import AssetRecord
from ._families import FAMILIES, TaskPlan
from ._grok import grok_plan, parse_grok
from ._http import (
    authenticate,
    base_url,
    json_body,
    media_url,
    own_netlocs,
    read_image_form,
    request_id,
    status_fault,
)
from ._lifecycle import TaskRecord
from ._media import VideoCache, bytes_response
from ._problems import SandboxHTTPError, invalid
from ._seedance import output_tokens, parse_seedance, seedance_plan
from ._state import SandboxState

__all__ = ["FamilyHandlers"]


class FamilyHandlers:
    """The handlers of the Seedance, Grok and asset-group routes."""

    def __init__(self, state: SandboxState, videos: VideoCache) -> None:
        self.state = state
        self.videos = videos

    # -- Seedance ----------------------------------------------------------------------------

    async def seedance_create(self, request: Request) -> Response:
        key = authenticate(self.state, request)
        spec = parse_seedance(await json_body(request))
        netlocs = own_netlocs(request)
        plan = seedance_plan(
            spec,
            lambda url, field: self.state.resolve_asset_url(key, url, field, netlocs),
            lambda url: self._own_video(url, netlocs),
        )
        task = self._create(key, plan, request)
        # contract-families.md: Seedance's create answers only the id and the request id.
        return JSONResponse({"id": task.id, "requestId": request_id(request)})

    async def seedance_status(self, request: Request) -> Response:
        return await self._status(request, "seedance")

    # -- Grok --------------------------------------------------------------------------------

    async def grok_create(self, request: Request) -> Response:
        key = authenticate(self.state, request)
        spec = parse_grok(await json_body(request))
        netlocs = own_netlocs(request)
        plan = grok_plan(spec, lambda url: self.state.resolve_image_url(url, netlocs))
        task = self._create(key, plan, request)
        return JSONResponse(
            {
                "id": task.id,
                "model": task.model,
                "status": Status.QUEUED.value,
                "requestId": request_id(request),
            }
        )

    async def grok_status(self, request: Request) -> Response:
        return await self._status(request, "grok")

    async def list_tasks(self, request: Request) -> Response:
        authenticate(self.state, request)
        # Not documented for these families either; answered as Kling's disabled list routes.
        raise SandboxHTTPError(
            405,
            "list_not_supported",
            f"list routes are disabled: GET {request.url.path} needs a task id",
            headers={"Allow": "POST"},
        )

    # -- asset groups ------------------------------------------------------------------------

    async def create_asset_group(self, request: Request) -> Response:
        key = authenticate(self.state, request)
        body = await json_body(request)
        if body is not None and not isinstance(body, dict):
            raise invalid("body", 'must be a JSON object, e.g. {"name": "refs"}')
        name = (body or {}).get("name", "")
        if not isinstance(name, str) or len(name) > 200:
            raise invalid("name", "must be a string of at most 200 characters")
        group = self.state.add_asset_group(key, name)
        return JSONResponse(
            {
                "object": "asset_group",
                "id": group.id,
                "name": group.name,
                "created_at": group.created_at,
            }
        )

    async def asset_group(self, request: Request) -> Response:
        key = authenticate(self.state, request)
        group, assets = self.state.asset_group(key, str(request.path_params["group_id"]))
        return JSONResponse(
            {
                "object": "asset_group",
                "id": group.id,
                "name": group.name,
                "created_at": group.created_at,
                "assets": [self._asset_json(request, asset) for asset in assets],
            }
        )

    async def add_asset(self, request: Request) -> Response:
        key = authenticate(self.state, request)
        group_id = str(request.path_params["group_id"])
        # Check the group first: a stranger's upload is refused before it is read.
        self.state.asset_group(key, group_id)
        data, content_type, size = await read_image_form(request, ("file", "image"))
        asset = self.state.add_asset(key, group_id, content_type, data, size)
        return JSONResponse(self._asset_json(request, asset))

    async def asset_file(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        found = self.state.served_asset(name)
        if found is None:
            raise SandboxHTTPError(404, "not_found", "no such asset")
        record, data = found
        if not self.state.verify("asset", record.id, request.query_params.get("sig")):
            raise SandboxHTTPError(
                403, "signature_mismatch", "the URL signature is missing or wrong"
            )
        return bytes_response(request, data, record.content_type)

    # -- helpers -----------------------------------------------------------------------------

    def _asset_json(self, request: Request, record: AssetRecord) -> dict[str, Any]:
        url = (
            f"{base_url(request)}/assets/{record.id}.{record.extension}"
            f"?sig={self.state.sign('asset', record.id)}"
        )
        return {
            "object": "asset",
            "id": record.id,
            "group_id": record.group_id,
            "url": url,
            "content_type": record.content_type,
            "size_bytes": record.size_bytes,
            "width": record.width,
            "height": record.height,
            "created_at": record.created_at,
        }

    def _create(self, key: str, plan: TaskPlan, request: Request) -> TaskRecord:
        return self.state.create_planned(key, plan, request_id=request_id(request))

    def _own_video(self, url: str, netlocs: frozenset[str]) -> bool:
        """True for a signed video URL of this sandbox whose task has succeeded."""
        parts = urlsplit(url)
        if parts.netloc.lower() not in netlocs or not parts.path.startswith("/media/"):
            return False
        task_id = parts.path.removeprefix("/media/").removesuffix(".mp4")
        sig = parse_qs(parts.query).get("sig", [None])[0]
        return self.state.verify("media", task_id, sig) and (
            self.state.succeeded_task(task_id) is not None
        )

    async def _status(self, request: Request, name: str) -> Response:
        key = authenticate(self.state, request)
        family = FAMILIES[name]
        injected = await status_fault(self.state)
        if injected is not None:
            return injected
        task, status = self.state.read_task(
            key, name, request.path_params["task_id"], where=family.status_path
        )
        body: dict[str, Any] = {
            "id": task.id,
            "model": task.model,
            "status": status.value,
            "resolution": task.resolution,
            "duration": task.duration,
        }
        if status is Status.SUCCEEDED:
            # Succeeded means the file exists: render (once) before saying so.
            await self.videos.get(task)
            body["content"] = {"video_url": media_url(self.state, request, task.id)}
            if name == "seedance":
                tokens = output_tokens(task.width, task.height, task.duration)
                body["usage"] = {"output_tokens": tokens}
        elif status is Status.RUNNING and task.outcome == Status.SUCCEEDED.value:
            self.videos.prewarm(task)
        elif status.terminal:
            body["error"] = {"code": task.error_code, "message": task.error_message}
        return JSONResponse(body)
