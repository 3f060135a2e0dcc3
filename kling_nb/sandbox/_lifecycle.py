"""Task records and their lifecycle: every time is fixed at create, the status is read off a clock.

queued until `started_at`, running until `finished_at`, then the outcome drawn at create
(succeeded, failed or expired). Nothing ticks in the background, so a sandbox restarted on
the same state file picks up exactly where the clock says each task is.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any, Final

from .._models import Status

__all__ = ["TaskRecord", "Timeline", "draw_timeline"]

# Realistic unscaled medians, in seconds. With these, totals run from 1 to 6 minutes.
_QUEUE_MEDIAN: Final = 12.0
_RUN_MEDIAN: Final = {
    "kling-v2-6": 55.0,
    "kling-v3": 70.0,
    "kling-v3-omni": 95.0,
    "seedance-2.0": 80.0,
    "seedance-2.0-fast": 45.0,
    "grok-imagine-video": 40.0,
    "grok-imagine-video-1.5-preview": 50.0,
}
_MODE_FACTOR: Final = {"std": 1.0, "pro": 1.5}
_DURATION_FACTOR: Final = {5: 1.0, 10: 1.6}
_MIN_TOTAL: Final = 60.0
_MAX_TOTAL: Final = 360.0


@dataclass(frozen=True)
class Timeline:
    """How long a task waits in the queue and then runs, already multiplied by time_scale."""

    queued_s: float
    running_s: float


def draw_timeline(
    rng: random.Random, *, model: str, mode: str, duration: int, time_scale: float
) -> Timeline:
    """Draw lognormal queue and run times: pro is slower than std, 10 s than 5 s, omni slowest."""
    queued = rng.lognormvariate(math.log(_QUEUE_MEDIAN), 0.5)
    queued = min(max(queued, 3.0), 60.0)
    median = (
        _RUN_MEDIAN.get(model, 70.0)
        * _MODE_FACTOR.get(mode, 1.0)
        * _DURATION_FACTOR.get(duration, 1.0 + 0.12 * max(duration - 5, 0))
    )
    running = rng.lognormvariate(math.log(median), 0.25)
    running = min(max(running, _MIN_TOTAL - queued), _MAX_TOTAL - queued)
    return Timeline(queued * time_scale, running * time_scale)


@dataclass
class TaskRecord:
    """One task as the sandbox stores it (also its persisted form).

    `route` is the Kling create route, or the family name for Seedance and Grok tasks;
    `resolution` is None for Kling (its size comes from the aspect ratio).
    """

    id: str
    route: str
    model: str
    mode: str
    duration: int
    prompt: str
    aspect_ratio: str | None
    width: int
    height: int
    team: str
    key: str
    request_id: str
    created_at: float
    started_at: float
    finished_at: float
    outcome: str
    cost_nano: int
    image_url: str | None = None
    image_ref: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    settled: bool = False
    family: str = "kling"
    resolution: str | None = None

    def status_at(self, now: float) -> Status:
        """The task's status at wall-clock time `now`."""
        if now < self.started_at:
            return Status.QUEUED
        if now < self.finished_at:
            return Status.RUNNING
        return Status(self.outcome)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskRecord:
        """Rebuild a record written by `to_json`."""
        return cls(**data)
