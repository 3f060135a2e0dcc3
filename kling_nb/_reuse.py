"""`Studio.sweep(skip_done=True)`: reuse the team's succeeded videos instead of generating again.

A variant is its create route plus the JSON body that was sent, as the ledger stores it
(model, mode or resolution, duration, aspect ratio, prompt, image URLs, extra fields): the
same key whoever made it. One ledger query finds the succeeded rows of a sweep's prompts and
models; the bodies are compared here. A reused entry is a `ReusedJob` built from the other
run's row, read-only: nothing claims, leases or rewrites that row. Its video is the row's
file when this machine has it (the right size), else a copy fetched again from its URL into
this Studio's outputs (its sha256 checked against the ledger's), else none: the card then
says the video is on another machine, and who made it where.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx

from ._download import safe_name
from ._errors import DownloadError, KlingError
from ._families import AnyRequest, family_of
from ._fetchfile import fetch_video
from ._filmstrip import PictureError, make_pictures
from ._jobs import Job
from ._ledger import Ledger
from ._models import Status, Task
from ._resume import job_from_row

if TYPE_CHECKING:
    from ._studio import Studio

__all__ = [
    "Origin",
    "ReusedJob",
    "place_videos",
    "reusable_rows",
    "reuse_plan",
    "reused_job",
    "variant_key",
]

log = logging.getLogger("kling_nb")

Where = Literal["here", "copy", "elsewhere"]
COPY_TIMEOUT_S: Final = 60.0
"""How long fetching one reused video again from its URL may take before it counts as gone."""


def variant_key(route: str, body: Mapping[str, Any]) -> str:
    """What makes two jobs the same variant: the create route and the body that was sent."""
    return json.dumps([route, body], sort_keys=True, separators=(",", ":"), default=str)


def _request_key(request: AnyRequest) -> str | None:
    # A local image's URL is known only after its upload: such a request is never reused.
    if family_of(request.route).local_images(request):
        return None
    return variant_key(request.route, request.to_body())


Plan = tuple[list["dict[str, Any] | None"], list[AnyRequest]]


def reuse_plan(log: Ledger, requests: Sequence[AnyRequest], skip_done: bool) -> Plan:
    """For each request its reusable row (None: make it), and the requests to make.

    Without `skip_done` nothing is reused (the ledger is not read).
    """
    rows: list[dict[str, Any] | None] = [None] * len(requests)
    if skip_done:
        rows = reusable_rows(log, requests)
    return rows, [request for request, row in zip(requests, rows, strict=True) if row is None]


def reusable_rows(log: Ledger, requests: Sequence[AnyRequest]) -> list[dict[str, Any] | None]:
    """For each request, the newest succeeded ledger row of the same variant (any member), or None.

    One query for the whole sweep (`Ledger.succeeded_of`, filtered by prompt and model).
    """
    keys = [_request_key(request) for request in requests]
    wanted = [request for request, key in zip(requests, keys, strict=True) if key is not None]
    rows = log.succeeded_of(
        [str(getattr(request, "prompt", "") or "") for request in wanted],
        [request.model for request in wanted],
    )
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:  # newest first
        body = row.get("request")
        if isinstance(body, dict) and body and row.get("route"):
            newest.setdefault(variant_key(str(row["route"]), body), row)
    return [None if key is None else newest.get(key) for key in keys]


@dataclass(frozen=True)
class Origin:
    """Who made a reused job and from where, and where its video is for this Studio."""

    member: str
    machine: str
    where: Where
    """`here`: the row's own file; `copy`: fetched again into this Studio's outputs;
    `elsewhere`: no video here (its URL no longer serves it)."""


class ReusedJob(Job):
    """A sweep entry another run already made (`skip_done=True`): that run's job, read-only.

    Its state is `succeeded` (the row's). Nothing drives it and this Studio never writes its
    row; `video_path` is the file this machine can play, or None when the video is elsewhere.
    """

    origin: Origin = Origin("someone", "another machine", "elsewhere")

    def snapshot(self) -> dict[str, Any]:
        """`Job.snapshot()` plus `reused` (member, machine, where); no URL for a gone video."""
        fields = super().snapshot()
        origin = self.origin
        fields["reused"] = {
            "member": origin.member,
            "machine": origin.machine,
            "where": origin.where,
        }
        if origin.where == "elsewhere":
            fields["video_url"] = None  # it no longer serves the video: no broken <video>
        return fields

    def _outcome(self) -> Path:
        if self.video_path is not None:
            return self.video_path
        origin = self.origin
        raise KlingError(
            f"job {self.job_id} was reused from {origin.member}'s run: its video is on "
            f"another machine ({origin.machine}) and its URL no longer serves it"
        )


def reused_job(studio: Studio, row: Mapping[str, Any]) -> ReusedJob:
    """The read-only entry of a sweep for an existing succeeded row (no video placed yet)."""
    job = job_from_row(studio, row, ReusedJob)
    job.finished_at = row.get("finished_at")
    job.video_path = job.poster = job.filmstrip = None
    job.origin = Origin(
        str(row.get("member") or "someone"), str(row.get("machine") or "an unknown machine"),
        "elsewhere",
    )  # fmt: skip
    return job


def _sized(path: object, size: object) -> Path | None:
    if not isinstance(path, str) or not path:
        return None
    file = Path(path)
    try:
        found = file.is_file() and (not isinstance(size, int) or file.stat().st_size == size)
    except OSError:
        return None
    return file if found else None


def _existing(path: object) -> Path | None:
    return _sized(path, None)


async def _copy(studio: Studio, row: Mapping[str, Any], dest: Path) -> Path | None:
    """Fetch the row's video again from its URL into `dest`; None if it no longer serves it."""
    url = row.get("video_url")
    if not isinstance(url, str) or not row.get("task_id"):
        return None
    task = Task(str(row["task_id"]), str(row["route"]), row["model"], Status.SUCCEEDED, url)

    async def same(asked: Task) -> Task:
        # No status read for a fresh URL: this Studio's key may not own the task, and the
        # status route may be another server's; the URL alone decides (the row is not ours).
        return asked

    try:
        result = await fetch_video(
            studio.client._http,  # the Studio's transport; the key is never sent to media hosts
            task, dest, reread=same, pause=lambda _: asyncio.sleep(0.5), max_retries=1,
            timeout=COPY_TIMEOUT_S,
        )  # fmt: skip
    except (DownloadError, httpx.HTTPError, KlingError) as exc:
        log.info("reused job %s: no copy from its URL (%s)", row["job_id"], exc)
        return None
    expected = row.get("video_sha256")
    if expected and result.sha256 != expected:
        log.warning("reused job %s: its URL serves another file (sha256 differs)", row["job_id"])
        dest.unlink(missing_ok=True)
        return None
    return result.path


async def _place(studio: Studio, job: ReusedJob, row: Mapping[str, Any]) -> None:
    size = row.get("video_bytes")
    copy = studio.outputs / "reused" / f"{safe_name(job.job_id)}.mp4"
    path = _sized(row.get("video_path"), size)
    where: Where = "here"
    if path is not None:
        job.poster, job.filmstrip = _existing(row.get("poster")), _existing(row.get("filmstrip"))
    else:
        where = "copy"
        path = _sized(str(copy), size) or await _copy(studio, row, copy)
        if path is not None:
            try:
                pictures = await asyncio.to_thread(make_pictures, path)
                job.poster, job.filmstrip = pictures.poster, pictures.filmstrip
            except PictureError as exc:
                log.warning("no pictures for %s: %s", path.name, exc)
    job.video_path = path
    origin = job.origin
    job.origin = Origin(origin.member, origin.machine, where if path is not None else "elsewhere")
    job.changed()


def place_videos(
    studio: Studio, jobs: Sequence[Job], rows: Sequence[Mapping[str, Any] | None]
) -> None:
    """Find (or fetch again) each reused job's video; blocks until all are placed.

    `rows[i]` is the ledger row of `jobs[i]`. Copies are fetched concurrently, while the
    sweep's new jobs already run (in a kernel, the loop keeps serving them meanwhile).
    """
    pairs = [
        (job, row)
        for job, row in zip(jobs, rows, strict=True)
        if isinstance(job, ReusedJob) and row is not None
    ]
    if not pairs:
        return

    async def place_all() -> None:
        await asyncio.gather(*(_place(studio, job, row) for job, row in pairs))

    studio.runner.run(place_all())
