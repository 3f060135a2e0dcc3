"""The widgets layer: registered views, only public Job/Studio API, one load per video."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

from _widget_helpers import make_job, parse_tags, snapshot

import kling_nb as kn
import kling_nb.widgets
from kling_nb import _views
from kling_nb.widgets import ComparisonGrid, JobCard, StudioPanel
from kling_nb.widgets._display import WIDGET_VIEW_MIME

WIDGETS_DIR = Path(kling_nb.widgets.__file__).parent


def test_importing_the_widgets_registers_every_view(
    studio: kn.Studio, published: list[dict[str, Any]]
) -> None:
    _views._VIEWS.clear()
    kling_nb.widgets.register_views()
    assert 'class="kn-card"' in _views.view("job_html", snapshot())
    job = make_job(studio, "queued", created_at=time.time())
    other = make_job(studio, "waiting", job_id="job-2")
    assert isinstance(_views.view("show_job", job), JobCard)
    assert isinstance(_views.view("show_grid", [job, other]), ComparisonGrid)
    assert sum(WIDGET_VIEW_MIME in p["data"] for p in published) == 2
    assert isinstance(_views.view("panel", studio), StudioPanel)
    grid = _views.view("grid", [job, other])
    assert isinstance(grid, ComparisonGrid)
    assert len(grid.jobs) == 2


def _private_reaches(path: Path) -> list[str]:
    """`x._name` where `x` is not `self`: reaching into another object's private state."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        found.append(f"{path.name}:{node.lineno} .{name}")
    return found


def test_widgets_never_touch_private_attributes_of_other_objects() -> None:
    reaches = [hit for path in sorted(WIDGETS_DIR.glob("*.py")) for hit in _private_reaches(path)]
    assert reaches == []


def test_static_outputs_load_their_video_metadata_like_the_live_view(
    studio: kn.Studio, tmp_path: Path
) -> None:
    job = make_job(studio, "succeeded", video_path=tmp_path / "kling_outputs" / "job-1.mp4")
    card = JobCard(job, base_dir=tmp_path, tick=0)
    grid = ComparisonGrid([job], base_dir=tmp_path, tick=0)
    panel = StudioPanel(studio, base_dir=tmp_path)
    panel.add_job(job)

    def preloads(markup: str) -> list[str | None]:
        return [a.get("preload") for t, a in parse_tags(markup) if t == "video"]

    assert preloads(card.body_html) == ["metadata"]
    assert preloads(grid.cell_html[0]) == ["metadata"]
    # The static output replaces the live view (never both on the page), and it is what
    # shows the video after a reopen: it loads its metadata, so the first frame shows.
    for static in (card.static_html(), grid.static_html(), panel.static_html()):
        assert preloads(static) == ["metadata"]


def test_parked_jobs_do_not_tick(studio: kn.Studio) -> None:
    for status in ("timeout", "detached", "fetch_failed"):
        card = JobCard(make_job(studio, status, job_id=f"job-{status}"), tick=0.05)
        assert not card.timer_running
        assert "<progress" not in card.status_html
        assert "paused after" in card.status_html
