"""`JobCard`: a live view of one Job, and `show_job`, the seam `Job._ipython_display_` uses."""

from __future__ import annotations

import asyncio
import os
import weakref
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .._filmstrip import make_pictures, picture_paths
from .._render import (
    card_body_html,
    card_status_html,
    card_text,
    job_card_html,
    relative_src_or_none,
    video_block,
)
from ._display import Bundle, LiveDisplay, html_output, live_bundle, publish_static, static_bundle
from ._live import job_active, job_state, spawn_timer, stop_timer

if TYPE_CHECKING:
    from .._jobs import Job
    from .._studio import Studio

__all__ = ["JobCard", "job_final", "show_job", "show_video", "static_job_bundle", "watch_close"]


def job_final(job: Job) -> bool:
    """True once the job will never change again (its view may turn static for good)."""
    state = job_state(job)
    return state is not None and state.final


def static_job_bundle(job: Job, *, base_dir: str | os.PathLike[str] | None = None) -> Bundle:
    """The output a saved notebook keeps for `job`: its card with the filmstrip, and its text."""
    snapshot = job.snapshot()
    return static_bundle(
        job_card_html(snapshot, base_dir=base_dir, pictures=True),
        card_text(snapshot, base_dir=base_dir),
    )


def watch_close(studio: Studio, view: Any) -> Any:
    """A task on the Studio's loop that calls `view.finish()` when the Studio closes.

    `Studio.close()` cancels every task on its loop: this one waits for exactly that. It holds
    the view weakly, so a view nobody shows any more can still be collected.
    """
    ref = weakref.ref(view)

    async def wait_for_close() -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            alive = ref()
            if alive is not None:
                alive.finish()

    return spawn_timer(studio, wait_for_close)


class JobCard(widgets.VBox):  # type: ignore[misc]
    """A live card for one Job: status, elapsed time and ETA, metadata, error, video, request.

    It re-renders on every `job.on_change` and, while the job is active (not parked, not
    final), on a timer (`tick` seconds) that runs as a task on the Studio's loop. The status line
    is an `HTML` widget (it changes every tick); the body, with the `<video>`, is an `Output`
    whose single item is replaced only when the body changes. When the job is final, or its
    Studio closes, every output showing the card turns into the static card (`live.finish()`).
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
        self.live = LiveDisplay(self._live_bundle, self.static_bundle)
        self._status_html = widgets.HTML()
        self._body_out = widgets.Output()
        self._body_text: str | None = None
        self._timer: Any = None
        self._watch: Any = None
        self.children = (self._status_html, self._body_out)
        ref = weakref.ref(self)

        def on_change(_job: Job) -> None:
            card = ref()
            if card is not None and card.comm is not None:
                card.update()

        job.on_change(on_change)
        self.update()
        if job_active(job) and tick > 0:
            self._timer = spawn_timer(job.studio, self._run_timer)
        if not self.live.finished:
            self._watch = watch_close(job.studio, self)

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
        """The whole card as static HTML, with the filmstrip (what a saved notebook keeps)."""
        return job_card_html(self.job.snapshot(), base_dir=self.base_dir, pictures=True)

    def static_bundle(self) -> Bundle:
        """The final output of this card: static HTML and the same in plain text."""
        return static_job_bundle(self.job, base_dir=self.base_dir)

    def _live_bundle(self) -> Bundle:
        return live_bundle(
            self.model_id,
            f"kling_nb live card of job {self.job.job_id} (the static card replaces it when "
            "the job ends; run the cell again to see it live)",
        )

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
        if self.live.finished or job_final(self.job) or self.job.studio.closed:
            self.finish()

    def finish(self) -> None:
        """Stop the timer and turn every output of this card into the static card."""
        stop_timer(self.job.studio, self._timer)
        self.live.finish()

    async def _run_timer(self) -> None:
        while job_active(self.job):
            await asyncio.sleep(self.tick)
            if self.comm is None:
                return
            self.update(tick_only=True)

    def close(self) -> None:
        """Leave the static card where the card was shown; close the widget and its children."""
        if self.comm is not None:
            self.finish()
        stop_timer(self.job.studio, self._watch)
        for child in self.children:
            child.close()
        super().close()

    def _ipython_display_(self) -> None:
        self.live.show()


def show_job(job: Job, *, base_dir: str | os.PathLike[str] | None = None) -> JobCard | None:
    """Display `job`: a live `JobCard` (returned), or its static card if the job is final.

    This is what `Job._ipython_display_` calls. The live card's output turns into the static
    card (`text/html` with the filmstrip, never base64 video) when the job ends.
    """
    if job_final(job):
        publish_static(static_job_bundle(job, base_dir=base_dir))
        return None
    card = JobCard(job, base_dir=base_dir)
    card.live.show()
    return card


def show_video(
    path: str | os.PathLike[str], *, base_dir: str | os.PathLike[str] | None = None
) -> None:
    """Display a video file the way a finished job's card does: the video, then its filmstrip.

    The filmstrip (made beside the video if it is not there yet) is inlined, so the output
    still shows a picture where the file is absent (a fresh clone, GitHub).
    """
    pictures = picture_paths(path)
    if not pictures.filmstrip.is_file():
        make_pictures(path)
    snapshot = {"video_path": os.fspath(path), "filmstrip": str(pictures.filmstrip)}
    where = relative_src_or_none(os.fspath(path), base_dir) or os.fspath(path)
    markup = video_block(snapshot, base_dir, False, pictures=True)
    publish_static(static_bundle(f'<div class="kn-card">{markup}</div>', f"video: {where}"))
