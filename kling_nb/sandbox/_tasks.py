"""A new task: its timeline, its drawn outcome, its frame size and its price."""

from __future__ import annotations

import random
import secrets
from collections import Counter

from ._faults import FaultInjector
from ._lifecycle import TaskRecord, draw_timeline
from ._uploads import ResolvedImage
from ._validate import CreateSpec
from ._video import size_for_image, size_for_ratio

__all__ = ["new_task"]


def new_task(
    spec: CreateSpec,
    image: ResolvedImage | None,
    *,
    owner: tuple[str, str],
    cost: int,
    now: float,
    request_id: str,
    rng: random.Random,
    faults: FaultInjector,
    fault_counts: Counter[str],
    time_scale: float,
) -> TaskRecord:
    """The record of a task created now by `owner` (key, team); counts the faults it drew."""
    timeline = draw_timeline(
        rng, model=spec.model, mode=spec.mode, duration=spec.duration, time_scale=time_scale
    )
    outcome = faults.task_outcome()
    started = now + timeline.queued_s
    finished = started + timeline.running_s
    error: tuple[str, str] | None = None
    if spec.image_url is not None and image is None:
        # The real router fetches the image when the upstream picks the task up.
        outcome, finished = "failed", started
        shown = spec.image_url if len(spec.image_url) <= 200 else spec.image_url[:197] + "..."
        error = ("image_fetch_failed", f"failed to fetch ImageUrl {shown}: not reachable")
    elif outcome == "failed":
        fault_counts["task_fail"] += 1
        finished = started + timeline.running_s * (0.3 + 0.5 * rng.random())
        error = ("kling_task_failed", "the upstream video provider failed the task")
    elif outcome == "expired":
        fault_counts["task_expire"] += 1
        error = ("kling_task_expired", "the upstream task expired before producing a video")
    width, height = _frame_size(spec, image)
    key, team = owner
    return TaskRecord(
        id="task_" + secrets.token_hex(12),
        route=spec.route,
        model=spec.model,
        mode=spec.mode,
        duration=spec.duration,
        prompt=spec.prompt,
        aspect_ratio=spec.aspect_ratio,
        width=width,
        height=height,
        team=team,
        key=key,
        request_id=request_id,
        created_at=now,
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        cost_nano=cost,
        image_url=spec.image_url,
        image_ref=image.ref if image is not None else None,
        error_code=error[0] if error else None,
        error_message=error[1] if error else None,
    )


def _frame_size(spec: CreateSpec, image: ResolvedImage | None) -> tuple[int, int]:
    if spec.aspect_ratio is not None:
        return size_for_ratio(spec.aspect_ratio)
    if image is not None:
        return size_for_image(image.width, image.height)
    return size_for_ratio("16:9")
