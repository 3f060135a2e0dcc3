"""`ComparisonGrid` and `show_grid`: cells per job, the ledger table, updates as jobs finish."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from _widget_helpers import assert_safe_html, parse_tags, put, video_srcs

import kling_nb as kn
from kling_nb._jobs import Job
from kling_nb.widgets import ComparisonGrid, show_grid
from kling_nb.widgets._display import WIDGET_VIEW_MIME


def ledger_jobs(studio: kn.Studio, prompts: list[str], modes: list[str]) -> list[Job]:
    """Jobs with ledger rows that never start (nothing is sent)."""
    jobs = []
    for prompt in prompts:
        for mode in modes:
            request = kn.TextToVideo(prompt, mode=mode)
            estimate = studio.pricing.estimate(request.model, request.mode, request.duration)
            jobs.append(studio._new_job(request, ("sweep:test",), estimate))
    return jobs


def finish(studio: kn.Studio, job: Job, tmp_path: Path, seconds: float = 42.0) -> None:
    now = time.time()
    job.created_at, job.finished_at = now - seconds, now
    job.video_path = tmp_path / "kling_outputs" / f"{job.job_id}.mp4"
    studio.log.update(
        job.job_id,
        status="succeeded",
        event="test",
        created_at=job.created_at,
        finished_at=job.finished_at,
        video_path=str(job.video_path),
    )
    put(job, "succeeded")
    job.changed()


def test_grid_of_four_updates_cells_and_table_as_jobs_finish(
    studio: kn.Studio, tmp_path: Path
) -> None:
    jobs = ledger_jobs(studio, ["a fox in snow", "a fox in snow, golden hour"], ["std", "pro"])
    grid = ComparisonGrid(jobs, base_dir=tmp_path, tick=0)
    assert grid.columns == 2
    assert len(grid.cell_html) == 4
    assert all("waiting" in cell for cell in grid.cell_html)
    assert grid.table_html.count("<tr") == 5  # header + 4 rows
    assert repr(grid) == "<ComparisonGrid 4 jobs: 4 waiting>"

    finish(studio, jobs[1], tmp_path)
    assert video_srcs(grid.cell_html[1]) == [f"kling_outputs/{jobs[1].job_id}.mp4"]
    assert "pro · 5 s video · 16:9 · took 42 s · est. 0.56 credits" in grid.cell_html[1]
    assert "<video" not in grid.cell_html[0]
    assert "42.0 s" in grid.table_html  # total_s from the ledger, with its unit
    assert "0.56 credits" in grid.table_html
    assert repr(grid) == "<ComparisonGrid 4 jobs: 1 succeeded, 3 waiting>"


def test_sync_buttons_target_this_grid_only(studio: kn.Studio) -> None:
    grid = ComparisonGrid(ledger_jobs(studio, ["a", "b"], ["std"]), tick=0)
    css_class = f"kn-grid-{grid.model_id}"
    assert css_class in grid._dom_classes
    controls = grid.children[0].value
    onclicks = [a["onclick"] for tag, a in parse_tags(controls) if tag == "button"]
    assert len(onclicks) == 2
    assert all(f"this.closest('.{css_class}')" in (script or "") for script in onclicks)


def test_a_finished_cell_is_not_re_rendered_by_the_timer(studio: kn.Studio, tmp_path: Path) -> None:
    jobs = ledger_jobs(studio, ["a", "b"], ["std"])
    finish(studio, jobs[0], tmp_path)
    put(jobs[1], "running")
    jobs[1].created_at = time.time()
    grid = ComparisonGrid(jobs, base_dir=tmp_path, tick=0.05)
    assert grid.timer_running
    done_outputs = grid._cells[0].outputs
    running = grid.cell_html[1]
    deadline = time.monotonic() + 3
    while grid.cell_html[1] == running:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert grid._cells[0].outputs is done_outputs  # the playing video was left alone
    finish(studio, jobs[1], tmp_path)
    deadline = time.monotonic() + 3
    while grid.timer_running:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_show_grid_turns_static_when_every_job_is_final(
    studio: kn.Studio, published: list[dict[str, Any]], tmp_path: Path
) -> None:
    jobs = ledger_jobs(studio, ["a fox"], ["std", "pro"])
    grid = show_grid(jobs, base_dir=tmp_path)
    assert grid is not None
    (live,) = published
    assert live["data"][WIDGET_VIEW_MIME]["model_id"] == grid.model_id
    assert "waiting" not in live["data"]["text/plain"]  # a saved live grid names no state
    finish(studio, jobs[0], tmp_path)
    assert len(published) == 1  # one job still waits: the grid stays live
    finish(studio, jobs[1], tmp_path)
    final = published[-1]
    assert final["update"]
    assert final["display_id"] == live["display_id"]
    assert set(final["data"]) == {"text/html", "text/plain"}
    static_html = final["data"]["text/html"]
    assert 'class="kn-grid"' in static_html
    assert 'class="kn-ledger"' in static_html
    assert video_srcs(static_html) == [f"kling_outputs/{job.job_id}.mp4" for job in jobs]
    assert_safe_html(static_html)
    assert final["data"]["text/plain"].count("succeeded") == 2
    grid.close()


def test_a_grid_of_final_jobs_is_shown_static_at_once(
    studio: kn.Studio, published: list[dict[str, Any]], tmp_path: Path
) -> None:
    from kling_nb._studio import Sweep

    jobs = ledger_jobs(studio, ["a"], ["std", "pro"])
    for job in jobs:
        finish(studio, job, tmp_path)
    Sweep(jobs)._ipython_display_()
    (static,) = published
    assert WIDGET_VIEW_MIME not in static["data"]
    assert static["data"]["text/html"].count('class="kn-cell"') == 2


def test_sweep_displays_through_show_grid(
    studio: kn.Studio, published: list[dict[str, Any]]
) -> None:
    from kling_nb._studio import Sweep

    Sweep(ledger_jobs(studio, ["a"], ["std", "pro"]))._ipython_display_()
    (live,) = published
    assert WIDGET_VIEW_MIME in live["data"]


def test_closing_the_studio_turns_a_live_grid_static(
    tmp_path: Path, published: list[dict[str, Any]]
) -> None:
    studio = kn.Studio(api_key="sk-test", base_url="http://127.0.0.1:9", root=tmp_path)
    grid = show_grid(ledger_jobs(studio, ["a"], ["std", "pro"]), base_dir=tmp_path)
    assert grid is not None
    studio.close()
    deadline = time.monotonic() + 3
    while len(published) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert published[-1]["update"]
    assert WIDGET_VIEW_MIME not in published[-1]["data"]
    assert published[-1]["data"]["text/html"].count('class="kn-cell"') == 2


def test_studio_grid_and_panel_build_the_widgets(studio: kn.Studio) -> None:
    ledger_jobs(studio, ["a"], ["std"])
    assert isinstance(studio.grid(), ComparisonGrid)
    from kling_nb.widgets import StudioPanel

    assert isinstance(studio.panel(), StudioPanel)


def test_table_survives_a_closed_studio(tmp_path: Path) -> None:
    studio = kn.Studio(api_key="sk-test", base_url="http://127.0.0.1:9", root=tmp_path)
    jobs = ledger_jobs(studio, ["a"], ["std"])
    studio.close()
    grid = ComparisonGrid(jobs, tick=0)
    assert grid.table_html == ""
    assert "waiting" in grid.cell_html[0]
