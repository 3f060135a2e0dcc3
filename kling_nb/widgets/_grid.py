"""`ComparisonGrid`: jobs' videos side by side with their ledger rows, and `show_grid`."""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .._ledger import LedgerError
from .._render import (
    grid_cell_html,
    grid_columns,
    grid_controls_html,
    grid_html,
    grid_text,
    ledger_table_html,
)
from ._card import job_final, watch_close
from ._display import Bundle, LiveDisplay, html_output, live_bundle, publish_static, static_bundle
from ._live import job_active, spawn_timer, stop_timer
from ._stars import judge_row, star_cells

if TYPE_CHECKING:
    import pandas as pd

    from .._jobs import Job
    from .._studio import Studio

__all__ = ["ComparisonGrid", "ledger_rows", "show_grid", "static_grid_bundle"]


def ledger_rows(jobs: Iterable[Job]) -> pd.DataFrame | None:
    """The ledger rows of `jobs` (from each job's Studio), or None if no ledger is readable."""
    import pandas as pd

    chosen = list(jobs)
    ids = [job.job_id for job in chosen]
    studios: dict[int, Studio] = {id(job.studio): job.studio for job in chosen}
    frames: list[pd.DataFrame] = []
    for studio in studios.values():
        try:
            frame = studio.log.df
        except LedgerError:  # the Studio was closed
            continue
        frames.append(frame[frame["job_id"].isin(ids)])
    if not frames:
        return None
    if len(frames) == 1:
        return frames[0]
    combined: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return combined


def _table_text(jobs: list[Job]) -> str:
    rows = ledger_rows(jobs)
    if rows is None or not len(rows):
        return ""
    return ledger_table_html(rows, unit=jobs[0].studio.pricing.unit)


