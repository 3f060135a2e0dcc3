"""`AsyncClient`: a thin async client for WorldRouter's Kling task routes, over one httpx client."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from ._download import DownloadResult, IncompleteDownloadError, safe_name, stream_to_file
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
    error_from_response,
)
from ._models import DEFAULT_BASE_URL, ROUTES, Route, Status, Task
from ._policy import (
    MAX_RETRY_AFTER,
    RETRYABLE_STATUS,
    PollSchedule,
    backoff_delay,
    create_may_retry,
    parse_retry_after,
)
from ._requests import MAX_IMAGE_BYTES, Request, sniff_image_type
from ._version import __version__

__all__ = ["AsyncClient", "resolve_base_url"]

log = logging.getLogger("kling_nb")

ENV_KEY: Final = "WORLDROUTER_API_KEY"
ENV_BASE_URL: Final = "WORLDROUTER_BASE_URL"

OnUpdate = Callable[[Task], "Awaitable[None] | None"]
_MEDIA_GONE: Final = frozenset({403, 404, 410})


def resolve_base_url(base_url: str | None) -> str:
    """The API origin: the argument, else `$WORLDROUTER_BASE_URL`, else the guide's origin.

    contract.md assumption 11: dashboards show the base URL with `/v1`; strip it (and any
    trailing slash) since every route here starts with `/v1`.
    """
    url = (base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"base_url={url!r} is not valid: an http(s) origin such as {DEFAULT_BASE_URL}"
        )
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


class _Bearer(httpx.Auth):
    """Adds the key per request; its repr never shows it."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "_Bearer(<hidden>)"


