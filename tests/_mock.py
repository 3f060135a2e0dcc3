"""An in-memory fake of WorldRouter's Kling routes, served through `httpx.MockTransport`.

It plays the same world as `kling_nb.sandbox` (the same demo keys, owner scoping, the pending
cap, the router's `{"detail": {...}}` error envelope), so the flows in `_flows.py` run against
either backend. Every request is recorded; `inject()` scripts faults for the next matching
requests (a response, an exception to raise, or a callable).
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

import kling_nb as kn

API_HOST = "api.kling.test"
BASE_URL = f"https://{API_HOST}"
MEDIA_HOST = "media.kling.test"
NANO = 1_000_000_000

TEAM_KEY = "sk-sandbox-team"
TEAM2_KEY = "sk-sandbox-team2"
SOLO_KEY = "sk-sandbox-solo"
BROKE_KEY = "sk-sandbox-broke"

ROUTE_MODELS = {
    "text2video": ("kling-v2-6", "kling-v3"),
    "image2video": ("kling-v2-6", "kling-v3"),
    "omni-video": ("kling-v3-omni",),
}
FAMILY = {"text2video": "text", "image2video": "image", "omni-video": "omni"}
TERMINAL = {"succeeded", "failed", "cancelled", "expired"}

FAST = kn.PollSchedule(median=0.05, min_delay=0.005, max_delay=0.02)
"""A poll schedule that makes `wait()` tests finish in milliseconds."""

ClientFactory = Callable[..., kn.AsyncClient]
"""The `make_client` fixture: `make_client(api_key=TEAM_KEY, **AsyncClient kwargs)`."""


def write_png(path: Path, size: tuple[int, int] = (64, 36)) -> Path:
    """Write a small real PNG made with Pillow."""
    Image.new("RGB", size, (30, 120, 200)).save(path, format="PNG")
    return path


def fake_mp4(size: int = 300_000, seed: bytes = b"kling") -> bytes:
    """`size` bytes shaped like an MP4: `ftyp`, `moov` and `mdat` boxes tiling the whole file
    (so `mp4_structure_ok` accepts it), the `mdat` payload deterministic filler."""
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    moov = b"\x00\x00\x00\x10moov" + b"\x00" * 8
    payload = size - len(head) - len(moov) - 8
    filler = bytearray()
    block = seed
    while len(filler) < payload:
        block = hashlib.sha256(block).digest()
        filler += block
    mdat = (payload + 8).to_bytes(4, "big") + b"mdat" + bytes(filler[:payload])
    return head + moov + mdat


@dataclass
class Account:
    """One API key's world: its team (None: not team-scoped) and the team's balance."""

    team: str | None
    balance_nano: int = 20 * NANO


@dataclass
class FakeTask:
    id: str
    route: str
    model: str
    owner_team: str
    body: dict[str, Any]
    plan: list[Any]
    polls: int = 0
    url_version: int = 0
    last: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.last.get("status") in TERMINAL


class ChunkedThenCut(httpx.AsyncByteStream):
    """A response body that yields `data` in chunks, then raises `error` (a cut connection)."""

    def __init__(self, data: bytes, error: BaseException, chunk: int = 16_384) -> None:
        self.data = data
        self.error = error
        self.chunk = chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            yield self.data[start : start + self.chunk]
        raise self.error


class Chunked(httpx.AsyncByteStream):
    """A body that arrives in chunks, as from a socket (a plain `content=` is pre-read)."""

    def __init__(self, data: bytes, chunk: int = 16_384) -> None:
        self.data = data
        self.chunk = chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            yield self.data[start : start + self.chunk]


def streamed(status: int, data: bytes, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """A response whose body is streamed (with its Content-Length), like a real transport's."""
    return httpx.Response(
        status,
        headers={**(headers or {}), "Content-Length": str(len(data))},
        stream=Chunked(data),
    )


