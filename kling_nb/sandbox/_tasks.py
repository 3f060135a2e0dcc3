"""A new task: its timeline, its drawn outcome, its frame size and its price."""

from __future__ import annotations

import random
import secrets
from collections import Counter

from ._families import FAMILIES, TaskPlan, kling_cost
from ._faults import FaultInjector
from ._lifecycle import TaskRecord, draw_timeline
from ._uploads import ResolvedImage
from ._validate import CreateSpec
from ._video import size_for_image, size_for_ratio

__all__ = ["kling_plan", "new_task", "shorten"]


def kling_plan(spec: CreateSpec, image: ResolvedImage | None) -> TaskPlan:
    """The plan of a validated Kling create (`image`: what its ImageUrl resolved to, if any)."""
    width, height = _frame_size(spec, image)
    fetch_error = None
    if spec.image_url is not None and image is None:
        # The real router fetches the image when the upstream picks the task up.
        fetch_error = (
            "image_fetch_failed",
            f"failed to fetch ImageUrl {shorten(spec.image_url)}: not reachable",
        )
    return TaskPlan(
        family="kling",
        route=spec.route,
        model=spec.model,
        prompt=spec.prompt,
        duration=spec.duration,
        mode=spec.mode,
        resolution=None,
        aspect_ratio=spec.aspect_ratio,
        width=width,
        height=height,
        cost_nano=kling_cost(spec.mode, spec.duration),
        image_url=spec.image_url,
        image=image,
        fetch_error=fetch_error,
    )


def shorten(url: str) -> str:
    """A URL cut to 200 characters for a message."""
    return url if len(url) <= 200 else url[:197] + "..."


def new_task(
    plan: TaskPlan,
    *,
    owner: tuple[str, str],
    now: float,
    request_id: str,
    rng: random.Random,
    faults: FaultInjector,
    fault_counts: Counter[str],
    time_scale: float,
) -> TaskRecord:
    """The record of a task created now by `owner` (key, team); counts the faults it drew."""
    family = FAMILIES[plan.family]
    timeline = draw_timeline(
        rng, model=plan.model, mode=plan.mode, duration=plan.duration, time_scale=time_scale
    )
    outcome = faults.task_outcome()
    started = now + timeline.queued_s
    finished = started + timeline.running_s
    error: tuple[str, str] | None = None
    if plan.fetch_error is not None:
        outcome, finished = "failed", started
        error = plan.fetch_error
    elif outcome == "failed":
        fault_counts["task_fail"] += 1
        finished = started + timeline.running_s * (0.3 + 0.5 * rng.random())
        error = (family.code("task_failed"), "the upstream video provider failed the task")
    elif outcome == "expired":
        fault_counts["task_expire"] += 1
        error = (family.code("task_expired"), "the upstream task expired before producing a video")
    key, team = owner
    return TaskRecord(
        id="task_" + secrets.token_hex(12),
        route=plan.route,
        model=plan.model,
        mode=plan.mode,
        duration=plan.duration,
        prompt=plan.prompt,
        aspect_ratio=plan.aspect_ratio,
        width=plan.width,
        height=plan.height,
        team=team,
        key=key,
        request_id=request_id,
        created_at=now,
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        cost_nano=plan.cost_nano,
        image_url=plan.image_url,
        image_ref=plan.image.ref if plan.image is not None else None,
        error_code=error[0] if error else None,
        error_message=error[1] if error else None,
        family=plan.family,
        resolution=plan.resolution,
    )


def _frame_size(spec: CreateSpec, image: ResolvedImage | None) -> tuple[int, int]:
    if spec.aspect_ratio is not None:
        return size_for_ratio(spec.aspect_ratio)
    if image is not None:
        return size_for_image(image.width, image.height)
    return size_for_ratio("16:9")
