"""Judging controls of the comparison grid: stars under each video, a "judge these" button."""

from __future__ import annotations

import html
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .._errors import KlingError
from .._judge_ops import default_rater
from .._ledger import LedgerError

if TYPE_CHECKING:
    from .._jobs import Job

__all__ = ["JudgeRow", "StarBar", "judge_row", "star_cells"]

_FULL, _EMPTY = "★", "☆"


class StarBar(widgets.HBox):  # type: ignore[misc]
    """Five star buttons that rate one job (`job.rate`) as `rater` (default: the OS user).

    They show the rater's latest rating, and stay disabled until the video is downloaded.
    """

    def __init__(self, job: Job, *, rater: str | None = None) -> None:
        super().__init__(layout=widgets.Layout(align_items="center"))
        self.job, self.rater = job, rater or default_rater()
        self.stars = self._stored()
        self._buttons = [
            widgets.Button(
                description=_EMPTY,
                tooltip=f"{n} star{'s' if n > 1 else ''}",
                layout=widgets.Layout(width="34px", padding="0"),
            )
            for n in range(1, 6)
        ]
        for n, button in enumerate(self._buttons, start=1):
            button.on_click(lambda _b, n=n: self.rate(n))
        self._note = widgets.HTML()
        self.children = (*self._buttons, self._note)
        ref = weakref.ref(self)

        def on_change(_job: Job) -> None:
            bar = ref()
            if bar is not None and bar.comm is not None:
                bar.show()

        job.on_change(on_change)
        self.show()

    def __repr__(self) -> str:
        return f"<StarBar {self.job.job_id} {self.stars or 0}/5>"

    def _stored(self) -> int | None:
        try:
            ratings = self.job.studio.log.ratings
        except LedgerError:
            return None
        mine = ratings[(ratings["job_id"] == self.job.job_id) & (ratings["rater"] == self.rater)]
        return int(mine["stars"].iloc[-1]) if len(mine) else None

    def rate(self, stars: int) -> None:
        """Rate the job `stars` (1-5) and show it; a failure shows as a short note."""
        try:
            self.job.rate(stars, rater=self.rater)
        except (KlingError, LedgerError, KeyError) as exc:
            self._note.value = f"<small>not saved: {type(exc).__name__}</small>"
            return
        self.stars = stars
        self.show()

    def show(self) -> None:
        """Draw the stars (and enable them once the job has its video)."""
        ready = self.job.succeeded
        for n, button in enumerate(self._buttons, start=1):
            button.description = _FULL if self.stars and n <= self.stars else _EMPTY
            button.disabled = not ready
        self._note.value = f"<small>{self.stars}/5</small>" if self.stars else ""


def star_cells(jobs: Sequence[Job], cells: Sequence[Any]) -> list[Any]:
    """Each grid cell with a `StarBar` under it."""
    return [
        widgets.VBox([cell, StarBar(job)], layout=widgets.Layout(min_width="0"))
        for job, cell in zip(jobs, cells, strict=True)
    ]


class JudgeRow(widgets.VBox):  # type: ignore[misc]
    """A "judge these" button that opens a blind judge widget (`studio.judge`) on the jobs."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        super().__init__()
        self.jobs = list(jobs)
        self.judge: Any = None
        self.button = widgets.Button(description="judge these", icon="balance-scale")
        self.button.on_click(lambda _b: self.start())
        self._note = widgets.HTML()
        self.children = (widgets.HBox([self.button, self._note]),)

    def __repr__(self) -> str:
        return f"<JudgeRow {len(self.jobs)} jobs{' (judging)' if self.judge else ''}>"

    def start(self) -> Any:
        """Open (or return the open) judge widget on the finished jobs; None if too few."""
        if self.judge is not None:
            return self.judge
        finished = [job for job in self.jobs if job.succeeded]
        if len(finished) < 2:
            self._note.value = "<small>judging needs two finished videos</small>"
            return None
        try:
            self.judge = finished[0].studio.judge(finished)
        except KlingError as exc:  # e.g. a video file was deleted meanwhile
            self._note.value = f"<small>{html.escape(str(exc))}</small>"
            return None
        self._note.value = ""
        row: tuple[Any, ...] = self.children
        self.children = (*row, self.judge)
        return self.judge


def judge_row(jobs: Sequence[Job]) -> JudgeRow:
    """The grid's "judge these" row."""
    return JudgeRow(jobs)