class FakeAPI:
    """The fake router. `transport` is the `httpx.MockTransport` to hand to `AsyncClient`."""

    def __init__(
        self,
        *,
        pending_cap: int = 4,
        keys: Mapping[str, Account] | None = None,
        video: bytes | None = None,
    ) -> None:
        self.accounts: dict[str, Account] = {
            TEAM_KEY: Account("team-a"),
            TEAM2_KEY: Account("team-b"),
            SOLO_KEY: Account(None),
            BROKE_KEY: Account("team-broke", balance_nano=0),
        }
        self.accounts.update(keys or {})
        self.pending_cap = pending_cap
        self.video = video if video is not None else fake_mp4()
        self.tasks: dict[str, FakeTask] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.calls: list[httpx.Request] = []
        self.default_plan: list[Any] = ["queued", "running", "succeeded"]
        self._injected: list[tuple[str, re.Pattern[str], list[Any]]] = []
        self._ids = itertools.count(1)
        self.transport = httpx.MockTransport(self.handle)

    # -- scripting -----------------------------------------------------------------------

    def inject(self, method: str, pattern: str, *actions: Any) -> None:
        """Answer the next requests whose `METHOD URL` matches `pattern` with `actions`, in order.

        An action is an `httpx.Response`, an exception (raised as if by the transport), or a
        callable taking the request and returning either. Once used up, the fake answers normally.
        """
        self._injected.append((method.upper(), re.compile(pattern), list(actions)))

    def clear_injections(self) -> None:
        """Forget every scripted answer not used yet."""
        self._injected.clear()

    def calls_to(self, method: str | None = None, pattern: str = "") -> list[httpx.Request]:
        """Recorded requests, optionally filtered by method and a regex on the URL."""
        rx = re.compile(pattern)
        return [
            r
            for r in self.calls
            if (method is None or r.method == method.upper()) and rx.search(str(r.url))
        ]

    def api_calls(self) -> list[httpx.Request]:
        return [r for r in self.calls if r.url.host == API_HOST]

    def media_calls(self) -> list[httpx.Request]:
        return [r for r in self.calls if r.url.host == MEDIA_HOST]

    # -- the handler ---------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        target = f"{request.method} {request.url}"
        for method, rx, actions in self._injected:
            if actions and method == request.method and rx.search(str(request.url)):
                action = actions.pop(0)
                if callable(action) and not isinstance(action, (httpx.Response, BaseException)):
                    action = action(request)
                if isinstance(action, BaseException):
                    raise action
                if action is not None:
                    return action
                break
        if request.url.host == MEDIA_HOST:
            return self._media(request)
        if request.url.host != API_HOST:
            raise AssertionError(f"the fake only serves its own hosts: {target}")
        return self._api(request)

    def _api(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        account = self._account(request)
        if isinstance(account, httpx.Response):
            return account
        if request.method == "POST" and path == "/v1/images/uploads":
            return self._upload(request)
        m = re.fullmatch(r"/v1/videos/([a-z0-9-]+)(?:/([^/]+))?", path)
        if m is None or m.group(1) not in ROUTE_MODELS:
            return problem(404, "not_found", f"no route {request.method} {path}")
        route, task_id = m.group(1), m.group(2)
        if request.method == "POST" and task_id is None:
            return self._create(request, route, account)
        if request.method == "GET" and task_id is not None:
            return self._status(route, task_id, account)
        if request.method == "GET":
            return problem(404, "not_found", "list routes are disabled: GET needs a task id")
        return problem(405, "method_not_allowed", f"{request.method} {path}")

    def _account(self, request: httpx.Request) -> Account | httpx.Response:
        auth = request.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ").strip()
        account = self.accounts.get(key)
        if not auth.startswith("Bearer ") or account is None:
            return problem(401, "invalid_api_key", "the API key is missing or unknown")
        return account

    def _create(self, request: httpx.Request, route: str, account: Account) -> httpx.Response:
        try:
            body = json.loads(request.content)
        except ValueError:
            return problem(400, "invalid_request", "the body is not JSON")
        model = body.get("Model")
        if model not in ROUTE_MODELS[route]:
            return problem(
                400, "unsupported_model", f"unsupported model {model!r} for /v1/videos/{route}"
            )
        if account.team is None:
            return problem(403, "kling_team_required", "Kling needs a team-scoped API key")
        if route == "text2video" and "ImageList" in body:
            return problem(400, "invalid_request", "ImageList: not accepted on text2video")
        if route == "image2video" and not body.get("ImageList"):
            return problem(400, "invalid_request", "ImageList: required on image2video")
        if route == "image2video" and "AspectRatio" in body:
            return problem(400, "invalid_request", "AspectRatio: derived from the image")
        if body.get("Duration") not in ("5", "10", 5, 10):
            return problem(400, "invalid_request", "Duration: 5 or 10")
        price = 70_000_000 * int(body["Duration"])
        if account.balance_nano < price:
            return problem(
                402,
                "kling_balance_too_low",
                "team balance too low",
                required_available_nano=price,
                available_nano=account.balance_nano,
            )
        pending = [
            t for t in self.tasks.values() if t.owner_team == account.team and not t.terminal
        ]
        if len(pending) >= self.pending_cap:
            return problem(
                429, "kling_too_many_pending_tasks", "too many pending Kling tasks for this user"
            )
        task_id = f"task-{next(self._ids)}"
        task = FakeTask(task_id, route, model, account.team, body, list(self.default_plan))
        task.last = {"id": task_id, "model": model, "status": "queued"}
        self.tasks[task_id] = task
        return httpx.Response(
            200,
            json={
                "id": task_id,
                "model": model,
                "status": "queued",
                "kling_action_family": FAMILY[route],
                "requestId": f"req-{task_id}",
            },
        )

    def _status(self, route: str, task_id: str, account: Account) -> httpx.Response:
        task = self.tasks.get(task_id)
        if task is None or task.route != route:
            return problem(404, "task_not_found", f"no task {task_id!r} on {route}")
        if account.team != task.owner_team:
            return problem(403, "media_resource_access_denied", "the task belongs to another owner")
        step = task.plan[min(task.polls, len(task.plan) - 1)]
        task.polls += 1
        body: dict[str, Any] = {
            "id": task.id,
            "model": task.model,
            "kling_action_family": FAMILY[route],
        }
        body.update({"status": step} if isinstance(step, str) else step)
        if body["status"] == "succeeded" and "content" not in body:
            task.url_version += 1
            body["content"] = {"video_url": self.video_url(task.id, task.url_version)}
        task.last = body
        return httpx.Response(200, json=body)

    def video_url(self, task_id: str, version: int = 1) -> str:
        return f"https://{MEDIA_HOST}/kling/{task_id}.mp4?sig={version}"

    def _upload(self, request: httpx.Request) -> httpx.Response:
        parts = parse_multipart(request)
        if "image" not in parts:
            return problem(400, "invalid_request", "image: the multipart field is required")
        filename, content_type, data = parts["image"]
        if len(data) > 10 * 1024 * 1024:
            return problem(413, "payload_too_large", "image: at most 10 MiB")
        if not data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")):
            return problem(400, "invalid_image", "image: not a PNG, JPEG, WebP or GIF")
        upload_id = f"img-{next(self._ids)}"
        url = f"https://{MEDIA_HOST}/uploads/{upload_id}.png?sig=abc"
        self.uploads[upload_id] = {"filename": filename, "type": content_type, "data": data}
        return httpx.Response(
            200,
            json={
                "object": "image.upload",
                "id": upload_id,
                "url": url,
                "content_type": content_type,
                "size_bytes": len(data),
                "expires_at": 1_900_000_000,
            },
        )

    def _media(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET" or not request.url.path.startswith("/kling/"):
            return httpx.Response(404, text="no such object")
        data = self.video
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        m = re.fullmatch(r"bytes=(\d+)-", request.headers.get("range", ""))
        if_range = request.headers.get("if-range")
        if m is None or (if_range is not None and if_range != etag):
            # Like an object store: no Range, or If-Range naming another version: all of it.
            return streamed(
                200, data, {"Content-Type": "video/mp4", "Accept-Ranges": "bytes", "ETag": etag}
            )
        start = int(m.group(1))
        if start >= len(data):
            return httpx.Response(416, headers={"Content-Range": f"bytes */{len(data)}"})
        return streamed(
            206,
            data[start:],
            {
                "Content-Type": "video/mp4",
                "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}",
                "ETag": etag,
            },
        )

    @property
    def etag(self) -> str:
        """The strong ETag the fake media host serves `video` under."""
        return '"' + hashlib.sha256(self.video).hexdigest()[:16] + '"'


def problem(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    """An error answer in the router's envelope (contract.md assumption 1)."""
    return httpx.Response(status, json={"detail": {"code": code, "message": message, **extra}})


def parse_multipart(request: httpx.Request) -> dict[str, tuple[str | None, str, bytes]]:
    """`{field: (filename, content type, bytes)}` of a multipart/form-data request."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return {}
    raw = b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.content
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    out: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        out[str(name)] = (part.get_filename(), part.get_content_type(), bytes(payload or b""))
    return out


def cut_body(
    data: bytes, upto: int, error: BaseException | None = None, etag: str | None = None
) -> httpx.Response:
    """A 200 whose Content-Length announces all of `data` but whose body stops after `upto`.

    `etag` defaults to the fake media host's tag for `data`, so the cut part can be resumed.
    """
    tag = etag if etag is not None else '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
    return httpx.Response(
        200,
        headers={"Content-Length": str(len(data)), "Content-Type": "video/mp4", "ETag": tag},
        stream=ChunkedThenCut(data[:upto], error or httpx.ReadError("connection reset")),
    )
