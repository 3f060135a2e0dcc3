"""`AsyncClient`: a thin async client for WorldRouter's video task routes, over one httpx client.

Kling, Seedance and Grok are data (`kling_nb._families`): the client asks a request's family
for its paths, response parsing, error codes and upload route, and never branches on a name.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import random
import time
from asyncio import TimeoutError as AsyncioTimeoutError
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ._download import DownloadResult
from ._errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    CreateOutcomeUnknownError,
    InvalidResponseError,
    ServerError,
    TaskFailedError,
    TaskTimeoutError,
    error_from_response,
)
from ._families import Uploader, VideoRequest, family_of
from ._fetchfile import fetch_video
from ._models import Route, Status, Task
from ._policy import (
    MAX_RETRY_AFTER,
    RETRYABLE_STATUS,
    PollSchedule,
    backoff_delay,
    parse_retry_after,
)
from ._uploads import Uploads
from ._version import __version__
from ._wire import ENV_BASE_URL as ENV_BASE_URL
from ._wire import ENV_KEY as ENV_KEY
from ._wire import (
    Bearer,
    connection_error,
    resolve_base_url,
    retype,
    task_ref,
    transient,
    valid_task_id,
)

__all__ = ["AsyncClient", "resolve_base_url"]

log = logging.getLogger("kling_nb")

OnUpdate = Callable[[Task], "Awaitable[None] | None"]
R = TypeVar("R", bound=VideoRequest)
UploadFn = Callable[[Sequence[Path]], Awaitable[list[str]]]


class AsyncClient(Uploads):
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
        self._auth = Bearer(key.strip())
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            headers={"User-Agent": f"kling-nb/{__version__}"},
            follow_redirects=True,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self._rand = random.Random()
        self._uploaders: dict[Uploader, UploadFn] = {
            "images": self._upload_images,
            "assets": self.upload_assets,
        }

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
        retries: int,
        codes: Mapping[str, type[APIError]] | None = None,
    ) -> httpx.Response:
        """Send one API request, retrying up to `retries` times; return a 2xx response.

        A create passes `retries=0`: it is sent exactly once (see `create`). `codes` maps a
        family's own error codes to their classes (`Family.error_codes`).
        """
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = await self._http.request(
                    method, path, json=json, files=files, auth=self._auth
                )
            except httpx.RequestError as exc:
                log.debug("%s %s failed: %s", method, path, type(exc).__name__)
                if attempt < retries:
                    await asyncio.sleep(backoff_delay(attempt, rand=self._rand.random))
                    attempt += 1
                    continue
                raise connection_error(method, path, exc) from None
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
            if response.status_code in RETRYABLE_STATUS and attempt < retries:
                delay = backoff_delay(attempt, rand=self._rand.random, retry_after=retry_after)
                await asyncio.sleep(delay)
                attempt += 1
                continue
            error = error_from_response(
                response.status_code,
                self._scrub(response.text),
                request_id=self._request_id(response),
                retry_after=retry_after,
            )
            raise retype(error, codes) if codes else error

    def _scrub(self, text: str) -> str:
        # A server may echo the key back in any body, a 2xx included: it must never reach
        # Task.raw, an exception or a log.
        return text.replace(self._auth._key, "<hidden>")

    def _request_id(self, response: httpx.Response) -> str | None:
        rid = response.headers.get("x-request-id")
        return self._scrub(rid) if rid else None

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        """The 2xx body as a JSON object (key scrubbed), else `InvalidResponseError`."""
        text = self._scrub(response.text)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise InvalidResponseError(
                "expected a JSON object from the server",
                status_code=response.status_code,
                body=text[:2000],
                request_id=self._request_id(response),
            )
        return body

    # -- tasks -------------------------------------------------------------------------------

    async def prepare(self, request: R) -> R:
        """Upload a request's local images, if it has any, and return it with their URLs.

        The request's family says how: Kling and Grok through `/v1/images/uploads`, Seedance
        as assets of a new asset group (contract-families.md).
        """
        family = family_of(request.route)
        paths = family.local_images(request)
        if not paths:
            return request
        upload = self._uploaders[family.uploader]
        prepared: R = family.with_uploads(request, await upload(paths))
        return prepared

    async def create(self, request: VideoRequest) -> Task:
        """Create a task on the request's route (of its family); returns it queued.

        The POST is sent exactly once per call: no retry of any kind happens here (contract.md
        assumption 9: no idempotency key, so a re-send could bill twice). The caller owns the
        retry, deciding with `kling_nb._policy.create_decision`. Raises:

        - `APIConnectionError(sent=False)`: provably never sent (refused, DNS, connect
          timeout), or a local image's upload failed transiently: safe to send again;
        - `CreateOutcomeUnknownError` (`.cause` set): it may have reached the server (a read
          timeout, a reset, a 5xx, a 2xx without a readable body or valid id): never re-send;
        - the typed `APIError` of a 4xx answer (`TooManyPendingTasksError` for 429,
          `UpstreamError` for 424: no task was created in either case).
        """
        family = family_of(request.route)
        try:
            request = await self.prepare(request)
        except (APIConnectionError, ServerError, InvalidResponseError) as exc:
            # Uploads are not billed and the create has not left: say so in the type.
            raise APIConnectionError(
                f"image upload failed, the create was never sent: {exc}", sent=False
            ) from exc
        route = family.create_path(request.route)
        body = request.to_body()
        try:
            response = await self._send(
                "POST", route, json=body, retries=0, codes=family.error_codes
            )
            data = self._json(response)
            task_id = data.get("id")
            if not valid_task_id(task_id):
                raise InvalidResponseError(
                    f"the create response has no valid task id (got {str(task_id)[:80]!r})",
                    status_code=response.status_code,
                    body=data,
                    request_id=self._request_id(response),
                )
        except (APIConnectionError, ServerError, InvalidResponseError) as exc:
            if isinstance(exc, APIConnectionError) and exc.sent is False:
                raise
            raise CreateOutcomeUnknownError(
                f"POST {route}: no usable answer ({exc}); a task may exist and be billed, "
                "so it is not sent again: check the dashboard",
                cause=exc,
            ) from None
        task = family.created_parser(data, request.route, self._request_id(response), request.model)
        log.info("created %s task %s (%s)", request.route, task.id, task.model)
        return task

    async def get(self, task: Task | str, *, route: Route | str | None = None) -> Task:
        """Read a task's status on the route it was created on (of any family).

        A 2xx whose body is not a JSON object, or names another task, raises
        `InvalidResponseError` (`wait` treats it as transient).
        """
        task_id, task_route, family = task_ref(task, route)
        response = await self._send(
            "GET",
            family.status_path(task_route, task_id),
            retries=self.max_retries,
            codes=family.error_codes,
        )
        body = self._json(response)
        named = body.get("id")
        if named != task_id and (family.status_has_id or named is not None):
            raise InvalidResponseError(
                f"asked for task {task_id!r}, the status answer is about {named!r}",
                status_code=response.status_code,
                body=body,
                request_id=self._request_id(response),
            )
        return family.status_parser(body, task_route, self._request_id(response), task_id)

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
            # Python 3.10's asyncio.TimeoutError is not the builtin TimeoutError: catch both.
            except (TimeoutError, AsyncioTimeoutError):
                log.debug("status read of %s cut at the deadline", current.id)
            except (APIConnectionError, APIError) as exc:
                if not transient(exc):
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
        timeout: float | None = None,
        stall_timeout: float = 30.0,
    ) -> Path:
        """Stream the task's video to `dest` (a folder, or a file path); return the file's path."""
        result = await self.download_file(
            task, dest, on_progress=on_progress, timeout=timeout, stall_timeout=stall_timeout
        )
        return result.path

    async def download_file(
        self,
        task: Task,
        dest: str | os.PathLike[str],
        *,
        on_progress: Callable[[int, int | None], None] | None = None,
        timeout: float | None = None,
        stall_timeout: float = 30.0,
    ) -> DownloadResult:
        """Like `download`, returning the path with the size and sha256 of what landed.

        The whole download (every attempt and refresh) ends within `timeout` seconds, if given
        (`DownloadError(reason="deadline")`, the `.part` kept for next time). A body silent for
        `stall_timeout` s, or cut, is resumed with Range + If-Range (up to `max_retries` times);
        a file failing its length or MP4 checks is fetched once more from scratch. contract.md
        assumption 7: the URL's lifetime is unknown, so a 403/404/410 (or a refused connection)
        re-reads the status once for a fresh URL. The API key is never sent to the media host.
        Failures raise `DownloadError` (`reason`: disk, media, deadline, corrupt).
        """
        return await fetch_video(
            self._http,
            task,
            dest,
            reread=self.get,
            pause=lambda attempt: asyncio.sleep(backoff_delay(attempt, rand=self._rand.random)),
            max_retries=self.max_retries,
            on_progress=on_progress,
            timeout=timeout,
            stall_timeout=stall_timeout,
        )
