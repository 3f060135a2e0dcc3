"""The notebook UI: thin ipywidgets views over a Studio (no HTTP here).

- `StudioPanel(studio)`: the generate form (`studio.panel()`, `kn.panel()`).
- `JobCard(job)`: one job, live (status, ETA, video); `show_job(job)` displays one.
- `ComparisonGrid(jobs)`: videos side by side with their ledger rows; `show_grid(jobs)`.
- `JudgeWidget`: blind k-wise votes (`studio.judge(jobs)`); `RankingsTable`, `show_rankings`.

`show_job` and `show_grid` are the display seams of `Job` and `Sweep`. A live view's output
is replaced by its final static output (`text/html` with each video's filmstrip, and a
`text/plain` that says the same) when its jobs end or its Studio closes, so a saved notebook
shows the cards and pictures without a kernel and no widget whose model is gone. The HTML
itself comes from `kling_nb._render`.

Importing this package registers its views in `kling_nb._views` (`show_job`, `show_grid`,
`job_html`, `panel`, `grid`, `judge`, `export`), so the layers below display jobs (and
`Sweep.export`, `Ledger.export` write comparison pages) without importing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _views
from .._export import export_comparison
from .._render import job_card_html
from ._card import JobCard, show_job, show_video, static_job_bundle
from ._display import LiveDisplay, display_bundles
from ._grid import ComparisonGrid, show_grid
from ._judge import JudgeItem, JudgeWidget, judge_widget
from ._panel import StudioPanel
from ._rankings import RankingsTable, show_rankings

if TYPE_CHECKING:
    from .._jobs import Job
    from .._studio import Studio

__all__ = [
    "ComparisonGrid",
    "JobCard",
    "JudgeItem",
    "JudgeWidget",
    "LiveDisplay",
    "RankingsTable",
    "StudioPanel",
    "display_bundles",
    "register_views",
    "show_grid",
    "show_job",
    "show_rankings",
    "show_video",
    "static_job_bundle",
]


def _job_html(snapshot: dict[str, Any]) -> str:
    return job_card_html(snapshot, pictures=True)


def _panel(studio: Studio) -> StudioPanel:
    return StudioPanel(studio)


def _grid(jobs: list[Job]) -> ComparisonGrid:
    return ComparisonGrid(jobs)


def _show_grid(jobs: list[Job]) -> ComparisonGrid | None:
    return show_grid(jobs)


def register_views() -> None:
    """Register this layer's views in `kling_nb._views` (done on import; idempotent)."""
    _views.register("show_job", show_job)
    _views.register("show_grid", _show_grid)
    _views.register("job_html", _job_html)
    _views.register("panel", _panel)
    _views.register("grid", _grid)
    _views.register("judge", judge_widget)
    _views.register("export", export_comparison)


register_views()