def static_grid_bundle(
    jobs: Iterable[Job],
    *,
    columns: int | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Bundle:
    """What a saved notebook keeps of a grid: videos with filmstrips, the ledger rows, text."""
    chosen = list(jobs)
    snapshots = [job.snapshot() for job in chosen]
    grid = grid_html(snapshots, columns=columns, base_dir=base_dir, pictures=True)
    return static_bundle(grid + _table_text(chosen), grid_text(snapshots, base_dir=base_dir))


class ComparisonGrid(widgets.VBox):  # type: ignore[misc]
    """Jobs side by side: each cell titled with prompt, model, mode, duration, time and cost.

    Each cell is its own `Output`, re-rendered when its job changes (so a finished video keeps
    playing while others finish); a "play all in sync" button restarts every video in this
    grid only; the ledger rows of these jobs sit below as a table, refreshed as jobs finish.
    Stars under each video rate it (`job.rate`); "judge these" opens `studio.judge(jobs)`.
    When every job is final, or a Studio of its jobs closes, every output showing the grid
    turns into the static grid (`live.finish()`).
    """

    def __init__(
        self,
        jobs: Iterable[Job],
        *,
        columns: int | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        tick: float = 1.0,
    ) -> None:
        super().__init__(layout=widgets.Layout(max_width="1200px"))
        self.jobs = list(jobs)
        self.columns = grid_columns(len(self.jobs), columns)
        self.base_dir = base_dir
        self.tick = tick
        self.live = LiveDisplay(self._live_bundle, self.static_bundle)
        css_class = f"kn-grid-{self.model_id}"
        self.add_class(css_class)
        self._cells = [widgets.Output(layout=widgets.Layout(min_width="0")) for _ in self.jobs]
        self._cell_text: list[str | None] = [None] * len(self.jobs)
        self._table = widgets.HTML()
        self._timer: Any = None
        self._timer_studio: Studio | None = None
        self._watches: list[tuple[Studio, Any]] = []
        box = widgets.GridBox(
            star_cells(self.jobs, self._cells),
            layout=widgets.Layout(
                grid_template_columns=f"repeat({self.columns}, minmax(0, 1fr))",
                grid_gap="10px",
            ),
        )
        controls = widgets.HTML(grid_controls_html("." + css_class))
        self.judging = judge_row(self.jobs)
        self.children = (controls, box, self._table, self.judging)
        ref = weakref.ref(self)
        for index, job in enumerate(self.jobs):

            def on_change(_job: Job, index: int = index) -> None:
                grid = ref()
                if grid is not None and grid.comm is not None:
                    grid.update(index)

            job.on_change(on_change)
        self.update()
        active = [job for job in self.jobs if job_active(job)]
        if active and tick > 0:
            self._timer_studio = active[0].studio
            self._timer = spawn_timer(self._timer_studio, self._run_timer)
        if not self.live.finished:
            studios = {id(job.studio): job.studio for job in self.jobs}
            self._watches = [(st, watch_close(st, self)) for st in studios.values()]

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for job in self.jobs:
            counts[job.status] = counts.get(job.status, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        return f"<ComparisonGrid {len(self.jobs)} jobs{': ' + summary if summary else ''}>"

    @property
    def cell_html(self) -> list[str]:
        """The HTML currently shown in each cell, in job order."""
        return [text or "" for text in self._cell_text]

    @property
    def table_html(self) -> str:
        """The HTML of the ledger table below the grid."""
        return str(self._table.value)

    @property
    def timer_running(self) -> bool:
        """True while the elapsed-time timer task is alive."""
        return self._timer is not None and not self._timer.done()

    def static_html(self) -> str:
        """The grid (with filmstrips) and its ledger table as static HTML (a saved notebook's)."""
        return str(self.static_bundle()["text/html"])

    def static_bundle(self) -> Bundle:
        """The final output of this grid: static HTML and the same in plain text."""
        return static_grid_bundle(self.jobs, columns=self.columns, base_dir=self.base_dir)

    def _live_bundle(self) -> Bundle:
        return live_bundle(
            self.model_id,
            f"kling_nb live comparison grid of {len(self.jobs)} jobs (the static grid "
            "replaces it when they end; run the cell again to see it live)",
        )

    def _render_cell(self, index: int) -> None:
        snapshot = self.jobs[index].snapshot()
        text = grid_cell_html(snapshot, base_dir=self.base_dir)
        if text != self._cell_text[index]:
            self._cell_text[index] = text
            self._cells[index].outputs = (html_output(text),)

    def update(self, index: int | None = None) -> None:
        """Re-render one cell (or all), the ledger table and the static copy."""
        for i in range(len(self.jobs)) if index is None else (index,):
            self._render_cell(i)
        self._table.value = _table_text(self.jobs)
        done = all(job_final(job) for job in self.jobs)
        if self.live.finished or done or any(job.studio.closed for job in self.jobs):
            self.finish()

    def finish(self) -> None:
        """Stop the timer and turn every output of this grid into the static grid."""
        stop_timer(self._timer_studio, self._timer)
        self.live.finish()

    async def _run_timer(self) -> None:
        while any(job_active(job) for job in self.jobs):
            await asyncio.sleep(self.tick)
            if self.comm is None:
                return
            for index, job in enumerate(self.jobs):
                if job_active(job):  # finished cells hold videos: never re-render them on a tick
                    self._render_cell(index)

    def close(self) -> None:
        """Leave the static grid where the grid was shown; close the widget and its children."""
        if self.comm is not None:
            self.finish()
        for studio, watch in self._watches:
            stop_timer(studio, watch)
        for cell in self._cells:
            cell.close()
        for child in self.children:
            child.close()
        super().close()

    def _ipython_display_(self) -> None:
        self.live.show()


def show_grid(
    jobs: Iterable[Job], *, base_dir: str | os.PathLike[str] | None = None
) -> ComparisonGrid | None:
    """Display `jobs` as a live `ComparisonGrid` (returned), or as the static grid if all are final.

    This is what `Sweep._ipython_display_` calls; the live grid's output turns into the static
    grid when its jobs end.
    """
    chosen = list(jobs)
    if chosen and all(job_final(job) for job in chosen):
        publish_static(static_grid_bundle(chosen, base_dir=base_dir))
        return None
    grid = ComparisonGrid(chosen, base_dir=base_dir)
    grid.live.show()
    return grid
