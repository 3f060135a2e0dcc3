"""One `download_file` call: attempts, resumes, fresh URLs and the deadline around
`stream_to_file` (one attempt each)."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from asyncio import TimeoutError as AsyncioTimeoutError
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit

import httpx

from ._download import (
    CorruptDownloadError,
    DownloadResult,
    IncompleteDownloadError,
    Progress,
    media_target,
    stream_to_file,
)
from ._errors import DownloadError, ValidationError
from ._models import Task
from ._policy import RETRYABLE_STATUS

__all__ = ["Fetch", "fetch_video", "media_fault", "media_url"]

_MEDIA_GONE: Final = frozenset({403, 404, 410})
T = TypeVar("T")


async def fetch_video(
    http: httpx.AsyncClient,
    task: Task,
    dest: str | os.PathLike[str],
    *,
    reread: Callable[[Task], Awaitable[Task]],
    pause: Callable[[int], Awaitable[object]],
    max_retries: int,
    on_progress: Progress | None = None,
    timeout: float | None = None,
    stall_timeout: float = 30.0,
) -> DownloadResult:
    """Download a succeeded task's video to `dest`; see `AsyncClient.download_file`.

    `reread(task)` reads the status again for a fresh URL; `pause(attempt)` sleeps the
    backoff before attempt `attempt + 1`.
    """
    if not task.succeeded or task.video_url is None:
        raise ValidationError("task", task.status, "a succeeded task with a video URL")
    target = media_target(task.id, dest)
    fetch = Fetch(task, media_url(task.video_url), target, timeout)
    while True:
        try:
            return await fetch.within(
                stream_to_file(
                    http, fetch.url, target, on_progress=on_progress, stall_timeout=stall_timeout
                )
            )
        except CorruptDownloadError as exc:
            fetch.corrupt(exc)
        except (httpx.HTTPStatusError, httpx.RequestError, IncompleteDownloadError) as exc:
            kind = media_fault(exc)
            if kind in ("gone", "unreachable") and not fetch.refreshed:
                fresh = await fetch.within(reread(task))
                fetch.refresh(fresh.video_url)
                continue
            if kind in ("refused", "gone") or fetch.attempt >= max_retries:
                retryable = kind not in ("refused", "gone")
                raise fetch.media_error(exc, retryable=retryable) from None
            await fetch.within(pause(fetch.attempt))
            fetch.attempt += 1


def media_fault(exc: Exception) -> str:
    """Classify a failed media fetch: gone, unreachable, transient or refused."""
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if status in _MEDIA_GONE:
            return "gone"
        return "transient" if status in RETRYABLE_STATUS or status >= 500 else "refused"
    if isinstance(exc, httpx.ConnectError):
        return "unreachable"
    if isinstance(exc, httpx.TooManyRedirects):
        return "refused"
    return "transient"


class Fetch:
    """The running state of one `download_file` call: URL, attempts, deadline."""

    def __init__(self, task: Task, url: str, target: Path, timeout: float | None) -> None:
        self.task = task
        self.url = url
        self.target = target
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.attempt = 0
        self.refreshed = False
        self.retried_corrupt = False

    async def within(self, work: Awaitable[T]) -> T:
        """Await `work`, cut at the download's deadline (DownloadError reason="deadline")."""
        remaining = None if self.deadline is None else self.deadline - time.monotonic()
        try:
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            result: T = await asyncio.wait_for(work, remaining)
            return result
        # Python 3.10's asyncio.TimeoutError is not the builtin TimeoutError: catch both.
        except (TimeoutError, AsyncioTimeoutError):
            if inspect.iscoroutine(work):
                work.close()
            part = self.target.with_name(self.target.name + ".part")
            kept = part.stat().st_size if part.exists() else 0
            raise DownloadError(
                f"video download of task {self.task.id} stopped at its {self.timeout:g} s "
                f"deadline; {part.name} keeps {kept} bytes for the next try",
                reason="deadline",
                retryable=True,
                path=str(self.target),
            ) from None

    def refresh(self, video_url: str | None) -> None:
        self.refreshed = True
        if video_url:
            self.url = media_url(video_url)

    def corrupt(self, exc: CorruptDownloadError) -> None:
        """Allow one fresh fetch of a corrupt file; raise on the second."""
        if self.retried_corrupt:
            raise DownloadError(
                f"video download of task {self.task.id}: {exc}",
                reason="corrupt",
                retryable=False,
                path=str(self.target),
            ) from None
        self.retried_corrupt = True

    def media_error(self, exc: Exception, *, retryable: bool) -> DownloadError:
        status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
        what = f"HTTP {status}" if status is not None else str(exc) or type(exc).__name__
        return DownloadError(
            f"video download of task {self.task.id} failed: {what} from the media host "
            f"after {self.attempt + 1} attempt(s)",
            reason="media",
            retryable=retryable,
            path=str(self.target),
            status_code=status,
        )


def media_url(url: str) -> str:
    """`url` if it is http(s), else ValidationError (never open file: or javascript: URLs)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValidationError("video_url", url, "an http(s) URL")
    return url
