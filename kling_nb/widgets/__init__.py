"""The notebook UI: thin ipywidgets views over a Studio (no HTTP here).

- `StudioPanel(studio)`: the generate form (`studio.panel()`, `kn.panel()`).
- `JobCard(job)`: one job, live (status, ETA, video); `show_job(job)` displays one.
- `ComparisonGrid(jobs)`: videos side by side with their ledger rows; `show_grid(jobs)`.

`show_job` and `show_grid` are the display seams of `Job` and `Sweep`: they publish the live
widget and a static `text/html` copy that follows the job, so a saved notebook still shows
the cards and videos without a kernel. The HTML itself comes from `kling_nb._render`.
"""

from __future__ import annotations

from ._card import JobCard, show_job
from ._display import StaticCopy, display_bundles
from ._grid import ComparisonGrid, show_grid
from ._panel import StudioPanel

__all__ = [
    "ComparisonGrid",
    "JobCard",
    "StaticCopy",
    "StudioPanel",
    "display_bundles",
    "show_grid",
    "show_job",
]
