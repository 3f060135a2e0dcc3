"""Fetching a succeeded job's video into the outputs folder, within the job's deadline.

A download that fails (a full or read-only disk, a failing media host, the deadline) parks
the job as `fetch_failed`, never final: the task succeeded and was billed, so `resume()` must
be able to fetch it again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._download import DownloadResult, hash_file, safe_name
from ._errors import APIConnectionError, APIError, DownloadError
from ._filmstrip import PictureError, Pictures, make_pictures
from ._jobs import Job
from ._media import mp4_structure_ok
from ._policy import backoff_delay
from ._states import Event

if TYPE_CHECKING:
    from ._pipeline import Context

__all__ = ["OutputsCheck", "fetch", "outputs_problem"]

log = logging.getLogger("kling_nb")

MAX_DOWNLOAD_ATTEMPTS: Final = 4
MIN_FREE_BYTES: Final = 64 * 1024 * 1024
"""Free space the outputs folder needs before a billed create is sent (a 10 s pro video is
a few MB; the margin leaves room for several in flight)."""
PROGRESS_EVERY: Final = 0.25
OUTPUTS_FRESH: Final = 1.0
"""Seconds one passed outputs check stands for every create that follows it."""


def deadline_of(job: Job, ctx: Context) -> float:
    """The job's deadline (epoch seconds): `timeout` after its create."""
    created = job.created_at or time.time()
    return job.deadline_at or created + ctx.timeout


# -- download ------------------------------------------------------------------------------------


async def fetch(job: Job, ctx: Context) -> None:
    """Download a succeeded job's video, retrying within its deadline; park it on failure."""
    task = job.task
    assert task is not None
    dest = ctx.outputs / f"{safe_name(job.job_id)}.mp4"
    last = 0.0

    def progress(received: int, total: int | None) -> None:
        nonlocal last
        job.download = (received, total)
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            job.changed()

    result = await asyncio.to_thread(_landed, dest)
    attempt = 0
    while result is None:
        remaining = deadline_of(job, ctx) - time.time()
        if remaining <= 0:
            error = DownloadError(
                f"video of task {task.id} not downloaded before the job's deadline",
                reason="deadline",
                retryable=True,
            )
            await job.advance(Event.DEADLINE, error=error)
            return
        try:
            result = await ctx.client.download_file(
                task, dest, on_progress=progress, timeout=remaining
            )
        except (DownloadError, APIError, APIConnectionError) as exc:
            attempt += 1
            retryable = getattr(exc, "retryable", True)
            if not retryable or attempt >= MAX_DOWNLOAD_ATTEMPTS:
                await job.advance(Event.FETCH_FAILED, error=exc)
                return
            log.info("download of %s failed (%s); retrying", job.job_id, exc)
            await asyncio.sleep(min(backoff_delay(attempt, initial=1.0, cap=8.0), remaining))
    job.video_path = result.path
    pictures = await _pictures(result.path)
    job.poster = pictures.poster if pictures else None
    job.filmstrip = pictures.filmstrip if pictures else None
    await job.advance(
        Event.DOWNLOADED,
        detail={"bytes": result.size},
        video_path=str(result.path),
        video_bytes=result.size,
        video_sha256=result.sha256,
        video_url=task.video_url,
        poster=str(job.poster) if job.poster else None,
        filmstrip=str(job.filmstrip) if job.filmstrip else None,
    )
    ctx.timing.forget((job.model, job.mode, job.duration))


def _landed(dest: Path) -> DownloadResult | None:
    """The video a process had downloaded into `dest` before it died unrecorded, if any.

    A download reaches `dest` only by its last step, a rename after the length and MP4
    checks, so a file there is whole: fetching it again would fetch every byte twice.
    """
    if not dest.is_file() or dest.with_name(dest.name + ".part").exists():
        return None
    if not mp4_structure_ok(dest):
        return None
    return DownloadResult(dest, dest.stat().st_size, hash_file(dest).hexdigest())


async def _pictures(video: Path) -> Pictures | None:
    """A poster and a filmstrip beside the video, made off the loop (PyAV takes ~30-250 ms)."""
    try:
        return await asyncio.to_thread(make_pictures, video)
    except PictureError as exc:  # the video itself is fine: a job never fails for its pictures
        log.warning("no pictures for %s: %s", video.name, exc)
        return None


def outputs_problem(outputs: Path) -> str | None:
    """Why a video could not be saved in `outputs` now (unwritable, full), or None.

    Checked before every create: a billed task whose video cannot be saved is a task the
    user pays for and cannot see.
    """
    try:
        outputs.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=outputs, prefix=".probe-", delete=True) as probe:
            probe.write(b"k")
            probe.flush()
            os.fsync(probe.fileno())
        free = shutil.disk_usage(outputs).free
    except OSError as exc:
        return f"outputs folder {outputs} is not writable ({exc.strerror or exc})"
    if free < MIN_FREE_BYTES:
        return f"outputs folder {outputs} has only {free // 2**20} MB free"
    return None


class OutputsCheck:
    """`outputs_problem` for the event loop: run on a worker thread and shared by a burst.

    The check writes and fsyncs a probe file: 3-10 ms on a busy disk, on the loop, before
    every create. 100 jobs submitted at once did it 100 times in one loop iteration, a
    400 ms stall (bench/kernel.py). Now one check runs off the loop, every create waiting
    meanwhile shares it, and a passed check stands for `OUTPUTS_FRESH` seconds. A problem is
    never reused: the next create checks again (a waiting job re-checks every 2 s anyway).
    """

    def __init__(self, outputs: Path) -> None:
        self.outputs = outputs
        self._ok_until = 0.0
        self._running: asyncio.Future[str | None] | None = None

    async def problem(self) -> str | None:
        """Why a video could not be saved now, or None (see `outputs_problem`)."""
        if time.monotonic() < self._ok_until:
            return None
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(asyncio.to_thread(outputs_problem, self.outputs))
        # Shielded: one waiter being cancelled must not cancel the check the others share.
        problem = await asyncio.shield(self._running)
        if problem is None:
            self._ok_until = max(self._ok_until, time.monotonic() + OUTPUTS_FRESH)
        return problem
