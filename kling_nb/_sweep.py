"""`Sweep`: the jobs of one `Studio.sweep`, and how a sweep's requests are built."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._errors import KlingError, ValidationError
from ._jobs import Job
from ._ledger._core import EXPORT_TITLE, comparison_row
from ._models import MODELS
from ._requests import OmniVideo, Request, TextToVideo
from ._views import view

__all__ = ["Sweep", "sweep_requests"]


class Sweep(list[Job]):
    """The jobs of one `Studio.sweep`, displayed as a side-by-side comparison grid."""

    def wait(self, timeout: float | None = None) -> Sweep:
        """Block this cell until every job has finished (other cells' jobs keep moving)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            with contextlib.suppress(KlingError):
                job.result(remaining)
        return self

    @property
    def df(self) -> Any:
        """The ledger rows of these jobs (a pandas DataFrame)."""
        if not self:
            return None
        frame = self[0].studio.log.df
        return frame[frame["job_id"].isin([job.job_id for job in self])]

    def export(self, folder: str | os.PathLike[str], *, title: str = EXPORT_TITLE) -> Path:
        """Write a comparison page of these jobs, as they are now, that stands on its own.

        `folder` gets `index.html` (the videos side by side, played in sync, and a comparison
        table), copies of the videos, their posters and filmstrips, and `comparison.csv`; it
        plays offline in any browser, moved anywhere. Returns the path of `index.html`.
        Unfinished jobs show their status: `sweep.wait().export(folder)` waits first.
        """
        rows = [comparison_row(job.snapshot(), None) for job in self]
        path: Path = view("export", folder, rows, title=title)
        return path

    def _ipython_display_(self) -> None:
        view("show_grid", list(self))


def sweep_requests(
    prompts: str | Sequence[str],
    models: Sequence[str] | None,
    modes: Sequence[str] | None,
    durations: Sequence[int] | None,
    aspect_ratios: Sequence[str] | None,
) -> list[Request]:
    """The validated cross product prompts × models × modes × durations × aspect ratios."""
    prompt_list = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompt_list:
        raise ValidationError("prompts", prompts, "at least one prompt")
    requests: list[Request] = []
    for prompt, model, mode, duration, ratio in itertools.product(
        prompt_list,
        models or ["kling-v3"],
        modes or ["std"],
        durations or [5],
        aspect_ratios or ["16:9"],
    ):
        kind = OmniVideo if MODELS.get(model) == ("omni-video",) else TextToVideo
        requests.append(kind(prompt, model=model, mode=mode, duration=duration, aspect_ratio=ratio))
    return requests
