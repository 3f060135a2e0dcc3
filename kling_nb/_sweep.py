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
from ._families import FAMILIES, AnyRequest, GrokVideo, SeedanceVideo
from ._jobs import Job
from ._ledger._core import EXPORT_TITLE, comparison_row
from ._models import MODELS
from ._requests import OmniVideo, TextToVideo
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
) -> list[AnyRequest]:
    """The validated cross product prompts × models × modes × durations × aspect ratios.

    A model picks its family and request type: a Kling model makes `TextToVideo` (`OmniVideo`
    for kling-v3-omni), a Seedance model `SeedanceVideo`, a Grok model `GrokVideo`. Durations
    apply to every family; modes only to Kling; aspect ratios to Kling and Seedance (its
    `ratio`). A family without a dimension gets one request per remaining combination, at its
    default there (Seedance and Grok render 720p), so mixing families adds no duplicates.
    """
    prompt_list = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompt_list:
        raise ValidationError("prompts", prompts, "at least one prompt")
    requests: list[AnyRequest] = []
    for prompt, model in itertools.product(prompt_list, models or ["kling-v3"]):
        family = _family_of_model(model)
        for mode, duration, ratio in itertools.product(
            (modes or ["std"]) if family == "kling" else [None],
            durations or [5],
            (aspect_ratios or ["16:9"]) if family != "grok" else [None],
        ):
            requests.append(_request(family, prompt, model, mode, duration, ratio))
    return requests


def _family_of_model(model: object) -> str:
    for family in FAMILIES:
        if isinstance(model, str) and model in family.models:
            return family.name
    every = ", ".join(name for family in FAMILIES for name in family.models)
    raise ValidationError("models", model, f"model names: {every}")


def _request(
    family: str, prompt: str, model: str, mode: str | None, duration: int, ratio: str | None
) -> AnyRequest:
    if family == "seedance":
        return SeedanceVideo(prompt, model=model, duration=duration, ratio=ratio)
    if family == "grok":
        return GrokVideo(prompt, model=model, duration=duration)
    if MODELS.get(model) == ("omni-video",):
        return OmniVideo(prompt, model=model, mode=mode, duration=duration, aspect_ratio=ratio)
    return TextToVideo(
        prompt, model=model, mode=mode or "std", duration=duration, aspect_ratio=ratio or "16:9"
    )
