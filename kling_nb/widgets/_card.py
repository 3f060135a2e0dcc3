"""`JobCard`: a live view of one Job, and `show_job`, the seam `Job._ipython_display_` uses."""

from __future__ import annotations

import asyncio
import os
import weakref
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .._render import card_body_html, card_status_html, job_card_html
from ._display import StaticCopy, hider, html_output, show_widget
from ._live import job_active, spawn_timer, stop_timer

if TYPE_CHECKING:
    from .._jobs import Job

__all__ = ["JobCard", "show_job"]


class JobCard(widgets.VBox):  # type: ignore[misc]
    """A live card for one Job: status, elapsed time and ETA, metadata, error, video, request.

    It re-renders on every `job.on_change` and, while the job is active (not parked, not
    final), on a timer (`tick` seconds) that runs as a task on the Studio's loop. The status line
    is an `HTML` widget (it changes every tick); the body, with the `<video>`, is an `Output`
    whose single item is replaced only when the body changes.
    """

    def __init__(
        self, job: Job, *, base_dir: str | os.PathLike[str] | None = None, tick: float = 1.0
    ) -> None:
        super().__init__(
            layout=widgets.Layout(
                border="1px solid var(--jp-border-color2, #d0d7de)",
                padding="4px 10px",
                margin="4px 0",
                max_width="780px",
            )
        )
        self.job = job
        self.base_dir = base_dir
        self.tick = tick
        self.static = StaticCopy(self.model_id, self.static_html)
        self._status_html = widgets.HTML()
        self._body_out = widgets.Output()
        self._body_text: str | None = None
        self._timer: Any = None
        self.children = (hider(self.model_id), self._status_html, self._body_out)
        ref = weakref.ref(self)

        def on_change(_job: Job) -> None:
            card = ref()
            if card is not None and card.comm is not None:
                card.update()

        job.on_change(on_change)
        self.update()
        if job_active(job) and tick > 0:
            self._timer = spawn_timer(job.studio, self._run_timer)

    def __repr__(self) -> str:
        return f"<JobCard {self.job.job_id} {self.job.status}>"

    @property
    def body_html(self) -> str:
        """The HTML currently shown below the status line."""
        return self._body_text or ""

    @property
    def status_html(self) -> str:
        """The HTML of the status line (badge, spec, elapsed, ETA)."""
        return str(self._status_html.value)

    @property
    def timer_running(self) -> bool:
        """True while the elapsed/ETA timer task is alive."""
        return self._timer is not None and not self._timer.done()

    def static_html(self) -> str:
        """The whole card as static HTML (what a saved notebook shows without a kernel)."""
        # preload="none": while the live card shows, this copy is hidden and must not load
        # the same video a second time.
        return job_card_html(self.job.snapshot(), base_dir=self.base_dir, preload="none")

    def update(self, *, tick_only: bool = False) -> None:
        """Re-render from `job.snapshot()`; a tick only refreshes the status line."""
        snapshot = self.job.snapshot()
        self._status_html.value = card_status_html(snapshot)
        if tick_only:
            return
        body = card_body_html(snapshot, base_dir=self.base_dir)
        if body != self._body_text:
            self._body_text = body
            self._body_out.outputs = (html_output(body),)
        self.static.refresh()

    async def _run_timer(self) -> None:
        while job_active(self.job):
            await asyncio.sleep(self.tick)
            if self.comm is None:
                return
            self.update(tick_only=True)

    def close(self) -> None:
        """Stop the timer and close the widget and its children."""
        stop_timer(self.job.studio, self._timer)
        for child in self.children:
            child.close()
        super().close()

    def _ipython_display_(self) -> None:
        show_widget(self)


def show_job(job: Job, *, base_dir: str | os.PathLike[str] | None = None) -> JobCard:
    """Display a live `JobCard` for `job`, followed by its static HTML copy; return the card.

    This is what `Job._ipython_display_` calls. The static copy (`text/html`, never base64
    video) is updated as the job changes state, so a saved notebook shows the final card.
    """
    card = JobCard(job, base_dir=base_dir)
    show_widget(card)
    return card
