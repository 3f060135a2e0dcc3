"""HTTP plumbing every sandbox route shares: auth, bodies, image forms, faults, request ids."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from urllib.parse import quote

from starlette.datastructures import MutableHeaders, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config import MAX_UPLOAD_BYTES
from ._images import image_size, sniff, type_from_filename
from ._problems import SandboxHTTPError, invalid, problem_response
from ._state import SandboxState

__all__ = [
    "InjectedResetError",
    "RequestIdMiddleware",
    "authenticate",
    "base_url",
    "json_body",
    "media_url",
    "own_netlocs",
    "read_image_form",
    "request_id",
    "status_fault",
]

logger = logging.getLogger("kling_nb.sandbox")

_LOCAL_ALIASES = frozenset({"127.0.0.1", "localhost", "[::1]"})
_JPEG_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


class InjectedResetError(ConnectionResetError):
    """Raised after a partial response to abort the connection (the `status_reset` fault)."""


def authenticate(state: SandboxState, request: Request) -> str:
    """The request's bearer key, checked (401 `invalid_api_key` otherwise)."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    token = key.strip() if scheme.lower() == "bearer" else ""
    state.authenticate(token)
    return token


async def json_body(request: Request) -> object:
    """The parsed JSON body (None when empty); 400 `invalid_request` if it is not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError as exc:
        raise invalid("body", "is not valid JSON") from exc


async def status_fault(state: SandboxState) -> Response | None:
    """Play an injected status-read fault: a reset or 5xx answer, or a delay (then None)."""
    fault = state.status_fault()
    if fault is None:
        return None
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
    return None


async def read_image_form(
    request: Request, fields: tuple[str, ...]
) -> tuple[bytes, str, tuple[int, int]]:
    """An image sent as multipart file field `fields[0]` (or another of `fields`), checked.

    Returns its bytes, its sniffed type and its size; 400 `invalid_image` for anything that is
    not a PNG/JPEG/WebP/GIF (or is mislabeled), 413 `image_too_large` over 10 MiB.
    """
    declared_length = request.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > MAX_UPLOAD_BYTES + 64 * 1024:
        raise _too_large()
    wanted = f"send multipart/form-data with a file field '{fields[0]}'"
    try:
        form = await request.form(max_files=4, max_fields=16)
    except Exception as exc:
        raise invalid(fields[0], wanted) from exc
    try:
        item = next((form.get(name) for name in fields if form.get(name) is not None), None)
        if not isinstance(item, UploadFile):
            raise invalid(fields[0], wanted)
        data = await item.read(MAX_UPLOAD_BYTES + 1)
        declared = (item.content_type or "").split(";")[0].strip().lower()
        filename = item.filename
    finally:
        await form.close()
    if len(data) > MAX_UPLOAD_BYTES:
        raise _too_large()
    content_type = _check_image(data, _JPEG_ALIASES.get(declared, declared), filename, fields[0])
    try:
        size = image_size(data)
    except ValueError as exc:
        raise _bad_image(f"the {content_type} image could not be decoded", fields[0]) from exc
    return data, content_type, size


def _check_image(data: bytes, declared: str, filename: str | None, field: str) -> str:
    if not data:
        raise _bad_image("the uploaded file is empty", field)
    sniffed = sniff(data)
    if sniffed is None:
        raise _bad_image("not a PNG, JPEG, WebP or GIF image (checked from its content)", field)
    if declared.startswith("image/") and declared != sniffed:
        raise _bad_image(
            f"mislabeled image: declared {declared} but the content is {sniffed}", field
        )
    by_name = type_from_filename(filename)
    if by_name is not None and by_name != sniffed:
        raise _bad_image(
            f"mislabeled image: the name says {by_name} but the content is {sniffed}", field
        )
    return sniffed


def _bad_image(message: str, field: str) -> SandboxHTTPError:
    return SandboxHTTPError(400, "invalid_image", message, extra={"field": field})


def _too_large() -> SandboxHTTPError:
    return SandboxHTTPError(
        413,
        "image_too_large",
        f"the image is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB",
        extra={"max_bytes": MAX_UPLOAD_BYTES},
    )


def base_url(request: Request) -> str:
    """This server's origin as the client reached it."""
    return f"{request.url.scheme}://{request.url.netloc}"


def own_netlocs(request: Request) -> frozenset[str]:
    """The host:port spellings under which this server reaches itself."""
    netloc = request.url.netloc.lower()
    host, sep, port = netloc.rpartition(":")
    if not sep or not port.isdigit():
        return frozenset({netloc})
    if host in _LOCAL_ALIASES:
        return frozenset({netloc} | {f"{alias}:{port}" for alias in _LOCAL_ALIASES})
    return frozenset({netloc})


def request_id(request: Request) -> str:
    """The request id the middleware gave this request."""
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


class RequestIdMiddleware:
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


def media_url(state: SandboxState, request: Request, task_id: str) -> str:
    """The signed URL of a task's video."""
    return f"{base_url(request)}/media/{quote(task_id)}.mp4?sig={state.sign('media', task_id)}"
