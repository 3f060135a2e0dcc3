"""Serving bytes like an object store (Range, ETag, HEAD) and the per-task video cache."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ._lifecycle import TaskRecord
from ._problems import SandboxHTTPError
from ._state import SandboxState
from ._video import VideoSpec, render_mp4

__all__ = ["VideoCache", "bytes_response", "etag_for", "served_range", "trickled"]

_RANGE: Final = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTENT_RANGE: Final = re.compile(r"^bytes (\d+)-(\d+)/\d+$")
_TRICKLE_CHUNK: Final = 4096


class VideoCache:
    """Renders each task's MP4 once, in worker threads, and keeps the most recent ones.

    Futures are `concurrent.futures` ones, not tied to an event loop, so one cache works
    for any number of loops (a threaded server, or in-process tests on their own loops).
    Evicted videos are rendered again on demand: rendering is deterministic.
    """

    def __init__(self, state: SandboxState, *, max_items: int = 64) -> None:
        self._state = state
        self._max_items = max_items
        # One worker: renders are CPU-bound, and the sandbox usually shares the machine with
        # the kernel it serves, so it should never take more than about one core.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="kling-sandbox-render"
        )
        self._futures: OrderedDict[str, concurrent.futures.Future[bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def future(self, task: TaskRecord) -> concurrent.futures.Future[bytes]:
        """The (possibly still running) rendering of `task`'s video; starts it if needed."""
        with self._lock:
            fut = self._futures.get(task.id)
            if fut is not None and not (fut.done() and (fut.cancelled() or fut.exception())):
                self._futures.move_to_end(task.id)
                return fut
            fut = self._executor.submit(self._render, self._spec(task))
            self._futures[task.id] = fut
            while len(self._futures) > self._max_items:
                oldest = next(iter(self._futures))
                if not self._futures[oldest].done():
                    break
                del self._futures[oldest]
            return fut

    def prewarm(self, task: TaskRecord) -> None:
        """Start rendering now, so the video is ready when the task succeeds."""
        self.future(task)

    async def get(self, task: TaskRecord) -> bytes:
        """The video's bytes, rendering them off the event loop if needed."""
        # shield: a client that disconnects must not cancel a rendering others wait for.
        return await asyncio.shield(asyncio.wrap_future(self.future(task)))

    def close(self) -> None:
        """Stop the worker threads."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _spec(self, task: TaskRecord) -> VideoSpec:
        """What to render for a task: its fields, its frame size, and its first frame if any."""
        image = task.image_ref
        return VideoSpec(
            prompt=task.prompt,
            model=task.model,
            mode=task.mode,
            duration=task.duration,
            width=task.width,
            height=task.height,
            fps=self._state.config.fps,
            first_frame=self._state.image_bytes(image) if image else None,
        )

    def _render(self, spec: VideoSpec) -> bytes:
        started = time.perf_counter()
        data = render_mp4(spec)
        self._state.count_render(time.perf_counter() - started)
        return data


def etag_for(data: bytes) -> str:
    """A strong ETag for a byte string."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def bytes_response(
    request: Request,
    data: bytes,
    content_type: str,
    *,
    etag: str | None = None,
    cache_control: str = "private, max-age=3600",
) -> Response:
    """Serve `data` with single-range support: 206 for a satisfiable Range, 416 otherwise.

    Like object stores: a malformed or multi-range header is ignored (200, whole body);
    a syntactically valid but unsatisfiable one is 416 with `Content-Range: bytes */size`.
    `If-Range` with a different ETag also serves the whole body.
    """
    size = len(data)
    etag = etag or etag_for(data)
    headers = {"accept-ranges": "bytes", "etag": etag, "cache-control": cache_control}
    status = 200
    start, end = 0, size - 1
    wanted = _requested_range(request, etag)
    if wanted is not None:
        first, last = wanted
        if first is None:
            if last == 0 or size == 0:
                raise _unsatisfiable(size)
            start = max(0, size - (last or 0))
        else:
            if first >= size:
                raise _unsatisfiable(size)
            start = first
            end = size - 1 if last is None else min(last, size - 1)
        status = 206
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    body = data[start : end + 1] if status == 206 else data
    headers["content-length"] = str(len(body))
    if request.method == "HEAD":
        body = b""
    return Response(body, status_code=status, media_type=content_type, headers=headers)


def served_range(response: Response, size: int) -> tuple[int, int]:
    """The first and last byte a `bytes_response` of `size` bytes serves (inclusive)."""
    match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
    if response.status_code == 206 and match is not None:
        return int(match.group(1)), int(match.group(2))
    return 0, size - 1


def trickled(response: Response, seconds: float) -> Response:
    """`response` sent in 4 KiB chunks `seconds` apart (itself when `seconds` is 0)."""
    if seconds <= 0 or not response.body:
        return response
    body = bytes(response.body)

    async def chunks() -> AsyncIterator[bytes]:
        for at in range(0, len(body), _TRICKLE_CHUNK):
            if at:
                await asyncio.sleep(seconds)
            yield body[at : at + _TRICKLE_CHUNK]

    return StreamingResponse(
        chunks(), status_code=response.status_code, headers=dict(response.headers)
    )


def _requested_range(request: Request, etag: str) -> tuple[int | None, int | None] | None:
    header = request.headers.get("range")
    if not header:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first_s, last_s = match.groups()
    if not first_s and not last_s:
        return None
    first = int(first_s) if first_s else None
    last = int(last_s) if last_s else None
    if first is not None and last is not None and last < first:
        return None
    return first, last


def _unsatisfiable(size: int) -> SandboxHTTPError:
    return SandboxHTTPError(
        416,
        "range_not_satisfiable",
        f"the requested range is outside the {size} bytes of this object",
        headers={"content-range": f"bytes */{size}", "accept-ranges": "bytes"},
    )