class AsyncClient:
    """A thin async client for the WorldRouter Kling API.

    `api_key` defaults to `$WORLDROUTER_API_KEY` and `base_url` to `$WORLDROUTER_BASE_URL` or
    the guide's origin. `transport` is any `httpx.AsyncBaseTransport` (tests inject one).
    GETs retry transient failures up to `max_retries` times; a create POST is only ever re-sent
    when it provably never reached the server.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(ENV_KEY)
        if not key or not key.strip():
            raise ConfigurationError(
                f"no API key: pass api_key=... or set ${ENV_KEY} "
                "(a team-scoped WorldRouter key), or use the sandbox (kling-nb sandbox)"
            )
        self.base_url = resolve_base_url(base_url)
        self.max_retries = max(int(max_retries), 0)
        self._auth = _Bearer(key.strip())
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            headers={"User-Agent": f"kling-nb/{__version__}"},
            follow_redirects=True,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self._rand = random.Random()

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r}, api_key=<hidden>)"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """True after `aclose()`."""
        return self._http.is_closed

    # -- the wire ----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        retry_answers: bool,
    ) -> httpx.Response:
        """Send one API request, retrying as the policy allows; return a 2xx response.

        `retry_answers` says whether a request that reached the server may be repeated
        (true for reads and uploads, never for a create).
        """
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = await self._http.request(
                    method, path, json=json, files=files, auth=self._auth
                )
            except httpx.TransportError as exc:
                sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                may_retry = retry_answers or create_may_retry(sent=sent)
                log.debug("%s %s failed: %s", method, path, type(exc).__name__)
                if may_retry and attempt < self.max_retries:
                    await asyncio.sleep(backoff_delay(attempt, rand=self._rand.random))
                    attempt += 1
                    continue
                raise _connection_error(method, path, exc, sent=sent) from None
            log.debug(
                "%s %s -> %s in %.3fs",
                method,
                path,
                response.status_code,
                time.monotonic() - started,
            )
            if response.is_success:
                return response
            retry_after = parse_retry_after(response.headers, now=time.time())
            if (
                retry_answers
                and response.status_code in RETRYABLE_STATUS
                and attempt < self.max_retries
            ):
                delay = backoff_delay(attempt, rand=self._rand.random, retry_after=retry_after)
                await asyncio.sleep(delay)
                attempt += 1
                continue
            raise error_from_response(
                response.status_code,
                # A server may echo the key it refused; never let it into an exception.
                response.text.replace(self._auth._key, "<hidden>"),
                request_id=response.headers.get("x-request-id"),
                retry_after=retry_after,
            )

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise APIError(
                "expected a JSON object from the server",
                status_code=response.status_code,
                body=response.text[:2000],
            )
        return body

    # -- tasks -------------------------------------------------------------------------------

    async def prepare(self, request: Request) -> Request:
        """Upload a request's local image, if it has one, and return the request with its URL."""
        path = request.local_image
        if path is None:
            return request
        return request.with_image_url(await self.upload_image(path))

    async def create(self, request: Request) -> Task:
        """Create a task on the request's route; returns it queued. Sent at most once."""
        request = await self.prepare(request)
        body = request.to_body()
        response = await self._send(
            "POST", f"/v1/videos/{request.route}", json=body, retry_answers=False
        )
        data = self._json(response)
        task = Task.from_response(
            data,
            request.route,
            request_id=response.headers.get("x-request-id"),
            from_status_route=False,
        )
        if not task.id:
            raise APIError(
                "the create response has no task id",
                status_code=response.status_code,
                body=data,
                request_id=task.request_id,
            )
        log.info("created %s task %s (%s)", request.route, task.id, task.model)
        return task

    async def get(self, task: Task | str, *, route: Route | str | None = None) -> Task:
        """Read a task's status on the route it was created on."""
        task_id, task_route = _task_ref(task, route)
        response = await self._send(
            "GET",
            f"/v1/videos/{task_route}/{quote(task_id, safe='')}",
            retry_answers=True,
        )
        return Task.from_response(
            self._json(response), task_route, request_id=response.headers.get("x-request-id")
        )

    async def wait(
        self,
        task: Task,
        *,
        timeout: float = 900.0,
        on_update: OnUpdate | None = None,
        schedule: PollSchedule | None = None,
        since: float = 0.0,
    ) -> Task:
        """Poll until the task is terminal; return it when it succeeded with a video URL.

        Raises `TaskFailedError` (failed, cancelled, expired) or `TaskTimeoutError` (the local
        deadline passed; the remote task runs on). Transient read errors never fail the wait
        before its deadline; unknown statuses, and `succeeded` without a URL, keep it polling
        (contract.md assumptions 4 and 5). `schedule` decides when to poll; `since` is how long
        the task has existed already (so a resumed task is not polled as if brand new).
        """
        schedule = schedule or PollSchedule(median=60.0)
        started = time.monotonic() - max(since, 0.0)
        deadline = time.monotonic() + timeout
        current = task
        while True:
            now = time.monotonic()
            delay = schedule.delay(now - started, rand=self._rand.random)
            retry_after = None
            try:
                # One read (with its own retries) may not outlive the wait's deadline.
                budget = max(deadline - time.monotonic(), 0.001)
                current = await asyncio.wait_for(self.get(current), budget)
            except TimeoutError:
                log.debug("status read of %s cut at the deadline", current.id)
            except (APIConnectionError, APIError) as exc:
                if not _transient(exc):
                    raise
                log.debug("transient error polling %s: %s", current.id, type(exc).__name__)
                retry_after = exc.details.get("_retry_after") if isinstance(exc, APIError) else None
            else:
                if on_update is not None:
                    result = on_update(current)
                    if inspect.isawaitable(result):
                        await result
                if current.succeeded:
                    return current
                if current.done and current.status is not Status.SUCCEEDED:
                    raise TaskFailedError(current)
            if isinstance(retry_after, (int, float)):
                delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TaskTimeoutError(current, timeout)
            await asyncio.sleep(min(delay, remaining))

    # -- files -------------------------------------------------------------------------------

    async def download(
        self,
        task: Task,
        dest: str | os.PathLike[str],
        *,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> Path:
        """Stream the task's video to `dest` (a folder, or a file path); return the file's path."""
        return (await self.download_file(task, dest, on_progress=on_progress)).path

    async def download_file(
        self,
        task: Task,
        dest: str | os.PathLike[str],
        *,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> DownloadResult:
        """Like `download`, returning the path with the size and sha256 of what landed.

        A cut body is resumed with Range (up to `max_retries` times). contract.md assumption 7:
        the URL's lifetime is unknown, so a 403/404/410 re-reads the status once for a fresh URL.
        The API key is never sent to the media host.
        """
        if not task.succeeded or task.video_url is None:
            raise ValidationError("task", task.status, "a succeeded task with a video URL")
        target = Path(dest).expanduser()
        # A folder: one that exists, one written with a trailing slash, or a new name without
        # an extension ("videos"): a video file always has one.
        if target.is_dir() or str(dest).endswith(("/", os.sep)) or not target.suffix:
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"{safe_name(task.id)}.mp4"
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        url = _media_url(task.video_url)
        refreshed = False
        attempt = 0
        while True:
            try:
                return await stream_to_file(self._http, url, target, on_progress=on_progress)
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                if status in _MEDIA_GONE and not refreshed:
                    refreshed = True
                    fresh = await self.get(task)
                    if fresh.video_url:
                        url = _media_url(fresh.video_url)
                    continue
                if status in RETRYABLE_STATUS and attempt < self.max_retries:
                    await asyncio.sleep(backoff_delay(attempt, rand=self._rand.random))
                    attempt += 1
                    continue
                raise error_from_response(status, "") from None
            except (IncompleteDownloadError, httpx.TransportError) as exc:
                if attempt < self.max_retries:
                    await asyncio.sleep(backoff_delay(attempt, rand=self._rand.random))
                    attempt += 1
                    continue
                if isinstance(exc, IncompleteDownloadError):
                    raise APIConnectionError(f"video download of task {task.id}: {exc}") from None
                raise _connection_error("GET", "video", exc, sent=True) from None

    async def upload_image(self, path: str | os.PathLike[str]) -> str:
        """Upload a local PNG/JPEG/WebP/GIF (<= 10 MiB); return its presigned URL (7 days)."""
        file = Path(path).expanduser()
        try:
            data = file.read_bytes()
        except OSError:
            raise ValidationError(
                "image", str(path), "an existing, readable local image file"
            ) from None
        kind = sniff_image_type(data[:16])
        if kind is None:
            raise ValidationError("image", str(path), "a PNG, JPEG, WebP or GIF image")
        if len(data) > MAX_IMAGE_BYTES:
            raise ValidationError("image", str(path), "an image of at most 10 MiB")
        name = safe_name(file.stem, default="image") + "." + kind.split("/")[1]
        response = await self._send(
            "POST", "/v1/images/uploads", files={"image": (name, data, kind)}, retry_answers=True
        )
        body = self._json(response)
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise APIError("the upload response has no url", status_code=200, body=body)
        return url


def _task_ref(task: Task | str, route: Route | str | None) -> tuple[str, Route]:
    task_id = task.id if isinstance(task, Task) else task
    wanted = route or (task.route if isinstance(task, Task) else None)
    if not task_id or task_id.strip(".") == "":
        raise ValidationError("task", task_id, "a task id (list routes are disabled)")
    for known in ROUTES:
        if wanted == known:
            return task_id, known
    raise ValidationError("route", wanted, f"the create route: one of {', '.join(ROUTES)}")


def _media_url(url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValidationError("video_url", url, "an http(s) URL")
    return url


def _transient(exc: KlingError) -> bool:
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, (NotFoundError, PermissionDeniedError)):
        return False
    return isinstance(exc, APIError) and (
        exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    )


def _connection_error(
    method: str, path: str, exc: httpx.TransportError, *, sent: bool
) -> APIConnectionError:
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    note = "" if sent else " (the request never reached the server)"
    message = f"{method} {path} {what}: {type(exc).__name__}{note}"
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(message, sent=sent)
    return APIConnectionError(message, sent=sent)
